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
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"pinet.io/pinet/nodeagent/chainhost"
)

// aoeAddress is where a volume is exported.
type aoeAddress struct {
	shelf uint16
	slot  uint8
}

func (a aoeAddress) String() string { return fmt.Sprintf("e%d.%d", a.shelf, a.slot) }

// volumeChains are the chains of the volumes attached on this node: for each, an NBD server on
// a unix socket QEMU reads, serving the AoE device a user-space initiator reaches over the
// storage network. (A host with the kernel's aoe driver could hand QEMU /dev/etherd/eX.Y
// instead; this machine has none.) A chainhost.Host holds them: another process's
// (Config.ExternalVolumeChains), so that a guest keeps its volumes through the agent's
// restarts, or one the agent runs itself, whose chains end with the agent.
type volumeChains struct {
	dir    string
	client *chainhost.Client
	// dialTimeout is how long the host may take to reach a target (the agent's AttachTimeout;
	// an external host's --attach-timeout should not exceed it).
	dialTimeout time.Duration
}

func newVolumeChains(cfg Config) *volumeChains {
	dir := chainhost.Dir(cfg.StateDir)
	// An agent given a storage interface asks for chains on it; one given none leaves the chains'
	// network to the host.
	var settings *chainhost.Settings
	if cfg.StorageInterface != "" {
		settings = &chainhost.Settings{StorageInterface: cfg.StorageInterface, StorageNetNS: cfg.StorageNetNS, QEMUUser: cfg.QEMUUser}
	}
	return &volumeChains{dir: dir, client: &chainhost.Client{Path: chainhost.ControlPath(dir), Settings: settings},
		dialTimeout: cfg.AttachTimeout}
}

// runVolumeChains runs the agent's own Host: its chains serve until the agent stops, and end
// with it. A Host that answers already (another process's) is used instead.
func runVolumeChains(ctx context.Context, mgr manager.Manager, cfg Config) error {
	h := chainhost.New(hostConfig(cfg, mgr.GetLogger().WithName("volume-chains")))
	ln, err := h.Listen(ctx)
	if errors.Is(err, chainhost.ErrHostRunning) {
		mgr.GetLogger().Info("Using the volume chain host that runs already", "reason", err.Error())
		return nil
	}
	if err != nil {
		return err
	}
	hctx, cancel := context.WithCancel(ctx)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = h.Serve(hctx, ln)
	}()
	return mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		<-ctx.Done()
		cancel()
		<-served
		return nil
	}))
}

// hostConfig is the Host the agent runs itself with cfg.
func hostConfig(cfg Config, l logr.Logger) chainhost.Config {
	hc := chainhost.Config{
		Dir: chainhost.Dir(cfg.StateDir), Iface: cfg.StorageInterface, NetNS: cfg.StorageNetNS, Listen: cfg.ListenAoE,
		QEMUUser: cfg.QEMUUser, DialTimeout: cfg.AttachTimeout, Log: l,
	}
	if cfg.metrics != nil {
		hc.Observer = cfg.metrics
	}
	return hc
}

// socketPath is where the NBD socket of a volume lives.
func (vc *volumeChains) socketPath(volumeID string) string {
	return chainhost.SocketPath(vc.dir, volumeID)
}

// hostCallTimeout bounds a call to the chain host that dials no target: a host that hangs must
// not hold the attach reconciler (one at a time) for ever.
const hostCallTimeout = 10 * time.Second

// ensure returns the volume's chain, making it if none runs (made); a chain of another volume
// id or address is replaced.
func (vc *volumeChains) ensure(ctx context.Context, key types.NamespacedName, volumeID string, addr aoeAddress) (chainhost.Chain, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, vc.dialTimeout+hostCallTimeout)
	defer cancel()
	return vc.client.Ensure(ctx, chainhost.Chain{Namespace: key.Namespace, Name: key.Name, VolumeID: volumeID, Shelf: addr.shelf, Slot: addr.slot})
}

// get returns the running chain of a volume, or nil.
func (vc *volumeChains) get(ctx context.Context, key types.NamespacedName) (*chainhost.Chain, error) {
	ctx, cancel := context.WithTimeout(ctx, hostCallTimeout)
	defer cancel()
	all, err := vc.client.List(ctx)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].Namespace == key.Namespace && all[i].Name == key.Name {
			return &all[i], nil
		}
	}
	return nil, nil
}

// grow serves the volume's chain at its new size, want bytes, once the AoE target serves at
// least that (chainhost.ErrNotGrownYet before); the old server's connections end, so it is for
// a chain no running guest reads.
func (vc *volumeChains) grow(ctx context.Context, key types.NamespacedName, want int64) error {
	ctx, cancel := context.WithTimeout(ctx, vc.dialTimeout+hostCallTimeout)
	defer cancel()
	_, err := vc.client.Grow(ctx, key.Namespace, key.Name, want)
	return err
}

// stop ends a volume's chain. A Host that does not answer holds no chain the agent could end:
// a new one starts with none.
func (vc *volumeChains) stop(ctx context.Context, key types.NamespacedName) {
	ctx, cancel := context.WithTimeout(ctx, hostCallTimeout)
	defer cancel()
	if err := vc.client.Stop(ctx, key.Namespace, key.Name); err != nil && !errors.Is(err, chainhost.ErrNoHost) {
		log.FromContext(ctx).Error(err, "Ending a volume's chain", "volume", key)
	}
}

// markPlugged records that the volume's disk is in the instance's domain as device.
func (vc *volumeChains) markPlugged(ctx context.Context, key types.NamespacedName, instanceID, device string) {
	ctx, cancel := context.WithTimeout(ctx, hostCallTimeout)
	defer cancel()
	if err := vc.client.Plugged(ctx, key.Namespace, key.Name, instanceID, device); err != nil {
		log.FromContext(ctx).Error(err, "Recording where a volume is plugged", "volume", key)
	}
}

// announce reports whether size is news for the volume's running guest: larger than any size
// announced for its chain before (the Host keeps it, so an agent restart does not repeat it).
func (vc *volumeChains) announce(ctx context.Context, key types.NamespacedName, size int64) bool {
	ctx, cancel := context.WithTimeout(ctx, hostCallTimeout)
	defer cancel()
	news, err := vc.client.Announce(ctx, key.Namespace, key.Name, size)
	if err != nil {
		log.FromContext(ctx).Error(err, "Recording a volume's announced size", "volume", key)
	}
	return news
}

// keys lists the volumes with a chain.
func (vc *volumeChains) keys(ctx context.Context) ([]types.NamespacedName, error) {
	ctx, cancel := context.WithTimeout(ctx, hostCallTimeout)
	defer cancel()
	all, err := vc.client.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]types.NamespacedName, 0, len(all))
	for _, c := range all {
		out = append(out, types.NamespacedName{Namespace: c.Namespace, Name: c.Name})
	}
	return out, nil
}
