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

package metrics_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"pinet.io/pinet/internal/metrics"
)

// Two sets built on one registry share its collectors: what one records, the registry shows once.
func TestSetsOnOneRegistryShareCollectors(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := metrics.NewEC2(reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := metrics.NewEC2(reg)
	if err != nil {
		t.Fatalf("a second set on the same registry: %v", err)
	}
	a.Observe("RunInstances", "Success", time.Millisecond)
	b.Observe("RunInstances", "Success", time.Millisecond)
	b.Observe("", "InvalidAction", time.Millisecond)
	if n, err := testutil.GatherAndCount(reg, "pinet_ec2_requests_total"); err != nil || n != 2 {
		t.Fatalf("%d series of pinet_ec2_requests_total, %v; want 2 (RunInstances/Success, unknown/InvalidAction)", n, err)
	}
}

// A registry that holds another metric of the same name refuses the set with an error.
func TestConflictingRegistrationIsAnError(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "pinet_s3_requests_total", Help: "not ours"}))
	if m, err := metrics.NewS3(reg); err == nil {
		t.Fatalf("NewS3 on a registry with a conflicting metric succeeded: %v", m)
	}
}

// A nil set records nothing and does not fail.
func TestNilSetsRecordNothing(t *testing.T) {
	var ec2 *metrics.EC2
	var s3 *metrics.S3
	var ctl *metrics.Controllers
	var agent *metrics.NodeAgent
	ec2.Observe("RunInstances", "Success", time.Second)
	s3.Observe("PutObject", 200, 1, 2, time.Second)
	ctl.ObserveBound(time.Now(), time.Now())
	ctl.ObserveImport("stored", time.Second)
	agent.ObserveDownload(1, time.Second, nil)
	agent.ObserveIO("target", true, 512, nil)
}
