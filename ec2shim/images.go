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
	"slices"
	"sort"
	"strconv"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/refs"
)

// Images: an Image object per registered bundle, in the owning project's namespace, named by its
// id. A project sees its own images, public ones and those shared with it (refs.ImageVisibleTo);
// only the owner changes or deregisters an image. Any other image answers as if it did not exist.

func (s *Server) imageRoutes() map[string]action {
	return map[string]action{
		"RegisterImage":          s.registerImage,
		"DeregisterImage":        s.deregisterImage,
		"DescribeImages":         s.describeImages,
		"DescribeImageAttribute": s.describeImageAttribute,
		"ModifyImageAttribute":   s.modifyImageAttribute,
		"ResetImageAttribute":    s.resetImageAttribute,
	}
}

// imageBlockDevice is EC2's BlockDeviceMapping in responses; PiNet images have none (their
// disks come from the instance type), so lists of it are always empty.
type imageBlockDevice struct {
	DeviceName  string `xml:"deviceName"`
	VirtualName string `xml:"virtualName,omitempty"`
}

// imageItem is EC2's Image.
type imageItem struct {
	ImageID            string                       `xml:"imageId"`
	ImageLocation      string                       `xml:"imageLocation"`
	ImageState         string                       `xml:"imageState"`
	ImageOwnerID       string                       `xml:"imageOwnerId"`
	CreationDate       string                       `xml:"creationDate,omitempty"`
	IsPublic           bool                         `xml:"isPublic"`
	Architecture       string                       `xml:"architecture"`
	ImageType          string                       `xml:"imageType"`
	KernelID           string                       `xml:"kernelId,omitempty"`
	RamdiskID          string                       `xml:"ramdiskId,omitempty"`
	Name               string                       `xml:"name,omitempty"`
	Description        string                       `xml:"description,omitempty"`
	RootDeviceType     string                       `xml:"rootDeviceType"`
	RootDeviceName     string                       `xml:"rootDeviceName,omitempty"`
	BlockDeviceMapping query.List[imageBlockDevice] `xml:"blockDeviceMapping"`
	VirtualizationType string                       `xml:"virtualizationType"`
	Hypervisor         string                       `xml:"hypervisor"`
	StateReason        *stateReason                 `xml:"stateReason,omitempty"`
	TagSet             *query.List[tagItem]         `xml:"tagSet,omitempty"`
}

// imagePrefix is the id prefix of an image type.
func imagePrefix(t cloudv1.ImageType) string {
	switch t {
	case cloudv1.ImageTypeKernel:
		return ids.Kernel
	case cloudv1.ImageTypeRamdisk:
		return ids.Ramdisk
	}
	return ids.Machine
}

// imageID is the image's EC2 id: the controller's, or the object's name when the API made it and
// the controller has not caught up.
func imageID(img *cloudv1.Image) string {
	if img.Status.ImageID != "" {
		return img.Status.ImageID
	}
	if ids.Valid(imagePrefix(img.Spec.Type), img.Name) {
		return img.Name
	}
	return ""
}

// imageName is the EC2 name: spec.name, else the name of an object made with kubectl.
func imageName(img *cloudv1.Image) string {
	if img.Spec.Name != "" || ids.Prefix(img.Name) != "" {
		return img.Spec.Name
	}
	return img.Name
}

func imageOwner(img *cloudv1.Image) string {
	if img.Status.OwnerID != "" {
		return img.Status.OwnerID
	}
	return img.Namespace
}

// defaultImageIDs resolves an image's default kernel and ramdisk, which it may name by object name
// in its own namespace, to their EC2 ids.
func (s *Server) defaultImageIDs(ctx context.Context, img *cloudv1.Image) (kernel, ramdisk string) {
	resolve := func(ref string) string {
		if ref == "" || ids.Prefix(ref) != "" {
			return ref
		}
		if k, err := refs.Image(ctx, s.cfg.Client, img.Namespace, ref); err == nil && k.Status.ImageID != "" {
			return k.Status.ImageID
		}
		return ref
	}
	return resolve(img.Spec.KernelID), resolve(img.Spec.RamdiskID)
}

