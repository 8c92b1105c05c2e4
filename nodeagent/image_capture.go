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
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/capture"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/s3client"
	"pinet.io/pinet/nodeagent/disks"
	"pinet.io/pinet/nodeagent/domainxml"
	"pinet.io/pinet/nodeagent/libvirt"
)

// imageCapture copies, for an image made of one of the node's instances (EC2's CreateImage), the
// instance's root disk into the object store under the prefix the image controller gave the
// node: flattened from its overlay and base into one qcow2 file while the guest is shut down
// (and started again) or, with noReboot, paused. It watches, in a cache of its own, only the
// images labelled for its node, and records its result in the object store, where the image
// controller reads it: it writes no Image.
type imageCapture struct {
	reader client.Reader
	sync   *instanceSync
	store  func(context.Context) (*minio.Client, error)
}

func setupCapture(mgr ctrl.Manager, restCfg *rest.Config, cfg Config, sync *instanceSync) error {
	mine := labels.SelectorFromSet(labels.Set{cloudv1.LabelCaptureNode: cfg.NodeName})
	c, err := cache.New(restCfg, cache.Options{
		Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(),
		ByObject:         map[client.Object]cache.ByObject{&cloudv1.Image{}: {Label: mine}},
		DefaultTransform: cache.TransformStripManagedFields(),
	})
	if err != nil {
		return fmt.Errorf("creating the image copy cache: %w", err)
	}
	if err := mgr.Add(c); err != nil {
		return err
	}
	storeCfg := s3client.Config{Endpoint: cfg.ObjectStoreURL, Region: cfg.Region,
		SystemNamespace: cfg.SystemNamespace, User: s3client.NodeUser(cfg.NodeName)}
	reader := mgr.GetAPIReader()
	ic := &imageCapture{reader: c, sync: sync,
		store: func(ctx context.Context) (*minio.Client, error) { return s3client.New(ctx, reader, storeCfg) }}
	// Copies left by an agent before a restart, of images that ended meanwhile, go at start.
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		if c.WaitForCacheSync(ctx) {
			ic.sweepCopies(ctx)
		}
		return nil
	})); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).Named("nodeagent-image-copy").
		WatchesRawSource(source.Kind(c, &cloudv1.Image{}, &handler.TypedEnqueueRequestForObject[*cloudv1.Image]{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: 2}).
		Complete(ic)
}

// copyRecheck is how soon a copy that cannot begin yet (the instance not in this agent's cache,
// its guest between states) is tried again.
const copyRecheck = 2 * time.Second

