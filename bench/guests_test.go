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

package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/minio/minio-go/v7"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	lv "libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/guestimage"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/nodeagent"
	"pinet.io/pinet/nodeagent/disks"
	"pinet.io/pinet/nodeagent/domainxml"
)

var guestK = flag.Int("bench.guest-latency", 4,
	"real TCG guests BenchmarkLaunchLatencyGuests boots 100 ms apart on each side (the issue's size is 100)")

const (
	guestProject = "bench-guests"
	guestZone    = "bench-guests"
	guestNode    = "bench-guests-node"
	guestType    = "m1.tiny"
	// guestPoll is how often a console file is read for the banner, the same on both sides.
	guestPoll = 50 * time.Millisecond
	// guestBaselineCloud marks the baseline's domains as no cloud's: the node agent sharing
	// the libvirt driver leaves domains of other clouds alone.
	guestBaselineCloud = "bench-baseline"
)

// BenchmarkLaunchLatencyGuests is KubeVirt's method on real guests: -bench.guest-latency
// instances of the sample guest image (hack/guestimage) are requested 100 ms apart, one
// RunInstances each (aws-sdk-go-v2), on a node whose agent drives QEMU under TCG through
// libvirt's embedded QEMU driver (qemu:///embed, a private root in a temp dir), and each is
// timed from its request until its serial console shows "PiNet guest: instance <id> booted".
// The baseline defines and starts the same number of domains straight through libvirt on the
// same driver, 100 ms apart — the same kernel, initramfs and root image, the same instance
// type's size, the same domain XML (built by the converter the agent uses, and checked against
// the agent's domain) — each timed from making its disks until its console shows the same
// banner. Before the timed runs each side boots one guest, so that the node's image cache is
// filled (that first PiNet launch, image download included, is reported as s-cold-first; the
// first baseline guest, booting alone, as s-baseline-alone). To tell where PiNet's time goes it
// also reports the P50 of the time until the domain is first seen running (libvirt polled every
// 50 ms) on both sides: s-started-P50 and s-baseline-started-P50.
// It reports P50 and P95 of both, what PiNet adds at P50, and the 1-minute load average at the
// start and the end, since the machine is shared. A guest whose kernel panics before its banner
// (errGuestPanicked) is counted on its side (panics, baseline-panics) and left out of the
// percentiles; any other failure fails the benchmark.
func BenchmarkLaunchLatencyGuests(b *testing.B) {
	img := guestImageFiles(b)
	k := *guestK
	if k < 1 {
		b.Fatalf("-bench.guest-latency %d: need at least one guest", k)
	}
	f := setup(b)
	r := startGuestRig(b, f, img, k)
	cold := r.pinetLatencies(b, 1)
	alone := r.baselineLatencies(b, 1, 0)
	for b.Loop() {
		load0 := loadAverage()
		pinet := r.pinetLatencies(b, k)
		base := r.baselineLatencies(b, k, 1)
		load1 := loadAverage()
		p50, p95, b50, b95 := reportLatencies(b, pinet.took, base.took)
		s50, bs50 := percentile(pinet.started, 50), percentile(base.started, 50)
		b.ReportMetric(float64(pinet.panics), "panics")
		b.ReportMetric(float64(base.panics), "baseline-panics")
		b.ReportMetric(s50.Seconds(), "s-started-P50")
		b.ReportMetric(bs50.Seconds(), "s-baseline-started-P50")
		b.ReportMetric(cold.took[0].Seconds(), "s-cold-first")
		b.ReportMetric(alone.took[0].Seconds(), "s-baseline-alone")
		b.ReportMetric(load0, "load1-start")
		b.ReportMetric(load1, "load1-end")
		b.Logf("%d TCG guests 100 ms apart: request → console banner P50 %v P95 %v; libvirt define+start → banner P50 %v P95 %v; PiNet adds %v at P50; domain running after P50 %v (baseline %v); first PiNet launch (empty image cache) %v, first baseline guest (alone) %v; load average %.2f → %.2f",
			k, ms(p50), ms(p95), ms(b50), ms(b95), ms(p50-b50), ms(s50), ms(bs50), ms(cold.took[0]), ms(alone.took[0]), load0, load1)
		b.Logf("PiNet to banner: %v, to running domain: %v", roundAll(pinet.took), roundAll(pinet.started))
		b.Logf("baseline to banner: %v, to running domain: %v", roundAll(base.took), roundAll(base.started))
	}
}