func toImageItem(img *cloudv1.Image) imageItem {
	state := string(img.Status.State)
	if state == "" {
		state = string(cloudv1.ImageStatePending)
	}
	item := imageItem{
		ImageID:            imageID(img),
		ImageLocation:      img.Spec.ImageLocation,
		ImageState:         state,
		ImageOwnerID:       imageOwner(img),
		CreationDate:       img.CreationTimestamp.UTC().Format(query.TimestampLayout),
		IsPublic:           img.Spec.LaunchPermission.Public,
		Architecture:       img.Spec.Architecture,
		ImageType:          string(img.Spec.Type),
		KernelID:           img.Spec.KernelID,
		RamdiskID:          img.Spec.RamdiskID,
		Name:               imageName(img),
		Description:        img.Spec.Description,
		RootDeviceType:     "instance-store",
		RootDeviceName:     img.Spec.RootDeviceName,
		BlockDeviceMapping: query.NewList[imageBlockDevice](),
		VirtualizationType: "hvm",
		Hypervisor:         "xen",
		TagSet:             tagList(tagsOf(img)),
	}
	if item.Architecture == "" {
		item.Architecture = "x86_64"
	}
	if item.ImageType == "" {
		item.ImageType = string(cloudv1.ImageTypeMachine)
	}
	if item.RootDeviceName == "" {
		item.RootDeviceName = "/dev/sda1"
	}
	if img.Status.State == cloudv1.ImageStateFailed {
		code := "Failed"
		if c := conditions.Get(img, cloudv1.ReadyCondition); c != nil && c.Reason != "" {
			code = c.Reason
		}
		item.StateReason = &stateReason{Code: code, Message: img.Status.StateReason}
	}
	return item
}

var imageFilters = []string{
	"image-id", "image-type", "state", "name", "owner-id", "is-public", "architecture", "kernel-id",
	"ramdisk-id", "description", "root-device-type", "root-device-name", "virtualization-type",
	"hypervisor", "manifest-location",
}

func imageAttrs(item *imageItem) query.Attributes {
	return func(name string) []string {
		v, ok := map[string]string{
			"image-id": item.ImageID, "image-type": item.ImageType, "state": item.ImageState,
			"name": item.Name, "owner-id": item.ImageOwnerID, "is-public": strconv.FormatBool(item.IsPublic),
			"architecture": item.Architecture, "kernel-id": item.KernelID, "ramdisk-id": item.RamdiskID,
			"description": item.Description, "root-device-type": item.RootDeviceType,
			"root-device-name": item.RootDeviceName, "virtualization-type": item.VirtualizationType,
			"hypervisor": item.Hypervisor, "manifest-location": item.ImageLocation,
		}[name]
		if !ok {
			return nil
		}
		return []string{v}
	}
}

// visibleImages lists the images the project may see and launch that have an id, oldest first.
// Images being deregistered (deleted, waiting for their stored copy to go) are gone already.
func (s *Server) visibleImages(ctx context.Context, c *call) ([]*cloudv1.Image, error) {
	list := &cloudv1.ImageList{}
	if err := s.cfg.Client.List(ctx, list); err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	out := make([]*cloudv1.Image, 0, len(list.Items))
	for i := range list.Items {
		img := &list.Items[i]
		if img.DeletionTimestamp.IsZero() && imageID(img) != "" && refs.ImageVisibleTo(img, c.project) {
			out = append(out, img)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		ti, tj := out[i].CreationTimestamp, out[j].CreationTimestamp
		if !ti.Equal(&tj) {
			return ti.Before(&tj)
		}
		return imageID(out[i]) < imageID(out[j])
	})
	return out, nil
}

func validImageID(id string) bool {
	return ids.Valid(ids.Machine, id) || ids.Valid(ids.Kernel, id) || ids.Valid(ids.Ramdisk, id)
}

