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

// Package image holds the Image reconciler: it gives an image its EC2 id and owner and, once,
// turns what was registered into a verified plain image in the system store bucket for nodes to
// download. A bundle's manifest is checked against the registering project's users'
// certificates, its key decrypted with the cloud CA, and every part's and the image's digest
// verified; a raw image object is copied as is. A machine image must be raw or a qcow2 that
// names no other file (internal/diskformat). Failures end in state failed with the reason,
// and never leave a usable object behind.
package image

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/minio/minio-go/v7"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/capture"
	"pinet.io/pinet/internal/claims"
	"pinet.io/pinet/internal/cloudca"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/metrics"
	"pinet.io/pinet/internal/patch"
	"pinet.io/pinet/internal/refs"
	"pinet.io/pinet/internal/s3client"
)

// ImageFinalizer is held until the stored copy of an image is removed.
const ImageFinalizer = "cloud.pinet.io/image"

// Reconciler reconciles Images.
type Reconciler struct {
	Client client.Client
	// APIReader reads the API server itself, as the quota ledger must.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock
	// Store returns a client of the object store acting as the system user.
	Store func(context.Context) (*minio.Client, error)
	// CA returns the cloud CA, whose key decrypts bundles.
	CA func(context.Context) (*cloudca.CA, error)
	// StoreBucket is the system bucket verified images are kept in.
	StoreBucket string
	// SystemNamespace holds the users' credentials (their certificates).
	SystemNamespace string
	// MaxImageBytes bounds what a bundle may unpack to.
	MaxImageBytes int64
	// Claims makes image ids exclusive across the cluster.
	Claims *claims.Claimer
	// Metrics records how long imports take; nil records nothing.
	Metrics *metrics.Controllers
	// CaptureNodeTimeout: see DefaultCaptureNodeTimeout.
	CaptureNodeTimeout time.Duration
	// ProtectionCooldown: see DefaultProtectionCooldown.
	ProtectionCooldown time.Duration
}

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=images,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=images/status;images/finalizers,verbs=get;update;patch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=users,verbs=get;list;watch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=instances,verbs=get;list;watch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=hypervisors,verbs=get;list;watch

