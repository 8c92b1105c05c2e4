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
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

// The API server goes down (etcd keeps every object) in the middle of a RunInstances call, of the
// launch it started and of the terminations, and comes back on the same address: the EC2 API,
// the controllers and the agents reconnect; a retry of the interrupted call with its ClientToken
// gets the one reservation; every instance runs once, then goes.
func TestAPIServerRestarts(t *testing.T) {
	c := startCloud(t)
	const zone = "rel-apiserver"
	nodes := []*testcloud.Node{
		c.AddNode(t, "rel-apiserver-1", zone, 64, 65536),
		c.AddNode(t, "rel-apiserver-2", zone, 64, 65536),
	}
	tn := newTenant(t, c, "rel-apiserver", testcloud.NoQuota())
	n, rounds := scale(16, 80), scale(1, 4)
	ctx := context.Background()
	in := &ec2.RunInstancesInput{
		ImageId: aws.String(tn.ami), InstanceType: "m1.tiny", MinCount: aws.Int32(int32(n)), MaxCount: aws.Int32(int32(n)),
		Placement: &ec2types.Placement{AvailabilityZone: aws.String(zone)}, ClientToken: aws.String("rel-apiserver-launch"),
	}

	// Killed while the call creates the instances: whatever the call answered, its retry
	// answers with the whole reservation.
	first := make(chan error, 1)
	go func() {
		_, err := tn.ec2.RunInstances(ctx, in)
		first <- err
	}()
	// Polled fast, to catch the call part way through its creates.
	for deadline := time.Now().Add(shortWait); len(instances(t, tn.project)) == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("killing the API server with %d of %d Instances made", len(instances(t, tn.project)), n)
	restartAPIServer(t, apiServerDown)
	t.Logf("the interrupted RunInstances answered %v", <-first)
	var out *ec2.RunInstancesOutput
	testenv.Eventually(t, longWait, "the retried RunInstances to answer", func() error {
		var err error
		out, err = tn.ec2.RunInstances(ctx, in)
		return err
	})
	if len(out.Instances) != n {
		t.Fatalf("the retried launch answered %d instances, want %d", len(out.Instances), n)
	}
	ids := make([]string, n)
	for i, inst := range out.Instances {
		ids[i] = aws.ToString(inst.InstanceId)
	}

	for round := range rounds {
		waitFor(shortWait, func() bool { return runningCount(t, tn.project) >= (round+1)*n/(rounds+1) })
		t.Logf("killing the API server with %d of %d instances running", runningCount(t, tn.project), n)
		restartAPIServer(t, apiServerDown)
	}
	testenv.Eventually(t, longWait, "the launch to converge after the API server's restarts", func() error {
		return converged(t, tn.project, ids, nodes)
	})
	// The EC2 API's cache came back too: it describes the reservation as it is.
	testenv.Eventually(t, longWait, "DescribeInstances to show the reservation running", func() error {
		d, err := tn.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		if err != nil {
			return err
		}
		if len(d.Reservations) != 1 || len(d.Reservations[0].Instances) != n {
			return fmt.Errorf("%d reservations", len(d.Reservations))
		}
		for _, inst := range d.Reservations[0].Instances {
			if inst.State.Name != ec2types.InstanceStateNameRunning {
				return fmt.Errorf("%s is %s", aws.ToString(inst.InstanceId), inst.State.Name)
			}
		}
		return nil
	})

	terminate(t, tn, ids)
	restartAPIServer(t, apiServerDown)
	testenv.Eventually(t, longWait, "the terminations to converge after the API server's restart", func() error {
		return allGone(t, tn.project, nodes)
	})
}

// apiServerDown is how long the API server stays down: long enough for every client's
// requests and watches to fail.
const apiServerDown = 500 * time.Millisecond

// restartAPIServer kills the API server, leaves it down for pause and starts it again.
func restartAPIServer(t *testing.T, pause time.Duration) {
	t.Helper()
	if err := env.StopAPIServer(true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(pause)
	if err := env.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
}