func malformedImageID(id string) error {
	return badRequest(codeAMIMalformed, "Invalid id: \"%s\" (expecting \"ami-...\")", id)
}

func imageNotFound(id string) error {
	return badRequest(codeAMINotFound, "The image id '[%s]' does not exist", id)
}

// visibleImage finds an image the project may see by id.
func (s *Server) visibleImage(ctx context.Context, c *call, id string) (*cloudv1.Image, error) {
	if !validImageID(id) {
		return nil, malformedImageID(id)
	}
	all, err := s.visibleImages(ctx, c)
	if err != nil {
		return nil, err
	}
	for _, img := range all {
		if imageID(img) == id {
			return img, nil
		}
	}
	return nil, imageNotFound(id)
}

// ownImage finds an image of the caller's project by id for a change. Another project's image
// the caller can see is AuthFailure, as in EC2, unless hidden says to answer NotFound.
func (s *Server) ownImage(ctx context.Context, c *call, id string, hidden bool) (*cloudv1.Image, error) {
	img, err := s.visibleImage(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if img.Namespace != c.project {
		if hidden {
			return nil, imageNotFound(id)
		}
		return nil, notAuthorizedForImage(id)
	}
	return img, nil
}

func notAuthorizedForImage(id string) error {
	return badRequest(codeAuthFailure, "Not authorized for image:%s", id)
}

type describeImagesInput struct {
	ImageIDs          []string       `ec2:"ImageId,list"`
	Owners            []string       `ec2:"Owner,list"`
	ExecutableUsers   []string       `ec2:"ExecutableBy,list"`
	Filters           []query.Filter `ec2:"Filter,list"`
	IncludeDeprecated bool           `ec2:"IncludeDeprecated"`
	IncludeDisabled   bool           `ec2:"IncludeDisabled"`
	DryRun            bool           `ec2:"DryRun"`
	query.Paging
}

type describeImagesOutput struct {
	ImagesSet query.List[imageItem] `xml:"imagesSet"`
	NextToken string                `xml:"nextToken,omitempty"`
}

// describeImages lists the visible images. PiNet images are never deprecated or disabled, so
// IncludeDeprecated and IncludeDisabled change nothing.
func (s *Server) describeImages(ctx context.Context, c *call) (any, error) {
	var in describeImagesInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "list", "images", in.DryRun); err != nil {
		return nil, err
	}
	if len(in.ImageIDs) > 0 && in.MaxResults != nil {
		return nil, invalidParam("The parameter ImageIds cannot be used with the parameter MaxResults")
	}
	size, err := query.PageSize(in.MaxResults, 5, 1000, 0)
	if err != nil {
		return nil, err
	}
	matcher, err := query.NewMatcher(in.Filters, imageFilters)
	if err != nil {
		return nil, err
	}
	inScope, err := imageScope(c.project, in.Owners, in.ExecutableUsers)
	if err != nil {
		return nil, err
	}
	imgs, err := s.visibleImages(ctx, c)
	if err != nil {
		return nil, err
	}
	if len(in.ImageIDs) > 0 {
		if imgs, err = pickImages(imgs, in.ImageIDs); err != nil {
			return nil, err
		}
	}
	var items []imageItem
	for _, img := range imgs {
		item := toImageItem(img)
		item.KernelID, item.RamdiskID = s.defaultImageIDs(ctx, img)
		if inScope(img) && matcher.Match(imageAttrs(&item), tagsOf(img)) {
			items = append(items, item)
		}
	}
	cur, err := s.cfg.Tokens.Decode(c.pageScope(), in.NextToken)
	if err != nil {
		return nil, err
	}
	page, next, more := query.Page(items, cur.Offset, size)
	out := &describeImagesOutput{ImagesSet: query.NewList(page...)}
	if more {
		out.NextToken = s.cfg.Tokens.Encode(c.pageScope(), query.Cursor{Offset: next})
	}
	return out, nil
}

