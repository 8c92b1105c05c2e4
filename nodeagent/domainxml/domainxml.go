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

// Package domainxml converts an instance's launch facts into a libvirt domain definition. It is
// pure: it touches no libvirt, disk or network, so its output can be checked against golden
// files.
package domainxml

import (
	"encoding/xml"
	"fmt"
	"net"
	"strings"

	"libvirt.org/go/libvirtxml"
)

// Namespace is the XML namespace of PiNet's element in a domain's <metadata>.
const Namespace = "https://pinet.io/xmlns/domain/1"

// Owner identifies the Instance a domain belongs to.
type Owner struct {
	XMLName xml.Name `xml:"https://pinet.io/xmlns/domain/1 instance"`
	// Cloud identifies the cloud (its API server) the instance lives in, so that agents of two
	// clouds sharing one libvirtd never touch each other's domains.
	Cloud      string `xml:"cloud"`
	Namespace  string `xml:"namespace"`
	Name       string `xml:"name"`
	UID        string `xml:"uid"`
	InstanceID string `xml:"instanceId"`
	// Node is the node whose agent made the domain, so that agents of several nodes sharing one
	// libvirtd (a local cloud's extra nodes) leave each other's domains alone; empty in domains
	// an older agent made.
	Node string `xml:"node,omitempty"`
}

// Spec is what the domain must be.
type Spec struct {
	// Name is the domain name: the instance's EC2 id.
	Name string
	// UUID is the domain UUID: the Instance's UID, so one instance can never have two domains.
	UUID      string
	Owner     Owner
	VCPUs     int32
	MemoryMiB int32
	// ConsoleLog is the file the serial console is written to.
	ConsoleLog string
	// Disks are attached in order as vda, vdb, …; the first is the root disk.
	Disks []Disk
	// Kernel, Initrd and Cmdline boot the guest directly (aki-/ari- images); without a kernel the
	// guest boots from its root disk.
	Kernel, Initrd, Cmdline string
	// NICs are virtio network interfaces, each a tap on a bridge of the node's datapath.
	NICs []NIC
	// Volumes are the attached volumes, after the disks, each at its own target.
	Volumes []Volume
}

// NIC is a guest network interface: a tap device that libvirt creates and enslaves to Bridge.
type NIC struct {
	// MAC is the interface's address, the one DHCP answers for.
	MAC string
	// Bridge is the segment's bridge on the node. Empty makes a plain tap (libvirt's "ethernet"
	// interface) that the node agent puts on its bridge itself, e.g. after moving it into the
	// network namespace of the node's datapath.
	Bridge string
	// Tap names the host side, so the node's packet filter can match the guest's port before the
	// domain exists; at most 15 characters and not libvirt's reserved vnet/vif prefixes.
	Tap string
}

// Disk is a file-backed virtio disk.
type Disk struct {
	Path   string
	Format string // qcow2 or raw
	// Serial shows up in the guest (/dev/disk/by-id); empty leaves it out.
	Serial string
	// ReadOnly attaches the disk read-only.
	ReadOnly bool
}

// Host is what the converter needs to know about the node.
type Host struct {
	// DomainType is kvm, qemu (TCG) or test.
	DomainType string
	// Machine is the machine type (q35); empty lets libvirt choose.
	Machine string
}

// Convert builds the domain definition.
func Convert(s Spec, h Host) (*libvirtxml.Domain, error) {
	meta, err := xml.Marshal(s.Owner)
	if err != nil {
		return nil, fmt.Errorf("encoding owner metadata: %w", err)
	}
	d := &libvirtxml.Domain{
		Type:     h.DomainType,
		Name:     s.Name,
		UUID:     s.UUID,
		Title:    s.Owner.Namespace + "/" + s.Owner.Name,
		Metadata: &libvirtxml.DomainMetadata{XML: string(meta)},
		Memory:   &libvirtxml.DomainMemory{Value: uint(s.MemoryMiB), Unit: "MiB"},
		VCPU:     &libvirtxml.DomainVCPU{Placement: "static", Value: uint(s.VCPUs)},
		OS: &libvirtxml.DomainOS{
			Type: &libvirtxml.DomainOSType{Arch: "x86_64", Machine: h.Machine, Type: "hvm"},
		},
		Features:   &libvirtxml.DomainFeatureList{ACPI: &libvirtxml.DomainFeature{}},
		OnPoweroff: "destroy",
		OnReboot:   "restart",
		OnCrash:    "destroy",
		Devices:    &libvirtxml.DomainDeviceList{},
	}
	configureBoot(d, s)
	configureSMBIOS(d, s)
	configureDisks(d, s)
	configureVolumes(d, s)
	configureHotplug(d, h)
	configureConsole(d, s)
	if err := configureNICs(d, s); err != nil {
		return nil, err
	}
	return d, nil
}

// configureBoot boots the kernel directly when there is one, otherwise from the root disk.
func configureBoot(d *libvirtxml.Domain, s Spec) {
	if s.Kernel == "" {
		d.OS.BootDevices = []libvirtxml.DomainBootDevice{{Dev: "hd"}}
		return
	}
	d.OS.Kernel, d.OS.Initrd, d.OS.Cmdline = s.Kernel, s.Initrd, s.Cmdline
}