// Reconcile makes the copy for one image, once.
func (c *imageCapture) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	img := &cloudv1.Image{}
	if err := c.reader.Get(ctx, req.NamespacedName, img); err != nil {
		if apierrors.IsNotFound(err) {
			// Stored, failed or deleted (it left this cache): its copy here is done with.
			c.sweepCopies(ctx)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !c.copiesHere(img) {
		c.sweepCopies(ctx)
		return reconcile.Result{}, nil
	}
	cp := img.Status.Capture
	mc, err := c.store(ctx)
	if err != nil {
		return reconcile.Result{}, err
	}
	switch _, err := capture.ReadResult(ctx, mc, cp.Bucket, cp.Prefix); {
	case err == nil, errors.Is(err, capture.ErrBadResult):
		// Made (by this agent before a restart) or recorded as failed: the controller's now.
		return reconcile.Result{}, nil
	case !errors.Is(err, capture.ErrNoResult):
		// The store may not know yet that the node makes this copy: later.
		return reconcile.Result{}, err
	}
	inst, err := c.instance(ctx, img)
	if err != nil || inst == nil {
		// Not in this agent's cache yet; the controller fails the image if the instance is gone.
		return reconcile.Result{RequeueAfter: copyRecheck}, err
	}
	// The flattened disk is kept until it is uploaded: an upload that fails is tried again from
	// it, without taking the guest down a second time.
	out := copyFile(c.sync.instanceDir(inst.Status.InstanceID), img.Status.ImageID, string(img.UID))
	if _, err := os.Stat(out); err != nil {
		var why string
		var again bool
		err = c.sync.hold(ctx, inst.UID, func() (err error) {
			why, again, err = c.flatten(ctx, img, inst, out)
			return err
		})
		switch {
		case err != nil:
			return reconcile.Result{}, err
		case again:
			return reconcile.Result{RequeueAfter: copyRecheck}, nil
		case why != "":
			log.FromContext(ctx).Info("Cannot copy the instance's disk", "instance", inst.Status.InstanceID, "reason", why)
			return reconcile.Result{}, capture.Fail(ctx, mc, cp.Bucket, cp.Prefix, why)
		}
	}
	f, err := os.Open(out)
	if err != nil {
		return reconcile.Result{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return reconcile.Result{}, err
	}
	if _, err := capture.Upload(ctx, mc, cp.Bucket, cp.Prefix, f, st.Size()); err != nil {
		return reconcile.Result{}, err
	}
	_ = os.Remove(out)
	log.FromContext(ctx).Info("Copied the instance's disk for an image", "instance", inst.Status.InstanceID,
		"image", img.Status.ImageID, "bytes", st.Size())
	return reconcile.Result{}, nil
}

// copiesHere tells whether this node is to copy a disk for the image: pending, not being
// deleted, and given to this node.
func (c *imageCapture) copiesHere(img *cloudv1.Image) bool {
	cp := img.Status.Capture
	return cp != nil && cp.Node == c.sync.cfg.NodeName && img.Status.State == cloudv1.ImageStatePending && img.DeletionTimestamp.IsZero()
}

// sweepCopies removes the flattened disks (whole or partly written) of images this node no
// longer copies for: stored, failed or deleted meanwhile. Each is the size of a root disk; left,
// they would stay until their instance is terminated.
func (c *imageCapture) sweepCopies(ctx context.Context) {
	list := &cloudv1.ImageList{}
	if err := c.reader.List(ctx, list); err != nil {
		log.FromContext(ctx).Error(err, "Listing the images this node copies for")
		return
	}
	keep := map[string]bool{}
	for i := range list.Items {
		if img := &list.Items[i]; c.copiesHere(img) {
			keep[string(img.UID)] = true
		}
	}
	for _, f := range staleCopies(filepath.Join(c.sync.cfg.StateDir, "instances"), keep) {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			log.FromContext(ctx).Error(err, "Removing the copy of a disk for an image that ended", "file", f)
			continue
		}
		log.FromContext(ctx).Info("Removed the copy of a disk for an image that ended", "file", f)
	}
}

// copyFile names the flattened disk of an instance's root for an image (and, with ".new", the
// file it is written to first).
func copyFile(instanceDir, imageID, uid string) string {
	return filepath.Join(instanceDir, "image-"+imageID+"."+uid+".qcow2")
}

// staleCopies lists the flattened disks in the instance directories under dir whose image UID
// keep does not hold.
func staleCopies(dir string, keep map[string]bool) []string {
	files, _ := filepath.Glob(filepath.Join(dir, "*", "image-*.qcow2*"))
	var stale []string
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(f), ".new"), ".qcow2")
		_, uid, ok := strings.Cut(strings.TrimPrefix(name, "image-"), ".")
		if ok && uid != "" && !keep[uid] {
			stale = append(stale, f)
		}
	}
	return stale
}

// instance is the instance the image is made of, as this agent's cache has it: the one the
// controller gave the copy for.
func (c *imageCapture) instance(ctx context.Context, img *cloudv1.Image) (*cloudv1.Instance, error) {
	list := &cloudv1.InstanceList{}
	if err := c.sync.client.List(ctx, list, client.InNamespace(img.Namespace),
		client.MatchingFields{index.InstanceID: img.Spec.InstanceID}); err != nil {
		return nil, fmt.Errorf("finding instance %s: %w", img.Spec.InstanceID, err)
	}
	for i := range list.Items {
		if inst := &list.Items[i]; string(inst.UID) == img.Status.Capture.InstanceUID && inst.Status.Hypervisor == c.sync.cfg.NodeName {
			return inst, nil
		}
	}
	return nil, nil
}

