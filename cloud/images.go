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
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/refs"
)

// Images: an Image object per registered bundle, in the owning project's namespace, named by its
// id. A project sees its own images, public ones and those shared with it (refs.ImageVisibleTo);
// only the owner changes or deregisters an image. Any other image answers as if it did not exist.

// Image is an image as EC2 shows it. PiNet images are instance-store hvm images with no block
// device mappings (their disks come from the instance type).
type Image struct {
	ID, Location, State, OwnerID string
	Created                      time.Time
	Public                       bool
	Architecture, Type           string
	KernelID, RamdiskID          string
	Name, Description            string
	RootDeviceType               string
	RootDeviceName               string
	VirtualizationType           string
	Hypervisor                   string
	// StateReasonCode and StateReasonMessage say why a failed image failed.
	StateReasonCode, StateReasonMessage string
	// DeregistrationProtection is EC2's: disabled, enabled-with(out)-cooldown, disabled-until.
	DeregistrationProtection string
	Tags                     map[string]string
	// Volumes are the image's EBS block device mappings: what its instances get at launch.
	Volumes []ImageVolume
}

// ImageVolume is an EBS block device mapping of an image.
type ImageVolume struct {
	DeviceName, SnapshotID string
	// VolumeSize is 0 for the snapshot's size.
	VolumeSize          int32
	DeleteOnTermination bool
	// VolumeType (gp2 when the mapping names none), Iops and Throughput (0: none) of the volume.
	VolumeType       string
	Iops, Throughput int32
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

// ImageID is the image's EC2 id: the controller's, or the object's name when the API made it and
// the controller has not caught up.
func ImageID(img *cloudv1.Image) string {
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
func (s *Service) defaultImageIDs(ctx context.Context, img *cloudv1.Image) (kernel, ramdisk string) {
	return s.imageRefID(ctx, img.Namespace, img.Spec.KernelID), s.imageRefID(ctx, img.Namespace, img.Spec.RamdiskID)
}

// imageRefID is the EC2 id of what an object in namespace calls an image: ref itself when it is
// an id (or empty), else the id of the Image of that name there; ref when it has none yet.
func (s *Service) imageRefID(ctx context.Context, namespace, ref string) string {
	if ref == "" || ids.Prefix(ref) != "" {
		return ref
	}
	if img, err := refs.Image(ctx, s.cfg.Client, namespace, ref); err == nil && img.Status.ImageID != "" {
		return img.Status.ImageID
	}
	return ref
}

func toImage(img *cloudv1.Image) Image {
	out := Image{
		ID:                       ImageID(img),
		Location:                 img.Spec.ImageLocation,
		State:                    string(img.Status.State),
		OwnerID:                  imageOwner(img),
		Created:                  img.CreationTimestamp.Time,
		Public:                   img.Spec.LaunchPermission.Public,
		Architecture:             img.Spec.Architecture,
		Type:                     string(img.Spec.Type),
		KernelID:                 img.Spec.KernelID,
		RamdiskID:                img.Spec.RamdiskID,
		Name:                     imageName(img),
		Description:              img.Spec.Description,
		RootDeviceType:           "instance-store",
		RootDeviceName:           img.Spec.RootDeviceName,
		VirtualizationType:       "hvm",
		Hypervisor:               "xen",
		Tags:                     TagsOf(img),
		DeregistrationProtection: deregistrationProtection(img),
	}
	for _, m := range img.Spec.BlockDeviceMappings {
		out.Volumes = append(out.Volumes, ImageVolume{DeviceName: m.DeviceName, SnapshotID: m.EBS.SnapshotID,
			VolumeSize: m.EBS.VolumeSize, DeleteOnTermination: m.EBS.DeletesOnTermination(),
			VolumeType: string(cmp.Or(m.EBS.VolumeType, cloudv1.VolumeTypeGP2)), Iops: m.EBS.Iops, Throughput: m.EBS.Throughput})
	}
	if out.State == "" {
		out.State = string(cloudv1.ImageStatePending)
	}
	if img.Spec.ImageLocation == "" {
		// EC2 shows an image made from an instance, or copied, at owner/name.
		out.Location = out.OwnerID + "/" + out.Name
	}
	if out.Architecture == "" {
		out.Architecture = "x86_64"
	}
	if out.Type == "" {
		out.Type = string(cloudv1.ImageTypeMachine)
	}
	if out.RootDeviceName == "" {
		out.RootDeviceName = "/dev/sda1"
	}
	if img.Status.State == cloudv1.ImageStateFailed {
		out.StateReasonCode = "Failed"
		if c := conditions.Get(img, cloudv1.ReadyCondition); c != nil && c.Reason != "" {
			out.StateReasonCode = c.Reason
		}
		out.StateReasonMessage = img.Status.StateReason
	}
	return out
}

var imageListing = listing{resource: "images", filters: imageFilters, minPage: 5, maxPage: 1000,
	idsWithPage: "The parameter ImageIds cannot be used with the parameter MaxResults"}

var imageFilters = []string{
	"image-id", "image-type", "state", "name", "owner-id", "is-public", "architecture", "kernel-id",
	"ramdisk-id", "description", "root-device-type", "root-device-name", "virtualization-type",
	"hypervisor", "manifest-location",
}

func imageAttrs(item *Image) query.Attributes {
	return func(name string) []string {
		v, ok := map[string]string{
			"image-id": item.ID, "image-type": item.Type, "state": item.State,
			"name": item.Name, "owner-id": item.OwnerID, "is-public": strconv.FormatBool(item.Public),
			"architecture": item.Architecture, "kernel-id": item.KernelID, "ramdisk-id": item.RamdiskID,
			"description": item.Description, "root-device-type": item.RootDeviceType,
			"root-device-name": item.RootDeviceName, "virtualization-type": item.VirtualizationType,
			"hypervisor": item.Hypervisor, "manifest-location": item.Location,
		}[name]
		if !ok {
			return nil
		}
		return []string{v}
	}
}

// visibleImages lists the images the project may see and launch that have an id, oldest first.
// Images being deregistered (deleted, waiting for their stored copy to go) are gone already.
func (s *Service) visibleImages(ctx context.Context, c Caller) ([]*cloudv1.Image, error) {
	var all []*cloudv1.Image
	seen := map[types.UID]bool{}
	for _, scope := range sharedScopes(c.Project(), index.ImageSharedWith) {
		list := &cloudv1.ImageList{}
		if err := s.cfg.Client.List(ctx, list, scope); err != nil {
			return nil, fmt.Errorf("listing images: %w", err)
		}
		all = appendUnseen(all, seen, pointers(list.Items))
	}
	return liveByAge(all, imageIDFor(c.Project()), func(img *cloudv1.Image) bool {
		return refs.ImageVisibleTo(img, c.Project())
	}), nil
}

// imageIDFor reads images' ids as project may rely on them: its own images by ImageID, another
// project's only by the id the image controller claimed. An object's name is not claimed, so
// another project could name a public Image after an id it does not hold and show it under that
// id until the controller gives it one of its own.
func imageIDFor(project string) func(*cloudv1.Image) string {
	return func(img *cloudv1.Image) string {
		if img.Namespace == project {
			return ImageID(img)
		}
		return img.Status.ImageID
	}
}

func validImageID(id string) bool {
	return ids.Valid(ids.Machine, id) || ids.Valid(ids.Kernel, id) || ids.Valid(ids.Ramdisk, id)
}

func malformedImageID(id string) error {
	return BadRequest(CodeAMIMalformed, "Invalid id: \"%s\" (expecting \"ami-...\")", id)
}

func imageNotFound(id string) error {
	return BadRequest(CodeAMINotFound, "The image id '[%s]' does not exist", id)
}

// visibleImage finds an image the project may see by id.
func (s *Service) visibleImage(ctx context.Context, c Caller, id string) (*cloudv1.Image, error) {
	if !validImageID(id) {
		return nil, malformedImageID(id)
	}
	all, err := s.visibleImages(ctx, c)
	if err != nil {
		return nil, err
	}
	if img, ok := withID(all, id, ImageID); ok {
		return img, nil
	}
	return nil, imageNotFound(id)
}

// ownImage finds an image of the caller's project by id for a change. Another project's image
// the caller can see is AuthFailure, as in EC2, unless hidden says to answer NotFound.
func (s *Service) ownImage(ctx context.Context, c Caller, id string, hidden bool) (*cloudv1.Image, error) {
	img, err := s.visibleImage(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if img.Namespace != c.Project() {
		if hidden {
			return nil, imageNotFound(id)
		}
		return nil, notAuthorizedForImage(id)
	}
	return img, nil
}

// resolveOwnImage is how a change of an image starts: the caller may verb images (DryRun ends
// here), and the image is the caller's project's (ownImage).
func (s *Service) resolveOwnImage(ctx context.Context, c Caller, verb, id string, hidden, dryRun bool) (*cloudv1.Image, error) {
	if err := s.authorize(ctx, c, verb, "images", dryRun); err != nil {
		return nil, err
	}
	return s.ownImage(ctx, c, id, hidden)
}

func notAuthorizedForImage(id string) error {
	return BadRequest(CodeAuthFailure, "Not authorized for image:%s", id)
}

// DescribeImagesInput selects images: by id, by owner (self or project ids), by who may launch
// them (all, self or project ids), by filter; a page of them.
type DescribeImagesInput struct {
	IDs, Owners, ExecutableBy []string
	Filters                   []query.Filter
	Page                      Page
	DryRun                    bool
}

// DescribeImages lists the visible images and the token of the next page ("" at the end). PiNet
// images are never deprecated or disabled, so there is nothing to include or leave out for that.
func (s *Service) DescribeImages(ctx context.Context, c Caller, in DescribeImagesInput) ([]Image, string, error) {
	matcher, size, err := s.startDescribe(ctx, c, imageListing, in.DryRun, in.Filters, in.Page, len(in.IDs))
	if err != nil {
		return nil, "", err
	}
	inScope, err := imageScope(c.Project(), in.Owners, in.ExecutableBy)
	if err != nil {
		return nil, "", err
	}
	imgs, err := s.visibleImages(ctx, c)
	if err != nil {
		return nil, "", err
	}
	if len(in.IDs) > 0 {
		if imgs, err = pickImages(imgs, in.IDs); err != nil {
			return nil, "", err
		}
	}
	items := []Image{}
	for _, img := range imgs {
		item := toImage(img)
		item.KernelID, item.RamdiskID = s.defaultImageIDs(ctx, img)
		if inScope(img) && matcher.Match(imageAttrs(&item), item.Tags) {
			items = append(items, item)
		}
	}
	scope := fmt.Sprintf("DescribeImages\x00%q\x00%q\x00%q\x00%v", in.IDs, in.Owners, in.ExecutableBy, in.Filters)
	return pageOf(s, c, scope, in.Page, size, items)
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
		if want[ImageID(img)] {
			out = append(out, img)
			delete(want, ImageID(img))
		}
	}
	for _, id := range wanted {
		if want[id] {
			return nil, imageNotFound(id)
		}
	}
	return out, nil
}

// imageScope applies Owners (self or project ids; "amazon" and "aws-marketplace" name projects
// that do not exist, so they select nothing) and ExecutableBy (all, self or project ids), as
// sharedScope does.
func imageScope(project string, owners, executable []string) (func(*cloudv1.Image) bool, error) {
	return sharedScope(project, owners, executable, func(img *cloudv1.Image) sharing {
		return sharing{owner: imageOwner(img), public: img.Spec.LaunchPermission.Public, projects: img.Spec.LaunchPermission.Projects}
	})
}

// DeregisterImageInput names the image to deregister.
type DeregisterImageInput struct {
	ID     string
	DryRun bool
}

// DeregisterImage deletes the Image; the image controller's finalizer removes the stored copy.
// Instances already running from it keep running. Only the owner may deregister: any other image,
// public or shared, answers NotFound.
func (s *Service) DeregisterImage(ctx context.Context, c Caller, in DeregisterImageInput) error {
	img, err := s.resolveOwnImage(ctx, c, "delete", in.ID, true, in.DryRun)
	if err != nil {
		return err
	}
	// Judged and deleted at one version of the image, read from the API server: a protection
	// turned on since the cache's copy is not passed over.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := &cloudv1.Image{}
		if err := s.cfg.APIReader.Get(ctx, client.ObjectKeyFromObject(img), cur); err != nil {
			return err
		}
		if err := refuseProtected(cur, in.ID); err != nil {
			return err
		}
		return s.cfg.Client.Delete(ctx, cur, client.Preconditions{UID: &cur.UID, ResourceVersion: &cur.ResourceVersion})
	})
	if err := client.IgnoreNotFound(err); err != nil {
		var apiErr *query.Error
		if errors.As(err, &apiErr) {
			return err
		}
		return APIError(err, "image "+in.ID)
	}
	s.releaseImageName(ctx, img)
	s.AwaitDeleted(ctx, img)
	return nil
}

