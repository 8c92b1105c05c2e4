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

package testcloud

import (
	"path/filepath"
	"testing"
	"time"

	"pinet.io/pinet/nodeagent"
	"pinet.io/pinet/nodeagent/aoe/aoetest"
)

// Storage nodes hold at most this much memory so that no instance is ever placed on them: their
// agent's storage interface is the targets' end of the storage network, where no initiator runs.
const storageNodeMemoryMiB = 256

// AddStorageNode starts a storage node of capacityGiB whose AoE targets serve on the A end of a
// veth pair between two network namespaces made for the test (removed when it ends). Its
// volumes' backing files are under n.VolumeDir(); n.StorageNet is the pair, whose B end a
// compute node (AddComputeNode) attaches volumes through. It skips the test without root.
func (c *Cloud) AddStorageNode(t testing.TB, name, zone string, capacityGiB int64) *Node {
	t.Helper()
	pair := aoetest.NewPair(t, "pt-tc", 1500)
	dir := filepath.Join(t.TempDir(), "volumes")
	n := c.AddNodeWith(t, name, zone, 1, storageNodeMemoryMiB, func(cfg *nodeagent.Config) {
		cfg.StorageCapacityGiB, cfg.StorageDir = capacityGiB, dir
		cfg.StorageInterface, cfg.StorageNetNS = pair.IfaceA, pair.NSA
	})
	n.StorageNet = pair
	return n
}

// AddComputeNode starts a hypervisor whose agent attaches volumes over the storage network pair
// (the initiators' end, B): AoE initiator → NBD socket → hot-plug into the domain.
func (c *Cloud) AddComputeNode(t testing.TB, name, zone string, pair *aoetest.Pair) *Node {
	t.Helper()
	n := c.AddNodeWith(t, name, zone, 4, 8192, func(cfg *nodeagent.Config) {
		cfg.StorageInterface, cfg.StorageNetNS = pair.IfaceB, pair.NSB
		cfg.AttachTimeout, cfg.DetachTimeout = 3*time.Second, 5*time.Second
	})
	n.StorageNet = pair
	return n
}

// AddStorageNodes starts, in zone, a storage node (10 GiB) and a compute node on one storage
// network: volumes of the zone live on the first and attach to the second's instances.
func (c *Cloud) AddStorageNodes(t testing.TB, storageName, computeName, zone string) (store, compute *Node) {
	t.Helper()
	store = c.AddStorageNode(t, storageName, zone, 10)
	return store, c.AddComputeNode(t, computeName, zone, store.StorageNet)
}

// VolumeDir is where a storage node keeps its volumes' backing files.
func (n *Node) VolumeDir() string { return n.cfg.StorageDir }

// BackingFile is the backing file of the volume of uid on a storage node.
func (n *Node) BackingFile(uid string) string { return filepath.Join(n.cfg.StorageDir, uid+".img") }