// Reconcile registers one image.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (res reconcile.Result, reterr error) {
	img := &cloudv1.Image{}
	if err := r.Client.Get(ctx, req.NamespacedName, img); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	helper, err := patch.NewHelper(img, r.Client)
	if err != nil {
		return reconcile.Result{}, err
	}
	now := metav1.NewTime(r.Clock.Now())
	before := img.Status.State
	defer func() {
		if err := helper.Patch(ctx, img); err != nil {
			reterr = errors.Join(reterr, err)
			return
		}
		r.recordState(img, before)
	}()

	if !img.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, r.reconcileDelete(ctx, img)
	}
	// Whatever the image's state: a protection's cooldown ends at its time.
	if wait := r.trackProtection(img, now); wait > 0 {
		defer func() {
			if reterr == nil && (res.RequeueAfter == 0 || res.RequeueAfter > wait) {
				res.RequeueAfter = wait
			}
		}()
	}
	// Admitted before anything is held for it: an image its creator withdraws, or one waiting
	// for room, is deleted at once.
	if img.Status.State == "" {
		if ok, err := r.admitQuota(ctx, img, now); err != nil || !ok {
			return reconcile.Result{}, err
		}
	}
	if !controllerutil.ContainsFinalizer(img, ImageFinalizer) {
		controllerutil.AddFinalizer(img, ImageFinalizer)
		return reconcile.Result{}, nil
	}
	if err := r.assignIDs(ctx, img); err != nil {
		return reconcile.Result{}, err
	}

	switch img.Status.State {
	case cloudv1.ImageStateAvailable, cloudv1.ImageStateFailed:
		// The location is immutable: the outcome stands.
		img.Status.ObservedGeneration = img.Generation
		// A copy's node no longer watches the image. Removed only now, after the state was
		// written: a pass that saw the label gone but the image still pending would give it back.
		patch.SetLabel(img, cloudv1.LabelCaptureNode, "")
		return reconcile.Result{}, nil
	}
	img.Status.State = cloudv1.ImageStatePending
	if reason, msg, err := r.checkReferences(ctx, img); err != nil || reason != "" {
		if reason != "" {
			conditions.MarkFalse(img, cloudv1.ReadyCondition, reason, msg, now)
		}
		if err == nil {
			img.Status.ObservedGeneration = img.Generation
		}
		return reconcile.Result{}, err
	}
	if reason, msg, fatal, err := r.checkSnapshots(ctx, img); err != nil || reason != "" {
		switch {
		case fatal:
			markFailed(img, reason, msg, now)
		case reason != "":
			conditions.MarkFalse(img, cloudv1.ReadyCondition, reason, msg, now)
			img.Status.ObservedGeneration = img.Generation
		}
		return reconcile.Result{}, err
	}
	switch {
	case img.Spec.InstanceID != "":
		return r.reconcileCapture(ctx, img, now)
	case img.Spec.SourceImageID != "":
		return r.reconcileCopy(ctx, img, now)
	}
	conditions.MarkFalse(img, cloudv1.ReadyCondition, cloudv1.ReasonImagePending, "Verifying and storing the image", now)

	began := r.Clock.Now()
	stored, err := r.store(ctx, img)
	var fail *failure
	switch {
	case errors.As(err, &fail):
		r.Metrics.ObserveImport("failed", r.Clock.Since(began))
		log.FromContext(ctx).Info("Image failed", "reason", fail.reason, "detail", fail.message)
		markFailed(img, fail.reason, fail.message, now)
		return reconcile.Result{}, nil
	case err != nil:
		return reconcile.Result{}, err
	}
	r.Metrics.ObserveImport("stored", r.Clock.Since(began))
	markStored(img, stored, now)
	return reconcile.Result{}, nil
}

// markStored makes the image available from its stored copy.
func markStored(img *cloudv1.Image, stored *cloudv1.StoredImage, now metav1.Time) {
	img.Status.Stored = stored
	img.Status.State = cloudv1.ImageStateAvailable
	img.Status.StateReason = ""
	conditions.MarkTrue(img, cloudv1.ReadyCondition, cloudv1.ReasonImageAvailable, "", now)
	img.Status.ObservedGeneration = img.Generation
}

// markFailed ends the image failed for the reason. Its source is immutable and the outcome
// stands: only a new image can do better.
func markFailed(img *cloudv1.Image, reason, msg string, now metav1.Time) {
	img.Status.State = cloudv1.ImageStateFailed
	img.Status.StateReason = msg
	conditions.MarkFalse(img, cloudv1.ReadyCondition, reason, msg, now)
	conditions.MarkTrue(img, cloudv1.StalledCondition, reason, msg, now)
	img.Status.ObservedGeneration = img.Generation
}

// assignIDs gives the image its ami-/aki-/ari- id, claimed cluster-wide: an Image named by an id
// another object holds gets a new one.
func (r *Reconciler) assignIDs(ctx context.Context, img *cloudv1.Image) error {
	if img.Status.ImageID == "" {
		prefix := map[cloudv1.ImageType]string{
			cloudv1.ImageTypeMachine: ids.Machine, cloudv1.ImageTypeKernel: ids.Kernel, cloudv1.ImageTypeRamdisk: ids.Ramdisk,
		}[img.Spec.Type]
		if prefix == "" {
			prefix = ids.Machine
		}
		id, taken, err := r.Claims.Assign(ctx, prefix, img.Name, claims.HolderOf("Image", img))
		if err != nil {
			return fmt.Errorf("assigning an image id: %w", err)
		}
		if taken && r.Recorder != nil {
			r.Recorder.Eventf(img, nil, "Warning", "IDTaken", "AssignID", "The name %s is the id of another object; the image's id is %s", img.Name, id)
		}
		img.Status.ImageID = id
	}
	img.Status.OwnerID = img.Namespace
	return nil
}