func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

// guestImageFiles builds the sample guest image (into PINET_GUESTIMAGE_DIR, else the
// repository's .cache/guestimage; quick when it is up to date), or skips the benchmark when it
// cannot be built or QEMU is missing.
func guestImageFiles(b *testing.B) guestimage.Files {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("needs root: the embedded QEMU driver runs guests as root here and build.sh makes root-owned images")
	}
	for _, tool := range []string{"qemu-system-x86_64", "qemu-img", "mke2fs"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("no %s: real guests need QEMU (make deps)", tool)
		}
	}
	img, err := guestimage.Build("..")
	if err != nil {
		b.Skipf("the sample guest image cannot be built: %v", err)
	}
	return img
}

// guestRig is the benchmark's node: libvirt's embedded QEMU driver in a temp dir, a node agent
// on it in its own zone, and the benchmark's own connection to the same driver for the
// baseline and for reading what the agent defined.
type guestRig struct {
	f     *fixture
	img   guestimage.Files
	conn  *lv.Connect
	dir   string
	cl    *ec2.Client
	ami   string
	itype cloudv1.InstanceTypeSpec
	// pinetXML and baseXML are the inactive definitions of one PiNet domain and one baseline
	// domain, kept to check that both sides boot the same shape of domain.
	pinetXML, baseXML string
	pinetID, baseID   string
}

func startGuestRig(b *testing.B, f *fixture, img guestimage.Files, k int) *guestRig {
	b.Helper()
	root := b.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		b.Fatal(err)
	}
	conf := "stdio_handler = \"file\"\nuser = \"root\"\ngroup = \"root\"\ndynamic_ownership = 0\nsecurity_driver = \"none\"\n"
	if err := os.WriteFile(filepath.Join(root, "etc", "qemu.conf"), []byte(conf), 0o644); err != nil {
		b.Fatal(err)
	}
	uri := "qemu:///embed?root=" + root
	conn, err := lv.NewConnect(uri)
	if err != nil {
		// libvirt opens its embedded driver once per process, with one root: a second run in
		// the same process (-count 2) cannot have a root of its own.
		b.Skipf("libvirt's embedded QEMU driver cannot be opened (run with -count 1): %v", err)
	}
	// Registered before the node, so it runs after the node's agent has stopped: no guest
	// outlives the benchmark, whatever failed.
	b.Cleanup(func() {
		destroyAllDomains(b, conn)
		_, _ = conn.Close()
	})
	r := &guestRig{f: f, img: img, conn: conn, dir: b.TempDir()}
	var it cloudv1.InstanceType
	if err := f.cloud.Env.Client.Get(context.Background(), client.ObjectKey{Name: guestType}, &it); err != nil {
		b.Fatalf("instance type %s: %v", guestType, err)
	}
	r.itype = it.Spec
	f.cloud.AddProjectWithQuota(b, guestProject, testcloud.NoQuota())
	creds := f.cloud.AddUser(b, "guest-bencher", false, guestProject)
	room := int32(k + 1)
	f.cloud.AddNodeOn(b, uri, guestNode, guestZone, room*it.Spec.VCPUs, int64(room)*int64(it.Spec.MemoryMiB)*2,
		func(cfg *nodeagent.Config) {
			cfg.DomainType = string(cloudv1.DomainTypeQEMU)
			cfg.MaxInstances = room
		})
	// Registered after the node, so it runs before its agent stops: the Hypervisor stays in
	// the benchmarks' shared cloud, ready until its heartbeat is found missing, and the
	// benchmarks after this one would have their instances bound to a node no agent serves.
	b.Cleanup(func() { cordon(b, f, guestNode) })
	r.cl = f.cloud.EC2(creds)
	r.ami = registerGuestImages(b, f, creds, img)
	return r
}

// cordon marks the node unschedulable.
func cordon(b *testing.B, f *fixture, name string) {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var hv cloudv1.Hypervisor
		if err := f.cloud.Env.Client.Get(context.Background(), client.ObjectKey{Name: name}, &hv); err != nil {
			return err
		}
		hv.Spec.Unschedulable = true
		return f.cloud.Env.Client.Update(context.Background(), &hv)
	})
	if err != nil {
		b.Errorf("cordoning %s: %v", name, err)
	}
}