// configureSMBIOS puts the instance id in the SMBIOS system serial number, where a guest finds
// it without a network.
func configureSMBIOS(d *libvirtxml.Domain, s Spec) {
	if s.Owner.InstanceID == "" {
		return
	}
	d.SysInfo = []libvirtxml.DomainSysInfo{{SMBIOS: &libvirtxml.DomainSysInfoSMBIOS{
		System: &libvirtxml.DomainSysInfoSystem{Entry: []libvirtxml.DomainSysInfoEntry{
			{Name: "manufacturer", Value: "PiNet"},
			{Name: "product", Value: "PiNet instance"},
			{Name: "serial", Value: s.Owner.InstanceID},
		}},
	}}}
	d.OS.SMBios = &libvirtxml.DomainSMBios{Mode: "sysinfo"}
}

func configureDisks(d *libvirtxml.Domain, s Spec) {
	for i, disk := range s.Disks {
		var ro *libvirtxml.DomainDiskReadOnly
		if disk.ReadOnly {
			ro = &libvirtxml.DomainDiskReadOnly{}
		}
		d.Devices.Disks = append(d.Devices.Disks, libvirtxml.DomainDisk{
			ReadOnly: ro,
			Device:   "disk",
			Driver:   &libvirtxml.DomainDiskDriver{Name: "qemu", Type: disk.Format, Discard: "unmap"},
			Source:   &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: disk.Path}},
			Target:   &libvirtxml.DomainDiskTarget{Dev: "vd" + string(rune('a'+i)), Bus: "virtio"},
			Serial:   disk.Serial,
		})
	}
}

func configureNICs(d *libvirtxml.Domain, s Spec) error {
	for _, nic := range s.NICs {
		if _, err := net.ParseMAC(nic.MAC); err != nil {
			return fmt.Errorf("network interface of %s: %w", s.Name, err)
		}
		if len(nic.Tap) == 0 || len(nic.Tap) > 15 ||
			strings.HasPrefix(nic.Tap, "vnet") || strings.HasPrefix(nic.Tap, "vif") {
			return fmt.Errorf("network interface %s of %s: bridge %q and tap %q are not usable", nic.MAC, s.Name, nic.Bridge, nic.Tap)
		}
		src := &libvirtxml.DomainInterfaceSource{Ethernet: &libvirtxml.DomainInterfaceSourceEthernet{}}
		if nic.Bridge != "" {
			src = &libvirtxml.DomainInterfaceSource{Bridge: &libvirtxml.DomainInterfaceSourceBridge{Bridge: nic.Bridge}}
		}
		d.Devices.Interfaces = append(d.Devices.Interfaces, libvirtxml.DomainInterface{
			MAC:    &libvirtxml.DomainInterfaceMAC{Address: nic.MAC},
			Source: src,
			Target: &libvirtxml.DomainInterfaceTarget{Dev: nic.Tap},
			Model:  &libvirtxml.DomainInterfaceModel{Type: "virtio"},
		})
	}
	return nil
}

// configureConsole captures the first serial port to a file the agent reads console output from.
func configureConsole(d *libvirtxml.Domain, s Spec) {
	if s.ConsoleLog == "" {
		return
	}
	port := uint(0)
	d.Devices.Serials = append(d.Devices.Serials, libvirtxml.DomainSerial{
		Source: &libvirtxml.DomainChardevSource{File: &libvirtxml.DomainChardevSourceFile{Path: s.ConsoleLog, Append: "on"}},
		Target: &libvirtxml.DomainSerialTarget{Port: &port},
	})
}

// Marshal renders the definition as libvirt XML.
func Marshal(d *libvirtxml.Domain) (string, error) {
	out, err := d.Marshal()
	if err != nil {
		return "", fmt.Errorf("encoding domain %s: %w", d.Name, err)
	}
	return out, nil
}

// OwnerOf reads the PiNet owner from a domain definition; ok is false for domains PiNet did not
// make. Only the <metadata> element is decoded: the agent looks at the owner of every domain on
// each reconcile and on each sweep of all domains, and decoding whole definitions for it made
// most of the agent's allocations. libvirt's domain XML has one unprefixed metadata element, a
// child of <domain>, and markup never appears unescaped in text or attribute values, so the
// first "<metadata>" is that element's start tag.
func OwnerOf(domainXML string) (Owner, bool) {
	i := strings.Index(domainXML, "<metadata>")
	if i < 0 {
		return Owner{}, false
	}
	dec := xml.NewDecoder(strings.NewReader(domainXML[i:]))
	if _, err := dec.Token(); err != nil { // <metadata>
		return Owner{}, false
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return Owner{}, false
		}
		switch el := tok.(type) {
		case xml.EndElement: // </metadata>, and none of it was PiNet's
			return Owner{}, false
		case xml.StartElement:
			if el.Name.Space != Namespace || el.Name.Local != "instance" {
				if err := dec.Skip(); err != nil {
					return Owner{}, false
				}
				continue
			}
			var o Owner
			if err := dec.DecodeElement(&o, &el); err != nil || o.UID == "" {
				return Owner{}, false
			}
			return o, true
		}
	}
}
