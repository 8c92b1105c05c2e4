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
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"pinet.io/pinet/internal/testenv"
)

// guestBoot is how long a TCG guest may take to print its banner on a loaded two-core machine.
const guestBoot = 4 * time.Minute

type instanceJSON struct {
	InstanceID      string `json:"InstanceId"`
	MetadataOptions struct {
		HTTPTokens              string `json:"HttpTokens"`
		HTTPPutResponseHopLimit int    `json:"HttpPutResponseHopLimit"`
	} `json:"MetadataOptions"`
	State struct {
		Name string `json:"Name"`
	} `json:"State"`
	InstanceType string `json:"InstanceType"`
	KeyName      string `json:"KeyName"`
	Tags         []struct{ Key, Value string }
}

func awsJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out, err := cloud.AWS(args...)
	if err != nil {
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

func sampleAMI(t *testing.T) string {
	t.Helper()
	var out struct {
		Images []struct{ ImageId, Name string }
	}
	awsJSON(t, &out, "ec2", "describe-images", "--owners", "admin", "--filters", "Name=name,Values=pinet-sample")
	if len(out.Images) != 1 {
		t.Fatalf("sample image: %+v", out)
	}
	return out.Images[0].ImageId
}

func describe(t *testing.T, args ...string) []instanceJSON {
	t.Helper()
	var out struct {
		Reservations []struct{ Instances []instanceJSON }
	}
	awsJSON(t, &out, append([]string{"ec2", "describe-instances"}, args...)...)
	var all []instanceJSON
	for _, r := range out.Reservations {
		all = append(all, r.Instances...)
	}
	return all
}

func waitInstances(t *testing.T, ids []string, state string) {
	t.Helper()
	check := func() error {
		for _, inst := range describe(t, append([]string{"--instance-ids"}, ids...)...) {
			if inst.State.Name != state {
				return fmt.Errorf("%s is %s", inst.InstanceID, inst.State.Name)
			}
		}
		return nil
	}
	deadline := time.Now().Add(guestBoot)
	err := check()
	for err != nil && time.Now().Before(deadline) {
		time.Sleep(testenv.PollInterval)
		err = check()
	}
	if err == nil {
		return
	}
	// A guest that never gets there says why on its console: show its end before failing.
	for _, id := range ids {
		lines := strings.Split(strings.TrimSpace(consoleOf(t, id)), "\n")
		t.Logf("the console of %s ends:\n%s", id, strings.Join(lines[max(len(lines)-40, 0):], "\n"))
	}
	t.Fatalf("timed out after %s waiting for %v to be %s: %v", guestBoot, ids, state, err)
}

// consoleOf returns the decoded console output through GetConsoleOutput.
func consoleOf(t *testing.T, id string) string {
	t.Helper()
	return consoleVia(t, cloud.AWS, id)
}

// consoleVia returns the decoded console output through GetConsoleOutput called with aws.
func consoleVia(t *testing.T, aws func(args ...string) (string, error), id string) string {
	t.Helper()
	var out struct{ Output string }
	raw, err := aws("ec2", "get-console-output", "--instance-id", id)
	if err == nil {
		err = json.Unmarshal([]byte(raw), &out)
	}
	if err != nil {
		t.Fatalf("get-console-output %s: %v\n%s", id, err, raw)
	}
	// The CLI decodes base64 output itself when it is valid; accept both.
	if dec, err := base64.StdEncoding.DecodeString(out.Output); err == nil {
		return string(dec)
	}
	return out.Output
}

func waitConsole(t *testing.T, id, want string) string {
	t.Helper()
	var text string
	testenv.Eventually(t, guestBoot, fmt.Sprintf("%q on the console of %s", want, id), func() error {
		text = consoleOf(t, id)
		if !strings.Contains(text, want) {
			lines := strings.Split(strings.TrimSpace(text), "\n")
			return fmt.Errorf("last line: %q", lines[len(lines)-1])
		}
		return nil
	})
	return text
}

// The EC2 user's day with the AWS CLI: key pair, three instances with user data, filters, the
// console, metadata options, stop, resize and start, terminate.
func TestAWSCLIScenario(t *testing.T) {
	ami := sampleAMI(t)
	var key struct{ KeyName, KeyFingerprint, KeyMaterial string }
	awsJSON(t, &key, "ec2", "create-key-pair", "--key-name", "cli-key")
	if !strings.Contains(key.KeyMaterial, "PRIVATE KEY") || key.KeyFingerprint == "" {
		t.Fatalf("create-key-pair: %+v", key)
	}
	userData := "#!/bin/sh\necho user-data-ran-for-cli\n"
	var run struct {
		ReservationId string
		Instances     []instanceJSON
	}
	awsJSON(t, &run, "ec2", "run-instances", "--image-id", ami, "--count", "3", "--instance-type", "m1.tiny",
		"--key-name", "cli-key", "--user-data", userData,
		"--tag-specifications", "ResourceType=instance,Tags=[{Key=Name,Value=cli}]")
	if len(run.Instances) != 3 {
		t.Fatalf("run-instances: %+v", run)
	}
	var ids []string
	for _, inst := range run.Instances {
		ids = append(ids, inst.InstanceID)
	}
	waitInstances(t, ids, "running")

	if got := describe(t, "--filters", "Name=tag:Name,Values=cli", "Name=instance-state-name,Values=running"); len(got) != 3 {
		t.Fatalf("filtered describe: %d instances", len(got))
	}
	if got := describe(t, "--filters", "Name=key-name,Values=cli-key", "Name=instance-id,Values="+ids[0]); len(got) != 1 || got[0].KeyName != "cli-key" {
		t.Fatalf("key-name filter: %+v", got)
	}
	text := waitConsole(t, ids[0], "user-data-ran-for-cli")
	if !strings.Contains(text, "instance "+ids[0]+" booted") {
		t.Fatalf("console of %s lacks its banner:\n%s", ids[0], text)
	}

	awsJSON(t, nil, "ec2", "modify-instance-metadata-options", "--instance-id", ids[1],
		"--http-tokens", "required", "--http-put-response-hop-limit", "2")
	if got := describe(t, "--instance-ids", ids[1]); len(got) != 1 || got[0].MetadataOptions.HTTPTokens != "required" ||
		got[0].MetadataOptions.HTTPPutResponseHopLimit != 2 {
		t.Fatalf("metadata options after modify-instance-metadata-options: %+v", got)
	}

	// Stopped, resized (m1.small: 2 GiB of memory where m1.tiny has 512 MiB) and started again.
	awsJSON(t, nil, "ec2", "stop-instances", "--instance-ids", ids[0])
	waitInstances(t, ids[:1], "stopped")
	awsJSON(t, nil, "ec2", "modify-instance-attribute", "--instance-id", ids[0], "--instance-type", "Value=m1.small")
	awsJSON(t, nil, "ec2", "start-instances", "--instance-ids", ids[0])
	waitInstances(t, ids[:1], "running")
	if got := describe(t, "--instance-ids", ids[0]); len(got) != 1 || got[0].InstanceType != "m1.small" {
		t.Fatalf("after the resize: %+v", got)
	}
	if got := jsonpath(t, "instance", ids[0], "{.status.instanceType} {.status.domain.memoryMiB}"); got != "m1.small 2048" {
		t.Fatalf("the resized instance runs as %q", got)
	}

	awsJSON(t, nil, "ec2", "terminate-instances", "--instance-ids", ids[0], ids[1], ids[2])
	waitInstances(t, ids, "terminated")
	if got := describe(t, "--filters", "Name=instance-state-name,Values=terminated", "Name=tag:Name,Values=cli"); len(got) != 3 {
		t.Fatalf("terminated instances are not visible: %d", len(got))
	}
	awsJSON(t, nil, "ec2", "delete-key-pair", "--key-name", "cli-key")
}