// destroyAllDomains removes every domain of the benchmark's private driver.
func destroyAllDomains(b *testing.B, conn *lv.Connect) {
	doms, err := conn.ListAllDomains(0)
	if err != nil {
		b.Logf("listing the guests left: %v", err)
		return
	}
	for _, d := range doms {
		if active, _ := d.IsActive(); active {
			_ = d.Destroy()
		}
		_ = d.Undefine()
		_ = d.Free()
	}
}

// registerGuestImages uploads the kernel, the initramfs and the root filesystem to a bucket of
// the project and registers them as an aki-, an ari- and an ami- image (the machine image
// naming the other two), as the local cloud registers its sample image; it returns the ami- id.
func registerGuestImages(b *testing.B, f *fixture, creds testcloud.Credentials, img guestimage.Files) string {
	b.Helper()
	ctx := context.Background()
	mc := f.cloud.S3(b, creds)
	bucket := "raw-" + guestProject
	if err := mc.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		b.Fatalf("making bucket %s: %v", bucket, err)
	}
	images := []struct {
		name, path string
		typ        cloudv1.ImageType
	}{
		{"guest-kernel", img.Kernel, cloudv1.ImageTypeKernel},
		{"guest-ramdisk", img.Initrd, cloudv1.ImageTypeRamdisk},
		{"guest-root", img.Root, cloudv1.ImageTypeMachine},
	}
	var ami string
	for _, i := range images {
		if _, err := mc.FPutObject(ctx, bucket, i.name, i.path, minio.PutObjectOptions{}); err != nil {
			b.Fatalf("uploading %s: %v", i.path, err)
		}
		spec := cloudv1.ImageSpec{ImageLocation: bucket + "/" + i.name, Format: cloudv1.ImageFormatRaw, Type: i.typ}
		if i.typ == cloudv1.ImageTypeMachine {
			spec.KernelID, spec.RamdiskID = "guest-kernel", "guest-ramdisk"
		}
		obj := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: i.name, Namespace: guestProject}, Spec: spec}
		if err := f.cloud.Env.Client.Create(ctx, obj); err != nil {
			b.Fatalf("registering %s: %v", i.name, err)
		}
		ami = waitImageAvailable(b, f, obj)
	}
	return ami
}

// waitImageAvailable waits until the image is stored and returns its id.
func waitImageAvailable(b *testing.B, f *fixture, img *cloudv1.Image) string {
	b.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 5*time.Minute, true,
		func(ctx context.Context) (bool, error) {
			if err := f.cloud.Env.Client.Get(ctx, client.ObjectKeyFromObject(img), img); err != nil {
				return false, nil
			}
			if img.Status.State == cloudv1.ImageStateFailed {
				return false, fmt.Errorf("image %s failed: %s", img.Name, img.Status.StateReason)
			}
			return img.Status.State == cloudv1.ImageStateAvailable, nil
		})
	if err != nil {
		b.Fatalf("image %s never became available: %v (state %q)", img.Name, err, img.Status.State)
	}
	return img.Status.ImageID
}

// guestWait bounds each guest's wait for its banner: a boot takes seconds, but k guests under
// TCG on a loaded two-core machine share those cores.
func guestWait(k int) time.Duration { return 5*time.Minute + time.Duration(k)*20*time.Second }

// launch is one guest's timing on either side.
type launch struct {
	id    string
	start time.Time
	// started is when its domain was first seen running by polling libvirt every guestPoll,
	// the same on both sides; took is when its console showed the banner; both from start.
	started, took time.Duration
	err           error
}

// pinetLatencies requests k instances 100 ms apart and returns each one's request → banner
// time (of those that booted) and how many guest kernels panicked; the instances are terminated
// and their domains gone when it returns.
func (r *guestRig) pinetLatencies(b *testing.B, k int) side {
	b.Helper()
	ctx := context.Background()
	ls := make([]launch, k)
	spaced(k, func(i int) {
		l := &ls[i]
		l.start = time.Now()
		out, err := r.cl.RunInstances(ctx, &ec2.RunInstancesInput{
			ImageId: aws.String(r.ami), InstanceType: types.InstanceType(guestType),
			MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
			Placement: &types.Placement{AvailabilityZone: aws.String(guestZone)},
		})
		if err != nil {
			l.err = fmt.Errorf("RunInstances: %w", err)
			return
		}
		l.id = aws.ToString(out.Instances[0].InstanceId)
		deadline := l.start.Add(guestWait(k))
		console, err := r.runningDomain(l.id, deadline)
		l.started = time.Since(l.start)
		if err == nil {
			err = waitBanner(console, l.id, deadline)
		}
		l.took, l.err = time.Since(l.start), err
	})
	var ids []string
	for _, l := range ls {
		if l.id != "" {
			ids = append(ids, l.id)
		}
	}
	if len(ids) > 0 && r.pinetXML == "" && ls[0].err == nil {
		r.pinetID, r.pinetXML = ls[0].id, r.inactiveXML(b, ls[0].id)
	}
	if len(ids) > 0 {
		terminateWith(b, r.cl, ids)
	}
	r.waitGone(b, ids)
	return durations(b, "PiNet", ls)
}

