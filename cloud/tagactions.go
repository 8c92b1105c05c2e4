// Copyright 2026 The PiNet Authors.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

package cloud

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/ids"
)

// Tags can be set on the objects of every taggable kind by their EC2 ids; an id resolves only
// among the caller's project's objects.

// taggedObject is an object of the project with its EC2 id.
type taggedObject struct {
	id  string
	obj client.Object
}

// taggableKind is a kind whose objects carry tags.
type taggableKind struct {
	// resource is what RBAC calls it; resourceType what EC2 does.
	resource, resourceType string
	// notFound is EC2's code for an id of this kind that names nothing; what names the kind in
	// its message.
	notFound, what string
	list           func(ctx context.Context, c Caller) ([]taggedObject, error)
}

// taggableKinds are the kinds with tags, in the order DescribeTags lists them.
func (s *Service) taggableKinds() []*taggableKind {
	return []*taggableKind{
		{"instances", "instance", CodeInstanceNotFound, "instance", taggedIn(s, instanceKind)},
		{"images", "image", CodeAMINotFound, "image", s.taggedImages},
		{"volumes", "volume", CodeVolumeNotFound, "volume", taggedIn(s, volumeKind)},
		{"snapshots", "snapshot", CodeSnapshotNotFound, "snapshot", taggedIn(s, snapshotKind)},
		{"securitygroups", "security-group", CodeGroupNotFound, "security group", taggedIn(s, groupKind)},
		{"addresses", "elastic-ip", CodeAllocationNotFound, "allocation", taggedIn(s, addressKind)},
		{"keypairs", "key-pair", CodeKeyPairNotFound, "key pair", s.taggedKeyPairs},
	}
}

// taggableKindOf returns the kind an EC2 id names, by its prefix.
func (s *Service) taggableKindOf(id string) (*taggableKind, error) {
	want := map[string]string{
		ids.Instance: "instance", ids.Machine: "image", ids.Kernel: "image", ids.Ramdisk: "image",
		ids.Volume: "volume", ids.Snapshot: "snapshot", ids.SecurityGroup: "security-group", ids.Allocation: "elastic-ip",
		ids.KeyPair: "key-pair",
	}[ids.Prefix(id)]
	for _, k := range s.taggableKinds() {
		if want != "" && k.resourceType == want {
			return k, nil
		}
	}
	return nil, BadRequest(CodeInvalidID, "The ID '%s' is not valid", clipID(id))
}

// tagged pairs each object with its id.
func tagged[T client.Object](objs []T, id func(T) string) []taggedObject {
	out := make([]taggedObject, 0, len(objs))
	for _, o := range objs {
		if i := id(o); i != "" {
			out = append(out, taggedObject{id: i, obj: o})
		}
	}
	return out
}

// taggedIn lists kind k's objects of the caller's project with their ids.
func taggedIn[P client.Object](s *Service, k kind[P]) func(ctx context.Context, c Caller) ([]taggedObject, error) {
	return func(ctx context.Context, c Caller) ([]taggedObject, error) {
		objs, err := inProject(ctx, s, c, k)
		return tagged(objs, k.id), err
	}
}

// taggedImages are the project's own images: shared and public images of other projects can be
// seen and launched, not tagged.
func (s *Service) taggedImages(ctx context.Context, c Caller) ([]taggedObject, error) {
	imgs, err := projectList[*cloudv1.Image](ctx, s, c, &cloudv1.ImageList{}, "images")
	return tagged(imgs, func(img *cloudv1.Image) string {
		if p := ids.Prefix(img.Name); img.Status.ImageID == "" && (p == ids.Machine || p == ids.Kernel || p == ids.Ramdisk) {
			return img.Name
		}
		return img.Status.ImageID
	}), err
}

