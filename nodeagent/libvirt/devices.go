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

package libvirt

import (
	"errors"
	"fmt"
	"strings"

	lv "libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"
)

// AttachDevice plugs a device (its libvirt XML) into the domain: into the running guest and its
// persistent definition, or only the definition of a domain that is not running.
//
// libvirt's test driver cannot hot-plug. A simulated node has no guest to lose, so there the
// device is added to the definition and the simulated domain, if it runs, is restarted with it:
// the domain's live XML then shows the device as it would on a real hypervisor.
func (c *Conn) AttachDevice(name, deviceXML string) error {
	return c.changeDevice(name, "attaching a device to", deviceXML, true)
}

// DetachDevice unplugs a device (its libvirt XML) from the domain's persistent definition and
// asks the running guest to release it; the guest may take its time, so callers watch the
// domain's XML for the device to go.
func (c *Conn) DetachDevice(name, deviceXML string) error {
	return c.changeDevice(name, "detaching a device from", deviceXML, false)
}

func (c *Conn) changeDevice(name, what, deviceXML string, attach bool) error {
	return c.withDomain(name, what, func(d *lv.Domain) error {
		active, err := d.IsActive()
		if err != nil {
			return err
		}
		flags := lv.DOMAIN_DEVICE_MODIFY_CONFIG
		if active {
			flags |= lv.DOMAIN_DEVICE_MODIFY_LIVE
		}
		if attach {
			err = d.AttachDeviceFlags(deviceXML, flags)
		} else {
			err = d.DetachDeviceFlags(deviceXML, flags)
		}
		var lerr lv.Error
		if errors.As(err, &lerr) && lerr.Code == lv.ERR_NO_SUPPORT && c.isTestDriver() {
			return c.simulateDeviceChange(d, active, deviceXML, attach)
		}
		return err
	})
}

func (c *Conn) isTestDriver() bool {
	conn, err := c.current()
	if err != nil {
		return false
	}
	t, err := conn.GetType()
	return err == nil && strings.EqualFold(t, "test")
}

// simulateDeviceChange adds or removes a disk in a test domain's definition and restarts a
// running one so that its live definition shows the change.
func (c *Conn) simulateDeviceChange(d *lv.Domain, active bool, deviceXML string, attach bool) error {
	disk := &libvirtxml.DomainDisk{}
	if err := disk.Unmarshal(deviceXML); err != nil || disk.Target == nil {
		return fmt.Errorf("the simulated node plugs only disks: %w", err)
	}
	cur, err := d.GetXMLDesc(lv.DOMAIN_XML_INACTIVE)
	if err != nil {
		return err
	}
	def := &libvirtxml.Domain{}
	if err := def.Unmarshal(cur); err != nil {
		return fmt.Errorf("parsing the definition: %w", err)
	}
	if def.Devices == nil {
		def.Devices = &libvirtxml.DomainDeviceList{}
	}
	kept := def.Devices.Disks[:0]
	found := false
	for _, dd := range def.Devices.Disks {
		if dd.Target != nil && dd.Target.Dev == disk.Target.Dev {
			found = true
			continue
		}
		kept = append(kept, dd)
	}
	switch {
	case attach && found:
		return lv.Error{Code: lv.ERR_OPERATION_FAILED, Message: "target " + disk.Target.Dev + " already exists"}
	case !attach && !found:
		return lv.Error{Code: lv.ERR_DEVICE_MISSING, Message: "no target device " + disk.Target.Dev}
	}
	def.Devices.Disks = kept
	if attach {
		def.Devices.Disks = append(def.Devices.Disks, *disk)
	}
	x, err := def.Marshal()
	if err != nil {
		return err
	}
	conn, err := c.current()
	if err != nil {
		return err
	}
	if active {
		if err := d.Destroy(); err != nil {
			return err
		}
	}
	nd, err := conn.DomainDefineXML(x)
	if err != nil {
		return err
	}
	defer func() { _ = nd.Free() }()
	if active {
		return nd.Create()
	}
	return nil
}

// DiskCapacity is the size in bytes the running domain's disk target (vdf) has for the guest:
// what QEMU took from the disk's source when it opened it. (libvirt's test driver keeps none.)
func (c *Conn) DiskCapacity(name, target string) (uint64, error) {
	var capacity uint64
	err := c.withDomain(name, "reading the disk size of", func(d *lv.Domain) error {
		info, err := d.GetBlockInfo(target, 0)
		if err != nil {
			return err
		}
		capacity = info.Capacity
		return nil
	})
	return capacity, err
}

// MonitorCommand runs a human monitor (HMP) command in the running domain's QEMU and returns
// its output, e.g. `qemu-io -d virtio-disk5 "read 0 4096"` to read a disk as the guest would.
// For tests and diagnosis; libvirt marks the domain tainted.
func (c *Conn) MonitorCommand(name, hmp string) (string, error) {
	var out string
	err := c.withDomain(name, "running a monitor command in", func(d *lv.Domain) error {
		var err error
		out, err = d.QemuMonitorCommand(hmp, lv.DOMAIN_QEMU_MONITOR_COMMAND_HMP)
		return err
	})
	return out, err
}
