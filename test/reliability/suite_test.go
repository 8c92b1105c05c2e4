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

// Package reliability breaks a whole cloud (the real API server, manager, EC2 API, object store
// and node agents on libvirt) while it works — restarts of the node agent, of libvirtd and of the
// API server in the middle of launches and terminations, storms of concurrent calls that race for
// one thing — and checks what it converges to: every instance once, as one domain, nothing lost,
// nothing handed out twice.
//
// The short form runs in `make test`; -reliability.long runs more instances, more rounds and
// more racing callers (go test ./test/reliability -reliability.long -timeout 90m).
package reliability

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/sdkhttp"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

var (
	env  *testenv.Env
	long = flag.Bool("reliability.long", false, "run the long form of the reliability suite: more instances, rounds and racing callers")
)

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// Named waits; generous, because the machines that run the suite are loaded.
const (
	shortWait = time.Minute
	longWait  = 5 * time.Minute
)

// scale picks the short or the long form's size.
func scale(short, longForm int) int {
	if *long {
		return longForm
	}
	return short
}

// startCloud runs a cloud for one test: it ends, and its manager has stopped, when the test ends,
// so each test has the control plane to itself.
func startCloud(t *testing.T) *testcloud.Cloud {
	t.Helper()
	ctx, cancel := context.WithCancel(env.Ctx)
	c, err := testcloud.Start(env, testcloud.Options{TerminatedRetention: 2 * time.Second, Ctx: ctx})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-c.Done():
		case <-time.After(longWait):
			t.Error("the test cloud's manager did not stop")
		}
	})
	return c
}

// tenant is a project with a user, its EC2 client and a public machine image.
type tenant struct {
	project string
	creds   testcloud.Credentials
	ec2     *ec2.Client
	ami     string
}

// newTenant makes a project under quota q with a user, an EC2 client whose retries are not
// rationed (racing callers would otherwise exhaust the SDK's retry budget and see its own
// refusal instead of the cloud's answer) and an available machine image.
func newTenant(t *testing.T, c *testcloud.Cloud, project string, q cloudv1.ProjectQuota) *tenant {
	t.Helper()
	c.AddProjectWithQuota(t, project, q)
	creds := c.AddUser(t, project+"-user", false, project)
	cl := ec2.New(ec2.Options{
		BaseEndpoint: aws.String(c.EC2URL), Region: testcloud.Region,
		Credentials: c.EC2(creds).Options().Credentials,
		HTTPClient:  sdkhttp.New(),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.RateLimiter = ratelimit.None
			o.MaxAttempts = 5
		}),
	})
	ami := c.RegisterRawImage(t, creds, project, "img", []byte(strings.Repeat("reliable", 512)), false)
	return &tenant{project: project, creds: creds, ec2: cl, ami: ami}
}

// apiCode returns the EC2 error code of err, or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// instances lists the project's Instance objects by EC2 id (those without an id yet by name).
func instances(t *testing.T, project string) map[string]cloudv1.Instance {
	t.Helper()
	list := &cloudv1.InstanceList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace(project)); err != nil {
		t.Fatal(err)
	}
	out := map[string]cloudv1.Instance{}
	for _, inst := range list.Items {
		id := inst.Status.InstanceID
		if id == "" {
			id = inst.Name
		}
		if _, dup := out[id]; dup {
			t.Fatalf("two Instances hold the id %s", id)
		}
		out[id] = inst
	}
	return out
}

// domainsOf gathers the domains of the nodes by name ("node/uuid/state"); a name on two nodes
// is an error, as is a node whose libvirt does not answer (yet).
func domainsOf(nodes []*testcloud.Node) (map[string]string, error) {
	out := map[string]string{}
	for _, n := range nodes {
		list, err := n.Conn.List()
		if err != nil {
			return nil, fmt.Errorf("listing the domains of %s: %w", n.Name, err)
		}
		for _, d := range list {
			if other, dup := out[d.Name]; dup {
				return nil, fmt.Errorf("domain %s is on two nodes: %s and %s", d.Name, other, n.Name)
			}
			out[d.Name] = n.Name + "/" + d.UUID + "/" + d.State
		}
	}
	return out, nil
}