func (s *Service) taggedKeyPairs(ctx context.Context, c Caller) ([]taggedObject, error) {
	kps, err := projectList[*cloudv1.KeyPair](ctx, s, c, &cloudv1.KeyPairList{}, "key pairs")
	return tagged(kps, keyPairID), err
}

// resolveTagTargets finds the objects the ids name, after checking the caller may update each
// kind. Every id is checked before anything changes, so a bad one changes nothing.
func (s *Service) resolveTagTargets(ctx context.Context, c Caller, resourceIDs []string, dryRun bool) ([]taggedObject, error) {
	if len(resourceIDs) == 0 {
		return nil, BadRequest(CodeMissingParameter, "The request must contain the parameter ResourceId")
	}
	kinds := make([]*taggableKind, len(resourceIDs))
	var resources []string
	for i, id := range resourceIDs {
		k, err := s.taggableKindOf(id)
		if err != nil {
			return nil, err
		}
		kinds[i] = k
		if !slices.Contains(resources, k.resource) {
			resources = append(resources, k.resource)
		}
	}
	for i, res := range resources {
		if err := s.authorize(ctx, c, "update", res, dryRun && i == len(resources)-1); err != nil {
			return nil, err
		}
	}
	listed := map[string]map[string]client.Object{}
	out := make([]taggedObject, 0, len(resourceIDs))
	seen := map[string]bool{}
	for i, id := range resourceIDs {
		k := kinds[i]
		if listed[k.resourceType] == nil {
			objs, err := k.list(ctx, c)
			if err != nil {
				return nil, err
			}
			listed[k.resourceType] = map[string]client.Object{}
			for _, o := range objs {
				listed[k.resourceType][o.id] = o.obj
			}
		}
		obj, ok := listed[k.resourceType][id]
		if !ok {
			return nil, NotFound(k.notFound, k.what, id)
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, taggedObject{id: id, obj: obj})
		}
	}
	return out, nil
}

// CreateTagsInput adds or overwrites tags on resources of any taggable kind.
type CreateTagsInput struct {
	ResourceIDs []string
	Tags        []Tag
	DryRun      bool
}

// CreateTags adds the tags to every resource, or to none when one cannot take them.
func (s *Service) CreateTags(ctx context.Context, c Caller, in CreateTagsInput) error {
	var add map[string]string
	validate := func() (err error) {
		add, err = ValidateTags(in.Tags)
		return err
	}
	return s.retag(ctx, c, in.ResourceIDs, in.DryRun, validate, func(obj client.Object) error {
		tags := TagsOf(obj)
		for k, v := range add {
			tags[k] = v
		}
		if len(tags) > MaxTags {
			return BadRequest(CodeTagLimit, "The maximum number of tags for a resource is %d", MaxTags)
		}
		SetTags(obj, tags)
		return nil
	})
}

// TagToDelete names a tag DeleteTags removes: with a Value, only where the tag has that value.
type TagToDelete struct {
	Key   string
	Value *string
}

// DeleteTagsInput removes tags from resources of any taggable kind.
type DeleteTagsInput struct {
	ResourceIDs []string
	// Tags are the tags to remove; none removes every tag.
	Tags   []TagToDelete
	DryRun bool
}

// DeleteTags removes the named keys (only where the value matches, when one is given), or every
// tag when no Tag is named.
func (s *Service) DeleteTags(ctx context.Context, c Caller, in DeleteTagsInput) error {
	validate := func() error {
		for _, t := range in.Tags {
			switch {
			case t.Key == "":
				return InvalidParam("Tag key must not be empty")
			case strings.HasPrefix(t.Key, "aws:"):
				return InvalidParam("Tag keys starting with 'aws:' are reserved for internal use")
			}
		}
		return nil
	}
	return s.retag(ctx, c, in.ResourceIDs, in.DryRun, validate, func(obj client.Object) error {
		tags := TagsOf(obj)
		if len(in.Tags) == 0 {
			clear(tags)
		}
		for _, t := range in.Tags {
			if v, ok := tags[t.Key]; ok && (t.Value == nil || *t.Value == v) {
				delete(tags, t.Key)
			}
		}
		SetTags(obj, tags)
		return nil
	})
}

