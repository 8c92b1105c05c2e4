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

// Package chainhost holds the chains of the volumes attached on a compute node: for each, an
// AoE initiator reaching the storage node, served over NBD on a unix socket the guest's QEMU
// reads. QEMU (as libvirt 9.0 configures it) never reconnects a broken NBD connection, so a
// chain must live as long as the guest that reads it, not as long as the node agent that made
// it: the Host runs in a process of its own (`nodeagent volume-chains`), and the agent asks it
// for chains over a control socket, finding them again when it restarts. The agent can also run
// a Host in its own process (simulated nodes, tests); the chains then end with it.
package chainhost

import (
	"errors"
	"fmt"
	"path/filepath"
)

// ControlSocket is the name of the Host's control socket in its directory.
const ControlSocket = "chains.ctl"

// ControlPath is the control socket of the Host whose sockets live in dir.
func ControlPath(dir string) string { return filepath.Join(dir, ControlSocket) }

// SocketPath is where the NBD socket of a volume's chain lives in dir.
func SocketPath(dir, volumeID string) string { return filepath.Join(dir, volumeID+".sock") }

var (
	// ErrTargetUnreachable: the volume's AoE target did not answer on the storage interface.
	ErrTargetUnreachable = errors.New("the volume's AoE target is not reachable")
	// ErrNotGrownYet: the volume was given more room than its AoE target serves so far (the
	// storage node grows the file and serves it anew).
	ErrNotGrownYet = errors.New("the storage node does not serve the volume's new size yet")
	// ErrNoChain: the volume has no chain on this node.
	ErrNoChain = errors.New("the volume has no chain")
	// ErrHostRunning: another Host already serves the directory.
	ErrHostRunning = errors.New("another volume chain host serves this directory")
	// ErrSettingsDiffer: the Host was started with other settings than the agent asking for a
	// chain (another storage interface, namespace or QEMU user).
	ErrSettingsDiffer = errors.New("the volume chain host was started with other settings than the agent")
	// ErrProtocol: the two ends speak different versions of the control protocol.
	ErrProtocol = errors.New("the volume chain host and the agent speak different protocol versions")
)

// ProtocolVersion is the control socket's protocol. Every request and answer carries it and
// either end refuses another: an agent and its chain host are updated together.
const ProtocolVersion = 1

// Settings are what a Host was started with that its chains depend on. An ensure carries the
// asking agent's, and a Host started with others refuses it (ErrSettingsDiffer): a chain host
// on the wrong interface would answer every volume "target unreachable".
type Settings struct {
	StorageInterface string `json:"storageInterface"`
	StorageNetNS     string `json:"storageNetns"`
	QEMUUser         string `json:"qemuUser"`
}

// codes name the errors that cross the control socket.
var codes = map[string]error{
	"TargetUnreachable": ErrTargetUnreachable,
	"NotGrownYet":       ErrNotGrownYet,
	"NoChain":           ErrNoChain,
	"SettingsDiffer":    ErrSettingsDiffer,
	"Protocol":          ErrProtocol,
}

// Chain is what the Host knows of one volume's chain.
type Chain struct {
	// Namespace and Name are the Volume's; a volume has one chain on a node.
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	VolumeID  string `json:"volumeID"`
	Shelf     uint16 `json:"shelf"`
	Slot      uint8  `json:"slot"`
	// Socket is the NBD socket QEMU connects to, Size the bytes it serves.
	Socket string `json:"socket,omitempty"`
	Size   int64  `json:"size,omitempty"`
	// InstanceID and Device name the domain and device the volume's disk was plugged into,
	// once it was; Announced is the largest size its running guest was told it would see later.
	InstanceID string `json:"instanceID,omitempty"`
	Device     string `json:"device,omitempty"`
	Announced  int64  `json:"announced,omitempty"`
}

// Address is the chain's AoE address, as e<shelf>.<slot>.
func (c Chain) Address() string { return fmt.Sprintf("e%d.%d", c.Shelf, c.Slot) }

// key is a chain's Volume.
type key struct{ namespace, name string }

func (c Chain) key() key { return key{c.Namespace, c.Name} }

// Operations of the control socket.
const (
	opEnsure   = "ensure"
	opGrow     = "grow"
	opStop     = "stop"
	opList     = "list"
	opPlugged  = "plugged"
	opAnnounce = "announce"
)

// request is one call on the control socket: a JSON object on its own line.
type request struct {
	Version int    `json:"version"`
	Op      string `json:"op"`
	Chain   Chain  `json:"chain"`
	// Settings: the agent's, on an ensure (nil: not checked).
	Settings *Settings `json:"settings,omitempty"`
	// Size: the bytes a grow wants at least, or an announced size.
	Size int64 `json:"size,omitempty"`
}

// response answers a request: a JSON object on its own line.
type response struct {
	Version int    `json:"version"`
	Error   string `json:"error,omitempty"`
	// Code names a known error (codes).
	Code   string  `json:"code,omitempty"`
	Chain  *Chain  `json:"chain,omitempty"`
	Chains []Chain `json:"chains,omitempty"`
	// Made: the chain was dialled by this call (none served the volume before).
	Made bool `json:"made,omitempty"`
	// News: the announced size is larger than any before.
	News bool `json:"news,omitempty"`
}

// maxRequest bounds a request's bytes.
const maxRequest = 64 << 10
