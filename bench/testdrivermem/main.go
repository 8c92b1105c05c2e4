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

// Command testdrivermem is BenchmarkMemory's baseline for the node agent: libvirt's test driver
// alone, in a process of its own, defining and starting -n domains shaped as the agent's on a
// simulated node (root and meta-data disks, a console log). On the test driver the simulated
// hypervisor lives inside the agent's process, so the agent's resident set holds these domains
// too; on a real node they live in libvirtd. It prints the process's resident set and its
// anonymous part (bytes) before and after, as JSON.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"pinet.io/pinet/nodeagent/domainxml"
	"pinet.io/pinet/nodeagent/libvirt"
)

// Result is what the command prints.
type Result struct {
	RSSBefore, AnonBefore, RSSAfter, AnonAfter int64
}

func main() {
	n := flag.Int("n", 1000, "Domains to define and start.")
	flag.Parse()
	if err := run(*n); err != nil {
		fmt.Fprintln(os.Stderr, "testdrivermem:", err)
		os.Exit(1)
	}
}

func run(n int) error {
	if n <= 0 {
		return fmt.Errorf("-n must be positive, got %d", n)
	}
	dir, err := os.MkdirTemp("", "testdrivermem-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	nodeXML := filepath.Join(dir, "node.xml")
	if err := os.WriteFile(nodeXML, []byte("<node></node>\n"), 0o644); err != nil {
		return err
	}
	conn, err := libvirt.Open(context.Background(), "test://"+nodeXML)
	if err != nil {
		return err
	}
	defer conn.Close()
	var res Result
	runtime.GC()
	if res.RSSBefore, res.AnonBefore, err = resident(); err != nil {
		return err
	}
	for i := range n {
		if err := defineAndStart(conn, dir, i); err != nil {
			return err
		}
	}
	runtime.GC()
	if res.RSSAfter, res.AnonAfter, err = resident(); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

func defineAndStart(conn *libvirt.Conn, dir string, i int) error {
	name := fmt.Sprintf("i-%017x", i)
	uuid := fmt.Sprintf("6f1c1b8e-6a55-4a55-9d55-%012x", i)
	inst := filepath.Join(dir, "instances", name)
	d, err := domainxml.Convert(domainxml.Spec{
		Name: name, UUID: uuid,
		Owner: domainxml.Owner{Cloud: "0b6f3c1e-1d2a-4c55-9a55-2b0d1b8e6a00", Namespace: "bench-memory",
			Name: fmt.Sprintf("mem-%d", i), UID: uuid, InstanceID: name, Node: "baseline"},
		VCPUs: 1, MemoryMiB: 512,
		ConsoleLog: filepath.Join(inst, "console.log"),
		Disks: []domainxml.Disk{
			{Path: filepath.Join(inst, "root.qcow2"), Format: "qcow2", Serial: "root"},
			{Path: filepath.Join(inst, "meta.img"), Format: "raw", Serial: "meta", ReadOnly: true},
		},
	}, domainxml.Host{DomainType: "test"})
	if err != nil {
		return err
	}
	xml, err := domainxml.Marshal(d)
	if err != nil {
		return err
	}
	if err := conn.Define(xml); err != nil {
		return fmt.Errorf("defining %s: %w", name, err)
	}
	if err := conn.Start(name); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	return nil
}

// resident reads VmRSS and RssAnon of this process, in bytes.
func resident() (rss, anon int64, err error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "RssAnon") {
			continue
		}
		kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", name, err)
		}
		if name == "VmRSS" {
			rss = kib << 10
		} else {
			anon = kib << 10
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("no VmRSS in /proc/self/status")
	}
	return rss, anon, nil
}