// pickImages returns the images with the ids, in the order of the visible list; every id must be
// well formed and visible.
func pickImages(visible []*cloudv1.Image, wanted []string) ([]*cloudv1.Image, error) {
	want := map[string]bool{}
	for _, id := range wanted {
		if !validImageID(id) {
			return nil, malformedImageID(id)
		}
		want[id] = true
	}
	var out []*cloudv1.Image
	for _, img := range visible {
		if want[imageID(img)] {
			out = append(out, img)
			delete(want, imageID(img))
		}
	}
	for _, id := range wanted {
		if want[id] {
			return nil, imageNotFound(id)
		}
	}
	return out, nil
}

// imageScope applies Owner.N (self or project ids; "amazon" and "aws-marketplace" name projects
// that do not exist, so they select nothing) and ExecutableBy.N (all: public; self or a project
// id: images that project was given explicit launch permission for, as in EC2, where the owner's
// own permission is implicit).
func imageScope(project string, owners, executable []string) (func(*cloudv1.Image) bool, error) {
	for _, list := range [][]string{owners, executable} {
		for _, v := range list {
			if v != "self" && v != "all" && len(validation.IsDNS1123Label(v)) > 0 {
				return nil, badRequest(codeUserIDMalformed, "Invalid user id: \"%s\"", v)
			}
		}
	}
	for _, o := range owners {
		if o == "all" {
			return nil, badRequest(codeUserIDMalformed, "Invalid user id: \"%s\"", o)
		}
	}
	self := func(v string) string {
		if v == "self" {
			return project
		}
		return v
	}
	return func(img *cloudv1.Image) bool {
		if len(owners) > 0 && !slices.ContainsFunc(owners, func(o string) bool { return self(o) == imageOwner(img) }) {
			return false
		}
		if len(executable) == 0 {
			return true
		}
		return slices.ContainsFunc(executable, func(e string) bool {
			if e == "all" {
				return img.Spec.LaunchPermission.Public
			}
			return slices.Contains(img.Spec.LaunchPermission.Projects, self(e))
		})
	}, nil
}

type deregisterImageInput struct {
	ImageID                   string `ec2:"ImageId,required"`
	DeleteAssociatedSnapshots bool   `ec2:"DeleteAssociatedSnapshots"`
	DryRun                    bool   `ec2:"DryRun"`
}

// deregisterImage deletes the Image; the image controller's finalizer removes the stored copy.
// Instances already running from it keep running. Only the owner may deregister: any other image,
// public or shared, answers NotFound.
func (s *Server) deregisterImage(ctx context.Context, c *call) (any, error) {
	var in deregisterImageInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "delete", "images", in.DryRun); err != nil {
		return nil, err
	}
	img, err := s.ownImage(ctx, c, in.ImageID, true)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Client.Delete(ctx, img); client.IgnoreNotFound(err) != nil {
		return nil, apiError(err, "image "+in.ImageID)
	}
	s.releaseImageName(ctx, img)
	s.awaitDeleted(ctx, img)
	return &returnOutput{Return: true}, nil
}

// launchPermissionItem is EC2's LaunchPermission, in requests and responses.
type launchPermissionItem struct {
	Group  string `xml:"group,omitempty" ec2:"Group"`
	UserID string `xml:"userId,omitempty" ec2:"UserId"`
}

type productCodeItem struct {
	ProductCode string `xml:"productCode"`
	Type        string `xml:"type"`
}

type describeImageAttributeInput struct {
	ImageID   string `ec2:"ImageId,required"`
	Attribute string `ec2:"Attribute,required"`
	DryRun    bool   `ec2:"DryRun"`
}

