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
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// cloud is the package's one cloud: a cloud's manager runs until the process ends, and two
// managers on one API server would both reconcile every object against their own stores.
var cloud = sync.OnceValues(func() (*testcloud.Cloud, error) { return testcloud.Start(env, testcloud.Options{}) })

const waitTimeout = 3 * time.Minute

// TestGetConsoleOutputLeavesGoroutines reads a running instance's console through the EC2 API
// 200 times: the manager (EC2 API, console client) and the node agent, both in this process,
// end with the goroutines they started with.
func TestGetConsoleOutputLeavesGoroutines(t *testing.T) {
	ctx := context.Background()
	c, err := cloud()
	if err != nil {
		t.Fatal(err)
	}
	c.AddProject(t, "consoles")
	creds := c.AddUser(t, "console-user", false, "consoles")
	ami := c.RegisterRawImage(t, creds, "consoles", "img", []byte(strings.Repeat("pinet", 100)), false)
	node := c.AddNode(t, "console-node", "console-zone", 4, 4096)
	cl := c.EC2(creds)

	run, err := cl.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), InstanceType: "m1.tiny",
		Placement: &types.Placement{AvailabilityZone: aws.String("console-zone")}})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	testenv.Eventually(t, waitTimeout, id+" to run", func() error {
		out, err := cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			return err
		}
		if len(out.Reservations) == 0 {
			return errors.New("not listed yet")
		}
		if state := out.Reservations[0].Instances[0].State.Name; state != types.InstanceStateNameRunning {
			return fmt.Errorf("state %s", state)
		}
		return nil
	})
	// The test driver writes no console; write one where the guest's serial console goes.
	if err := os.WriteFile(filepath.Join(node.StateDir(), "instances", id, "console.log"), []byte("login: "), 0o644); err != nil {
		t.Fatal(err)
	}
	read := func() error {
		out, err := cl.GetConsoleOutput(ctx, &ec2.GetConsoleOutputInput{InstanceId: aws.String(id)})
		if err != nil {
			return err
		}
		data, err := base64.StdEncoding.DecodeString(aws.ToString(out.Output))
		if err != nil {
			return err
		}
		if string(data) != "login: " {
			t.Fatalf("console %q", data)
		}
		return nil
	}
	testenv.Eventually(t, waitTimeout, "the console", read)
	time.Sleep(2 * time.Second)
	before := runtime.NumGoroutine()

	for i := range 200 {
		if err := read(); err != nil {
			t.Fatalf("GetConsoleOutput %d: %v", i, err)
		}
	}
	// The EC2 client's own idle connections are this test's, not the cloud's.
	if hc, ok := cl.Options().HTTPClient.(interface{ CloseIdleConnections() }); ok {
		hc.CloseIdleConnections()
	}
	const tolerance = 10
	testenv.Eventually(t, waitTimeout, "the goroutines to settle", func() error {
		if now := runtime.NumGoroutine(); now > before+tolerance {
			return fmt.Errorf("%d before 200 GetConsoleOutput calls, %d after", before, now)
		}
		return nil
	})
}
