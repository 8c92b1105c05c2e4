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

package domainxml

import (
	"fmt"
	"regexp"

	"libvirt.org/go/libvirtxml"
)

// Volume is an attached volume: a virtio disk QEMU reads over NBD from the node agent's unix
// socket, behind which the agent's AoE initiator reaches the storage node.
type Volume struct {
	// Socket is the agent's NBD socket for the volume.
	Socket string
	// Target is the guest device (vdf), see GuestTarget.
	Target string
	// Serial is the volume id, which the guest finds in /dev/disk/by-id.
	Serial string
	// IOTune, when set, is the I/O QEMU lets the guest do on the disk (its volume type's).
	IOTune *libvirtxml.DomainDiskIOTune
}

// deviceName is an EC2 device name: /dev/sdf, /dev/xvdf, /dev/vdf, /dev/sdf1, /dev/xvdba.
var deviceName = regexp.MustCompile(`^/dev/(sd|xvd|vd)([a-z]{1,2})[0-9]*$`)

// GuestTarget maps an EC2 device name to the libvirt target of the volume's virtio disk. Like
// EC2's NVMe instances, which rename /dev/sdf to /dev/nvme1n1, PiNet's guests see virtio disks:
// /dev/sdX, /dev/xvdX and /dev/vdX all become target vdX (a partition number is dropped), which
// keeps the requested names apart and ordered. The guest kernel names virtio disks in the order
// it finds them, so a hot-plugged volume is the next free vdX there; a guest finds a volume for
// certain by its serial, the volume id (/dev/disk/by-id/virtio-vol-…).
func GuestTarget(device string) (string, error) {
	m := deviceName.FindStringSubmatch(device)
	if m == nil {
		return "", fmt.Errorf("device name %q is not /dev/sdX, /dev/xvdX or /dev/vdX", device)
	}
	return "vd" + m[2], nil
}

// VolumeDisk is the libvirt disk of an attached volume.
func VolumeDisk(v Volume) libvirtxml.DomainDisk {
	return libvirtxml.DomainDisk{
		Device: "disk",
		Driver: &libvirtxml.DomainDiskDriver{Name: "qemu", Type: "raw"},
		Source: &libvirtxml.DomainDiskSource{Network: &libvirtxml.DomainDiskSourceNetwork{
			Protocol: "nbd",
			Hosts:    []libvirtxml.DomainDiskSourceHost{{Transport: "unix", Socket: v.Socket}},
		}},
		Target: &libvirtxml.DomainDiskTarget{Dev: v.Target, Bus: "virtio"},
		Serial: v.Serial,
		IOTune: v.IOTune,
	}
}

// MarshalVolume renders a volume's disk as the device XML libvirt's attach and detach take.
func MarshalVolume(v Volume) (string, error) {
	d := VolumeDisk(v)
	out, err := d.Marshal()
	if err != nil {
		return "", fmt.Errorf("encoding the disk of volume %s: %w", v.Serial, err)
	}
	return out, nil
}

// DiskOf finds the disk with guest device target in a domain definition: its NBD socket ("" for
// a disk that is not one of the agent's volumes), and whether there is such a disk at all.
func DiskOf(domainXML, target string) (socket string, found bool, err error) {
	d := &libvirtxml.Domain{}
	if err := d.Unmarshal(domainXML); err != nil {
		return "", false, fmt.Errorf("parsing a domain definition: %w", err)
	}
	if d.Devices == nil {
		return "", false, nil
	}
	for _, disk := range d.Devices.Disks {
		if disk.Target == nil || disk.Target.Dev != target {
			continue
		}
		if s := disk.Source; s != nil && s.Network != nil && s.Network.Protocol == "nbd" &&
			len(s.Network.Hosts) == 1 && s.Network.Hosts[0].Transport == "unix" {
			return s.Network.Hosts[0].Socket, true, nil
		}
		return "", true, nil
	}
	return "", false, nil
}

// hotplugPorts is how many PCIe root ports a q35 domain keeps free for volumes plugged while it
// runs: libvirt gives q35 guests a root port per defined device only, and a hot-plugged virtio
// disk needs a free one.
const hotplugPorts = 8

// configureHotplug gives a q35 domain a root port for each of its PCI devices (disks, volumes,
// NICs, and libvirt's own: balloon, USB, and a spare) and hotplugPorts more, free.
func configureHotplug(d *libvirtxml.Domain, h Host) {
	if h.Machine != "q35" {
		return
	}
	root := uint(0)
	d.Devices.Controllers = append(d.Devices.Controllers, libvirtxml.DomainController{Type: "pci", Model: "pcie-root", Index: &root})
	ports := len(d.Devices.Disks) + len(d.Devices.Interfaces) + 3 + hotplugPorts
	for i := range ports {
		idx := uint(i + 1)
		d.Devices.Controllers = append(d.Devices.Controllers, libvirtxml.DomainController{Type: "pci", Model: "pcie-root-port", Index: &idx})
	}
}

func configureVolumes(d *libvirtxml.Domain, s Spec) {
	for _, v := range s.Volumes {
		d.Devices.Disks = append(d.Devices.Disks, VolumeDisk(v))
	}
}