type imageAttributeOutput struct {
	ImageID                  string                            `xml:"imageId"`
	LaunchPermission         *query.List[launchPermissionItem] `xml:"launchPermission,omitempty"`
	ProductCodes             *query.List[productCodeItem]      `xml:"productCodes,omitempty"`
	BlockDeviceMapping       *query.List[imageBlockDevice]     `xml:"blockDeviceMapping,omitempty"`
	Description              *query.AttributeValue             `xml:"description,omitempty"`
	Kernel                   *query.AttributeValue             `xml:"kernel,omitempty"`
	Ramdisk                  *query.AttributeValue             `xml:"ramdisk,omitempty"`
	SriovNetSupport          *query.AttributeValue             `xml:"sriovNetSupport,omitempty"`
	BootMode                 *query.AttributeValue             `xml:"bootMode,omitempty"`
	TpmSupport               *query.AttributeValue             `xml:"tpmSupport,omitempty"`
	UefiData                 *query.AttributeValue             `xml:"uefiData,omitempty"`
	LastLaunchedTime         *query.AttributeValue             `xml:"lastLaunchedTime,omitempty"`
	ImdsSupport              *query.AttributeValue             `xml:"imdsSupport,omitempty"`
	DeregistrationProtection *query.AttributeValue             `xml:"deregistrationProtection,omitempty"`
}

// describeImageAttribute answers one attribute of a visible image. Who may launch it, and its
// block devices, are the owner's to know (AuthFailure for others, as in EC2). Attributes PiNet
// images never have (boot mode, TPM, …) answer empty.
func (s *Server) describeImageAttribute(ctx context.Context, c *call) (any, error) {
	var in describeImageAttributeInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "get", "images", in.DryRun); err != nil {
		return nil, err
	}
	img, err := s.visibleImage(ctx, c, in.ImageID)
	if err != nil {
		return nil, err
	}
	owner := img.Namespace == c.project
	out := &imageAttributeOutput{ImageID: imageID(img)}
	val := func(v string) *query.AttributeValue { return &query.AttributeValue{Value: v} }
	switch in.Attribute {
	case "launchPermission":
		if !owner {
			return nil, notAuthorizedForImage(in.ImageID)
		}
		perms := launchPermissions(img.Spec.LaunchPermission)
		out.LaunchPermission = &perms
	case "blockDeviceMapping":
		if !owner {
			return nil, notAuthorizedForImage(in.ImageID)
		}
		out.BlockDeviceMapping = &query.List[imageBlockDevice]{}
	case "productCodes":
		out.ProductCodes = &query.List[productCodeItem]{}
	case "description":
		out.Description = val(img.Spec.Description)
	case "kernel":
		kernel, _ := s.defaultImageIDs(ctx, img)
		out.Kernel = val(kernel)
	case "ramdisk":
		_, ramdisk := s.defaultImageIDs(ctx, img)
		out.Ramdisk = val(ramdisk)
	case "sriovNetSupport":
		out.SriovNetSupport = val("")
	case "bootMode":
		out.BootMode = val("")
	case "tpmSupport":
		out.TpmSupport = val("")
	case "uefiData":
		out.UefiData = val("")
	case "lastLaunchedTime":
		out.LastLaunchedTime = val("")
	case "imdsSupport":
		out.ImdsSupport = val("")
	case "deregistrationProtection":
		out.DeregistrationProtection = val("disabled")
	default:
		return nil, invalidParam("Value (%s) for parameter attribute is invalid. Unknown attribute.", in.Attribute)
	}
	return out, nil
}

func launchPermissions(lp cloudv1.LaunchPermission) query.List[launchPermissionItem] {
	l := query.NewList[launchPermissionItem]()
	if lp.Public {
		l.Items = append(l.Items, launchPermissionItem{Group: "all"})
	}
	projects := slices.Clone(lp.Projects)
	sort.Strings(projects)
	for _, p := range projects {
		l.Items = append(l.Items, launchPermissionItem{UserID: p})
	}
	return l
}

type launchPermissionModifications struct {
	Add    []launchPermissionItem `ec2:"Add,list"`
	Remove []launchPermissionItem `ec2:"Remove,list"`
}