// ImageAttribute is one attribute of an image: LaunchPermissions for launchPermission (blockDeviceMapping
// and productCodes are always empty lists), Value for the others.
type ImageAttribute struct {
	ImageID, Attribute string
	LaunchPermissions  []LaunchPermission
	// Volumes are the blockDeviceMapping attribute's.
	Volumes []ImageVolume
	Value   string
}

// DescribeImageAttributeInput names an image and one of its attributes.
type DescribeImageAttributeInput struct {
	ID, Attribute string
	DryRun        bool
}

// imageAttributes are the attributes DescribeImageAttribute answers; those PiNet images never have
// (boot mode, TPM, …) answer empty.
var imageAttributes = map[string]string{
	"launchPermission": "", "blockDeviceMapping": "", "productCodes": "", "description": "", "kernel": "",
	"ramdisk": "", "sriovNetSupport": "", "bootMode": "", "tpmSupport": "", "uefiData": "",
	"lastLaunchedTime": "", "imdsSupport": "", "deregistrationProtection": "",
}

// DescribeImageAttribute answers one attribute of a visible image. Who may launch it, and its
// block devices, are the owner's to know (AuthFailure for others, as in EC2).
func (s *Service) DescribeImageAttribute(ctx context.Context, c Caller, in DescribeImageAttributeInput) (*ImageAttribute, error) {
	if err := s.authorize(ctx, c, "get", "images", in.DryRun); err != nil {
		return nil, err
	}
	img, err := s.visibleImage(ctx, c, in.ID)
	if err != nil {
		return nil, err
	}
	value, known := imageAttributes[in.Attribute]
	if !known {
		return nil, InvalidParam("Value (%s) for parameter attribute is invalid. Unknown attribute.", in.Attribute)
	}
	out := &ImageAttribute{ImageID: ImageID(img), Attribute: in.Attribute, Value: value}
	owner := img.Namespace == c.Project()
	switch in.Attribute {
	case "launchPermission", "blockDeviceMapping":
		if !owner {
			return nil, notAuthorizedForImage(in.ID)
		}
		if in.Attribute == "launchPermission" {
			out.LaunchPermissions = launchPermissions(img.Spec.LaunchPermission)
		} else {
			out.Volumes = toImage(img).Volumes
		}
	case "description":
		out.Value = img.Spec.Description
	case "kernel":
		out.Value, _ = s.defaultImageIDs(ctx, img)
	case "ramdisk":
		_, out.Value = s.defaultImageIDs(ctx, img)
	case "deregistrationProtection":
		out.Value = deregistrationProtection(img)
	}
	return out, nil
}

