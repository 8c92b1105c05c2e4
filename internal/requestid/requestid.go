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

// Package requestid carries the id of a front door's request (the EC2 API's RequestId) in a
// context, and stamps it on the PiNet objects a call creates or changes.
package requestid

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

type key struct{}

// With returns ctx carrying the request id id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// From is the request id ctx carries, or "".
func From(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}

// Of is the request id recorded on obj, or "".
func Of(obj client.Object) string {
	return obj.GetAnnotations()[cloudv1.AnnotationRequestID]
}

// Stamping wraps c so that every PiNet object it creates, updates or patches (metadata and
// spec, not status) under a context with a request id is annotated with that id.
func Stamping(c client.Client) client.Client { return stamping{Client: c} }

type stamping struct{ client.Client }

func (s stamping) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	s.stamp(ctx, obj)
	return s.Client.Create(ctx, obj, opts...)
}

func (s stamping) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	s.stamp(ctx, obj)
	return s.Client.Update(ctx, obj, opts...)
}

// Patch stamps obj before the patch is computed from it, so a merge patch carries the id.
func (s stamping) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	s.stamp(ctx, obj)
	return s.Client.Patch(ctx, obj, patch, opts...)
}

func (s stamping) stamp(ctx context.Context, obj client.Object) {
	id := From(ctx)
	if id == "" {
		return
	}
	gvk, err := s.GroupVersionKindFor(obj)
	if err != nil || gvk.Group != cloudv1.GroupVersion.Group {
		return
	}
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[cloudv1.AnnotationRequestID] = id
	obj.SetAnnotations(ann)
}
