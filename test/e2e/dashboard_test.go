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
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"pinet.io/pinet/internal/browsertest"
	"pinet.io/pinet/internal/testenv"
)

// memberKeys creates a user in the admin project (not an admin) and returns its access key, secret
// key and the environment for the AWS CLI acting as it, read from its credentials' pinetrc.
func memberKeys(t *testing.T, name string) (keyID, secret string, awsEnv []string) {
	t.Helper()
	if out, err := cloud.Pinetctl("user", "create", name, "--project", "admin"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Cleanup(func() { _, _ = cloud.Pinetctl("user", "delete", name) })
	zipPath := filepath.Join(t.TempDir(), "creds.zip")
	if out, err := cloud.Pinetctl("user", "credentials", name, "-o", zipPath); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	rc := string(unzip(t, zipPath)["pinetrc"])
	get := func(k string) string {
		m := regexp.MustCompile(`(?m)^export ` + k + `='?([^'\n]*)'?$`).FindStringSubmatch(rc)
		if m == nil || m[1] == "" {
			t.Fatalf("the user's pinetrc does not export %s:\n%s", k, rc)
		}
		return m[1]
	}
	keyID, secret = get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")
	awsEnv = append(append([]string{}, cloud.Env...), "AWS_ACCESS_KEY_ID="+keyID, "AWS_SECRET_ACCESS_KEY="+secret,
		"AWS_DEFAULT_REGION="+get("AWS_DEFAULT_REGION"), "AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=")
	return keyID, secret, awsEnv
}

// rowIDs is the script that lists the instance ids of the instances table's rows.
const rowIDs = `Array.from(document.querySelectorAll("table#instances tbody tr[data-id]"), r => r.dataset.id)`

// waitText waits until the element sel selects reads want.
func waitText(t *testing.T, ctx context.Context, sel, want, what string) {
	t.Helper()
	testenv.Eventually(t, guestBoot, what, func() error {
		got, err := browsertest.TextOf(ctx, sel)
		if err != nil {
			return err
		}
		if strings.TrimSpace(got) != want {
			return fmt.Errorf("it says %q", got)
		}
		return nil
	})
}

// The first acceptance point on a real guest: a project member signs in to the dashboard
// in chromium, launches the sample image, watches it reach running without a reload, reads the
// guest's boot banner on the instance's page, finds the instance through the AWS CLI and kubectl,
// and terminates it from the page.
func TestDashboardLaunchesARealGuest(t *testing.T) {
	ctx := browsertest.NewChromium(t)
	rc, err := cloud.RC()
	if err != nil {
		t.Fatal(err)
	}
	base := rc["PINET_DASHBOARD_URL"]
	if base == "" {
		t.Fatal("the cloud's pinetrc does not export PINET_DASHBOARD_URL")
	}
	ami := sampleAMI(t)
	keyID, secret, awsEnv := memberKeys(t, "dash-member")

	browsertest.Step(t, ctx, "sign in",
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(chromedp.CSS("#access_key_id")),
		chromedp.SendKeys(chromedp.CSS("#access_key_id"), keyID),
		chromedp.SendKeys(chromedp.CSS("#secret_access_key"), secret),
		chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("table#instances")),
	)
	// The project may hold other tests' instances: the new one is the row of an instance that did
	// not exist before the launch. The page's rows alone do not say which existed (the list may
	// still be filling in), so the member's AWS CLI view is taken too.
	before, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](rowIDs))
	if err != nil {
		t.Fatal(err)
	}
	existing, err := run(cloud.Root, awsEnv, "", "aws", "--endpoint-url", rc["EC2_URL"], "--output", "text",
		"ec2", "describe-instances", "--query", "Reservations[].Instances[].InstanceId")
	if err != nil {
		t.Fatalf("aws ec2 describe-instances: %v\n%s", err, existing)
	}
	before = append(before, strings.Fields(existing)...)
	browsertest.Step(t, ctx, "fill the launch form",
		chromedp.Navigate(base+"/launch"),
		chromedp.WaitReady(chromedp.CSS(`#image option[value="`+ami+`"]`)),
		chromedp.SetValue(chromedp.CSS("#image"), ami),
		chromedp.SetValue(chromedp.CSS("#type"), "m1.tiny"),
	)
	if got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#image").value + " " + document.querySelector("#type").value`)); err != nil || got != ami+" m1.tiny" {
		t.Fatalf("the launch form holds %q (%v), want the sample image %s on m1.tiny", got, err, ami)
	}
	browsertest.Step(t, ctx, "launch",
		chromedp.Click(chromedp.CSS(`form[action="/launch"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("table#instances")),
		// A mark on the page that a reload would wipe.
		chromedp.Evaluate[chromedp.Void](`window.pinetNoReload = true`),
	)
	var id string
	testenv.Eventually(t, browsertest.StepTimeout, "the launched instance's row", func() error {
		ids, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](rowIDs))
		if err != nil {
			return err
		}
		var added []string
		for _, i := range ids {
			if !slices.Contains(before, i) {
				added = append(added, i)
			}
		}
		if len(added) != 1 {
			return fmt.Errorf("new rows %v (of %d rows; %d instances known before the launch)", added, len(ids), len(before))
		}
		id = added[0]
		return nil
	})
	if !regexp.MustCompile(`^i-[0-9a-f]{17}$`).MatchString(id) {
		t.Fatalf("the new row's instance id %q", id)
	}
	t.Cleanup(func() { _, _ = cloud.AWS("ec2", "terminate-instances", "--instance-ids", id) })
	waitText(t, ctx, `table#instances tbody tr[data-id="`+id+`"] .state`, "running", id+" to show running on the list")
	if still, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.pinetNoReload === true`)); err != nil || !still {
		t.Fatalf("the list was reloaded to show the change (%v)", err)
	}

	browsertest.Step(t, ctx, "open the instance's page",
		chromedp.Click(chromedp.CSS(`a[href="/instances/`+id+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("pre#console")),
	)
	banner := "PiNet guest: instance " + id + " booted"
	testenv.Eventually(t, guestBoot, "the console pane to show "+banner, func() error {
		text, err := browsertest.TextOf(ctx, "pre#console")
		if err != nil {
			return err
		}
		if !strings.Contains(text, banner) {
			lines := strings.Split(strings.TrimSpace(text), "\n")
			return fmt.Errorf("its last line is %q", lines[len(lines)-1])
		}
		return nil
	})

	// The same instance through the AWS CLI, as the member, and through kubectl.
	out, err := run(cloud.Root, awsEnv, "", "aws", "--endpoint-url", rc["EC2_URL"], "--output", "text",
		"ec2", "describe-instances", "--instance-ids", id,
		"--query", "Reservations[].Instances[].[InstanceId,ImageId,InstanceType,State.Name]")
	if err != nil || strings.Join(strings.Fields(out), " ") != id+" "+ami+" m1.tiny running" {
		t.Fatalf("aws ec2 describe-instances --instance-ids %s: %v\n%s", id, err, out)
	}
	printed, err := cloud.Kubectl("", "get", "instances", "-A")
	if err != nil || !strings.Contains(printed, id) {
		t.Fatalf("kubectl get instances -A does not show %s: %v\n%s", id, err, printed)
	}
	t.Logf("aws ec2 describe-instances: %s\nkubectl get instances -A:\n%s", out, printed)

	browsertest.Step(t, ctx, "terminate",
		chromedp.Click(chromedp.CSS(`#actions form[data-action="terminate"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#state")),
	)
	waitText(t, ctx, "#state", "terminated", id+" to show terminated on its page")
}
