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
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func sampleSpec() Spec {
	return Spec{
		Name: "i-0123456789abcdef0",
		UUID: "6f1c1b8e-6a55-4a55-9d55-2b0d1b8e6a55",
		Owner: Owner{
			Cloud:     "0b6f3c1e-1d2a-4c55-9a55-2b0d1b8e6a00",
			Namespace: "proj-a", Name: "web-1", UID: "6f1c1b8e-6a55-4a55-9d55-2b0d1b8e6a55",
			InstanceID: "i-0123456789abcdef0",
		},
		VCPUs: 2, MemoryMiB: 4096,
		ConsoleLog: "/var/lib/pinet/instances/i-0123456789abcdef0/console.log",
		Disks: []Disk{
			{Path: "/var/lib/pinet/instances/i-0123456789abcdef0/root.qcow2", Format: "qcow2", Serial: "root"},
			{Path: "/var/lib/pinet/instances/i-0123456789abcdef0/ephemeral0.img", Format: "raw", Serial: "ephemeral0"},
		},
		Kernel:  "/var/lib/pinet/images/aki-0123456789abcdef0/image",
		Initrd:  "/var/lib/pinet/images/ari-0123456789abcdef0/image",
		Cmdline: "root=/dev/vda console=ttyS0 pinet.instance_id=i-0123456789abcdef0",
	}
}

func TestConvertGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec Spec
		host Host
	}{
		{"qemu-q35", sampleSpec(), Host{DomainType: "qemu", Machine: "q35"}},
		{"kvm-q35", sampleSpec(), Host{DomainType: "kvm", Machine: "q35"}},
		{"test-noconsole", func() Spec { s := sampleSpec(); s.ConsoleLog = ""; s.Disks = nil; s.Kernel = ""; return s }(), Host{DomainType: "test"}},
		{"qemu-nic", func() Spec {
			s := sampleSpec()
			s.NICs = []NIC{{MAC: "02:00:0a:80:05:07", Bridge: "pbr101", Tap: "pt0123456789abc"}}
			return s
		}(), Host{DomainType: "qemu", Machine: "q35"}},
		{"qemu-volumes", func() Spec {
			s := sampleSpec()
			s.Volumes = []Volume{{Socket: "/var/lib/pinet/nbd/vol-0123456789abcdef0.sock", Target: "vdf", Serial: "vol-0123456789abcdef0"}}
			return s
		}(), Host{DomainType: "qemu", Machine: "q35"}},
		{"qemu-nic-ethernet", func() Spec {
			s := sampleSpec()
			s.NICs = []NIC{{MAC: "02:00:0a:80:05:07", Tap: "pt0123456789abc"}}
			return s
		}(), Host{DomainType: "qemu", Machine: "q35"}},
		{"qemu-diskboot", func() Spec { s := sampleSpec(); s.Kernel, s.Initrd, s.Cmdline = "", "", ""; return s }(), Host{DomainType: "qemu", Machine: "q35"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Convert(tc.spec, tc.host)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tc.name+".xml")
			if *update {
				if err := os.WriteFile(golden, []byte(got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("reading golden file (run with -update to create): %v", err)
			}
			if got+"\n" != string(want) {
				t.Fatalf("domain XML differs from %s:\n%s", golden, got)
			}
		})
	}
}

// A NIC the node could not build, or that would collide with libvirt's own taps, is refused
// before any domain is defined.
func TestConvertRefusesBadNICs(t *testing.T) {
	for _, nic := range []NIC{
		{MAC: "not-a-mac", Bridge: "pbr101", Tap: "pt1"},
		{MAC: "02:00:0a:80:05:07", Bridge: "", Tap: ""},
		{MAC: "02:00:0a:80:05:07", Bridge: "pbr101", Tap: ""},
		{MAC: "02:00:0a:80:05:07", Bridge: "pbr101", Tap: "pt0123456789abcdef"},
		{MAC: "02:00:0a:80:05:07", Bridge: "pbr101", Tap: "vnet0"},
	} {
		s := sampleSpec()
		s.NICs = []NIC{nic}
		if d, err := Convert(s, Host{DomainType: "qemu"}); err == nil {
			t.Errorf("%+v: converted to %+v", nic, d.Devices.Interfaces)
		}
	}
}

