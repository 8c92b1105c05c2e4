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
	"sync"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"

	"pinet.io/pinet/internal/metrics"
	"pinet.io/pinet/nodeagent/aoe"
)

// volumeFileMode: only the agent (root) reads and writes a volume's backing file.
const volumeFileMode os.FileMode = 0o600

// exportSpec is what one AoE export serves.
type exportSpec struct {
	shelf uint16
	slot  uint8
	size  int64
}

// export is a running AoE target of one volume.
type export struct {
	spec   exportSpec
	file   *os.File
	cancel context.CancelFunc
	done   chan struct{}
	// err is why the target stopped on its own (set before done closes).
	err error
}

// exports are the AoE targets the storage node runs, by volume UID. Targets run under the
// agent's context, not a reconcile's, and stop when the agent stops (the backing files stay:
// a restarted agent serves them again at the same addresses).
type exports struct {
	ctx   context.Context
	dir   string
	iface string
	// netns is the network namespace iface is in ("" for the agent's own); listen, when set,
	// opens the sockets instead.
	netns  string
	listen func(iface string) (*aoe.Conn, error)
	// stopped is told the volume whose target stopped on its own, to reconcile it again.
	stopped func(key types.NamespacedName)
	log     logr.Logger
	// observer counts the targets' I/O; nil counts nothing.
	observer *metrics.NodeAgent

	mu sync.Mutex
	m  map[types.UID]*export
}

// path is the backing file of the volume with uid.
func (e *exports) path(uid types.UID) string { return filepath.Join(e.dir, string(uid)+".img") }

// running reports whether the volume's target serves spec.
func (e *exports) running(uid types.UID, spec exportSpec) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.m[uid]
	if x == nil {
		return false
	}
	select {
	case <-x.done:
		return false
	default:
		return x.spec == spec
	}
}

// serve starts (or restarts, when its spec changed) the volume's target on its backing file.
func (e *exports) serve(key types.NamespacedName, uid types.UID, spec exportSpec) error {
	if e.running(uid, spec) {
		return nil
	}
	e.stop(uid)
	f, err := os.OpenFile(e.path(uid), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("opening the backing file: %w", err)
	}
	listen := e.listen
	if listen == nil {
		listen = func(iface string) (*aoe.Conn, error) { return aoe.ListenIn(e.netns, iface) }
	}
	conn, err := listen(e.iface)
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("listening for AoE on %s: %w", e.iface, err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	x := &export{spec: spec, file: f, cancel: cancel, done: make(chan struct{})}
	// *os.File has Sync: FLUSH CACHE makes acknowledged writes durable.
	t := &aoe.Target{Conn: conn, Shelf: spec.shelf, Slot: spec.slot, Backing: f, Size: spec.size,
		Serial: string(uid)[:min(20, len(uid))], Observer: e.observer}
	go func() {
		err := t.Serve(ctx)
		_ = f.Sync()
		_ = f.Close()
		x.err = err
		close(x.done)
		if err != nil && e.ctx.Err() == nil {
			e.log.Error(err, "AoE target stopped", "volume", uid, "shelf", spec.shelf, "slot", spec.slot)
			if e.stopped != nil {
				e.stopped(key)
			}
		}
	}()
	e.mu.Lock()
	e.m[uid] = x
	e.mu.Unlock()
	return nil
}

// stop stops the volume's target, if it runs, and waits until it has.
func (e *exports) stop(uid types.UID) {
	e.mu.Lock()
	x := e.m[uid]
	delete(e.m, uid)
	e.mu.Unlock()
	if x != nil {
		x.cancel()
		<-x.done
	}
}

// remove stops the volume's target and deletes its backing file.
func (e *exports) remove(uid types.UID) error {
	e.stop(uid)
	for _, p := range []string{e.path(uid), e.path(uid) + ".new"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing the backing file: %w", err)
		}
	}
	return nil
}

// served lists the UIDs whose targets run.
func (e *exports) served() []types.UID {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]types.UID, 0, len(e.m))
	for uid := range e.m {
		out = append(out, uid)
	}
	return out
}
