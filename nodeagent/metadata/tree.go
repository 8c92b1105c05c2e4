// Copyright 2026 The PiNet Authors.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//	http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

package metadata

import (
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// versions are the API versions served at "/", oldest first; "latest" is the newest tree.
var versions = []string{
	"1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15",
	"2008-02-01", "2008-09-01", "2009-04-04", "latest",
}

func knownVersion(v string) bool {
	for _, k := range versions {
		if k == v {
			return true
		}
	}
	return false
}

// since says whether version v has a category EC2 added in version added. Dated versions
// sort as strings ("1.0" before "2007-…"); "latest" has everything.
func since(v, added string) bool {
	return v == "latest" || v >= added
}

// node is a leaf (data) or a directory (dir) of the meta-data tree.
type node struct {
	name    string // the path segment
	listing string // how its directory lists it, when not name (+ "/" for a directory)
	dir     bool
	data    []byte
	kids    []*node
}

func leaf(name, value string) *node { return &node{name: name, data: []byte(value)} }

func dir(name string, kids ...*node) *node { return &node{name: name, dir: true, kids: kids} }

// child returns the entry named name, or nil.
func (n *node) child(name string) *node {
	for _, k := range n.kids {
		if k.name == name {
			return k
		}
	}
	return nil
}

// list is a directory's body: one entry a line, directories with a trailing "/", no final
// newline (as EC2 answers).
func (n *node) list() []byte {
	lines := make([]string, 0, len(n.kids))
	for _, k := range n.kids {
		switch {
		case k.listing != "":
			lines = append(lines, k.listing)
		case k.dir:
			lines = append(lines, k.name+"/")
		default:
			lines = append(lines, k.name)
		}
	}
	return []byte(strings.Join(lines, "\n"))
}

// metaData builds the instance's meta-data tree as version v shows it, entries sorted.
func metaData(inst *Instance, v string) *node {
	root := dir("meta-data")
	add := func(added string, n *node) {
		if since(v, added) && n != nil {
			root.kids = append(root.kids, n)
		}
	}
	str := func(name, value string) *node {
		if value == "" {
			return nil
		}
		return leaf(name, value)
	}
	addr := func(name string, a netip.Addr) *node {
		if !a.IsValid() {
			return nil
		}
		return leaf(name, a.String())
	}
	add("1.0", str("ami-id", inst.ImageID))
	add("1.0", leaf("ami-launch-index", strconv.Itoa(inst.LaunchIndex)))
	add("1.0", str("ami-manifest-path", inst.ManifestPath))
	add("1.0", str("hostname", inst.Hostname))
	add("1.0", str("instance-id", inst.InstanceID))
	add("1.0", addr("local-ipv4", inst.LocalIPv4))
	add("1.0", str("reservation-id", inst.ReservationID))
	add("1.0", str("security-groups", strings.Join(inst.SecurityGroups, "\n")))
	add("1.0", publicKeys(inst.PublicKeys))
	add("2007-01-19", str("local-hostname", inst.LocalHostname))
	add("2007-01-19", str("public-hostname", inst.PublicHostname))
	add("2007-01-19", addr("public-ipv4", inst.PublicIPv4))
	add("2007-08-29", str("instance-type", inst.InstanceType))
	add("2007-12-15", blockDevices(inst.BlockDevices))
	add("2007-12-15", str("ramdisk-id", inst.RamdiskID))
	add("2008-02-01", str("kernel-id", inst.KernelID))
	if inst.AvailabilityZone != "" {
		add("2008-02-01", dir("placement", leaf("availability-zone", inst.AvailabilityZone)))
	}
	sort.Slice(root.kids, func(i, j int) bool { return root.kids[i].name < root.kids[j].name })
	return root
}

// publicKeys is public-keys/: "0=name" entries, each a directory holding openssh-key.
func publicKeys(keys []PublicKey) *node {
	if len(keys) == 0 {
		return nil
	}
	n := dir("public-keys")
	for i, k := range keys {
		key := k.OpenSSHKey
		if !strings.HasSuffix(key, "\n") {
			key += "\n"
		}
		d := dir(strconv.Itoa(i), leaf("openssh-key", key))
		d.listing = strconv.Itoa(i) + "=" + k.Name
		n.kids = append(n.kids, d)
	}
	return n
}

func blockDevices(devs []BlockDevice) *node {
	if len(devs) == 0 {
		return nil
	}
	n := dir("block-device-mapping")
	for _, d := range devs {
		n.kids = append(n.kids, leaf(d.Name, d.Device))
	}
	return n
}