type modifyImageAttributeInput struct {
	ImageID          string                         `ec2:"ImageId,required"`
	Attribute        string                         `ec2:"Attribute"`
	OperationType    string                         `ec2:"OperationType"`
	UserGroups       []string                       `ec2:"UserGroup,list"`
	UserIDs          []string                       `ec2:"UserId,list"`
	Value            *string                        `ec2:"Value"`
	Description      *query.AttributeValue          `ec2:"Description"`
	LaunchPermission *launchPermissionModifications `ec2:"LaunchPermission"`
	ProductCodes     []string                       `ec2:"ProductCode,list"`
	DryRun           bool                           `ec2:"DryRun"`
}

// modifyImageAttribute changes who may launch an image (LaunchPermission.Add/Remove, or the
// older Attribute=launchPermission with OperationType, UserGroup.N and UserId.N), or its
// description. Only the owner may.
func (s *Server) modifyImageAttribute(ctx context.Context, c *call) (any, error) {
	var in modifyImageAttributeInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "update", "images", in.DryRun); err != nil {
		return nil, err
	}
	img, err := s.ownImage(ctx, c, in.ImageID, false)
	if err != nil {
		return nil, err
	}
	perms, description, err := imageModification(&in)
	if err != nil {
		return nil, err
	}
	if perms != nil {
		for _, p := range perms.Add {
			if err := s.checkLaunchPermission(ctx, p); err != nil {
				return nil, err
			}
		}
		for _, p := range perms.Remove {
			if p.Group != "" && p.Group != "all" {
				return nil, badRequest(codeAMIAttributeItem, "Invalid attribute item value \"%s\" for UserGroup item type.", p.Group)
			}
		}
	}
	err = s.changeImageSpec(ctx, img, func(spec *cloudv1.ImageSpec) error {
		if description != nil {
			spec.Description = *description
		}
		if perms != nil {
			applyLaunchPermissions(&spec.LaunchPermission, perms, img.Namespace)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &returnOutput{Return: true}, nil
}

// imageModification turns either form of the request into launch permission changes or a new
// description.
func imageModification(in *modifyImageAttributeInput) (*launchPermissionModifications, *string, error) {
	oldForm := in.OperationType != "" || len(in.UserGroups) > 0 || len(in.UserIDs) > 0
	switch {
	case len(in.ProductCodes) > 0 || in.Attribute == "productCodes":
		return nil, nil, badRequest(codeUnsupported, "Product codes are not supported")
	case in.Attribute == "description" || (in.Attribute == "" && in.Description != nil):
		desc := in.Value
		if in.Description != nil {
			desc = &in.Description.Value
		}
		if desc == nil {
			return nil, nil, badRequest(codeMissingParameter, "The request must contain the parameter Description")
		}
		if len(*desc) > maxImageDescription {
			return nil, nil, invalidParam("The description is longer than %d characters", maxImageDescription)
		}
		return nil, desc, nil
	case in.Attribute == "launchPermission" || (in.Attribute == "" && oldForm):
		if in.LaunchPermission != nil {
			return in.LaunchPermission, nil, nil
		}
		var items []launchPermissionItem
		for _, g := range in.UserGroups {
			items = append(items, launchPermissionItem{Group: g})
		}
		for _, u := range in.UserIDs {
			items = append(items, launchPermissionItem{UserID: u})
		}
		switch in.OperationType {
		case "add":
			return &launchPermissionModifications{Add: items}, nil, nil
		case "remove":
			return &launchPermissionModifications{Remove: items}, nil, nil
		case "":
			return nil, nil, badRequest(codeMissingParameter, "The request must contain the parameter OperationType")
		}
		return nil, nil, invalidParam("Value (%s) for parameter OperationType is invalid. Valid values: add, remove.", in.OperationType)
	case in.Attribute == "" && in.LaunchPermission != nil:
		return in.LaunchPermission, nil, nil
	case in.Attribute == "":
		return nil, nil, badRequest(codeMissingParameter, "The request must contain an attribute to modify")
	}
	return nil, nil, invalidParam("Value (%s) for parameter attribute is invalid. Unknown or read-only attribute.", in.Attribute)
}

// checkLaunchPermission accepts the group "all" and user ids that are existing projects.
func (s *Server) checkLaunchPermission(ctx context.Context, p launchPermissionItem) error {
	switch {
	case p.Group == "" && p.UserID == "":
		return badRequest(codeAMIAttributeItem, "A launch permission needs a Group or a UserId")
	case p.Group != "" && p.Group != "all":
		return badRequest(codeAMIAttributeItem, "Invalid attribute item value \"%s\" for UserGroup item type.", p.Group)
	case p.UserID == "":
		return nil
	}
	bad := badRequest(codeAMIAttributeItem, "Invalid attribute item value \"%s\" for UserId item type.", p.UserID)
	if len(validation.IsDNS1123Label(p.UserID)) > 0 {
		return bad
	}
	if err := s.cfg.Client.Get(ctx, client.ObjectKey{Name: p.UserID}, &cloudv1.Project{}); err != nil {
		if apierrors.IsNotFound(err) {
			return bad
		}
		return fmt.Errorf("looking up project %s: %w", p.UserID, err)
	}
	return nil
}

// applyLaunchPermissions adds, then removes. The owner's own project is implicit and never listed.
func applyLaunchPermissions(lp *cloudv1.LaunchPermission, m *launchPermissionModifications, owner string) {
	for _, p := range m.Add {
		if p.Group == "all" {
			lp.Public = true
		}
		if p.UserID != "" && p.UserID != owner && !slices.Contains(lp.Projects, p.UserID) {
			lp.Projects = append(lp.Projects, p.UserID)
		}
	}
	for _, p := range m.Remove {
		if p.Group == "all" {
			lp.Public = false
		}
		if p.UserID != "" {
			lp.Projects = slices.DeleteFunc(lp.Projects, func(x string) bool { return x == p.UserID })
		}
	}
	if len(lp.Projects) == 0 {
		lp.Projects = nil
	}
}

type resetImageAttributeInput struct {
	ImageID   string `ec2:"ImageId,required"`
	Attribute string `ec2:"Attribute,required"`
	DryRun    bool   `ec2:"DryRun"`
}

// resetImageAttribute makes an image private again (launchPermission is the only attribute EC2
// resets).
func (s *Server) resetImageAttribute(ctx context.Context, c *call) (any, error) {
	var in resetImageAttributeInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "update", "images", in.DryRun); err != nil {
		return nil, err
	}
	if in.Attribute != "launchPermission" {
		return nil, invalidParam("Value (%s) for parameter attribute is invalid. Only launchPermission can be reset.", in.Attribute)
	}
	img, err := s.ownImage(ctx, c, in.ImageID, false)
	if err != nil {
		return nil, err
	}
	err = s.changeImageSpec(ctx, img, func(spec *cloudv1.ImageSpec) error {
		spec.LaunchPermission = cloudv1.LaunchPermission{}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &returnOutput{Return: true}, nil
}

// changeImageSpec applies change to the image's spec under an optimistic lock, re-reading and
// re-applying on a conflict, so two owners' concurrent changes to the permission list both
// land. It then waits for the cache to show the change, so a Describe right after sees it.
func (s *Server) changeImageSpec(ctx context.Context, img *cloudv1.Image, change func(*cloudv1.ImageSpec) error) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		before := img.DeepCopy()
		if err := change(&img.Spec); err != nil {
			return err
		}
		if equality.Semantic.DeepEqual(before.Spec, img.Spec) {
			return nil
		}
		err := s.cfg.Client.Patch(ctx, img, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
		if apierrors.IsConflict(err) {
			if gerr := s.cfg.APIReader.Get(ctx, client.ObjectKeyFromObject(img), img); gerr != nil {
				return gerr
			}
		}
		return err
	})
	switch {
	case apierrors.IsNotFound(err):
		return imageNotFound(imageID(img))
	case err != nil:
		return apiError(err, "image "+imageID(img))
	}
	s.awaitCache(ctx, img)
	return nil
}
