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

package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/refs"
	"pinet.io/pinet/internal/s3client"
	"pinet.io/pinet/nodeagent/disks"
	"pinet.io/pinet/nodeagent/domainxml"
	"pinet.io/pinet/nodeagent/imagecache"
)

// bootPlan is what a domain boots from.
type bootPlan struct {
	disks                   []domainxml.Disk
	kernel, initrd, cmdline string
	kernelID                string
}

// prepare resolves the instance's image, kernel and ramdisk, fetches them into the node's cache
// and makes the instance's disks. A missing or not yet available image is reported in the scope
// and yields no plan: the instance comes back when the image changes.
func (s *instanceSync) prepare(ctx context.Context, sc *syncScope, it *cloudv1.InstanceType) (*bootPlan, error) {
	inst := sc.inst
	img, err := s.availableImage(ctx, sc, inst.Namespace, inst.Spec.ImageID, cloudv1.ReasonImageNotFound)
	if err != nil || img == nil {
		return nil, err
	}
	base, err := s.fetch(ctx, sc, img)
	if err != nil {
		return nil, err
	}
	plan := &bootPlan{}
	if inst.Spec.KernelID != "" || img.Spec.KernelID != "" {
		kernel, err := s.bootFile(ctx, sc, img, inst.Spec.KernelID, img.Spec.KernelID, cloudv1.ReasonKernelNotFound)
		if err != nil || kernel == nil {
			return nil, err
		}
		if plan.kernel, err = s.fetch(ctx, sc, kernel); err != nil {
			return nil, err
		}
		plan.kernelID = kernel.Status.ImageID
		// no_timer_check: under TCG on a busy host the kernel's early IO-APIC timer check can
		// miss its ticks and panic ("IO-APIC + timer doesn't work!"); a virtual machine's timer
		// is known to work.
		plan.cmdline = "root=/dev/vda rw console=ttyS0 no_timer_check pinet.instance_id=" + inst.Status.InstanceID
	}
	used := []string{img.Status.ImageID, plan.kernelID, ""}
	if inst.Spec.RamdiskID != "" || img.Spec.RamdiskID != "" {
		ramdisk, err := s.bootFile(ctx, sc, img, inst.Spec.RamdiskID, img.Spec.RamdiskID, cloudv1.ReasonRamdiskNotFound)
		if err != nil || ramdisk == nil {
			return nil, err
		}
		if plan.initrd, err = s.fetch(ctx, sc, ramdisk); err != nil {
			return nil, err
		}
		used[2] = ramdisk.Status.ImageID
	}
	if err := recordUsedImages(s.instanceDir(inst.Status.InstanceID), used...); err != nil {
		return nil, err
	}

	made, err := s.disks.Ensure(ctx, disks.Spec{
		Dir:            s.instanceDir(inst.Status.InstanceID),
		Base:           base,
		RootBytes:      int64(it.Spec.RootDiskGiB) << 30,
		EphemeralBytes: int64(it.Spec.EphemeralDiskGiB) << 30,
		SwapBytes:      int64(it.Spec.SwapMiB) << 20,
	})
	if errors.Is(err, disks.ErrUnusableImage) {
		// The project's own upload: nothing on the node will change it, so the instance waits
		// (as for a missing image) with the reason, not in a retry loop.
		sc.actionReason = cloudv1.ReasonImageUnusable
		sc.actionMsg = fmt.Sprintf("Image %s cannot boot an instance: %v", img.Status.ImageID, err)
		s.event(inst, "Warning", "ImageUnusable", "Define", "%s", sc.actionMsg)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("making the disks of %s: %w", inst.Status.InstanceID, err)
	}
	kp, ok, err := s.instanceKeyPair(ctx, sc)
	if err != nil || !ok {
		return nil, err
	}
	plan.disks = append(plan.disks, domainxml.Disk{Path: made.Root, Format: "qcow2", Serial: "root"})
	if made.Ephemeral != "" {
		plan.disks = append(plan.disks, domainxml.Disk{Path: made.Ephemeral, Format: "raw", Serial: "ephemeral0"})
	}
	if made.Swap != "" {
		plan.disks = append(plan.disks, domainxml.Disk{Path: made.Swap, Format: "raw", Serial: "swap"})
	}
	if wantsConfigDrive(s.cfg.Network, inst, img) {
		meta, err := s.writeMeta(inst, it, kp)
		if err != nil {
			return nil, err
		}
		plan.disks = append(plan.disks, domainxml.Disk{Path: meta, Format: "raw", Serial: "pinet-meta", ReadOnly: true})
	}
	return plan, nil
}