func launchPermissions(lp cloudv1.LaunchPermission) []LaunchPermission {
	return permissionEntries(lp.Public, lp.Projects)
}

// ModifyImageAttributeInput changes who may launch an image (LaunchPermission, or the older form:
// Attribute launchPermission with OperationType add or remove, UserGroups and UserIDs) or its
// description (Description, or Attribute description with Value).
type ModifyImageAttributeInput struct {
	ID                  string
	Attribute           string
	OperationType       string
	UserGroups, UserIDs []string
	Value, Description  *string
	LaunchPermission    *LaunchPermissionChanges
	ProductCodes        []string
	DryRun              bool
}

// ModifyImageAttribute changes an image's launch permissions or description. Only the owner may.
func (s *Service) ModifyImageAttribute(ctx context.Context, c Caller, in ModifyImageAttributeInput) error {
	img, err := s.resolveOwnImage(ctx, c, "update", in.ID, false, in.DryRun)
	if err != nil {
		return err
	}
	perms, description, err := imageModification(&in)
	if err != nil {
		return err
	}
	if perms != nil {
		for _, p := range perms.Add {
			if err := checkLaunchPermission(p); err != nil {
				return err
			}
		}
		for _, p := range perms.Remove {
			if p.Group != "" && p.Group != "all" {
				return BadRequest(CodeAMIAttributeItem, "Invalid attribute item value \"%s\" for UserGroup item type.", p.Group)
			}
		}
	}
	return s.changeImageSpec(ctx, img, func(spec *cloudv1.ImageSpec) {
		if description != nil {
			spec.Description = *description
		}
		if perms != nil {
			applyLaunchPermissions(&spec.LaunchPermission, perms, img.Namespace)
		}
	})
}

