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

package quota

import (
	"context"
	"fmt"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
)

// Of reads a project's quota; a namespace that belongs to no project has none.
func Of(ctx context.Context, r client.Reader, project string) (cloudv1.ProjectQuota, error) {
	p := &cloudv1.Project{}
	if err := r.Get(ctx, client.ObjectKey{Name: project}, p); err != nil {
		if apierrors.IsNotFound(err) {
			return cloudv1.ProjectQuota{}, nil
		}
		return cloudv1.ProjectQuota{}, fmt.Errorf("reading project %s: %w", project, err)
	}
	return p.Spec.Quota, nil
}

func limit[T int32 | int64](field, unit string, v *T) Limit {
	l := Limit{Field: field, Unit: unit}
	if v != nil {
		l.Max = int64(*v)
	}
	return l
}

// Addresses is the gate of a project's elastic IPs: their number.
func Addresses(project string, q cloudv1.ProjectQuota) *Gate {
	return counted("addresses", project, limit("addresses", "address(es)", q.Addresses),
		func(ctx context.Context, r client.Reader) ([]*cloudv1.Address, error) {
			list := &cloudv1.AddressList{}
			err := r.List(ctx, list, client.InNamespace(project))
			return pointers(list.Items), err
		}, AddressAdmitted)
}

// counted is the gate of a kind bounded by the number of its objects: each not being deleted
// counts one, pending while its creator's mark is on it or until admitted says otherwise.
func counted[T client.Object](kind, project string, l Limit, list func(context.Context, client.Reader) ([]T, error), admitted func(T) bool) *Gate {
	return &Gate{
		Kind: kind, Project: project, Limits: []Limit{l},
		Items: func(ctx context.Context, r client.Reader) ([]Item, error) {
			objs, err := list(ctx, r)
			if err != nil {
				return nil, fmt.Errorf("listing %s: %w", kind, err)
			}
			items := make([]Item, 0, len(objs))
			for _, o := range objs {
				if o.GetDeletionTimestamp().IsZero() {
					items = append(items, Item{Name: o.GetName(), Use: []int64{1}, Pending: IsMarkedPending(o) || !admitted(o)})
				}
			}
			return items, nil
		},
	}
}

