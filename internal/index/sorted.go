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

package index

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Sorted keeps one kind's objects of each namespace in the order of a key, as a cache's informer
// reports them, so that a page of a listing is found by the key it starts after without looking
// at the objects before it. Keys must be unique within a namespace (a listing's order ending in
// the object's id or name). It is safe for concurrent use.
type Sorted struct {
	key func(client.Object) string

	mu sync.RWMutex
	// keys holds each namespace's entries, sorted by key.
	keys map[string][]Entry
	// of is where each object is now: its key and the resource version seen.
	of map[types.NamespacedName]Entry
}

// Entry is one object of a Sorted index.
type Entry struct {
	Key, Name string
	// ResourceVersion is the version of the object the index saw last.
	ResourceVersion string
}

// NewSorted returns an empty index ordered by key; an object whose key is "" is left out.
func NewSorted(key func(client.Object) string) *Sorted {
	return &Sorted{key: key, keys: map[string][]Entry{}, of: map[types.NamespacedName]Entry{}}
}

// RegisterSorted makes an index of obj's kind ordered by key, fed by the informer c has for the
// kind.
func RegisterSorted(ctx context.Context, c cache.Informers, obj client.Object, key func(client.Object) string) (*Sorted, error) {
	inf, err := c.GetInformer(ctx, obj)
	if err != nil {
		return nil, fmt.Errorf("getting the informer of %T: %w", obj, err)
	}
	s := NewSorted(key)
	if _, err := inf.AddEventHandler(s.handler()); err != nil {
		return nil, fmt.Errorf("watching %T for a sorted index: %w", obj, err)
	}
	return s, nil
}

func (s *Sorted) handler() toolscache.ResourceEventHandler {
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { s.Put(o) },
		UpdateFunc: func(_, o any) { s.Put(o) },
		DeleteFunc: func(o any) {
			if tomb, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
				o = tomb.Obj
			}
			if obj, ok := o.(client.Object); ok {
				s.Remove(obj)
			}
		},
	}
}

// Put adds or moves an object (anything else is ignored).
func (s *Sorted) Put(o any) {
	obj, ok := o.(client.Object)
	if !ok {
		return
	}
	nn := types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}
	e := Entry{Key: s.key(obj), Name: obj.GetName(), ResourceVersion: obj.GetResourceVersion()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.of[nn]; ok {
		s.drop(nn.Namespace, old.Key)
	}
	s.of[nn] = e
	if e.Key == "" {
		return
	}
	list := s.keys[nn.Namespace]
	at, found := slices.BinarySearchFunc(list, e.Key, byKey)
	if found {
		list[at] = e // another object with the key: the newer report wins
		return
	}
	s.keys[nn.Namespace] = slices.Insert(list, at, e)
}

// Remove takes an object out.
func (s *Sorted) Remove(obj client.Object) {
	nn := types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.of[nn]; ok {
		s.drop(nn.Namespace, old.Key)
		delete(s.of, nn)
	}
}

func (s *Sorted) drop(namespace, key string) {
	list := s.keys[namespace]
	if at, found := slices.BinarySearchFunc(list, key, byKey); found {
		list = slices.Delete(list, at, at+1)
	}
	if len(list) == 0 {
		delete(s.keys, namespace)
		return
	}
	s.keys[namespace] = list
}

func byKey(e Entry, key string) int { return strings.Compare(e.Key, key) }

// After returns up to n entries of the namespace whose keys follow after ("" for the first), in
// order.
func (s *Sorted) After(namespace, after string, n int) []Entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	list := s.keys[namespace]
	at := 0
	if after != "" {
		var found bool
		if at, found = slices.BinarySearchFunc(list, after, byKey); found {
			at++
		}
	}
	end := min(at+n, len(list))
	return slices.Clone(list[at:end])
}

// Len is the number of entries of the namespace.
func (s *Sorted) Len(namespace string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.keys[namespace])
}

// Version is the resource version of the object the index saw last, "" if it holds none.
func (s *Sorted) Version(key client.ObjectKey) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.of[key].ResourceVersion
}