// imageModification turns either form of the request into launch permission changes or a new
// description.
func imageModification(in *ModifyImageAttributeInput) (*LaunchPermissionChanges, *string, error) {
	oldForm := in.OperationType != "" || len(in.UserGroups) > 0 || len(in.UserIDs) > 0
	switch {
	case len(in.ProductCodes) > 0 || in.Attribute == "productCodes":
		return nil, nil, BadRequest(CodeUnsupported, "Product codes are not supported")
	case in.Attribute == "description" || (in.Attribute == "" && in.Description != nil):
		desc := in.Value
		if in.Description != nil {
			desc = in.Description
		}
		if desc == nil {
			return nil, nil, BadRequest(CodeMissingParameter, "The request must contain the parameter Description")
		}
		if len(*desc) > maxImageDescription {
			return nil, nil, InvalidParam("The description is longer than %d characters", maxImageDescription)
		}
		return nil, desc, nil
	case in.Attribute == "launchPermission" || (in.Attribute == "" && oldForm):
		if in.LaunchPermission != nil {
			return in.LaunchPermission, nil, nil
		}
		changes, err := oldFormChanges(in.OperationType, in.UserGroups, in.UserIDs)
		return changes, nil, err
	case in.Attribute == "" && in.LaunchPermission != nil:
		return in.LaunchPermission, nil, nil
	case in.Attribute == "":
		return nil, nil, BadRequest(CodeMissingParameter, "The request must contain an attribute to modify")
	}
	return nil, nil, InvalidParam("Value (%s) for parameter attribute is invalid. Unknown or read-only attribute.", in.Attribute)
}