// converged checks that every one of ids is a running Instance, once, with exactly one domain,
// on the node it is bound to, whose UUID is the Instance's UID; and that the nodes run no other
// domain.
func converged(t *testing.T, project string, ids []string, nodes []*testcloud.Node) error {
	t.Helper()
	objs := instances(t, project)
	domains, err := domainsOf(nodes)
	if err != nil {
		return err
	}
	if len(objs) != len(ids) {
		return fmt.Errorf("%d Instances, want %d", len(objs), len(ids))
	}
	for _, id := range ids {
		inst, ok := objs[id]
		if !ok {
			return fmt.Errorf("instance %s is gone", id)
		}
		if inst.Status.State != cloudv1.InstanceStateRunning {
			return fmt.Errorf("instance %s is %q", id, inst.Status.State)
		}
		want := inst.Status.Hypervisor + "/" + string(inst.UID) + "/running"
		if got := domains[id]; got != want {
			return fmt.Errorf("instance %s: domain %q, want %q", id, got, want)
		}
	}
	if len(domains) != len(ids) {
		return fmt.Errorf("%d domains for %d instances: %v", len(domains), len(ids), domains)
	}
	return nil
}

// allGone checks that the project has no Instance left and the nodes no domain.
func allGone(t *testing.T, project string, nodes []*testcloud.Node) error {
	t.Helper()
	if objs := instances(t, project); len(objs) != 0 {
		for id, inst := range objs {
			return fmt.Errorf("%d Instances left, e.g. %s in %q", len(objs), id, inst.Status.State)
		}
	}
	d, err := domainsOf(nodes)
	if err != nil {
		return err
	}
	if len(d) != 0 {
		return fmt.Errorf("domains left: %v", d)
	}
	return nil
}

// launch runs n instances of type m1.tiny in zone in one RunInstances call and returns their ids.
func launch(t *testing.T, tn *tenant, zone string, n int) []string {
	t.Helper()
	out, err := tn.ec2.RunInstances(context.Background(), &ec2.RunInstancesInput{
		ImageId: aws.String(tn.ami), InstanceType: "m1.tiny", MinCount: aws.Int32(int32(n)), MaxCount: aws.Int32(int32(n)),
		Placement: &ec2types.Placement{AvailabilityZone: aws.String(zone)},
	})
	if err != nil {
		t.Fatalf("launching %d: %v", n, err)
	}
	ids := make([]string, 0, n)
	for _, inst := range out.Instances {
		ids = append(ids, aws.ToString(inst.InstanceId))
	}
	if len(ids) != n {
		t.Fatalf("launched %d, want %d", len(ids), n)
	}
	return ids
}

// terminate asks for the instances' termination.
func terminate(t *testing.T, tn *tenant, ids []string) {
	t.Helper()
	if _, err := tn.ec2.TerminateInstances(context.Background(), &ec2.TerminateInstancesInput{InstanceIds: ids}); err != nil {
		t.Fatalf("terminating %d: %v", len(ids), err)
	}
}

// runningCount counts the project's running instances.
func runningCount(t *testing.T, project string) int {
	t.Helper()
	n := 0
	for _, inst := range instances(t, project) {
		if inst.Status.State == cloudv1.InstanceStateRunning {
			n++
		}
	}
	return n
}

// waitFor waits until cond holds, without failing the test when it does not: restarts are timed
// by progress ("some instances are running"), and a slow machine may get past the point.
func waitFor(timeout time.Duration, cond func() bool) {
	deadline := time.Now().Add(timeout)
	for !cond() && time.Now().Before(deadline) {
		time.Sleep(testenv.PollInterval)
	}
}
