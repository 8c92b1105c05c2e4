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

package query_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// runClient runs a real EC2 client program against the test server with throwaway credentials
// and no configuration of the machine's user, and returns its standard output.
func runClient(t *testing.T, program string, args ...string) []byte {
	t.Helper()
	path, err := exec.LookPath(program)
	if err != nil {
		t.Skipf("%s is not installed: %v", program, err)
	}
	// A safety net for a hung client, not a timing assertion.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	home := t.TempDir()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "AWS_") && !strings.EqualFold(name, "no_proxy") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env,
		"AWS_ACCESS_KEY_ID=AKIDPINETTEST", "AWS_SECRET_ACCESS_KEY=secret",
		"AWS_DEFAULT_REGION=pinet", "AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=",
		"AWS_CONFIG_FILE="+filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"),
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", program, args, err, stderr.String())
	}
	return out
}

type pyTag struct{ Key, Value string }

type pyInstance struct {
	InstanceID string `json:"InstanceId"`
	ImageID    string `json:"ImageId"`
	State      struct {
		Code int
		Name string
	}
	StateReason    struct{ Code string }
	LaunchTime     string
	AmiLaunchIndex int
	Placement      struct{ AvailabilityZone string }
	Tags           []pyTag
	BlockDevices   []struct {
		DeviceName string
		Ebs        struct {
			VolumeID            string `json:"VolumeId"`
			Status              string
			AttachTime          string
			DeleteOnTermination bool
		}
	} `json:"BlockDeviceMappings"`
}

type pyReservation struct {
	ReservationID string `json:"ReservationId"`
	OwnerID       string `json:"OwnerId"`
	Groups        []struct{ GroupName string }
	Instances     []pyInstance
}

func pyTime(t *testing.T, s string) time.Time {
	t.Helper()
	parsed, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("client printed the time %q: %v", s, err)
	}
	return parsed
}

func TestBotocore(t *testing.T) {
	s, srv := newEC2Server(t)
	out := runClient(t, "python3", filepath.Join("testdata", "botocore_client.py"), srv.URL)
	var got struct {
		Run   pyReservation
		Error struct {
			Code, Message string
			RequestID     string `json:"RequestId"`
			Status        int
		}
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("botocore printed %s: %v", out, err)
	}

	if decoded, want := s.lastRunInstances(), wantRunInstances(); decoded == nil || !reflect.DeepEqual(*decoded, want) {
		t.Fatalf("the server decoded\n%+v\nwant\n%+v", decoded, want)
	}
	r := got.Run
	if r.ReservationID != "r-0000000000000000a" || r.OwnerID != testOwner || len(r.Groups) != 2 ||
		r.Groups[0].GroupName != "default" || len(r.Instances) != 1 {
		t.Fatalf("botocore parsed the reservation as %+v", r)
	}
	inst := r.Instances[0]
	if inst.InstanceID != "i-000000000000000a0" || inst.ImageID != "ami-0123456789abcdef0" ||
		inst.State.Code != 0 || inst.State.Name != "pending" || inst.StateReason.Code != "pending" ||
		inst.Placement.AvailabilityZone != "pinet-a" || inst.AmiLaunchIndex != 0 {
		t.Errorf("botocore parsed the instance as %+v", inst)
	}
	if lt := pyTime(t, inst.LaunchTime); !lt.Equal(testLaunchTime) {
		t.Errorf("launch time %v, want %v", lt, testLaunchTime)
	}
	if want := []pyTag{{"Name", "web 1"}, {"env", "prod"}}; !reflect.DeepEqual(inst.Tags, want) {
		t.Errorf("tags %+v, want %+v", inst.Tags, want)
	}
	if len(inst.BlockDevices) != 1 || inst.BlockDevices[0].Ebs.VolumeID != "vol-00000000000000001" ||
		!inst.BlockDevices[0].Ebs.DeleteOnTermination || inst.BlockDevices[0].Ebs.Status != "attaching" ||
		!pyTime(t, inst.BlockDevices[0].Ebs.AttachTime).Equal(testLaunchTime) {
		t.Errorf("block devices %+v", inst.BlockDevices)
	}

	e := got.Error
	if e.Code != "InvalidInstanceID.NotFound" || e.Message != "The instance ID 'i-1' does not exist" ||
		e.Status != 400 || !strings.HasPrefix(e.RequestID, "req-") {
		t.Errorf("botocore parsed the error as %+v", e)
	}
}

func TestAWSCLI(t *testing.T) {
	_, srv := newEC2Server(t)
	// --page-size makes the CLI send MaxResults and follow NextToken to the end.
	out := runClient(t, "aws", "--endpoint-url", srv.URL, "--output", "json",
		"ec2", "describe-instances", "--page-size", "5",
		"--filters", "Name=instance-state-name,Values=running", "Name=tag:Name,Values=web-?,web-1?")
	var got struct {
		Reservations []pyReservation
		NextToken    string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("the CLI printed %s: %v", out, err)
	}
	var ids []string
	for _, r := range got.Reservations {
		for _, inst := range r.Instances {
			ids = append(ids, inst.InstanceID)
		}
	}
	wantIDs := []string{"i-00000000000000001", "i-00000000000000003", "i-00000000000000005",
		"i-00000000000000007", "i-00000000000000009", "i-0000000000000000b"}
	if !reflect.DeepEqual(ids, wantIDs) || got.NextToken != "" {
		t.Fatalf("the CLI listed %q (NextToken %q), want %q", ids, got.NextToken, wantIDs)
	}
	r := got.Reservations[2]
	inst := r.Instances[0]
	if r.ReservationID != "r-00000000000000005" || r.OwnerID != testOwner || inst.State.Code != 16 ||
		inst.State.Name != "running" {
		t.Errorf("the CLI parsed %+v", r)
	}
	if lt := pyTime(t, inst.LaunchTime); !lt.Equal(testLaunchTime.Add(5 * time.Minute)) {
		t.Errorf("launch time %v", lt)
	}
	if want := []pyTag{{"Name", "web-5"}, {"env", "prod"}}; !reflect.DeepEqual(inst.Tags, want) {
		t.Errorf("tags %+v, want %+v", inst.Tags, want)
	}
}
