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

// Package refs resolves the cross-references between PiNet objects (image ids, key names,
// instance ids) with the visibility rules of EC2: a project sees its own objects and images
// shared with it, and nothing else.
package refs

import (
	"context"
	"errors"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/index"
)

// ErrNotFound means the reference names nothing the project can see.
var ErrNotFound = errors.New("not found")

// ImageVisibleTo reports whether project may see and launch img.
func ImageVisibleTo(img *cloudv1.Image, project string) bool {
	return img.Namespace == project || img.Spec.LaunchPermission.Public ||
		slices.Contains(img.Spec.LaunchPermission.Projects, project)
}

// Image resolves ref for project: an ami-/aki-/ari- id of an image the project can see, or the
// name of an Image in the project's namespace.
func Image(ctx context.Context, r client.Reader, project, ref string) (*cloudv1.Image, error) {
	switch ids.Prefix(ref) {
	case ids.Machine, ids.Kernel, ids.Ramdisk:
		list := &cloudv1.ImageList{}
		if err := r.List(ctx, list, client.MatchingFields{index.ImageID: ref}); err != nil {
			return nil, fmt.Errorf("listing images with id %s: %w", ref, err)
		}
		for i := range list.Items {
			if ImageVisibleTo(&list.Items[i], project) {
				return &list.Items[i], nil
			}
		}
		return nil, fmt.Errorf("image %s: %w", ref, ErrNotFound)
	}
	img := &cloudv1.Image{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: project, Name: ref}, img); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("image %s: %w", ref, ErrNotFound)
		}
		return nil, fmt.Errorf("getting image %s/%s: %w", project, ref, err)
	}
	return img, nil
}

// ImageDefault resolves the kernel or ramdisk ref that img names as its default, for an instance
// of project. The reference is the image owner's (a name in its namespace, or an id it can see),
// but the image it names must be one project can see as well: the owner may have been given a
// kernel no one else was.
func ImageDefault(ctx context.Context, r client.Reader, img *cloudv1.Image, ref, project string) (*cloudv1.Image, error) {
	def, err := Image(ctx, r, img.Namespace, ref)
	if err != nil {
		return nil, err
	}
	if !ImageVisibleTo(def, project) {
		return nil, fmt.Errorf("image %s: %w", ref, ErrNotFound)
	}
	return def, nil
}

// SnapshotRestorableBy reports whether project may make volumes of snap.
func SnapshotRestorableBy(snap *cloudv1.Snapshot, project string) bool {
	return snap.Namespace == project || snap.Spec.CreateVolumePermission.Public ||
		slices.Contains(snap.Spec.CreateVolumePermission.Projects, project)
}

// Snapshot finds the snapshot with the EC2 id that project may make volumes of, not being
// deleted. Only the id the snapshot controller claimed counts: an object's name is not claimed.
func Snapshot(ctx context.Context, r client.Reader, project, id string) (*cloudv1.Snapshot, error) {
	return SnapshotWhileDeleted(ctx, r, project, id, false)
}

// SnapshotWhileDeleted is Snapshot that, with deleted, also finds a snapshot being deleted:
// for what already started using it, which its deletion waits for.
func SnapshotWhileDeleted(ctx context.Context, r client.Reader, project, id string, deleted bool) (*cloudv1.Snapshot, error) {
	list := &cloudv1.SnapshotList{}
	if err := r.List(ctx, list, client.MatchingFields{index.SnapshotID: id}); err != nil {
		return nil, fmt.Errorf("listing snapshots with id %s: %w", id, err)
	}
	for i := range list.Items {
		if s := &list.Items[i]; (deleted || s.DeletionTimestamp.IsZero()) && SnapshotRestorableBy(s, project) {
			return s, nil
		}
	}
	return nil, fmt.Errorf("snapshot %s: %w", id, ErrNotFound)
}

// ImageMapsSnapshot reports whether img maps the snapshot id at any of its devices.
func ImageMapsSnapshot(img *cloudv1.Image, id string) bool {
	return id != "" && slices.ContainsFunc(img.Spec.BlockDeviceMappings, func(m cloudv1.ImageBlockDeviceMapping) bool {
		return m.EBS.SnapshotID == id
	})
}

// ImagesMapping are the images of project, not being deleted, that map the snapshot id: they
// hold it from being deleted (EC2's InvalidSnapshot.InUse). Only the snapshot's own project's
// images are asked: another project's image naming it never holds it (nor gets it: an image maps
// only its own project's snapshots).
func ImagesMapping(ctx context.Context, r client.Reader, project, id string) ([]*cloudv1.Image, error) {
	list := &cloudv1.ImageList{}
	if err := r.List(ctx, list, client.InNamespace(project), client.MatchingFields{index.ImageSnapshot: id}); err != nil {
		return nil, fmt.Errorf("listing the images mapping %s: %w", id, err)
	}
	var out []*cloudv1.Image
	for i := range list.Items {
		if img := &list.Items[i]; img.DeletionTimestamp.IsZero() {
			out = append(out, img)
		}
	}
	return out, nil
}

// ImageSnapshot finds the snapshot with the EC2 id that img maps, for project launching or
// copying img. As on EC2, an image's launchers get volumes of the snapshots it maps (and its
// copiers copies of them) whether or not those are shared with them: giving the image gives what
// it maps, and nothing more (the snapshot stays hidden from their DescribeSnapshots, CreateVolume
// and CopySnapshot). Only a
// snapshot of the image's own project counts — the image controller admits no other — and only
// while project may launch img.
func ImageSnapshot(ctx context.Context, r client.Reader, img *cloudv1.Image, project, id string, deleted bool) (*cloudv1.Snapshot, error) {
	if !ImageVisibleTo(img, project) || !ImageMapsSnapshot(img, id) {
		return nil, fmt.Errorf("snapshot %s: %w", id, ErrNotFound)
	}
	list := &cloudv1.SnapshotList{}
	if err := r.List(ctx, list, client.InNamespace(img.Namespace), client.MatchingFields{index.SnapshotID: id}); err != nil {
		return nil, fmt.Errorf("listing snapshots with id %s: %w", id, err)
	}
	for i := range list.Items {
		if s := &list.Items[i]; deleted || s.DeletionTimestamp.IsZero() {
			return s, nil
		}
	}
	return nil, fmt.Errorf("snapshot %s: %w", id, ErrNotFound)
}

