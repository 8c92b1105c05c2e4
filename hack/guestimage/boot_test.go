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

// Package guestimage_test boots PiNet's sample guest image for real: QEMU under TCG (no KVM here),
// with the kernel, initramfs and root filesystem build.sh makes, and reads the serial console.
package guestimage_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"pinet.io/pinet/internal/guestimage"
)

const (
	// bootTimeout bounds every wait on the guest; a boot takes seconds, but under TCG on a loaded
	// two-core machine it can take many of them.
	bootTimeout = 3 * time.Minute
	// proxyEnv makes the test binary a one-connection TCP proxy from its standard input and
	// output to the address in the variable: QEMU's guestfwd runs it for each guest connection.
	proxyEnv = "PINET_GUESTIMAGE_PROXY_TO"
)

func TestMain(m *testing.M) {
	if target := os.Getenv(proxyEnv); target != "" {
		os.Exit(proxyStdio(target))
	}
	os.Exit(m.Run())
}

// proxyStdio copies standard input to a connection to target and the connection's replies to
// standard output, until the server is done answering.
func proxyStdio(target string) int {
	conn, err := net.DialTimeout("tcp", target, 10*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, "guestfwd proxy:", err)
		return 1
	}
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	go func() {
		_, _ = io.Copy(conn, os.Stdin)
		_ = conn.(*net.TCPConn).CloseWrite()
	}()
	_, _ = io.Copy(os.Stdout, conn)
	return 0
}

// buildImage runs build.sh into the cache directory; it is idempotent and quick when the image
// is up to date.
func buildImage(t *testing.T) guestimage.Files {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("booting the guest image needs root: build.sh runs apt-get download and makes device nodes and an ext4 image owned by root")
	}
	img, err := guestimage.Build(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// guestVM is one running QEMU.
type guestVM struct {
	t       *testing.T
	cmd     *exec.Cmd
	console string
	qmp     string
	started time.Time
	exited  chan struct{}
	stderr  *lockedBuffer
}

// bootOptions says how to start a guest.
type bootOptions struct {
	cmdline string
	disks   []string
	extra   []string
	env     []string
	// netns, when set, is the network namespace QEMU runs in (its taps are there).
	netns string
}

// boot starts QEMU under TCG with the image's kernel and initramfs, the serial console in a file
// and a QMP socket for pressing the power button; the guest is killed when the test ends.
func boot(t *testing.T, img guestimage.Files, opts bootOptions) *guestVM {
	t.Helper()
	dir := t.TempDir()
	vm := &guestVM{
		t:       t,
		console: filepath.Join(dir, "console.log"),
		qmp:     filepath.Join(dir, "qmp.sock"),
		exited:  make(chan struct{}),
		stderr:  &lockedBuffer{},
	}
	args := []string{
		"-machine", "q35", "-accel", "tcg", "-m", "256", "-nographic", "-no-reboot",
		"-kernel", img.Kernel, "-initrd", img.Initrd, "-append", opts.cmdline,
		"-serial", "file:" + vm.console, "-monitor", "none",
		"-qmp", "unix:" + vm.qmp + ",server=on,wait=off",
	}
	for _, d := range opts.disks {
		args = append(args, "-drive", "file="+d+",if=virtio,format=raw")
	}
	args = append(args, opts.extra...)
	vm.cmd = exec.Command("qemu-system-x86_64", args...)
	if opts.netns != "" {
		// ip netns exec enters the namespace and then runs QEMU in its own place: the pid is QEMU's.
		vm.cmd = exec.Command("ip", append([]string{"netns", "exec", opts.netns, "qemu-system-x86_64"}, args...)...)
	}
	vm.cmd.Env = append(os.Environ(), opts.env...)
	vm.cmd.Stdout = vm.stderr
	vm.cmd.Stderr = vm.stderr
	vm.started = time.Now()
	if err := vm.cmd.Start(); err != nil {
		t.Fatalf("starting qemu: %v", err)
	}
	go func() {
		_ = vm.cmd.Wait()
		close(vm.exited)
	}()
	t.Cleanup(func() {
		_ = vm.cmd.Process.Kill()
		<-vm.exited
		if t.Failed() {
			log, _ := os.ReadFile(vm.console)
			t.Logf("qemu output:\n%s\nconsole:\n%s", vm.stderr.String(), log)
		}
	})
	return vm
}

// waitFor waits until the console shows every line fragment, in order, failing the test when
// the guest exits first or bootTimeout passes.
func (vm *guestVM) waitFor(fragments ...string) {
	vm.t.Helper()
	deadline := time.After(bootTimeout)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		// Whether QEMU had exited is taken before reading the log, so the last lines count.
		exited := false
		select {
		case <-vm.exited:
			exited = true
		default:
		}
		log, _ := os.ReadFile(vm.console)
		missing := missingInOrder(string(log), fragments)
		switch {
		case missing == "":
			return
		case exited:
			vm.t.Fatalf("qemu exited before the console showed %q", missing)
		}
		select {
		case <-deadline:
			vm.t.Fatalf("after %s the console still lacks %q", bootTimeout, missing)
		case <-tick.C:
		case <-vm.exited:
		}
	}
}

