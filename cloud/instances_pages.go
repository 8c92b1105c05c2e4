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
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/index"
)

// Pages of instances. A project may hold thousands of instances; a Describe that pages through
// them builds each page from an index of the project's instances kept in listing order (oldest
// first, ties by id), starting after the key of the last instance of the page before: a page
// costs its own instances (and those a filter skips), not the whole project's, so paging through
// N instances costs O(N), not O(N²).

// InstanceOrderKey is an instance's place in the listing of its project's instances: its
// creation time, then its id. An instance with no EC2 id yet has none and is not listed.
func InstanceOrderKey(obj client.Object) string {
	inst, ok := obj.(*cloudv1.Instance)
	if !ok {
		return ""
	}
	id := InstanceID(inst)
	if id == "" {
		return ""
	}
	return fmt.Sprintf("%016x/%s", max(inst.CreationTimestamp.Unix(), 0), id)
}

// RegisterInstanceOrder makes the index Config.InstanceOrder wants, fed by the cache's informer
// of Instances (the cache the service's Client reads).
func RegisterInstanceOrder(ctx context.Context, c cache.Informers) (*index.Sorted, error) {
	return index.RegisterSorted(ctx, c, &cloudv1.Instance{}, InstanceOrderKey)
}

// pagesFromIndex tells whether a listing of the caller's instances is built a page at a time
// from the index: when the service has one and the request pages through the whole project.
func (s *Service) pagesFromIndex(size int, ids []string) bool {
	return s.cfg.InstanceOrder != nil && size > 0 && len(ids) == 0
}

// instancePage builds one page of a listing of the caller's project's instances from the
// instance index (indexPage).
func instancePage[T any](ctx context.Context, s *Service, c Caller, scope string, p Page, size int,
	item func(*cloudv1.Instance) (T, bool)) ([]T, string, error) {
	return indexPage(ctx, s, c, s.cfg.InstanceOrder, InstanceOrderKey, func() *cloudv1.Instance { return &cloudv1.Instance{} },
		scope, p, size, item)
}

// indexed tells whether the instance index has seen obj at version want or later (anything but
// an Instance, or a service without the index, has nothing to wait for).
func (s *Service) indexed(obj client.Object, want string) bool {
	if _, ok := obj.(*cloudv1.Instance); !ok || s.cfg.InstanceOrder == nil {
		return true
	}
	return atLeastVersion(s.cfg.InstanceOrder.Version(client.ObjectKeyFromObject(obj)), want)
}