// retag is how the tag actions change tags: it resolves every id, validates the request, tries
// the change on a copy of each object (so that when one cannot take it, none changes), then
// writes each object changed.
func (s *Service) retag(ctx context.Context, c Caller, resourceIDs []string, dryRun bool, validate func() error,
	change func(client.Object) error) error {
	targets, err := s.resolveTagTargets(ctx, c, resourceIDs, dryRun)
	if err != nil {
		return err
	}
	if err := validate(); err != nil {
		return err
	}
	for _, t := range targets {
		if err := change(t.obj.DeepCopyObject().(client.Object)); err != nil {
			return err
		}
	}
	for _, t := range targets {
		obj := t.obj.DeepCopyObject().(client.Object)
		err := s.change(ctx, obj, func() error { return change(obj) })
		if err != nil && !apierrors.IsNotFound(err) { // one deleted meanwhile has nothing left to tag
			return APIError(err, t.id)
		}
	}
	return nil
}

// DescribeTagsInput lists the tags of the project's resources.
type DescribeTagsInput struct {
	Filters []query.Filter
	DryRun  bool
	Page
}

// TagDescription is one tag of one resource.
type TagDescription struct {
	ResourceID, ResourceType, Key, Value string
}

var tagFilters = []string{"resource-id", "resource-type", "key", "value"}

// DescribeTags lists the tags of every kind the caller may list, by kind, then id, then key, and
// returns the page asked for with the token of the next. A tag:<key> filter matches the tag
// itself (its key and value), as key and value filters do.
func (s *Service) DescribeTags(ctx context.Context, c Caller, in DescribeTagsInput) ([]TagDescription, string, error) {
	if err := needsProject(c); err != nil {
		return nil, "", err
	}
	var kinds []*taggableKind
	for _, k := range s.taggableKinds() {
		ok, err := s.cfg.Authz.Allowed(ctx, c.Principal, "list", k.resource, c.Project())
		if err != nil {
			return nil, "", err
		}
		if ok {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) == 0 {
		return nil, "", s.authorize(ctx, c, "list", "instances", in.DryRun)
	}
	if in.DryRun {
		return nil, "", s.authorize(ctx, c, "list", kinds[0].resource, true)
	}
	size, err := in.Page.size(5, 1000, 0)
	if err != nil {
		return nil, "", err
	}
	matcher, err := query.NewMatcher(in.Filters, tagFilters)
	if err != nil {
		return nil, "", err
	}
	var items []TagDescription
	for _, k := range kinds {
		objs, err := k.list(ctx, c)
		if err != nil {
			return nil, "", err
		}
		sort.Slice(objs, func(i, j int) bool { return objs[i].id < objs[j].id })
		for _, o := range objs {
			items = append(items, matchingTags(matcher, k.resourceType, o)...)
		}
	}
	return pageOf(s, c, fmt.Sprint("DescribeTags", in.Filters), in.Page, size, items)
}

// matchingTags are the object's tags the filters match, by key.
func matchingTags(matcher *query.Matcher, resourceType string, o taggedObject) []TagDescription {
	tags := TagsOf(o.obj)
	keys := make([]string, 0, len(tags))
	for key := range tags {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	var out []TagDescription
	for _, key := range keys {
		item := TagDescription{ResourceID: o.id, ResourceType: resourceType, Key: key, Value: tags[key]}
		attrs := func(name string) []string {
			return map[string][]string{"resource-id": {item.ResourceID}, "resource-type": {item.ResourceType},
				"key": {item.Key}, "value": {item.Value}}[name]
		}
		if matcher.Match(attrs, map[string]string{key: item.Value}) {
			out = append(out, item)
		}
	}
	return out
}
