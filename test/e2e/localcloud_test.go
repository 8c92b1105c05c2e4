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

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"pinet.io/pinet/internal/testenv"
)

var cloud *Cloud

func TestMain(m *testing.M) {
	c, err := StartCloud()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cloud = c
	code := m.Run()
	c.Destroy()
	os.Exit(code)
}

func jsonpath(t *testing.T, kind, name, path string) string {
	t.Helper()
	out, err := cloud.Kubectl("", "get", kind, name, "-o", "jsonpath="+path)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The README's walk-through: apply the sample instance, watch it run as a real libvirt guest,
// delete it, and see the guest go.
func TestSampleInstanceRunsAndGoes(t *testing.T) {
	if out, err := cloud.Kubectl("", "apply", "-f", "config/samples/instance.yaml"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if out, err := cloud.Kubectl("", "wait", "--for=condition=Ready", "--timeout=3m", "instance/sample"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	id := jsonpath(t, "instance", "sample", "{.status.instanceId}")
	if !regexp.MustCompile(`^i-[0-9a-f]{17}$`).MatchString(id) {
		t.Fatalf("instance id %q", id)
	}
	for _, cond := range []string{"Scheduled", "Ready"} {
		if got := jsonpath(t, "instance", "sample", `{.status.conditions[?(@.type=="`+cond+`")].status}`); got != "True" {
			t.Fatalf("condition %s is %q", cond, got)
		}
	}
	if got := jsonpath(t, "instance", "sample", "{.status.state} {.status.hypervisor}"); got != "running e2e-node-1" {
		t.Fatalf("state and node: %q", got)
	}
	if out, err := cloud.Virsh("domstate", id); err != nil || strings.TrimSpace(out) != "running" {
		t.Fatalf("libvirt domain %s: %q %v", id, out, err)
	}
	assertQEMUNotRoot(t, id)
	assertMetricsLive(t)
	printed, err := cloud.Kubectl("", "get", "instances")
	if err != nil || !strings.Contains(printed, id) || !strings.Contains(printed, "running") {
		t.Fatalf("kubectl get instances does not show the instance: %v\n%s", err, printed)
	}

	if out, err := cloud.Kubectl("", "delete", "--timeout=3m", "-f", "config/samples/instance.yaml"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if out, err := cloud.Kubectl("", "get", "instance", "sample", "--ignore-not-found", "-o", "name"); err != nil || out != "" {
		t.Fatalf("instance still there after delete: %q %v", out, err)
	}
	if _, err := cloud.Virsh("dominfo", id); err == nil {
		t.Fatalf("domain %s survived the instance's deletion", id)
	}
}

// assertMetricsLive GETs the manager's metrics endpoint (PINET_METRICS_URL of the cloud's
// pinetrc) while an instance runs: PiNet's metrics are there with live values.
func assertMetricsLive(t *testing.T) {
	t.Helper()
	rc, err := cloud.RC()
	if err != nil {
		t.Fatal(err)
	}
	url := rc["PINET_METRICS_URL"]
	body := scrape(t, url)
	for _, want := range []string{`(?m)^pinet_instances\{state="running"\} [1-9]`, `(?m)^pinet_scheduler_schedule_latency_seconds_count [1-9]`} {
		if !regexp.MustCompile(want).Match(body) {
			t.Errorf("%s shows no line matching %s:\n%s", url, want, body)
		}
	}
}

// scrape GETs a metrics endpoint (a URL from the cloud's pinetrc) and returns its text.
func scrape(t *testing.T, url string) []byte {
	t.Helper()
	if url == "" {
		t.Fatal("the cloud's pinetrc does not export the metrics URL")
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	return body
}

// Bad manifests are refused by the API server with a message naming the field.
func TestInvalidManifestsAreRefused(t *testing.T) {
	for _, tc := range []struct{ name, manifest, want string }{
		{"missing image", `{"apiVersion":"cloud.pinet.io/v1alpha1","kind":"Instance","metadata":{"name":"bad1"},"spec":{"instanceType":"m1.tiny"}}`, "spec.imageId"},
		{"negative size", `{"apiVersion":"cloud.pinet.io/v1alpha1","kind":"InstanceType","metadata":{"name":"bad2"},"spec":{"vcpus":-1,"memoryMiB":512}}`, "spec.vcpus"},
		{"negative disk", `{"apiVersion":"cloud.pinet.io/v1alpha1","kind":"InstanceType","metadata":{"name":"bad3"},"spec":{"vcpus":1,"memoryMiB":512,"ephemeralDiskGiB":-5}}`, "spec.ephemeralDiskGiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := cloud.Kubectl(tc.manifest, "apply", "-f", "-")
			if err == nil {
				t.Fatalf("accepted: %s", out)
			}
			if !strings.Contains(out, tc.want) {
				t.Fatalf("error does not name %s: %s", tc.want, out)
			}
		})
	}
	// An unknown instance type can't be checked at admission: the instance says why it waits.
	bad := `{"apiVersion":"cloud.pinet.io/v1alpha1","kind":"Instance","metadata":{"name":"unknown-type"},"spec":{"imageId":"sample","instanceType":"m9.huge"}}`
	if out, err := cloud.Kubectl(bad, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	defer func() { _, _ = cloud.Kubectl("", "delete", "instance", "unknown-type", "--wait=false") }()
	testenv.Eventually(t, time.Minute, "Ready=False InstanceTypeNotFound", func() error {
		got := jsonpath(t, "instance", "unknown-type", `{.status.conditions[?(@.type=="Ready")].reason}`)
		if got != "InstanceTypeNotFound" {
			return fmt.Errorf("reason %q", got)
		}
		return nil
	})
	if got := jsonpath(t, "instance", "unknown-type", "{.status.state} {.status.hypervisor}"); got != "pending " {
		t.Fatalf("instance with an unknown type: %q", got)
	}
}

// `make down && make up` keeps the cloud's objects, and the instance runs again.
func TestDownUpKeepsObjects(t *testing.T) {
	manifest := `{"apiVersion":"cloud.pinet.io/v1alpha1","kind":"Instance","metadata":{"name":"survivor"},"spec":{"imageId":"sample","instanceType":"m1.tiny"}}`
	if out, err := cloud.Kubectl(manifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if out, err := cloud.Kubectl("", "wait", "--for=condition=Ready", "--timeout=3m", "instance/survivor"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	id := jsonpath(t, "instance", "survivor", "{.status.instanceId}")
	if err := cloud.Down(); err != nil {
		t.Fatal(err)
	}
	// Everything it started is stopped, the volume chain host too (its control socket goes with it).
	if pids, _ := filepath.Glob(filepath.Join(cloud.Dir, "pids", "*.pid")); len(pids) != 0 {
		t.Fatalf("processes left after down: %v", pids)
	}
	if _, err := os.Stat(filepath.Join(cloud.StateDir(), "nbd", "chains.ctl")); !os.IsNotExist(err) {
		t.Fatalf("the volume chain host's socket after down: %v", err)
	}
	if err := cloud.Up(); err != nil {
		t.Fatal(err)
	}
	if out, err := cloud.Kubectl("", "wait", "--for=condition=Ready", "--timeout=3m", "instance/survivor"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got := jsonpath(t, "instance", "survivor", "{.status.instanceId}"); got != id {
		t.Fatalf("instance id changed across down/up: %s -> %s", id, got)
	}
	if out, err := cloud.Virsh("domstate", id); err != nil || strings.TrimSpace(out) != "running" {
		t.Fatalf("domain after down/up: %q %v", out, err)
	}
	if out, err := cloud.Kubectl("", "delete", "--timeout=3m", "instance", "survivor"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
}