func pointers[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

// Volumes is the gate of a project's volumes: their number and total size.
func Volumes(project string, q cloudv1.ProjectQuota) *Gate {
	return &Gate{
		Kind: "volumes", Project: project,
		Limits: []Limit{limit("volumes", "volume(s)", q.Volumes), limit("volumeGiB", "GiB of volumes", q.VolumeGiB)},
		Items: func(ctx context.Context, r client.Reader) ([]Item, error) {
			list := &cloudv1.VolumeList{}
			if err := r.List(ctx, list, client.InNamespace(project)); err != nil {
				return nil, fmt.Errorf("listing volumes: %w", err)
			}
			items := make([]Item, 0, len(list.Items))
			for i := range list.Items {
				v := &list.Items[i]
				if v.DeletionTimestamp.IsZero() {
					items = append(items, Item{Name: v.Name, Use: []int64{1, int64(v.GivenSizeGiB())}, Pending: IsMarkedPending(v) || !VolumeAdmitted(v)})
					// A grown spec.sizeGiB is admitted as an item of its own: the GiB it adds.
					if grown := VolumeGrowth(v); grown > 0 {
						items = append(items, Item{Name: GrowthName(v), Use: []int64{0, int64(grown)}, Pending: true})
					}
				}
			}
			return items, nil
		},
	}
}

// AddressAdmitted tells whether an address is shown admitted: it holds an IP of a pool. Until
// then it counts only once its creator (an EC2 call) or the address controller admitted it
// through the ledger: one made with kubectl over the quota takes no IP and counts for nothing.
func AddressAdmitted(a *cloudv1.Address) bool { return a.Status.PublicIP != "" }

// VolumeAdmitted tells whether a volume is shown admitted: it was given its size, or placed on a
// storage node (before sizes were recorded). Until then it counts only once admitted through the
// ledger, as addresses do.
func VolumeAdmitted(v *cloudv1.Volume) bool { return v.Status.SizeGiB > 0 || v.Status.AoE != nil }

// VolumeGrowth is how many GiB a volume's spec.sizeGiB asks beyond the size it was given.
func VolumeGrowth(v *cloudv1.Volume) int32 {
	if v.Status.SizeGiB == 0 || v.Spec.SizeGiB <= v.Status.SizeGiB {
		return 0
	}
	return v.Spec.SizeGiB - v.Status.SizeGiB
}

// GrowthName names the ledger item of a volume's growth to its spec.sizeGiB.
func GrowthName(v *cloudv1.Volume) string {
	return v.Name + "/" + strconv.Itoa(int(v.Spec.SizeGiB)) + "GiB"
}

// Snapshots is the gate of a project's snapshots: their number. A snapshot is pending while its
// creator (an EC2 call) admits it, and until the snapshot controller has admitted it and started
// it (status.state set); a refused one counts for nothing and is never copied.
func Snapshots(project string, q cloudv1.ProjectQuota) *Gate {
	return counted("snapshots", project, limit("snapshots", "snapshot(s)", q.Snapshots),
		func(ctx context.Context, r client.Reader) ([]*cloudv1.Snapshot, error) {
			list := &cloudv1.SnapshotList{}
			err := r.List(ctx, list, client.InNamespace(project))
			return pointers(list.Items), err
		}, SnapshotAdmitted)
}

// SnapshotAdmitted tells whether the snapshot controller admitted a snapshot: it has started it.
func SnapshotAdmitted(s *cloudv1.Snapshot) bool { return s.Status.State != "" }

// Images is the gate of a project's images: their number. An image is pending while its
// creator (an EC2 call) admits it, and until the image controller has admitted it and started
// it (status.state set); a refused one counts for nothing and is never stored.
func Images(project string, q cloudv1.ProjectQuota) *Gate {
	return counted("images", project, limit("images", "image(s)", q.Images),
		func(ctx context.Context, r client.Reader) ([]*cloudv1.Image, error) {
			list := &cloudv1.ImageList{}
			err := r.List(ctx, list, client.InNamespace(project))
			return pointers(list.Items), err
		}, ImageAdmitted)
}

// ImageAdmitted tells whether the image controller admitted an image: it has started it.
func ImageAdmitted(img *cloudv1.Image) bool { return img.Status.State != "" }

// Instances is the gate of a project's instances: their number, and the vCPUs and memory of
// their instance types. An instance holds its share until it is terminated or being deleted
// (a stopped one keeps it). It is pending until the instance controller reports it admitted
// (condition QuotaAdmitted), or while it is not placed on a hypervisor.
func Instances(project string, q cloudv1.ProjectQuota) *Gate {
	return &Gate{
		Kind: "instances", Project: project,
		Limits: []Limit{
			limit("instances", "running instance(s)", q.Instances),
			limit("vcpus", "vCPU(s)", q.VCPUs),
			limit("memoryMiB", "MiB of memory", q.MemoryMiB),
		},
		Items: func(ctx context.Context, r client.Reader) ([]Item, error) {
			list := &cloudv1.InstanceList{}
			if err := r.List(ctx, list, client.InNamespace(project)); err != nil {
				return nil, fmt.Errorf("listing instances: %w", err)
			}
			types := &cloudv1.InstanceTypeList{}
			if err := r.List(ctx, types); err != nil {
				return nil, fmt.Errorf("listing instance types: %w", err)
			}
			sizes := make(map[string]*cloudv1.InstanceType, len(types.Items))
			for i := range types.Items {
				sizes[types.Items[i].Name] = &types.Items[i]
			}
			items := make([]Item, 0, len(list.Items))
			for i := range list.Items {
				inst := &list.Items[i]
				if !HoldsInstanceQuota(inst) {
					continue
				}
				items = append(items, Item{Name: inst.Name, Use: InstanceUse(sizes[inst.GivenInstanceType()]),
					Pending: !InstanceAdmitted(inst)})
				// A resize waiting to be given is admitted as an item of its own: the vCPUs
				// and memory it adds.
				if inst.ResizeWaiting() {
					if grown := InstanceGrowth(sizes[inst.Status.InstanceType], sizes[inst.Spec.InstanceType]); grown != nil {
						items = append(items, Item{Name: InstanceGrowthName(inst.Name, inst.Spec.InstanceType), Use: grown, Pending: true})
					}
				}
			}
			return items, nil
		},
	}
}

// InstanceUse is what one instance of the type takes of the instance gate's limits; an unknown
// type (deleted since) counts as an instance only.
func InstanceUse(it *cloudv1.InstanceType) []int64 {
	if it == nil {
		return []int64{1, 0, 0}
	}
	return []int64{1, int64(it.Spec.VCPUs), int64(it.Spec.MemoryMiB)}
}

// InstanceGrowth is what resizing an instance from one type to another adds to the instance
// gate's limits (never the instance count), or nil when it adds nothing or the new type is
// unknown. A type deleted since counts as nothing.
func InstanceGrowth(from, to *cloudv1.InstanceType) []int64 {
	if to == nil {
		return nil
	}
	was, will := InstanceUse(from), InstanceUse(to)
	grown := []int64{0, max(will[1]-was[1], 0), max(will[2]-was[2], 0)}
	if grown[1] == 0 && grown[2] == 0 {
		return nil
	}
	return grown
}

// InstanceGrowthName names the ledger item of the resize of the instance called name to the
// type it asks for.
func InstanceGrowthName(name, instanceType string) string {
	return name + "/" + instanceType
}

// HoldsInstanceQuota tells whether an instance counts against its project's quota once
// admitted: until it is terminated or being deleted.
func HoldsInstanceQuota(inst *cloudv1.Instance) bool {
	return inst.DeletionTimestamp.IsZero() && inst.EffectiveDesiredState() != cloudv1.DesiredTerminated
}

// InstanceAdmitted tells whether an instance is shown admitted: by its condition, or by being
// placed (instances placed before quotas were enforced count as admitted).
func InstanceAdmitted(inst *cloudv1.Instance) bool {
	return conditions.IsTrue(inst, cloudv1.InstanceQuotaAdmitted) || inst.Status.Hypervisor != ""
}
