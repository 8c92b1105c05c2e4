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

package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/browsertest"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

// screenshotDir is where the browser test leaves the README's screenshots when
// PINET_UPDATE_SCREENSHOTS=1; other runs keep theirs in a temporary directory, so a test run
// leaves the checkout as it was.
const screenshotDir = "../docs/images"

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := t.TempDir()
	if os.Getenv("PINET_UPDATE_SCREENSHOTS") == "1" {
		dir = screenshotDir
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserLaunchFollowTerminate drives a real chromium: sign in, launch, watch the row reach
// running without a reload, read the console on the instance's page, terminate it, and create a
// key pair whose downloaded private key matches DescribeKeyPairs.
func TestBrowserLaunchFollowTerminate(t *testing.T) {
	ctx := browsertest.NewChromium(t)
	c := theCloud(t)
	p := newProject(t, c, "dash-browser")
	node := c.AddNode(t, "dash-browser-node", "pinet-1a", 8, 16384)
	base := c.DashboardURL

	browsertest.Step(t, ctx, "sign in",
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(chromedp.CSS("#access_key_id")),
		chromedp.SendKeys(chromedp.CSS("#access_key_id"), p.creds.AccessKeyID),
		chromedp.SendKeys(chromedp.CSS("#secret_access_key"), p.creds.SecretAccessKey),
		chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("table#instances")),
	)
	browsertest.Step(t, ctx, "open the launch form",
		chromedp.Navigate(base+"/launch"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/launch"]`)),
		chromedp.SendKeys(chromedp.CSS("#name"), "web-1"),
		chromedp.SetValue(chromedp.CSS("#image"), p.image),
		chromedp.SetValue(chromedp.CSS("#type"), "m1.tiny"),
		chromedp.SendKeys(chromedp.CSS("#user_data"), "#!/bin/sh\necho hello from the dashboard\n"),
	)
	screenshot(t, ctx, "dashboard-launch.png")
	browsertest.Step(t, ctx, "launch",
		chromedp.Click(chromedp.CSS(`form[action="/launch"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("table#instances tbody tr[data-id]")),
		// A mark on the page that a reload would wipe.
		chromedp.Evaluate[chromedp.Void](`window.pinetNoReload = true`),
	)
	id, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("table#instances tbody tr[data-id]").dataset.id`))
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, id+" to show running on the list", func() error {
		state, err := browsertest.TextOf(ctx, `table#instances tbody tr[data-id="`+id+`"] .state`)
		if err != nil {
			return err
		}
		if state != "running" {
			return fmt.Errorf("the row says %q", state)
		}
		return nil
	})
	if still, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.pinetNoReload === true`)); err != nil || !still {
		t.Fatalf("the list was reloaded to show the change (%v)", err)
	}
	// The live list's rows carry the Name tag the form gave.
	if name, err := browsertest.TextOf(ctx, `table#instances tbody tr[data-id="`+id+`"] td:nth-child(2)`); err != nil || name != "web-1" {
		t.Fatalf("the row's name: %q %v", name, err)
	}
	screenshot(t, ctx, "dashboard-instances.png")
	// At the test's 1280 px the list fits, with a public IP and a key name as wide as they come
	// on the local cloud: no column hides behind a horizontal scroll.
	if over, err := chromedp.Run(ctx, chromedp.Evaluate[int](`(() => {
		const cells = document.querySelectorAll("table#instances tbody tr[data-id] td");
		cells[5].textContent = "10.128.255.254"; cells[6].textContent = "203.0.113.254"; cells[9].textContent = "my-key-pair";
		const w = document.querySelector("table#instances").closest(".table-wrap");
		return w.scrollWidth - w.clientWidth })()`)); err != nil || over > 0 {
		t.Fatalf("the instance list is %d px wider than its box at 1280 px (%v)", over, err)
	}

	// The same instance through the EC2 API and as a custom resource.
	out, err := p.ec2.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil || len(out.Reservations) != 1 || aws.ToString(out.Reservations[0].Instances[0].ImageId) != p.image {
		t.Fatalf("DescribeInstances of %s: %v %+v", id, err, out)
	}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: p.name, Name: id}, &cloudv1.Instance{}); err != nil {
		t.Fatalf("the Instance object of %s: %v", id, err)
	}

	browserInstancePage(t, ctx, node, id)
	browserKeyPair(t, ctx, base, p)
}

// browserInstancePage opens an instance's page from the list, follows its console to the boot
// banner, terminates it and watches the page show terminated.
func browserInstancePage(t *testing.T, ctx context.Context, node *testcloud.Node, id string) {
	t.Helper()
	// The libvirt test driver writes no console: write a boot banner where the guest's serial
	// console goes, as a booting guest would.
	banner := "PiNet guest " + id + " booting\nhello from the dashboard\n"
	if err := os.WriteFile(filepath.Join(node.StateDir(), "instances", id, "console.log"), []byte(banner), 0o644); err != nil {
		t.Fatal(err)
	}
	browsertest.Step(t, ctx, "open the instance's page",
		chromedp.Click(chromedp.CSS(`a[href="/instances/`+id+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("pre#console")),
	)
	testenv.Eventually(t, longWait, "the console to show the banner", func() error {
		text, err := browsertest.TextOf(ctx, "pre#console")
		if err != nil {
			return err
		}
		if !strings.Contains(text, "PiNet guest "+id) {
			return fmt.Errorf("console shows %q", text)
		}
		return nil
	})
	screenshot(t, ctx, "dashboard-instance.png")

	browsertest.Step(t, ctx, "terminate",
		chromedp.Click(chromedp.CSS(`#actions form[data-action="terminate"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#state")),
	)
	testenv.Eventually(t, longWait, id+" to show terminated", func() error {
		state, err := browsertest.TextOf(ctx, "#state")
		if err != nil {
			return err
		}
		if state != "terminated" {
			return fmt.Errorf("the page says %q", state)
		}
		return nil
	})

}

// browserKeyPair creates a key pair in the browser, lets it download the private key and checks
// its fingerprint against DescribeKeyPairs.
func browserKeyPair(t *testing.T, ctx context.Context, base string, p project) {
	t.Helper()
	downloads := t.TempDir()
	if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads}); err != nil {
		t.Fatal(err)
	}
	browsertest.Step(t, ctx, "create a key pair",
		chromedp.Navigate(base+"/keypairs"),
		chromedp.WaitVisible(chromedp.CSS("#create-name")),
		chromedp.SendKeys(chromedp.CSS("#create-name"), "browser-key"),
		chromedp.Click(chromedp.CSS(`#create-keypair button[type=submit]`)),
	)
	pemFile := filepath.Join(downloads, "browser-key.pem")
	var data []byte
	testenv.Eventually(t, time.Minute, "the private key to download", func() error {
		var err error
		data, err = os.ReadFile(pemFile)
		if err == nil && !strings.Contains(string(data), "END RSA PRIVATE KEY") {
			return errors.New("incomplete")
		}
		return err
	})
	out, err := p.ec2.DescribeKeyPairs(context.Background(), &ec2.DescribeKeyPairsInput{KeyNames: []string{"browser-key"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(out.KeyPairs[0].KeyFingerprint), pemFingerprint(t, data); got != want {
		t.Fatalf("DescribeKeyPairs says %s, the downloaded key's fingerprint is %s", got, want)
	}
	// The page lists it after a visit, without the private key.
	browsertest.Step(t, ctx, "list key pairs", chromedp.Navigate(base+"/keypairs"), chromedp.WaitVisible(chromedp.CSS(`tr[data-name="browser-key"]`)))
}
