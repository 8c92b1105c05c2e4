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

package testcloud_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/minio/minio-go/v7"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/testenv"
	"pinet.io/pinet/nodeagent"
)

// scrape GETs the cloud's metrics endpoint and parses the answer.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing %s: %v", url, err)
	}
	return fams
}

// value is the value of the sample of family name whose labels include want (a counter's or
// gauge's value, a histogram's count); found is false when there is none.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (v float64, found bool) {
	fam := fams[name]
	if fam == nil {
		return 0, false
	}
next:
	for _, m := range fam.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for k, w := range want {
			if labels[k] != w {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// requestIDs records the requestId of every EC2 answer a client receives.
type requestIDs struct {
	mu  sync.Mutex
	ids []string
}

var requestIDElement = regexp.MustCompile(`<requestId>([^<]+)</requestId>`)

func (r *requestIDs) Do(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if m := requestIDElement.FindSubmatch(body); m != nil {
		r.mu.Lock()
		r.ids = append(r.ids, string(m[1]))
		r.mu.Unlock()
	}
	return resp, nil
}

func (r *requestIDs) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ids) == 0 {
		return ""
	}
	return r.ids[len(r.ids)-1]
}

// TestMetricsMoveWithCalls drives the cloud through the EC2 API and S3 and scrapes its metrics
// endpoint: EC2 calls by action and code, S3 requests and bytes, the image import, the
// scheduling latency and the instances by state all show what happened, and the node agent's
// own endpoint shows the image download. The instance carries
// the RequestId of the call that last changed it.
func TestMetricsMoveWithCalls(t *testing.T) {
	ctx := context.Background()
	c, err := cloud()
	if err != nil {
		t.Fatal(err)
	}
	c.AddProject(t, "metrics")
	creds := c.AddUser(t, "metrics-user", false, "metrics")
	data := []byte(strings.Repeat("pinet", 200))
	ami := c.RegisterRawImage(t, creds, "metrics", "img", data, false)
	// The node agent serves its own metrics endpoint, as cmd/nodeagent does with
	// --metrics-bind-address: controller-runtime's registry, with the agent's metrics on it.
	agentMetrics := freeAddress(t)
	c.AddNodeWith(t, "metrics-node", "metrics-zone", 4, 4096, func(cfg *nodeagent.Config) {
		cfg.MetricsAddr, cfg.Metrics = agentMetrics, crmetrics.Registry
	})
	ids := &requestIDs{}
	cl := ec2.New(c.EC2(creds).Options(), func(o *ec2.Options) { o.HTTPClient = ids })

	run, err := cl.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), InstanceType: "m1.tiny",
		Placement: &types.Placement{AvailabilityZone: aws.String("metrics-zone")}})
	if err != nil {
		t.Fatal(err)
	}
	runID := ids.last()
	id := aws.ToString(run.Instances[0].InstanceId)
	waitState(t, cl, id, types.InstanceStateNameRunning)
	if _, err := cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"i-00000000000000000"}}); err == nil {
		t.Fatal("DescribeInstances of an unknown id succeeded")
	}
	obj, err := c.S3(t, creds).GetObject(ctx, "raw-metrics", "img", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(obj); err != nil || len(got) != len(data) {
		t.Fatalf("GetObject: %d bytes, %v", len(got), err)
	}

	inst := &cloudv1.Instance{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "metrics", Name: id}, inst); err != nil {
		t.Fatal(err)
	}
	if runID == "" || requestIDOf(inst) != runID {
		t.Errorf("instance annotated with request id %q, RunInstances answered %q", requestIDOf(inst), runID)
	}

	testenv.Eventually(t, waitTimeout, "the metrics to show the calls", func() error {
		fams := scrape(t, c.MetricsURL)
		for _, w := range []struct {
			name   string
			labels map[string]string
			least  float64
		}{
			{"pinet_ec2_requests_total", map[string]string{"action": "RunInstances", "code": "Success"}, 1},
			{"pinet_ec2_requests_total", map[string]string{"action": "DescribeInstances", "code": "InvalidInstanceID.NotFound"}, 1},
			{"pinet_ec2_request_duration_seconds", map[string]string{"action": "RunInstances"}, 1},
			{"pinet_s3_requests_total", map[string]string{"operation": "PutObject", "status": "200"}, 1},
			{"pinet_s3_received_bytes_total", map[string]string{"operation": "PutObject"}, float64(len(data))},
			{"pinet_s3_sent_bytes_total", map[string]string{"operation": "GetObject"}, float64(len(data))},
			{"pinet_image_import_duration_seconds", map[string]string{"result": "stored"}, 1},
			{"pinet_scheduler_schedule_latency_seconds", nil, 1},
			{"pinet_instances", map[string]string{"state": "running"}, 1},
		} {
			if v, ok := value(fams, w.name, w.labels); !ok || v < w.least {
				return fmt.Errorf("%s%v = %v (present %v), want at least %v", w.name, w.labels, v, ok, w.least)
			}
		}
		return nil
	})

	testenv.Eventually(t, waitTimeout, "the node agent's metrics to show the image download", func() error {
		fams := scrape(t, "http://"+agentMetrics+"/metrics")
		if v, ok := value(fams, "pinet_image_download_duration_seconds", map[string]string{"result": "ok"}); !ok || v < 1 {
			return fmt.Errorf("downloads %v (present %v)", v, ok)
		}
		if v, _ := value(fams, "pinet_image_downloaded_bytes_total", map[string]string{"result": "ok"}); v < float64(len(data)) {
			return fmt.Errorf("downloaded %v bytes, the image has %d", v, len(data))
		}
		return nil
	})

	// Other tests' instances share the cloud: count from what runs before the termination.
	runningBefore, _ := value(scrape(t, c.MetricsURL), "pinet_instances", map[string]string{"state": "running"})
	if _, err := cl.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	termID := ids.last()
	testenv.Eventually(t, waitTimeout, "the instance counted as terminated", func() error {
		fams := scrape(t, c.MetricsURL)
		running, _ := value(fams, "pinet_instances", map[string]string{"state": "running"})
		terminated, _ := value(fams, "pinet_instances", map[string]string{"state": "terminated"})
		if running != runningBefore-1 || terminated < 1 {
			return fmt.Errorf("running %v, terminated %v", running, terminated)
		}
		return nil
	})
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "metrics", Name: id}, inst); err != nil {
		t.Fatal(err)
	}
	if termID == runID || requestIDOf(inst) != termID {
		t.Errorf("after TerminateInstances (request %q) the instance carries request id %q", termID, requestIDOf(inst))
	}
	// Its life is told in events: running, terminated with the reason (the node agent's start of
	// the domain is the Running event's, not one of its own; its first binding is told by the
	// Scheduled condition and status.hypervisor, not by an event).
	var notes map[string]string
	testenv.Eventually(t, waitTimeout, "the instance's events", func() error {
		list := &eventsv1.EventList{}
		if err := env.Client.List(ctx, list, client.InNamespace("metrics")); err != nil {
			return err
		}
		notes = map[string]string{}
		for _, e := range list.Items {
			if e.Regarding.Name == inst.Name {
				notes[e.Reason] = e.Note
			}
		}
		for _, reason := range []string{"Running", "Terminated"} {
			if _, ok := notes[reason]; !ok {
				return fmt.Errorf("no %s event among %v", reason, notes)
			}
		}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), inst); err != nil {
			return err
		}
		if why := inst.Status.StateReason; why == "" || !strings.HasSuffix(notes["Terminated"], ": "+why) {
			return fmt.Errorf("the Terminated event %q does not give the reason %q", notes["Terminated"], why)
		}
		return nil
	})
	if _, ok := notes["Scheduled"]; ok {
		t.Errorf("a first binding made a Scheduled event: %v", notes)
	}
}

// freeAddress is a loopback address with a port free a moment ago.
func freeAddress(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func requestIDOf(inst *cloudv1.Instance) string { return inst.Annotations[cloudv1.AnnotationRequestID] }

// waitState waits until the EC2 API reports instance id in state.
func waitState(t *testing.T, cl *ec2.Client, id string, state types.InstanceStateName) {
	t.Helper()
	testenv.Eventually(t, waitTimeout, id+" to be "+string(state), func() error {
		out, err := cl.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			return err
		}
		if len(out.Reservations) == 0 {
			return errors.New("not listed yet")
		}
		if got := out.Reservations[0].Instances[0].State.Name; got != state {
			return fmt.Errorf("state %s", got)
		}
		return nil
	})
}