// checkLaunchPermission accepts the group "all" and user ids that are well-formed project names
// (whether such a project exists is not checked, as applySharing says).
func checkLaunchPermission(p LaunchPermission) error {
	switch {
	case p.Group == "" && p.UserID == "":
		return BadRequest(CodeAMIAttributeItem, "A launch permission needs a Group or a UserId")
	case p.Group != "" && p.Group != "all":
		return BadRequest(CodeAMIAttributeItem, "Invalid attribute item value \"%s\" for UserGroup item type.", p.Group)
	case p.UserID == "":
		return nil
	}
	if len(validation.IsDNS1123Label(p.UserID)) > 0 {
		return BadRequest(CodeAMIAttributeItem, "Invalid attribute item value \"%s\" for UserId item type.", p.UserID)
	}
	return nil
}

// applyLaunchPermissions adds, then removes, as applySharing does.
func applyLaunchPermissions(lp *cloudv1.LaunchPermission, m *LaunchPermissionChanges, owner string) {
	applySharing(&lp.Public, &lp.Projects, m, owner)
}

// ResetImageAttributeInput names an image and the attribute to reset (launchPermission is the
// only one EC2 resets).
type ResetImageAttributeInput struct {
	ID, Attribute string
	DryRun        bool
}

// ResetImageAttribute makes an image private again.
func (s *Service) ResetImageAttribute(ctx context.Context, c Caller, in ResetImageAttributeInput) error {
	if err := s.authorize(ctx, c, "update", "images", in.DryRun); err != nil {
		return err
	}
	if in.Attribute != "launchPermission" {
		return InvalidParam("Value (%s) for parameter attribute is invalid. Only launchPermission can be reset.", in.Attribute)
	}
	img, err := s.ownImage(ctx, c, in.ID, false)
	if err != nil {
		return err
	}
	return s.changeImageSpec(ctx, img, func(spec *cloudv1.ImageSpec) {
		spec.LaunchPermission = cloudv1.LaunchPermission{}
	})
}

// changeImageSpec applies change to the image's spec under an optimistic lock, re-reading and
// re-applying on a conflict, so two owners' concurrent changes to the permission list both
// land. It then waits for the cache to show the change, so a Describe right after sees it.
func (s *Service) changeImageSpec(ctx context.Context, img *cloudv1.Image, change func(*cloudv1.ImageSpec)) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		before := img.DeepCopy()
		change(&img.Spec)
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
		return imageNotFound(ImageID(img))
	case err != nil:
		return APIError(err, "image "+ImageID(img))
	}
	s.AwaitCache(ctx, img)
	return nil
}