// runningDomain waits (polling every guestPoll) until the domain named id runs on the driver
// and returns the file its serial console is written to, as its definition says.
func (r *guestRig) runningDomain(id string, deadline time.Time) (string, error) {
	for {
		if d, err := r.conn.LookupDomainByName(id); err == nil {
			active, aerr := d.IsActive()
			x, err := d.GetXMLDesc(lv.DOMAIN_XML_INACTIVE)
			_ = d.Free()
			if aerr != nil || !active {
				if time.Now().After(deadline) {
					return "", fmt.Errorf("domain %s was never started (%v)", id, aerr)
				}
				time.Sleep(guestPoll)
				continue
			}
			if err != nil {
				return "", fmt.Errorf("definition of %s: %w", id, err)
			}
			var dom libvirtxml.Domain
			if err := dom.Unmarshal(x); err != nil {
				return "", fmt.Errorf("definition of %s: %w", id, err)
			}
			if dom.Devices == nil || len(dom.Devices.Serials) == 0 || dom.Devices.Serials[0].Source == nil ||
				dom.Devices.Serials[0].Source.File == nil {
				return "", fmt.Errorf("domain %s has no serial console file", id)
			}
			return dom.Devices.Serials[0].Source.File.Path, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no domain %s was defined", id)
		}
		time.Sleep(guestPoll)
	}
}

// errGuestPanicked is a guest kernel's panic before the banner. Under TCG on an overloaded host
// the kernel's early check of the emulated timer can fail ("IO-APIC + timer doesn't work!"): the
// guest's own sanity check, on either side, not a fault of PiNet or libvirt.
var errGuestPanicked = errors.New("the guest kernel panicked")

// waitBanner reads the console file every guestPoll until it shows the guest's banner.
func waitBanner(console, id string, deadline time.Time) error {
	want := []byte("PiNet guest: instance " + id + " booted")
	for {
		data, err := os.ReadFile(console)
		if err == nil && strings.Contains(string(data), string(want)) {
			return nil
		}
		if i := strings.Index(string(data), "Kernel panic"); i >= 0 {
			line, _, _ := strings.Cut(string(data[i:]), "\n")
			return fmt.Errorf("%w: %s", errGuestPanicked, strings.TrimSpace(line))
		}
		if time.Now().After(deadline) {
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			return fmt.Errorf("the console of %s never showed %q (last line %q, %v)", id, want, lines[len(lines)-1], err)
		}
		time.Sleep(guestPoll)
	}
}

// inactiveXML is the persistent definition of a domain.
func (r *guestRig) inactiveXML(b *testing.B, name string) string {
	b.Helper()
	d, err := r.conn.LookupDomainByName(name)
	if err != nil {
		b.Fatalf("looking up %s: %v", name, err)
	}
	defer func() { _ = d.Free() }()
	x, err := d.GetXMLDesc(lv.DOMAIN_XML_INACTIVE)
	if err != nil {
		b.Fatalf("definition of %s: %v", name, err)
	}
	return x
}

// waitGone waits until the driver has none of the named domains.
func (r *guestRig) waitGone(b *testing.B, names []string) {
	b.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, 5*time.Minute, true,
		func(context.Context) (bool, error) {
			for _, n := range names {
				if d, err := r.conn.LookupDomainByName(n); err == nil {
					_ = d.Free()
					return false, nil
				}
			}
			return true, nil
		})
	if err != nil {
		b.Fatalf("the domains of %v were not removed: %v", names, err)
	}
}

