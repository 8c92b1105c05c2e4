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

package patch

import (
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Writes remembers, per object UID, the resourceVersion of the last write a controller made
// until its cache shows it. A reconcile that reads an object older than its own last write would
// compute the same change again and send it twice (or, for a new condition, be refused); it
// waits instead for the event of its write, which is on its way. Entries last only while the
// cache lags, so the map stays as small as the writes in flight. The zero value is ready.
//
// resourceVersions are compared as the integers etcd makes them; one that does not parse is
// never taken to be behind.
type Writes struct {
	mu sync.Mutex
	rv map[types.UID]written
	// pruned is when entries of objects never seen again (deleted meanwhile) were last dropped.
	pruned time.Time
}

type written struct {
	rv uint64
	at time.Time
}

// forgetAfter is how long a write is remembered at most: far longer than a cache lags.
const forgetAfter = time.Minute

// Record notes obj's resourceVersion after a write (obj holds the server's answer).
func (w *Writes) Record(obj client.Object) {
	v, err := strconv.ParseUint(obj.GetResourceVersion(), 10, 64)
	if err != nil {
		return
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rv == nil {
		w.rv = map[types.UID]written{}
	}
	if v > w.rv[obj.GetUID()].rv {
		w.rv[obj.GetUID()] = written{rv: v, at: now}
	}
	if now.Sub(w.pruned) > forgetAfter/2 {
		w.pruned = now
		for uid, e := range w.rv {
			if now.Sub(e.at) > forgetAfter {
				delete(w.rv, uid)
			}
		}
	}
}

// Behind reports whether obj (read from the cache) is older than this controller's last write
// of it; once it is not, the entry is dropped.
func (w *Writes) Behind(obj client.Object) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	last, ok := w.rv[obj.GetUID()]
	if !ok {
		return false
	}
	v, err := strconv.ParseUint(obj.GetResourceVersion(), 10, 64)
	if err != nil || v >= last.rv {
		delete(w.rv, obj.GetUID())
		return false
	}
	return true
}

// Forget drops what is known of a deleted object.
func (w *Writes) Forget(uid types.UID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.rv, uid)
}

// Len is how many writes the cache has not shown yet.
func (w *Writes) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.rv)
}