// wantsConfigDrive decides whether the instance gets the read-only meta-data disk (its "config
// drive"): always on a node without a network, whose guests have no metadata service to ask;
// otherwise as the instance says, or as its image says when the instance does not, off by
// default.
func wantsConfigDrive(net NetworkConfig, inst *cloudv1.Instance, img *cloudv1.Image) bool {
	switch {
	case !net.Enabled():
		return true
	case inst.Spec.ConfigDrive != nil:
		return *inst.Spec.ConfigDrive
	case img.Spec.ConfigDrive != nil:
		return *img.Spec.ConfigDrive
	}
	return false
}

// instanceKeyPair finds the instance's key pair, if it names one. An instance whose key pair is
// missing is not booted without it: that is reported in the scope and yields ok false.
func (s *instanceSync) instanceKeyPair(ctx context.Context, sc *syncScope) (kp *cloudv1.KeyPair, ok bool, err error) {
	inst := sc.inst
	if inst.Spec.KeyName == "" {
		return nil, true, nil
	}
	kp, err = s.keyPair(ctx, inst)
	switch {
	case errors.Is(err, refs.ErrNotFound):
		sc.actionReason, sc.actionMsg = cloudv1.ReasonKeyPairNotFound, err.Error()
		s.event(inst, "Warning", "KeyPairNotFound", "Define", "Not booting without key pair %s: %v", inst.Spec.KeyName, err)
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	return kp, true, nil
}

// writeMeta makes the instance's meta-data disk: what the metadata service would answer, for
// guests without a network to reach it or that asked for a config drive.
func (s *instanceSync) writeMeta(inst *cloudv1.Instance, it *cloudv1.InstanceType, kp *cloudv1.KeyPair) (string, error) {
	files := map[string][]byte{
		"meta-data/instance-id":                 []byte(inst.Status.InstanceID),
		"meta-data/instance-type":               []byte(it.Name),
		"meta-data/ami-id":                      []byte(inst.Spec.ImageID),
		"meta-data/hostname":                    []byte(inst.Status.InstanceID),
		"meta-data/local-hostname":              []byte(inst.Status.InstanceID),
		"meta-data/reservation-id":              []byte(inst.Status.ReservationID),
		"meta-data/placement/availability-zone": []byte(inst.Status.AvailabilityZone),
	}
	if kp != nil {
		files["meta-data/public-keys/0/openssh-key"] = []byte(kp.Spec.PublicKey + "\n")
	}
	if len(inst.Spec.UserData) > 0 {
		files["user-data"] = inst.Spec.UserData
	}
	meta, err := disks.WriteMeta(s.instanceDir(inst.Status.InstanceID), files)
	if err != nil {
		return "", fmt.Errorf("making the meta-data disk of %s: %w", inst.Status.InstanceID, err)
	}
	return meta, nil
}

// keyPair finds the instance's key pair. The cache may not show a key pair made (or given to
// the node) a moment ago, so its answer that there is none is checked with the API server, among
// what the node was given (the node may read nothing else).
func (s *instanceSync) keyPair(ctx context.Context, inst *cloudv1.Instance) (*cloudv1.KeyPair, error) {
	kp, err := refs.KeyPair(ctx, s.client, inst.Namespace, inst.Spec.KeyName)
	if !errors.Is(err, refs.ErrNotFound) || s.apiReader == nil {
		return kp, err
	}
	list := &cloudv1.KeyPairList{}
	if err := s.apiReader.List(ctx, list, client.InNamespace(inst.Namespace),
		client.MatchingLabelsSelector{Selector: nodeUse(s.cfg.NodeName)}); err != nil {
		return nil, fmt.Errorf("listing key pairs: %w", err)
	}
	for i := range list.Items {
		if list.Items[i].EffectiveKeyName() == inst.Spec.KeyName && list.Items[i].DeletionTimestamp.IsZero() {
			return &list.Items[i], nil
		}
	}
	return nil, err
}

// usedImagesFile, in an instance's directory, lists the cached images the instance was made from;
// the cache never evicts them while the directory exists.
const usedImagesFile = "images"

func recordUsedImages(dir string, ids ...string) error {
	if err := os.MkdirAll(dir, disks.DirMode); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, usedImagesFile), []byte(strings.Join(ids, "\n")+"\n"), 0o640)
}