// checkReferences waits for a machine image's default kernel and ramdisk to exist.
func (r *Reconciler) checkReferences(ctx context.Context, img *cloudv1.Image) (reason, msg string, err error) {
	for _, ref := range []struct{ id, reason string }{
		{img.Spec.KernelID, cloudv1.ReasonKernelNotFound},
		{img.Spec.RamdiskID, cloudv1.ReasonRamdiskNotFound},
	} {
		if ref.id == "" {
			continue
		}
		if _, err := refs.Image(ctx, r.Client, img.Namespace, ref.id); err != nil {
			if errors.Is(err, refs.ErrNotFound) {
				return ref.reason, err.Error(), nil
			}
			return "", "", err
		}
	}
	return "", "", nil
}

func (r *Reconciler) reconcileDelete(ctx context.Context, img *cloudv1.Image) error {
	if img.Status.Stored != nil || img.Status.Capture != nil {
		mc, err := r.Store(ctx)
		if err != nil {
			return err
		}
		if st := img.Status.Stored; st != nil {
			err = mc.RemoveObject(ctx, st.Bucket, st.Key, minio.RemoveObjectOptions{})
			if err != nil && minio.ToErrorResponse(err).Code != "NoSuchKey" {
				return fmt.Errorf("removing the stored image: %w", err)
			}
		}
		// What a node copied for an image deleted before it was stored.
		if cp := img.Status.Capture; cp != nil {
			if err := capture.Remove(ctx, mc, cp.Bucket, cp.Prefix); err != nil {
				return err
			}
		}
	}
	if err := r.Claims.ReleaseAll(ctx, img.UID); err != nil {
		return err
	}
	controllerutil.RemoveFinalizer(img, ImageFinalizer)
	return nil
}

func (r *Reconciler) recordState(img *cloudv1.Image, before cloudv1.ImageState) {
	if r.Recorder == nil || img.Status.State == before {
		return
	}
	switch img.Status.State {
	case cloudv1.ImageStateAvailable:
		r.Recorder.Eventf(img, nil, "Normal", "Available", "Register", "Image %s is available", img.Status.ImageID)
	case cloudv1.ImageStateFailed:
		r.Recorder.Eventf(img, nil, "Warning", "Failed", "Register", "Image %s failed: %s", img.Status.ImageID, img.Status.StateReason)
	}
}

// SetupWithManager registers the reconciler. Images wait on their kernel and ramdisk, so a new
// image re-checks the pending ones.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.StoreBucket == "" {
		r.StoreBucket = s3client.ImageStoreBucket
	}
	if r.MaxImageBytes == 0 {
		r.MaxImageBytes = 64 << 30
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&cloudv1.Image{}).
		Watches(&cloudv1.Image{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
			return r.pendingImages(ctx)
		})).
		// A project's quota raised may admit its images waiting for room (an image deleted
		// frees room too: the watch above).
		Watches(&cloudv1.Project{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return r.pendingImages(ctx, client.InNamespace(o.GetName()))
		})).
		// A snapshot completing (or failing) moves the images whose volumes are made of it.
		Watches(&cloudv1.Snapshot{}, handler.EnqueueRequestsFromMapFunc(r.imagesOfSnapshot)).
		// An instance that comes to be running or stopped (or goes) moves the images made of it.
		Watches(&cloudv1.Instance{}, handler.EnqueueRequestsFromMapFunc(r.imagesOfInstance)).
		WithOptions(controller.Options{MaxConcurrentReconciles: 2}).
		Named("image").
		Complete(r)
}

// pendingImages are the requests for the images (of those listed with opts) not yet available
// or failed.
func (r *Reconciler) pendingImages(ctx context.Context, opts ...client.ListOption) []reconcile.Request {
	list := &cloudv1.ImageList{}
	if err := r.Client.List(ctx, list, opts...); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if s := list.Items[i].Status.State; s == "" || s == cloudv1.ImageStatePending {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return reqs
}