// baselineLatencies makes the disks of, defines and starts k domains straight through libvirt,
// 100 ms apart, and returns each one's time from making its disks until its console shows the
// banner (of those that booted) and how many guest kernels panicked; the domains are removed
// when it returns. Names start at the given index, so that every run uses new ones.
func (r *guestRig) baselineLatencies(b *testing.B, k, from int) side {
	b.Helper()
	ls := make([]launch, k)
	spaced(k, func(i int) {
		l := &ls[i]
		l.id = fmt.Sprintf("i-ba5e%013x", from*100000+i)
		l.start = time.Now()
		deadline := l.start.Add(guestWait(k))
		// Seen running the way PiNet's domains are: by polling, not by the start's return.
		seen := make(chan time.Duration, 1)
		go func() {
			_, _ = r.runningDomain(l.id, deadline)
			seen <- time.Since(l.start)
		}()
		console, err := r.defineAndStartGuest(l.id)
		if err == nil {
			l.started = <-seen
			err = waitBanner(console, l.id, deadline)
		}
		l.took, l.err = time.Since(l.start), err
	})
	if r.baseXML == "" && ls[0].err == nil {
		r.baseID, r.baseXML = ls[0].id, r.inactiveXML(b, ls[0].id)
		r.checkSameShape(b)
	}
	var names []string
	for _, l := range ls {
		if d, err := r.conn.LookupDomainByName(l.id); err == nil {
			_ = d.Destroy()
			_ = d.Undefine()
			_ = d.Free()
			names = append(names, l.id)
		}
	}
	r.waitGone(b, names)
	return durations(b, "baseline", ls)
}

// defineAndStartGuest does what a node agent must do for a guest, without the cloud: the
// instance type's disks over the same root image (a qcow2 overlay, and the read-only meta-data
// disk a node without networking gives every guest), and a domain like the agent's with the same
// kernel, initramfs and command line, defined and started. It returns the console file.
func (r *guestRig) defineAndStartGuest(id string) (string, error) {
	ctx := context.Background()
	dir := filepath.Join(r.dir, id)
	made, err := new(disks.Maker).Ensure(ctx, disks.Spec{Dir: dir, Base: r.img.Root, RootBytes: int64(r.itype.RootDiskGiB) << 30,
		EphemeralBytes: int64(r.itype.EphemeralDiskGiB) << 30, SwapBytes: int64(r.itype.SwapMiB) << 20})
	if err != nil {
		return "", fmt.Errorf("disks of %s: %w", id, err)
	}
	meta, err := disks.WriteMeta(dir, map[string][]byte{"meta-data/instance-id": []byte(id)})
	if err != nil {
		return "", fmt.Errorf("meta-data disk of %s: %w", id, err)
	}
	ds := []domainxml.Disk{{Path: made.Root, Format: "qcow2", Serial: "root"}}
	if made.Ephemeral != "" {
		ds = append(ds, domainxml.Disk{Path: made.Ephemeral, Format: "raw", Serial: "ephemeral0"})
	}
	if made.Swap != "" {
		ds = append(ds, domainxml.Disk{Path: made.Swap, Format: "raw", Serial: "swap"})
	}
	ds = append(ds, domainxml.Disk{Path: meta, Format: "raw", Serial: "pinet-meta", ReadOnly: true})
	console := filepath.Join(dir, "console.log")
	spec := domainxml.Spec{
		Name: id, UUID: "ba5e0000-0000-4000-8000-" + id[len(id)-12:],
		Owner: domainxml.Owner{Cloud: guestBaselineCloud, Namespace: "baseline", Name: id, UID: id, InstanceID: id},
		VCPUs: r.itype.VCPUs, MemoryMiB: r.itype.MemoryMiB, ConsoleLog: console, Disks: ds,
		Kernel: r.img.Kernel, Initrd: r.img.Initrd, Cmdline: "root=/dev/vda rw console=ttyS0 no_timer_check pinet.instance_id=" + id,
	}
	dom, err := domainxml.Convert(spec, domainxml.Host{DomainType: string(cloudv1.DomainTypeQEMU), Machine: "q35"})
	if err != nil {
		return "", err
	}
	x, err := domainxml.Marshal(dom)
	if err != nil {
		return "", err
	}
	d, err := r.conn.DomainDefineXML(x)
	if err != nil {
		return "", fmt.Errorf("defining %s: %w", id, err)
	}
	defer func() { _ = d.Free() }()
	if err := d.Create(); err != nil {
		return "", fmt.Errorf("starting %s: %w", id, err)
	}
	return console, nil
}