// missingInOrder returns the first fragment not found in log after the previous one, or "".
func missingInOrder(log string, fragments []string) string {
	for _, f := range fragments {
		i := strings.Index(log, f)
		if i < 0 {
			return f
		}
		log = log[i+len(f):]
	}
	return ""
}

// waitExit waits for the guest to power itself off, which ends QEMU.
func (vm *guestVM) waitExit() {
	vm.t.Helper()
	select {
	case <-vm.exited:
	case <-time.After(bootTimeout):
		vm.t.Fatalf("the guest did not power off within %s", bootTimeout)
	}
	if !vm.cmd.ProcessState.Success() {
		vm.t.Errorf("qemu ended with %v, want a clean exit after the guest's power-off", vm.cmd.ProcessState)
	}
}

// powerButton presses the ACPI power button through QMP, as libvirt's shutdown does.
func (vm *guestVM) powerButton() {
	vm.t.Helper()
	conn, err := net.Dial("unix", vm.qmp)
	if err != nil {
		vm.t.Fatalf("connecting to QMP: %v", err)
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	dec := json.NewDecoder(bufio.NewReader(conn))
	var greeting map[string]any
	if err := dec.Decode(&greeting); err != nil || greeting["QMP"] == nil {
		vm.t.Fatalf("QMP greeting %v: %v", greeting, err)
	}
	for _, command := range []string{"qmp_capabilities", "system_powerdown"} {
		if _, err := fmt.Fprintf(conn, "{\"execute\":%q}\n", command); err != nil {
			vm.t.Fatalf("QMP %s: %v", command, err)
		}
		for { // skip asynchronous events until the command's answer
			var msg map[string]any
			if err := dec.Decode(&msg); err != nil {
				vm.t.Fatalf("QMP %s: %v", command, err)
			}
			if msg["error"] != nil {
				vm.t.Fatalf("QMP %s: %v", command, msg["error"])
			}
			if _, ok := msg["return"]; ok {
				break
			}
		}
	}
}

// logBootTime reports how long the guest took to reach the console's "ready".
func (vm *guestVM) logBootTime() {
	vm.t.Logf("guest ready %.1fs after qemu started", time.Since(vm.started).Seconds())
}

// diskCopy copies the root filesystem image for one guest, which writes to it.
func diskCopy(t *testing.T, src string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "root.img")
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

// blankDisk makes a sparse raw disk of size bytes.
func blankDisk(t *testing.T, name string, size int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return path
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// TestBootFromRootDisk boots the kernel and initramfs with the root filesystem as the first
// virtio disk and a blank second disk, then powers the guest off with the ACPI power button.
func TestBootFromRootDisk(t *testing.T) {
	t.Parallel()
	img := buildImage(t)
	root := diskCopy(t, img.Root)
	vm := boot(t, img, bootOptions{
		cmdline: "console=ttyS0 no_timer_check pinet.instance_id=i-0123456789abcdef0",
		disks:   []string{root, blankDisk(t, "data.img", 1<<30)},
		extra:   []string{"-nic", "none"},
	})
	vm.waitFor(
		"pinet initramfs: switching to /dev/vda",
		"PiNet guest: instance i-0123456789abcdef0 booted",
		"PiNet guest: instance id from kernel command line pinet.instance_id",
		fmt.Sprintf("PiNet guest: disk vda %d", fileSize(t, root)),
		"PiNet guest: disk vdb 1073741824",
		"PiNet guest: ready",
	)
	vm.logBootTime()
	vm.powerButton()
	vm.waitFor("PiNet guest: powering off (ACPI power button)")
	vm.waitExit()
}

// TestBootInitramfsWithSMBIOSSerial boots with the instance id only in the SMBIOS serial number
// and a first disk that holds no filesystem, so the initramfs runs the guest program itself.
func TestBootInitramfsWithSMBIOSSerial(t *testing.T) {
	t.Parallel()
	img := buildImage(t)
	vm := boot(t, img, bootOptions{
		cmdline: "console=ttyS0 no_timer_check",
		disks:   []string{blankDisk(t, "blank.img", 64<<20)},
		extra:   []string{"-smbios", "type=1,serial=i-0badc0ffee1234567", "-nic", "none"},
	})
	vm.waitFor(
		"pinet initramfs: no root disk; running the guest program from the initramfs",
		"PiNet guest: instance i-0badc0ffee1234567 booted",
		"PiNet guest: instance id from SMBIOS serial number",
		"PiNet guest: disk vda 67108864",
		"PiNet guest: ready",
	)
	vm.logBootTime()
}

// metadataServer is an EC2-style metadata service on loopback that records what it served.
type metadataServer struct {
	*httptest.Server
	mu     sync.Mutex
	served []string
}

// badOpenSSHKey is a public key the guest must refuse to install: its base64 is cut short.
const badOpenSSHKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPiNetTestKey test@pinet"

func newMetadataServer(t *testing.T, instanceID, userData, openSSHKey string) *metadataServer {
	t.Helper()
	entries := map[string]string{
		"/latest/meta-data/instance-id":               instanceID,
		"/latest/meta-data/local-ipv4":                "169.254.2.15",
		"/latest/meta-data/public-ipv4":               "203.0.113.7",
		"/latest/meta-data/hostname":                  "pinet-test-guest",
		"/latest/meta-data/public-keys/0/openssh-key": openSSHKey + "\n",
		"/latest/user-data":                           userData,
	}
	if userData == "" {
		delete(entries, "/latest/user-data")
	}
	s := &metadataServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.served = append(s.served, r.URL.Path)
		s.mu.Unlock()
		body, ok := entries[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *metadataServer) servedPaths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.served...)
}

// metadataNetwork returns QEMU arguments and environment for a user-mode network whose
// 169.254.169.254:80 reaches srv. libslirp only forwards addresses inside its own network, so
// the network is 169.254.0.0/16; guestfwd to a tcp: chardev serves a single connection, so each
// guest connection runs this test binary as a proxy (cmd:) instead. restrict=on keeps the guest
// from reaching anything else. Each hostfwd (QEMU's "tcp:HOSTADDR:PORT-:GUESTPORT") forwards a
// host port to the guest.
func metadataNetwork(t *testing.T, srv *metadataServer, hostfwds ...string) (args, env []string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(exe, "', ") {
		t.Fatalf("test binary path %q cannot be passed to guestfwd", exe)
	}
	netdev := "user,id=net0,restrict=on,net=169.254.0.0/16,guestfwd=tcp:169.254.169.254:80-cmd:" + exe
	for _, fwd := range hostfwds {
		netdev += ",hostfwd=" + fwd
	}
	args = []string{"-netdev", netdev, "-device", "virtio-net-pci,netdev=net0"}
	return args, []string{proxyEnv + "=" + srv.Listener.Addr().String()}
}

// TestBootWithMetadataService boots with a virtio NIC on QEMU's user network and no instance id
// but the metadata service's; the guest gets DHCP, reads meta-data and runs its user data.
func TestBootWithMetadataService(t *testing.T) {
	t.Parallel()
	img := buildImage(t)
	userData := "#!/bin/sh\necho \"user-data-marker on $(hostname)\"\nexit 0\n"
	srv := newMetadataServer(t, "i-0fedcba9876543210", userData, badOpenSSHKey)
	sshAddr := freeLoopbackAddr(t)
	netArgs, env := metadataNetwork(t, srv, sshForward(sshAddr))
	vm := boot(t, img, bootOptions{
		cmdline: "console=ttyS0 no_timer_check",
		disks:   []string{diskCopy(t, img.Root)},
		extra:   netArgs,
		env:     env,
	})
	vm.waitFor(
		"udhcpc: eth0 169.254.2.15/16",
		"PiNet guest: meta-data instance-id=i-0fedcba9876543210",
		"PiNet guest: meta-data local-ipv4=169.254.2.15",
		"PiNet guest: meta-data public-ipv4=203.0.113.7",
		"PiNet guest: meta-data hostname=pinet-test-guest",
		"PiNet guest: meta-data public-keys/0/openssh-key="+badOpenSSHKey,
		"PiNet guest: instance i-0fedcba9876543210 booted",
		"PiNet guest: instance id from metadata service",
		"PiNet guest: ssh: public-keys/0/openssh-key not installed: line 1: ssh-ed25519 key: bad base64",
		"PiNet guest: sshd listening on port 22",
		"user-data-marker on pinet-test-guest",
		"PiNet guest: user-data exit 0",
		"PiNet guest: ready",
	)
	vm.logBootTime()
	served := strings.Join(srv.servedPaths(), " ")
	for _, path := range []string{"/latest/meta-data/instance-id", "/latest/user-data"} {
		if !strings.Contains(served, path) {
			t.Errorf("metadata server served %s, want %s among them", served, path)
		}
	}
	// The key was refused, so nobody gets in: not even with a key, and passwords are off.
	refusedLogin(t, sshAddr, newClientKey(t))
}

// TestGuestStopsItself has user data run shutdown -h, which must power the guest off.
func TestGuestStopsItself(t *testing.T) {
	t.Parallel()
	img := buildImage(t)
	srv := newMetadataServer(t, "i-0123456789abcdef0", "#!/bin/sh\necho stopping myself\nshutdown -h now\nsleep 600\n", badOpenSSHKey)
	netArgs, env := metadataNetwork(t, srv)
	vm := boot(t, img, bootOptions{
		cmdline: "console=ttyS0 no_timer_check pinet.instance_id=i-0123456789abcdef0",
		disks:   []string{diskCopy(t, img.Root)},
		extra:   netArgs,
		env:     env,
	})
	vm.waitFor(
		"PiNet guest: instance i-0123456789abcdef0 booted",
		"stopping myself",
		"PiNet guest: powering off (SIGUSR2: poweroff or shutdown -h)",
	)
	vm.waitExit()
	if log, _ := os.ReadFile(vm.console); strings.Contains(string(log), "PiNet guest: ready") {
		t.Errorf("the guest reported ready although its user data powered it off first")
	}
}

// lockedBuffer collects QEMU's output from its copying goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
