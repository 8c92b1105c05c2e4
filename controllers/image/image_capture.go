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

package image

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/minio/minio-go/v7"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/capture"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/nodelost"
	"pinet.io/pinet/internal/patch"
	"pinet.io/pinet/internal/s3client"
)

const (
	// captureWait is how often the controller looks for the node's result while a copy is
	// made: the node records it in the object store, which sends no events.
	captureWait = 3 * time.Second
	// DefaultCaptureNodeTimeout is how long a copy waits for its node once the node is not
	// ready, before the image fails: the project can ask again once the instance is back.
	DefaultCaptureNodeTimeout = 10 * time.Minute
)

func (r *Reconciler) captureNodeTimeout() time.Duration {
	if r.CaptureNodeTimeout > 0 {
		return r.CaptureNodeTimeout
	}
	return DefaultCaptureNodeTimeout
}

// reconcileCapture makes an image of an instance of its project (spec.instanceId): it waits for
// the instance to be running or stopped on a node, gives the copy of its root disk to that node
// (status.capture, and the capture-node label the node's agent watches), waits for the node's
// result, and stores the copy as it stores any image, judged on the way.
func (r *Reconciler) reconcileCapture(ctx context.Context, img *cloudv1.Image, now metav1.Time) (reconcile.Result, error) {
	inst, err := r.captureSource(ctx, img)
	if err != nil {
		return reconcile.Result{}, err
	}
	cp := img.Status.Capture
	if inst == nil || inst.Terminating() || (cp != nil && inst.Status.Hypervisor != cp.Node) {
		msg := fmt.Sprintf("instance %s does not exist in project %s", img.Spec.InstanceID, img.Namespace)
		switch {
		case inst != nil && inst.Terminating():
			msg = fmt.Sprintf("instance %s was terminated before its disk was copied", img.Spec.InstanceID)
		case inst != nil:
			msg = fmt.Sprintf("instance %s left node %s before its disk was copied", img.Spec.InstanceID, cp.Node)
		}
		return reconcile.Result{}, r.failCapture(ctx, img, cloudv1.ReasonSourceNotFound, msg, now)
	}
	if cp == nil {
		switch st := inst.Status.State; {
		case inst.Status.Hypervisor == "" || (st != cloudv1.InstanceStateRunning && st != cloudv1.InstanceStateStopped):
			conditions.MarkFalse(img, cloudv1.ReadyCondition, cloudv1.ReasonWaitingForInstance,
				fmt.Sprintf("Waiting for instance %s to be running or stopped (it is %s)", img.Spec.InstanceID, orPending(st)), now)
			img.Status.ObservedGeneration = img.Generation
			return reconcile.Result{}, nil // the instance's changes bring the image back
		}
		// Given only to a node that is ready: from then on, the node not ready for the timeout
		// fails the copy (below).
		if stop, err := r.captureNodeReady(ctx, img, inst.Status.Hypervisor, now); err != nil || stop {
			return reconcile.Result{RequeueAfter: captureWait}, err
		}
		mc, err := r.Store(ctx)
		if err != nil {
			return reconcile.Result{}, err
		}
		if err := s3client.EnsureSystemBucket(ctx, mc, r.StoreBucket); err != nil {
			return reconcile.Result{}, err
		}
		img.Status.Capture = &cloudv1.ImageCapture{Node: inst.Status.Hypervisor, InstanceUID: string(inst.UID),
			Bucket: r.StoreBucket, Prefix: capture.Prefix(img.Status.ImageID, img.UID)}
		patch.SetLabel(img, cloudv1.LabelCaptureNode, inst.Status.Hypervisor)
		conditions.MarkFalse(img, cloudv1.ReadyCondition, cloudv1.ReasonCapturing,
			fmt.Sprintf("Node %s is copying the root disk of instance %s", inst.Status.Hypervisor, img.Spec.InstanceID), now)
		img.Status.ObservedGeneration = img.Generation
		return reconcile.Result{RequeueAfter: captureWait}, nil
	}

	// The label is what the node watches; its project's members may edit labels.
	patch.SetLabel(img, cloudv1.LabelCaptureNode, cp.Node)
	mc, err := r.Store(ctx)
	if err != nil {
		return reconcile.Result{}, err
	}
	res, err := capture.ReadResult(ctx, mc, cp.Bucket, cp.Prefix)
	switch {
	case errors.Is(err, capture.ErrNoResult):
		// A node gone for good (deleted, or not ready past the timeout) will not answer.
		lost, why, _, err := nodelost.Check(ctx, r.Client, cp.Node, now.Time, r.captureNodeTimeout())
		if err != nil {
			return reconcile.Result{}, err
		}
		if lost {
			return reconcile.Result{}, r.failCapture(ctx, img, cloudv1.ReasonCaptureFailed,
				fmt.Sprintf("node %s stopped before it copied the disk of instance %s: %s", cp.Node, img.Spec.InstanceID, why), now)
		}
		img.Status.ObservedGeneration = img.Generation
		return reconcile.Result{RequeueAfter: captureWait}, nil
	case errors.Is(err, capture.ErrBadResult):
		return reconcile.Result{}, r.failCapture(ctx, img, cloudv1.ReasonCaptureFailed, err.Error(), now)
	case err != nil:
		return reconcile.Result{}, err // the store: tried again
	case res.Failed != "":
		return reconcile.Result{}, r.failCapture(ctx, img, cloudv1.ReasonCaptureFailed, res.Failed, now)
	}
	if res.SizeBytes > r.MaxImageBytes {
		return reconcile.Result{}, r.failCapture(ctx, img, cloudv1.ReasonUnsupportedImage,
			fmt.Sprintf("the copy of instance %s's disk is %d bytes, over the limit of %d", img.Spec.InstanceID, res.SizeBytes, r.MaxImageBytes), now)
	}
	stored, err := r.storeFrom(ctx, img, func(mc *minio.Client, tmp string) (int64, string, error) {
		parts := capture.Open(ctx, mc, cp.Bucket, cp.Prefix, res)
		defer parts.Close()
		h := md5.New()
		// The node's copy is judged as a registered image is: it must be a disk a node can use
		// as a base, naming no other file.
		check := &headerCheck{r: io.TeeReader(parts, h)}
		info, err := mc.PutObject(ctx, r.StoreBucket, tmp, check, res.SizeBytes,
			minio.PutObjectOptions{ContentType: "application/octet-stream", PartSize: uploadPartSize(res.SizeBytes)})
		if fail := check.verdict(); fail != nil {
			return 0, "", fail
		}
		if bad := parts.Bad(); bad != nil {
			return 0, "", failed(cloudv1.ReasonCaptureFailed, "%v", bad)
		}
		if err != nil {
			return 0, "", fmt.Errorf("storing the copy of instance %s's disk: %w", img.Spec.InstanceID, err)
		}
		return info.Size, hex.EncodeToString(h.Sum(nil)), nil
	})
	var fail *failure
	switch {
	case errors.As(err, &fail):
		return reconcile.Result{}, r.failCapture(ctx, img, fail.reason, fail.message, now)
	case err != nil:
		return reconcile.Result{}, err
	}
	if err := capture.Remove(ctx, mc, cp.Bucket, cp.Prefix); err != nil {
		return reconcile.Result{}, err
	}
	markStored(img, stored, now)
	return reconcile.Result{}, nil
}