// checkSameShape fails the benchmark unless the baseline's domain is the agent's in everything
// but names, identities and file locations: type, machine, size, boot files (by size), command
// line, disks, consoles, interfaces and controllers.
func (r *guestRig) checkSameShape(b *testing.B) {
	b.Helper()
	if r.pinetXML == "" {
		b.Fatal("no PiNet domain was seen to compare the baseline's with")
	}
	p, err := domainShape(r.pinetXML, r.pinetID)
	if err != nil {
		b.Fatal(err)
	}
	q, err := domainShape(r.baseXML, r.baseID)
	if err != nil {
		b.Fatal(err)
	}
	if p != q {
		b.Fatalf("the baseline's domain differs from the agent's:\nagent:    %s\nbaseline: %s", p, q)
	}
}

// domainShape summarises a domain definition without its names, identities and file paths.
func domainShape(x, id string) (string, error) {
	var d libvirtxml.Domain
	if err := d.Unmarshal(x); err != nil {
		return "", fmt.Errorf("reading the definition of %s: %w", id, err)
	}
	if d.OS == nil || d.OS.Type == nil || d.Devices == nil || d.Memory == nil || d.VCPU == nil {
		return "", fmt.Errorf("definition of %s lacks its OS, size or devices", id)
	}
	size := func(path string) string {
		st, err := os.Stat(path)
		if err != nil {
			return "missing"
		}
		return strconv.FormatInt(st.Size(), 10)
	}
	var s strings.Builder
	fmt.Fprintf(&s, "type=%s machine=%s memory=%d%s vcpus=%d kernel=%s initrd=%s cmdline=%q",
		d.Type, d.OS.Type.Machine, d.Memory.Value, d.Memory.Unit, d.VCPU.Value,
		size(d.OS.Kernel), size(d.OS.Initrd), strings.ReplaceAll(d.OS.Cmdline, id, "ID"))
	for _, disk := range d.Devices.Disks {
		var format, target string
		if disk.Driver != nil {
			format = disk.Driver.Type
		}
		if disk.Target != nil {
			target = disk.Target.Dev + "/" + disk.Target.Bus
		}
		fmt.Fprintf(&s, " disk(%s %s %s ro=%t serial=%s)", disk.Device, format, target, disk.ReadOnly != nil, disk.Serial)
	}
	for _, c := range d.Devices.Controllers {
		fmt.Fprintf(&s, " controller(%s", c.Type)
		if c.Model != "" {
			fmt.Fprintf(&s, " %s", c.Model)
		}
		s.WriteString(")")
	}
	fmt.Fprintf(&s, " serials=%d consoles=%d interfaces=%d smbios=%t",
		len(d.Devices.Serials), len(d.Devices.Consoles), len(d.Devices.Interfaces), d.OS.SMBios != nil)
	return s.String(), nil
}

// spaced runs fn(0) … fn(k-1), each in its own goroutine, started 100 ms apart, and waits for
// all of them.
func spaced(k int, fn func(i int)) {
	var wg sync.WaitGroup
	tick := time.NewTicker(latencyGap)
	defer tick.Stop()
	for i := range k {
		if i > 0 {
			<-tick.C
		}
		wg.Go(func() { fn(i) })
	}
	wg.Wait()
}

// side is one side's run: the times of the guests that booted, to their banner and to their
// domain's start, and how many guest kernels panicked.
type side struct {
	took, started []time.Duration
	panics        int
}

// durations sums up the launches, logging each guest kernel's panic (errGuestPanicked); it fails
// the benchmark with every other error, or when no guest booted.
func durations(b *testing.B, name string, ls []launch) side {
	b.Helper()
	var errs []error
	var out side
	for _, l := range ls {
		switch {
		case errors.Is(l.err, errGuestPanicked):
			out.panics++
			b.Logf("%s guest %s did not boot, left out of the percentiles: %v", name, l.id, l.err)
		case l.err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", l.id, l.err))
		default:
			out.took = append(out.took, l.took)
			out.started = append(out.started, l.started)
		}
	}
	if err := errors.Join(errs...); err != nil {
		b.Fatalf("%s guests: %v", name, err)
	}
	if len(out.took) == 0 {
		b.Fatalf("none of the %d %s guests booted", len(ls), name)
	}
	return out
}

// loadAverage is the machine's 1-minute load average (0 when unreadable).
func loadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(fields[0], 64)
	return v
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(10 * time.Millisecond)
	}
	return out
}