// flatten writes the instance's root disk to out with its guest quiet: shut down and started
// again, or paused and resumed with noReboot. why says what stops the copy for good; again asks
// for a later try (the guest between states).
func (c *imageCapture) flatten(ctx context.Context, img *cloudv1.Image, inst *cloudv1.Instance, out string) (why string, again bool, err error) {
	s := c.sync
	name := inst.Status.InstanceID
	d, err := s.virt.Lookup(name)
	switch {
	case errors.Is(err, libvirt.ErrNotFound):
		return fmt.Sprintf("instance %s has no domain on node %s", name, s.cfg.NodeName), false, nil
	case err != nil:
		return "", false, err
	}
	if o, ok := domainxml.OwnerOf(d.XML); !ok || o.Cloud != s.cloudID || o.UID != string(inst.UID) {
		return fmt.Sprintf("the domain %s on node %s is not instance %s's", name, s.cfg.NodeName, name), false, nil
	}
	root := filepath.Join(s.instanceDir(name), disks.RootFile)
	if _, err := os.Stat(root); err != nil {
		return fmt.Sprintf("instance %s has no root disk on node %s", name, s.cfg.NodeName), false, nil
	}
	var after func() error
	switch {
	case d.State == "shutoff":
	case (d.State == "running" || d.State == "blocked") && img.Spec.NoReboot:
		if err := s.virt.Suspend(name); err != nil {
			return "", false, err
		}
		after = func() error { return s.virt.Resume(name) }
	case d.State == "running" || d.State == "blocked":
		if err := c.shutDown(ctx, inst); err != nil {
			return "", false, err
		}
		after = func() error {
			defer func() { _ = os.Remove(copyMarker(s, name)) }()
			// A stop or termination asked for meanwhile is the instance's reconcile's to
			// carry out: the guest stays off.
			cur := &cloudv1.Instance{}
			if err := s.client.Get(ctx, client.ObjectKeyFromObject(inst), cur); err != nil {
				return err
			}
			if cur.Terminating() || cur.EffectiveDesiredState() == cloudv1.DesiredStopped {
				s.forgetShutdown(inst.UID)
				return nil
			}
			err := s.virt.Start(name)
			if err == nil {
				s.event(inst, "Normal", "Started", "Start", "Started domain %s again after copying its disk for image %s", name, img.Status.ImageID)
			}
			return err
		}
	default:
		return "", true, nil // shutting down, paused by someone, …: once it settles
	}
	// Written aside and renamed: only a whole copy is ever found at out.
	ferr := disks.Flatten(ctx, root, out+".new")
	if ferr == nil {
		ferr = os.Rename(out+".new", out)
	}
	if after != nil {
		if err := after(); err != nil {
			// The instance's reconcile takes it from here (a stopped domain of a running
			// instance is started).
			log.FromContext(ctx).Error(err, "Restoring the guest after copying its disk", "instance", name)
		}
	}
	if ferr != nil {
		return "", false, fmt.Errorf("copying the root disk of %s: %w", name, ferr)
	}
	return "", false, nil
}

// shutDown asks the guest to power off and waits for it, destroying it after the agent's
// shutdown grace as a stop does. The agent remembers it asked, so the instance's reconcile does
// not take the guest's power-off for the guest's own.
func (c *imageCapture) shutDown(ctx context.Context, inst *cloudv1.Instance) error {
	s := c.sync
	name := inst.Status.InstanceID
	s.shutdownAsked(inst.UID, s.clock.Now())
	// Should the agent restart before the guest is up again, the marker tells the next one the
	// power-off was the copy's, not the guest's own (which would make the instance stopped).
	if err := os.WriteFile(copyMarker(s, name), nil, disks.FileMode); err != nil {
		return err
	}
	s.event(inst, "Normal", "ShuttingDown", "Shutdown", "Shutting domain %s down to copy its disk for an image", name)
	if err := s.virt.Shutdown(name); err != nil {
		return s.virt.Destroy(name)
	}
	deadline := time.Now().Add(s.cfg.ShutdownGrace)
	for {
		d, err := s.virt.Lookup(name)
		if err != nil {
			return err
		}
		if d.State == "shutoff" {
			return nil
		}
		if time.Now().After(deadline) {
			return s.virt.Destroy(name)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// copyMarker is the file in an instance's directory that says its guest was shut down to copy
// its disk and is to be started again.
func copyMarker(s *instanceSync, instanceID string) string {
	return filepath.Join(s.instanceDir(instanceID), "image-copy-shutdown")
}

// shutForCopy reports whether the instance's guest was shut down for a copy of its disk (by
// this agent or one before a restart) and not started again yet.
func (s *instanceSync) shutForCopy(instanceID string) bool {
	_, err := os.Stat(copyMarker(s, instanceID))
	return err == nil
}