// captureNodeReady tells, for an image to be made of an instance on node, whether the copy
// cannot be given yet: stop is true while the node is not ready (Ready=False,
// WaitingForInstance), and when the node is gone (the image fails).
func (r *Reconciler) captureNodeReady(ctx context.Context, img *cloudv1.Image, node string, now metav1.Time) (stop bool, _ error) {
	hv := &cloudv1.Hypervisor{}
	err := r.Client.Get(ctx, client.ObjectKey{Name: node}, hv)
	switch {
	case apierrors.IsNotFound(err) || (err == nil && !hv.DeletionTimestamp.IsZero()):
		return true, r.failCapture(ctx, img, cloudv1.ReasonCaptureFailed,
			fmt.Sprintf("node %s of instance %s is gone", node, img.Spec.InstanceID), now)
	case err != nil:
		return false, fmt.Errorf("getting hypervisor %s: %w", node, err)
	case !conditions.IsTrue(hv, cloudv1.ReadyCondition):
		conditions.MarkFalse(img, cloudv1.ReadyCondition, cloudv1.ReasonWaitingForInstance,
			fmt.Sprintf("Waiting for node %s of instance %s to be ready", node, img.Spec.InstanceID), now)
		img.Status.ObservedGeneration = img.Generation
		return true, nil
	}
	return false, nil
}

// captureSource is the instance an image is made from: the one of the image's project holding
// the id, and — once the copy is given to its node — the one it was given for.
func (r *Reconciler) captureSource(ctx context.Context, img *cloudv1.Image) (*cloudv1.Instance, error) {
	list := &cloudv1.InstanceList{}
	if err := r.Client.List(ctx, list, client.InNamespace(img.Namespace),
		client.MatchingFields{index.InstanceID: img.Spec.InstanceID}); err != nil {
		return nil, fmt.Errorf("finding instance %s: %w", img.Spec.InstanceID, err)
	}
	for i := range list.Items {
		inst := &list.Items[i]
		if cp := img.Status.Capture; cp == nil || string(inst.UID) == cp.InstanceUID {
			return inst, nil
		}
	}
	return nil, nil
}

// failCapture ends the image failed, and removes what the node wrote. (The node's label goes
// in the next pass, once the state that ends its grant is written: see Reconcile.)
func (r *Reconciler) failCapture(ctx context.Context, img *cloudv1.Image, reason, msg string, now metav1.Time) error {
	if cp := img.Status.Capture; cp != nil {
		mc, err := r.Store(ctx)
		if err != nil {
			return err
		}
		if err := capture.Remove(ctx, mc, cp.Bucket, cp.Prefix); err != nil {
			return err
		}
	}
	markFailed(img, reason, msg, now)
	return nil
}

func orPending(s cloudv1.InstanceState) cloudv1.InstanceState {
	if s == "" {
		return cloudv1.InstanceStatePending
	}
	return s
}

// imagesOfInstance maps an instance to the pending images being made of it in its project.
func (r *Reconciler) imagesOfInstance(ctx context.Context, obj client.Object) []reconcile.Request {
	inst, ok := obj.(*cloudv1.Instance)
	if !ok || inst.Status.InstanceID == "" {
		return nil
	}
	return r.pendingImages(ctx, client.InNamespace(inst.Namespace), client.MatchingFields{index.ImageInstance: inst.Status.InstanceID})
}