// LaunchSnapshot finds the snapshot with the EC2 id that a volume made at launch of img for
// project starts from: one project may use (SnapshotWhileDeleted) or one img maps (ImageSnapshot).
// img may be nil (deregistered since).
func LaunchSnapshot(ctx context.Context, r client.Reader, img *cloudv1.Image, project, id string, deleted bool) (*cloudv1.Snapshot, error) {
	snap, err := SnapshotWhileDeleted(ctx, r, project, id, deleted)
	if img == nil || !errors.Is(err, ErrNotFound) {
		return snap, err
	}
	return ImageSnapshot(ctx, r, img, project, id, deleted)
}

// CopySource finds the snapshot a copy s copies, with the rights of s's project: one the project
// may use, or, for a copy naming spec.sourceImageId, one that image maps, the image read as the
// project sees it now.
func CopySource(ctx context.Context, r client.Reader, s *cloudv1.Snapshot, deleted bool) (*cloudv1.Snapshot, error) {
	src, err := SnapshotWhileDeleted(ctx, r, s.Namespace, s.Spec.SourceSnapshotID, deleted)
	if s.Spec.SourceImageID == "" || !errors.Is(err, ErrNotFound) {
		return src, err
	}
	img, err := Image(ctx, r, s.Namespace, s.Spec.SourceImageID)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("snapshot %s: %w", s.Spec.SourceSnapshotID, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return ImageSnapshot(ctx, r, img, s.Namespace, s.Spec.SourceSnapshotID, deleted)
}

// VolumeSnapshot finds the snapshot v starts from, with the rights of v's project: one the
// project may use, or, for a volume made at launch (LabelLaunchInstance naming an instance of the
// project), one the instance's image maps, the image read as the project sees it now. The label
// is the project's own to set: it can reach no snapshot but those of images the project may
// launch, whose volumes it could have by launching them.
func VolumeSnapshot(ctx context.Context, r client.Reader, v *cloudv1.Volume, deleted bool) (*cloudv1.Snapshot, error) {
	snap, err := SnapshotWhileDeleted(ctx, r, v.Namespace, v.Spec.SnapshotID, deleted)
	launchedBy := v.Labels[cloudv1.LabelLaunchInstance]
	if launchedBy == "" || !errors.Is(err, ErrNotFound) {
		return snap, err
	}
	inst, err := Instance(ctx, r, v.Namespace, launchedBy)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("snapshot %s: %w", v.Spec.SnapshotID, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	img, err := Image(ctx, r, v.Namespace, inst.Spec.ImageID)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("snapshot %s: %w", v.Spec.SnapshotID, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return ImageSnapshot(ctx, r, img, v.Namespace, v.Spec.SnapshotID, deleted)
}

// InstanceType gets an instance type by name.
func InstanceType(ctx context.Context, r client.Reader, name string) (*cloudv1.InstanceType, error) {
	it := &cloudv1.InstanceType{}
	if err := r.Get(ctx, client.ObjectKey{Name: name}, it); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("instance type %s: %w", name, ErrNotFound)
		}
		return nil, fmt.Errorf("getting instance type %s: %w", name, err)
	}
	return it, nil
}

// KeyPair finds the key pair with the EC2 key name in the project.
func KeyPair(ctx context.Context, r client.Reader, project, keyName string) (*cloudv1.KeyPair, error) {
	list := &cloudv1.KeyPairList{}
	if err := r.List(ctx, list, client.InNamespace(project), client.MatchingFields{index.KeyName: keyName}); err != nil {
		return nil, fmt.Errorf("listing key pairs named %s: %w", keyName, err)
	}
	if len(list.Items) == 0 {
		return nil, fmt.Errorf("key pair %s: %w", keyName, ErrNotFound)
	}
	return &list.Items[0], nil
}

// Instance finds the instance with the EC2 id in the project.
func Instance(ctx context.Context, r client.Reader, project, id string) (*cloudv1.Instance, error) {
	list := &cloudv1.InstanceList{}
	if err := r.List(ctx, list, client.InNamespace(project), client.MatchingFields{index.InstanceID: id}); err != nil {
		return nil, fmt.Errorf("listing instances with id %s: %w", id, err)
	}
	if len(list.Items) == 0 {
		return nil, fmt.Errorf("instance %s: %w", id, ErrNotFound)
	}
	return &list.Items[0], nil
}

// SecurityGroup finds a group in the project by sg- id or by EC2 group name.
func SecurityGroup(ctx context.Context, r client.Reader, project, ref string) (*cloudv1.SecurityGroup, error) {
	field := index.GroupName
	if ids.Valid(ids.SecurityGroup, ref) {
		field = index.GroupID
	}
	list := &cloudv1.SecurityGroupList{}
	if err := r.List(ctx, list, client.InNamespace(project), client.MatchingFields{field: ref}); err != nil {
		return nil, fmt.Errorf("listing security groups %s: %w", ref, err)
	}
	if len(list.Items) == 0 {
		return nil, fmt.Errorf("security group %s: %w", ref, ErrNotFound)
	}
	return &list.Items[0], nil
}