// availableImage resolves ref for the instance's project; an image that is missing or not
// available yet is reported in the scope and returns nil.
func (s *instanceSync) availableImage(ctx context.Context, sc *syncScope, namespace, ref, missingReason string) (*cloudv1.Image, error) {
	img, err := refs.Image(ctx, s.client, namespace, ref)
	return usableImage(sc, img, err, ref, missingReason)
}

// bootFile is the kernel or ramdisk the instance boots with: the one it names (in its project),
// else img's default, which must also be one the instance's project may see (refs.ImageDefault).
func (s *instanceSync) bootFile(ctx context.Context, sc *syncScope, img *cloudv1.Image, named, dflt, missingReason string) (*cloudv1.Image, error) {
	if named != "" {
		return s.availableImage(ctx, sc, sc.inst.Namespace, named, missingReason)
	}
	def, err := refs.ImageDefault(ctx, s.client, img, dflt, sc.inst.Namespace)
	return usableImage(sc, def, err, dflt, missingReason)
}

// usableImage is a resolved image if it is available, or nil with the reason in the scope.
func usableImage(sc *syncScope, img *cloudv1.Image, err error, ref, missingReason string) (*cloudv1.Image, error) {
	if errors.Is(err, refs.ErrNotFound) {
		sc.actionReason, sc.actionMsg = missingReason, err.Error()
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if img.Status.State != cloudv1.ImageStateAvailable || img.Status.Stored == nil {
		sc.actionReason = cloudv1.ReasonImageNotAvailable
		sc.actionMsg = fmt.Sprintf("Waiting for image %s to be available (it is %s)", ref, stateName(img.Status.State))
		return nil, nil
	}
	return img, nil
}

func stateName(s cloudv1.ImageState) string {
	if s == "" {
		return "pending"
	}
	return string(s)
}

// fetch returns the path of the image's verified copy in the node's cache.
func (s *instanceSync) fetch(ctx context.Context, sc *syncScope, img *cloudv1.Image) (string, error) {
	st := img.Status.Stored
	path, err := s.images.Get(ctx, imagecache.Image{
		ID: img.Status.ImageID, Bucket: st.Bucket, Key: st.Key, MD5: st.MD5, Size: st.SizeBytes,
	})
	if err != nil {
		s.event(sc.inst, "Warning", "ImageFetchFailed", "Fetch", "Fetching image %s failed: %v", img.Status.ImageID, err)
		return "", fmt.Errorf("fetching image %s: %w", img.Status.ImageID, err)
	}
	return path, nil
}

// storeSource reads images from the object store as the node's own user, who may read the images
// labelled for the node; it looks the key up for every download (keys rotate; downloads are rare).
type storeSource struct {
	reader client.Reader
	cfg    s3client.Config
}

func (s storeSource) Open(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	mc, err := s3client.New(ctx, s.reader, s.cfg)
	if err != nil {
		return nil, err
	}
	return imagecache.MinioSource{Client: mc}.Open(ctx, bucket, key)
}
