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
	"errors"
	"fmt"

	"github.com/minio/minio-go/v7"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/refs"
)

// reconcileCopy makes an image a copy of another (spec.sourceImageId, EC2's CopyImage): one its
// project may launch, read with the project's rights — its own, public, or shared with it;
// another project's private image is not found, whatever its id. It waits while the source is
// pending, and copies the source's stored object within the store into the copy's own, so the
// copy outlives the source and its sharing.
func (r *Reconciler) reconcileCopy(ctx context.Context, img *cloudv1.Image, now metav1.Time) (reconcile.Result, error) {
	src, err := r.copySource(ctx, img.Namespace, img.Spec.SourceImageID)
	switch {
	case errors.Is(err, refs.ErrNotFound) || (err == nil && !src.DeletionTimestamp.IsZero()):
		markFailed(img, cloudv1.ReasonSourceNotFound,
			fmt.Sprintf("image %s does not exist or is not shared with project %s", img.Spec.SourceImageID, img.Namespace), now)
		return reconcile.Result{}, nil
	case err != nil:
		return reconcile.Result{}, err
	case src.UID == img.UID:
		markFailed(img, cloudv1.ReasonSourceNotFound, fmt.Sprintf("image %s cannot be a copy of itself", img.Spec.SourceImageID), now)
		return reconcile.Result{}, nil
	}
	if typ := src.EffectiveType(); typ != img.EffectiveType() {
		markFailed(img, cloudv1.ReasonUnsupportedImage,
			fmt.Sprintf("image %s is a %s image; a copy of it must be one too (spec.type %s)", img.Spec.SourceImageID, typ, typ), now)
		return reconcile.Result{}, nil
	}
	switch src.Status.State {
	case cloudv1.ImageStateAvailable:
	case cloudv1.ImageStateFailed:
		markFailed(img, cloudv1.ReasonSourceNotFound, fmt.Sprintf("image %s failed; there is nothing to copy", img.Spec.SourceImageID), now)
		return reconcile.Result{}, nil
	default:
		if loop, err := r.copiesBack(ctx, src, img); err != nil || loop {
			if loop {
				markFailed(img, cloudv1.ReasonSourceNotFound,
					fmt.Sprintf("image %s is itself waiting, through copies, for this image; a copy cannot be made of itself", img.Spec.SourceImageID), now)
			}
			return reconcile.Result{}, err
		}
		// The source's changes bring the image back (the controller's watch of Images).
		conditions.MarkFalse(img, cloudv1.ReadyCondition, cloudv1.ReasonImagePending,
			fmt.Sprintf("Waiting for image %s to be available", img.Spec.SourceImageID), now)
		img.Status.ObservedGeneration = img.Generation
		return reconcile.Result{}, nil
	}
	from := src.Status.Stored
	if from == nil {
		return reconcile.Result{}, fmt.Errorf("available image %s has no stored copy", img.Spec.SourceImageID)
	}
	conditions.MarkFalse(img, cloudv1.ReadyCondition, cloudv1.ReasonImagePending, "Copying image "+img.Spec.SourceImageID, now)
	stored, err := r.storeFrom(ctx, img, func(mc *minio.Client, tmp string) (int64, string, error) {
		// Within the store: the bytes were judged when the source was stored.
		_, err := mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: r.StoreBucket, Object: tmp},
			minio.CopySrcOptions{Bucket: from.Bucket, Object: from.Key})
		if code := minio.ToErrorResponse(err).Code; code == "NoSuchKey" || code == "NoSuchBucket" {
			return 0, "", failed(cloudv1.ReasonSourceNotFound, "image %s was deregistered before it was copied", img.Spec.SourceImageID)
		}
		if err != nil {
			return 0, "", fmt.Errorf("copying image %s: %w", img.Spec.SourceImageID, err)
		}
		return from.SizeBytes, from.MD5, nil
	})
	var fail *failure
	switch {
	case errors.As(err, &fail):
		markFailed(img, fail.reason, fail.message, now)
		return reconcile.Result{}, nil
	case err != nil:
		return reconcile.Result{}, err
	}
	markStored(img, stored, now)
	return reconcile.Result{}, nil
}

// copySource resolves a copy's source with its project's rights: an image the project may
// launch by its id or name, or one of the project named by its id whose controller has not
// claimed it yet (the EC2 API names what it makes by its id; the claim brings the copy back).
func (r *Reconciler) copySource(ctx context.Context, project, ref string) (*cloudv1.Image, error) {
	src, err := refs.Image(ctx, r.Client, project, ref)
	if !errors.Is(err, refs.ErrNotFound) {
		return src, err
	}
	own := &cloudv1.Image{}
	if getErr := r.Client.Get(ctx, client.ObjectKey{Namespace: project, Name: ref}, own); getErr == nil &&
		own.Status.ImageID == "" && own.DeletionTimestamp.IsZero() {
		return own, nil
	}
	return nil, err
}

// maxCopyChain bounds how far copiesBack follows pending copies of copies.
const maxCopyChain = 32

// copiesBack tells whether the pending source of img is itself waiting, through a chain of
// pending copies, for img: such copies would wait for each other forever. Each link is read with
// the rights of the project that made it, as its own reconcile reads it.
func (r *Reconciler) copiesBack(ctx context.Context, src, img *cloudv1.Image) (bool, error) {
	for range maxCopyChain {
		if src.Spec.SourceImageID == "" || src.Status.State == cloudv1.ImageStateAvailable || src.Status.State == cloudv1.ImageStateFailed {
			return false, nil
		}
		next, err := r.copySource(ctx, src.Namespace, src.Spec.SourceImageID)
		switch {
		case errors.Is(err, refs.ErrNotFound):
			return false, nil // that copy fails, and its failure brings img back
		case err != nil:
			return false, err
		case next.UID == img.UID:
			return true, nil
		}
		src = next
	}
	return false, nil
}
