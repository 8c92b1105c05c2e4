/*
Copyright 2026 The PiNet Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package ec2shim

import (
	"context"
	"fmt"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/ids"
)

func (s *Server) tagRoutes() map[string]action {
	return map[string]action{
		"CreateTags":   s.createTags,
		"DeleteTags":   s.deleteTags,
		"DescribeTags": s.describeTags,
	}
}

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
	list           func(ctx context.Context, c *call) ([]taggedObject, error)
}

// taggableKinds are the kinds with tags, in the order DescribeTags lists them.
func (s *Server) taggableKinds() []*taggableKind {
	return []*taggableKind{
		{"instances", "instance", codeInstanceNotFound, "instance", s.taggedInstances},
		{"images", "image", codeAMINotFound, "image", s.taggedImages},
		{"volumes", "volume", codeVolumeNotFound, "volume", s.taggedVolumes},
		{"securitygroups", "security-group", codeGroupNotFound, "security group", s.taggedGroups},
		{"addresses", "elastic-ip", codeAllocationNotFound, "allocation", s.taggedAddresses},
		{"keypairs", "key-pair", codeKeyPairNotFound, "key pair", s.taggedKeyPairs},
	}
}

// kindOfID returns the kind an EC2 id names, by its prefix.
func (s *Server) kindOfID(id string) (*taggableKind, error) {
	want := map[string]string{
		ids.Instance: "instance", ids.Machine: "image", ids.Kernel: "image", ids.Ramdisk: "image",
		ids.Volume: "volume", ids.SecurityGroup: "security-group", ids.Allocation: "elastic-ip",
		ids.KeyPair: "key-pair",
	}[ids.Prefix(id)]
	for _, k := range s.taggableKinds() {
		if want != "" && k.resourceType == want {
			return k, nil
		}
	}
	return nil, badRequest(codeInvalidID, "The ID '%s' is not valid", clipID(id))
}

// clipID keeps an id that goes back into a message short.
func clipID(id string) string { return cloud.ClipID(id) }

func (s *Server) taggedInstances(ctx context.Context, c *call) ([]taggedObject, error) {
	insts, err := c.projectInstances(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]taggedObject, 0, len(insts))
	for _, inst := range insts {
		out = append(out, taggedObject{id: instanceID(inst), obj: inst})
	}
	return out, nil
}

// taggedImages are the project's own images: shared and public images of other projects can be
// seen and launched, not tagged.
func (s *Server) taggedImages(ctx context.Context, c *call) ([]taggedObject, error) {
	list := &cloudv1.ImageList{}
	if err := s.cfg.Client.List(ctx, list, client.InNamespace(c.project)); err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	var out []taggedObject
	for i := range list.Items {
		img := &list.Items[i]
		id := img.Status.ImageID
		if p := ids.Prefix(img.Name); id == "" && (p == ids.Machine || p == ids.Kernel || p == ids.Ramdisk) {
			id = img.Name
		}
		if id != "" {
			out = append(out, taggedObject{id: id, obj: img})
		}
	}
	return out, nil
}

func (s *Server) taggedVolumes(ctx context.Context, c *call) ([]taggedObject, error) {
	vols, err := s.svc.ProjectVolumes(ctx, c.caller())
	if err != nil {
		return nil, err
	}
	out := make([]taggedObject, 0, len(vols))
	for _, v := range vols {
		out = append(out, taggedObject{id: cloud.VolumeID(v), obj: v})
	}
	return out, nil
}

func (s *Server) taggedGroups(ctx context.Context, c *call) ([]taggedObject, error) {
	groups, err := c.projectGroups(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]taggedObject, 0, len(groups))
	for _, sg := range groups {
		out = append(out, taggedObject{id: groupID(sg), obj: sg})
	}
	return out, nil
}

func (s *Server) taggedAddresses(ctx context.Context, c *call) ([]taggedObject, error) {
	addrs, err := s.svc.ProjectAddresses(ctx, c.caller())
	if err != nil {
		return nil, err
	}
	out := make([]taggedObject, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, taggedObject{id: cloud.AllocationID(a), obj: a})
	}
	return out, nil
}

func (s *Server) taggedKeyPairs(ctx context.Context, c *call) ([]taggedObject, error) {
	list := &cloudv1.KeyPairList{}
	if err := s.cfg.Client.List(ctx, list, client.InNamespace(c.project)); err != nil {
		return nil, fmt.Errorf("listing key pairs: %w", err)
	}
	var out []taggedObject
	for i := range list.Items {
		k := &list.Items[i]
		id := k.Status.KeyPairID
		if id == "" && ids.Valid(ids.KeyPair, k.Name) {
			id = k.Name
		}
		if id != "" {
			out = append(out, taggedObject{id: id, obj: k})
		}
	}
	return out, nil
}

// resolveTagTargets finds the objects the ids name, after checking the caller may update each
// kind. Every id is checked before the caller changes anything, so a bad one changes nothing.
func (s *Server) resolveTagTargets(ctx context.Context, c *call, resourceIDs []string, dryRun bool) ([]taggedObject, error) {
	kinds := make([]*taggableKind, len(resourceIDs))
	var resources []string
	for i, id := range resourceIDs {
		k, err := s.kindOfID(id)
		if err != nil {
			return nil, err
		}
		kinds[i] = k
		if !contains(resources, k.resource) {
			resources = append(resources, k.resource)
		}
	}
	for i, res := range resources {
		if err := c.authorize(ctx, "update", res, dryRun && i == len(resources)-1); err != nil {
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
			return nil, notFound(k.notFound, k.what, id)
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, taggedObject{id: id, obj: obj})
		}
	}
	return out, nil
}

type createTagsInput struct {
	Resources []string  `ec2:"ResourceId,list,required"`
	Tags      []tagItem `ec2:"Tag,list,required"`
	DryRun    bool      `ec2:"DryRun"`
}

func (s *Server) createTags(ctx context.Context, c *call) (any, error) {
	var in createTagsInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	targets, err := s.resolveTagTargets(ctx, c, in.Resources, in.DryRun)
	if err != nil {
		return nil, err
	}
	add, err := validateTags(in.Tags)
	if err != nil {
		return nil, err
	}
	merge := func(obj client.Object) error {
		tags := tagsOf(obj)
		for k, v := range add {
			tags[k] = v
		}
		if len(tags) > cloud.MaxTags {
			return badRequest(codeTagLimit, "The maximum number of tags for a resource is %d", cloud.MaxTags)
		}
		setTags(obj, tags)
		return nil
	}
	for _, t := range targets {
		if err := merge(t.obj.DeepCopyObject().(client.Object)); err != nil {
			return nil, err
		}
	}
	return s.retagAll(ctx, targets, merge)
}

type deleteTagInput struct {
	Key   string  `ec2:"Key"`
	Value *string `ec2:"Value"`
}

type deleteTagsInput struct {
	Resources []string         `ec2:"ResourceId,list,required"`
	Tags      []deleteTagInput `ec2:"Tag,list"`
	DryRun    bool             `ec2:"DryRun"`
}

// deleteTags removes the named keys (only where the value matches, when one is given), or every
// tag when no Tag is named.
func (s *Server) deleteTags(ctx context.Context, c *call) (any, error) {
	var in deleteTagsInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	targets, err := s.resolveTagTargets(ctx, c, in.Resources, in.DryRun)
	if err != nil {
		return nil, err
	}
	for _, t := range in.Tags {
		switch {
		case t.Key == "":
			return nil, invalidParam("Tag key must not be empty")
		case strings.HasPrefix(t.Key, "aws:"):
			return nil, invalidParam("Tag keys starting with 'aws:' are reserved for internal use")
		}
	}
	return s.retagAll(ctx, targets, func(obj client.Object) error {
		tags := tagsOf(obj)
		if len(in.Tags) == 0 {
			clear(tags)
		}
		for _, t := range in.Tags {
			if v, ok := tags[t.Key]; ok && (t.Value == nil || *t.Value == v) {
				delete(tags, t.Key)
			}
		}
		setTags(obj, tags)
		return nil
	})
}

// retagAll applies retag to each target's newest version, then waits for the cache to show them.
func (s *Server) retagAll(ctx context.Context, targets []taggedObject, retag func(client.Object) error) (any, error) {
	for _, t := range targets {
		obj := t.obj.DeepCopyObject().(client.Object)
		err := s.changeLatest(ctx, obj, func() error { return retag(obj) })
		if apierrors.IsNotFound(err) {
			continue // deleted meanwhile: nothing left to tag
		}
		if err != nil {
			return nil, apiError(err, t.id)
		}
		s.awaitCache(ctx, obj)
	}
	return &returnOutput{Return: true}, nil
}

type describeTagsInput struct {
	Filters []query.Filter `ec2:"Filter,list"`
	DryRun  bool           `ec2:"DryRun"`
	query.Paging
}

type tagDescription struct {
	ResourceID   string `xml:"resourceId"`
	ResourceType string `xml:"resourceType"`
	Key          string `xml:"key"`
	Value        string `xml:"value"`
}

type describeTagsOutput struct {
	Tags      query.List[tagDescription] `xml:"tagSet"`
	NextToken string                     `xml:"nextToken,omitempty"`
}

var tagFilters = []string{"resource-id", "resource-type", "key", "value"}

// describeTags lists the tags of every kind the caller may list. A tag:<key> filter matches the
// tag itself (its key and value), as key and value filters do.
func (s *Server) describeTags(ctx context.Context, c *call) (any, error) {
	var in describeTagsInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	var kinds []*taggableKind
	for _, k := range s.taggableKinds() {
		ok, err := s.cfg.Authz.Allowed(ctx, c.principal, "list", k.resource, c.project)
		if err != nil {
			return nil, err
		}
		if ok {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) == 0 {
		return nil, c.authorize(ctx, "list", "instances", in.DryRun)
	}
	if in.DryRun {
		return nil, c.authorize(ctx, "list", kinds[0].resource, true)
	}
	size, err := query.PageSize(in.MaxResults, 5, 1000, 0)
	if err != nil {
		return nil, err
	}
	matcher, err := query.NewMatcher(in.Filters, tagFilters)
	if err != nil {
		return nil, err
	}
	var items []tagDescription
	for _, k := range kinds {
		objs, err := k.list(ctx, c)
		if err != nil {
			return nil, err
		}
		sort.Slice(objs, func(i, j int) bool { return objs[i].id < objs[j].id })
		for _, o := range objs {
			tags := tagsOf(o.obj)
			keys := make([]string, 0, len(tags))
			for key := range tags {
				keys = append(keys, key)
			}
			sort.Strings(keys)
			for _, key := range keys {
				item := tagDescription{ResourceID: o.id, ResourceType: k.resourceType, Key: key, Value: tags[key]}
				attrs := func(name string) []string {
					return map[string][]string{"resource-id": {item.ResourceID}, "resource-type": {item.ResourceType},
						"key": {item.Key}, "value": {item.Value}}[name]
				}
				if matcher.Match(attrs, map[string]string{key: item.Value}) {
					items = append(items, item)
				}
			}
		}
	}
	page, next, err := onePage(c, items, size, in.NextToken)
	if err != nil {
		return nil, err
	}
	return &describeTagsOutput{Tags: query.NewList(page...), NextToken: next}, nil
}

// onePage cuts the page a NextToken asks for out of items, and makes the token of the next.
func onePage[T any](c *call, items []T, size int, token string) ([]T, string, error) {
	tokens := c.srv.cfg.Tokens
	cur, err := tokens.Decode(c.pageScope(), token)
	if err != nil {
		return nil, "", err
	}
	page, next, more := query.Page(items, cur.Offset, size)
	if !more {
		return page, "", nil
	}
	return page, tokens.Encode(c.pageScope(), query.Cursor{Offset: next}), nil
}

// The service writes and waits; these are its steps for the actions not moved into it yet.

func (s *Server) changeLatest(ctx context.Context, obj client.Object, change func() error) error {
	return s.svc.ChangeLatest(ctx, obj, change)
}

func (s *Server) awaitCache(ctx context.Context, obj client.Object) { s.svc.AwaitCache(ctx, obj) }

func (s *Server) withdraw(ctx context.Context, obj client.Object) error {
	return s.svc.Withdraw(ctx, obj)
}

func unavailable(format string, args ...any) error { return cloud.Unavailable(format, args...) }