func TestOwnerRoundTrip(t *testing.T) {
	s := sampleSpec()
	s.Owner.Node = "node-a"
	d, err := Convert(s, Host{DomainType: "qemu", Machine: "q35"})
	if err != nil {
		t.Fatal(err)
	}
	x, err := Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := OwnerOf(x)
	if !ok {
		t.Fatal("owner not found in our own XML")
	}
	if o.Cloud != s.Owner.Cloud || o.Namespace != s.Owner.Namespace || o.Name != s.Owner.Name || o.UID != s.Owner.UID || o.InstanceID != s.Owner.InstanceID || o.Node != "node-a" {
		t.Fatalf("owner %+v, want %+v", o, s.Owner)
	}
	// The form libvirt hands back: a prefixed element.
	relabelled := `<domain type="qemu"><name>x</name><metadata><pn:instance xmlns:pn="` + Namespace +
		`"><pn:namespace>ns</pn:namespace><pn:name>n</pn:name><pn:uid>u</pn:uid><pn:instanceId>i-1</pn:instanceId></pn:instance></metadata></domain>`
	if o, ok := OwnerOf(relabelled); !ok || o.Namespace != "ns" || o.UID != "u" || o.Node != "" {
		t.Fatalf("prefixed metadata: %+v %v", o, ok)
	}
	// Another application's metadata first, and the text "<metadata>" (escaped, as XML has it) in
	// the description before the element.
	mixed := `<domain type="qemu"><name>x</name><description>see &lt;metadata&gt;</description><metadata>` +
		`<app:info xmlns:app="urn:other"><app:instance>no</app:instance></app:info>` +
		`<pn:instance xmlns:pn="` + Namespace + `"><pn:namespace>ns</pn:namespace><pn:uid>u2</pn:uid></pn:instance></metadata>` +
		`<devices><disk type="file"></disk></devices></domain>`
	if o, ok := OwnerOf(mixed); !ok || o.Namespace != "ns" || o.UID != "u2" {
		t.Fatalf("metadata after another application's: %+v %v", o, ok)
	}
	for _, foreign := range []string{
		`<domain type="kvm"><name>other</name><metadata></metadata></domain>`,
		`<domain type="kvm"><name>other</name><metadata><pn:instance xmlns:pn="` + Namespace + `"><pn:uid>u</pn:uid>`,
		`<domain type="kvm"><name>other</name><metadata><pn:instance xmlns:pn="` + Namespace + `"><pn:name>n</pn:name></pn:instance></metadata></domain>`,
		`<domain type="kvm"><name>other</name></domain>`,
		`<domain type="kvm"><name>other</name><metadata><x:instance xmlns:x="urn:other"><x:uid>u</x:uid></x:instance></metadata></domain>`,
		`not xml`,
	} {
		if _, ok := OwnerOf(foreign); ok {
			t.Errorf("OwnerOf claimed a foreign domain: %s", foreign)
		}
	}
}

func TestGuestTarget(t *testing.T) {
	for _, tc := range []struct{ device, want string }{
		{"/dev/sdf", "vdf"}, {"/dev/xvdf", "vdf"}, {"/dev/vdf", "vdf"}, {"/dev/sdf1", "vdf"},
		{"/dev/xvdba", "vdba"}, {"/dev/sda1", "vda"},
	} {
		got, err := GuestTarget(tc.device)
		if err != nil || got != tc.want {
			t.Errorf("GuestTarget(%q) = %q, %v; want %q", tc.device, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "/dev/hdf", "/dev/sd", "/dev/sdabc", "sdf", "/dev/nvme1n1", "/dev/sdf/../vda"} {
		if got, err := GuestTarget(bad); err == nil {
			t.Errorf("GuestTarget(%q) = %q, want an error", bad, got)
		}
	}
}

func TestVolumeDiskRoundTrip(t *testing.T) {
	v := Volume{Socket: "/s/vol-1.sock", Target: "vdg", Serial: "vol-1"}
	d, err := Convert(func() Spec { s := sampleSpec(); s.Volumes = []Volume{v}; return s }(), Host{DomainType: "test"})
	if err != nil {
		t.Fatal(err)
	}
	x, err := Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if sock, found, err := DiskOf(x, "vdg"); err != nil || !found || sock != v.Socket {
		t.Fatalf("DiskOf vdg = %q, %v, %v", sock, found, err)
	}
	if sock, found, err := DiskOf(x, "vda"); err != nil || !found || sock != "" {
		t.Fatalf("DiskOf vda (a file disk) = %q, %v, %v", sock, found, err)
	}
	if _, found, err := DiskOf(x, "vdz"); err != nil || found {
		t.Fatalf("DiskOf vdz = %v, %v", found, err)
	}
	if _, _, err := DiskOf("<domain", "vda"); err == nil {
		t.Fatal("DiskOf of broken XML: no error")
	}
	one, err := MarshalVolume(v)
	if err != nil || !strings.Contains(one, `socket="/s/vol-1.sock"`) || !strings.Contains(one, `dev="vdg"`) {
		t.Fatalf("MarshalVolume: %v\n%s", err, one)
	}
}

// BenchmarkOwnerOf reads the owner of a full domain definition, as the agent does for every
// domain on each reconcile and orphan sweep.
func BenchmarkOwnerOf(b *testing.B) {
	d, err := Convert(sampleSpec(), Host{DomainType: "qemu", Machine: "q35"})
	if err != nil {
		b.Fatal(err)
	}
	x, err := Marshal(d)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := OwnerOf(x); !ok {
			b.Fatal("no owner")
		}
	}
}
