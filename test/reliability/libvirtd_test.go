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

package reliability

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
	"pinet.io/pinet/nodeagent"
)

// privateLibvirtd is a libvirtd of the test's own: an unprivileged session daemon (as user
// nobody) with its socket and state under a temporary directory, so that killing it touches no
// other libvirtd on the machine. Node agents reach its test driver through it
// (test+unix://<node.xml>?socket=…): the real remote protocol, whose connection dies with the
// daemon. The test driver keeps its domains in the daemon's memory, so a killed daemon loses
// them, as a rebooted host would; the agents must make them again.
type privateLibvirtd struct {
	dir, sock, nodeXML string
	cmd                *exec.Cmd
}

const nobody = 65534

func startPrivateLibvirtd(t *testing.T) *privateLibvirtd {
	t.Helper()
	path, err := exec.LookPath("libvirtd")
	if err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and libvirtd (make deps)")
	}
	dir, err := os.MkdirTemp("", "pt-rel-libvirtd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	d := &privateLibvirtd{dir: dir, sock: filepath.Join(dir, "run", "libvirt-sock"), nodeXML: filepath.Join(dir, "node.xml")}
	for _, sub := range []string{"home", "run"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(filepath.Join(dir, sub), nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"libvirtd.conf": "unix_sock_dir = \"" + filepath.Join(dir, "run") + "\"\n",
		"node.xml":      "<node></node>\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d.start(t, path)
	t.Cleanup(func() { d.kill(t) })
	return d
}

// URI is the node's libvirt URI through the daemon.
func (d *privateLibvirtd) URI() string {
	return "test+unix://" + d.nodeXML + "?socket=" + d.sock
}

func (d *privateLibvirtd) start(t *testing.T, path string) {
	t.Helper()
	_ = os.Remove(d.sock)
	home := filepath.Join(d.dir, "home")
	cmd := exec.Command(path, "--config", filepath.Join(d.dir, "libvirtd.conf"))
	cmd.Dir = home
	cmd.Env = []string{"HOME=" + home, "XDG_RUNTIME_DIR=" + filepath.Join(d.dir, "run"),
		"XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "XDG_CACHE_HOME=" + filepath.Join(home, "cache"),
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	log, err := os.Create(filepath.Join(d.dir, "libvirtd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}, Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting libvirtd: %v", err)
	}
	d.cmd = cmd
	testenv.Eventually(t, shortWait, "the private libvirtd to listen", func() error {
		c, err := net.Dial("unix", d.sock)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// kill kills the daemon at once (SIGKILL), as a crash would, and waits for it to go.
func (d *privateLibvirtd) kill(t *testing.T) {
	t.Helper()
	if d.cmd == nil {
		return
	}
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	_ = d.cmd.Wait()
	d.cmd = nil
}

// restart kills the daemon and starts it again after pause.
func (d *privateLibvirtd) restart(t *testing.T, pause time.Duration) {
	t.Helper()
	path := d.cmd.Path
	d.kill(t)
	time.Sleep(pause)
	d.start(t, path)
}

// libvirtd is killed during a launch and during terminations, and comes back with none of its
// domains: the agent reconnects and makes exactly the domains of the instances that should run.
func TestLibvirtdRestarts(t *testing.T) {
	d := startPrivateLibvirtd(t)
	c := startCloud(t)
	const zone = "rel-libvirtd"
	n, rounds := scale(16, 80), scale(2, 5)
	// One node with room for every instance: the agent's default of 64 instances left the long
	// form's last 16 pending for ever.
	room := int32(max(64, n))
	nodes := []*testcloud.Node{c.AddNodeOn(t, d.URI(), "rel-libvirtd-1", zone, room, int64(room)*1024,
		func(cfg *nodeagent.Config) { cfg.MaxInstances = room })}
	tn := newTenant(t, c, "rel-libvirtd", testcloud.NoQuota())

	ids := launch(t, tn, zone, n)
	for round := range rounds {
		waitFor(shortWait, func() bool { return runningCount(t, tn.project) >= (round+1)*n/(rounds+1) })
		t.Logf("killing libvirtd with %d of %d instances running", runningCount(t, tn.project), n)
		d.restart(t, time.Second)
	}
	testenv.Eventually(t, longWait, "the launch to converge after libvirtd's restarts", func() error {
		return converged(t, tn.project, ids, nodes)
	})

	terminate(t, tn, ids[:n/2])
	d.restart(t, time.Second)
	testenv.Eventually(t, longWait, "half the instances to go, the rest to run again", func() error {
		return converged(t, tn.project, ids[n/2:], nodes)
	})
	terminate(t, tn, ids[n/2:])
	d.restart(t, 0)
	testenv.Eventually(t, longWait, "the terminations to converge after libvirtd's restarts", func() error {
		return allGone(t, tn.project, nodes)
	})
}
