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

package ec2shim_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

var (
	env   *testenv.Env
	cloud *testcloud.Cloud
)

func TestMain(m *testing.M) {
	testenv.Main(m, &env)
}

var startOnce sync.Once

// theCloud starts the package's cloud once.
func theCloud(t *testing.T) *testcloud.Cloud {
	t.Helper()
	startOnce.Do(func() {
		opts := testcloud.Options{TerminatedRetention: 5 * time.Minute}
		if *measureFleet > 0 {
			opts.TenantSubnetPrefix = 17 // room for 32,765 instances a project
		}
		c, err := testcloud.Start(env, opts)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		cloud = c
	})
	if cloud == nil {
		t.Fatal("the test cloud did not start")
	}
	return cloud
}

const (
	shortWait = 30 * time.Second
	longWait  = 3 * time.Minute
)

// apiCode returns the EC2 error code of err, or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func expectCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := apiCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

// stateOf returns an instance's state as DescribeInstances reports it.
func stateOf(ctx context.Context, cl *ec2.Client, id string) (types.InstanceStateName, error) {
	out, err := cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		return "", err
	}
	if len(out.Reservations) != 1 || len(out.Reservations[0].Instances) != 1 {
		return "", fmt.Errorf("describe returned %d reservations", len(out.Reservations))
	}
	return out.Reservations[0].Instances[0].State.Name, nil
}

func waitState(t *testing.T, cl *ec2.Client, id string, want types.InstanceStateName) {
	t.Helper()
	testenv.Eventually(t, longWait, fmt.Sprintf("%s to be %s", id, want), func() error {
		got, err := stateOf(context.Background(), cl, id)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("state %s", got)
		}
		return nil
	})
}
