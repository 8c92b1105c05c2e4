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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

// Helpers the per-kind tests share.

// tenant makes a project and its user <project>-user, and returns the package's cloud, the user's
// keys and an EC2 client acting as the user.
func tenant(t *testing.T, project string) (*testcloud.Cloud, testcloud.Credentials, *ec2.Client) {
	t.Helper()
	c := theCloud(t)
	c.AddProject(t, project)
	creds := c.AddUser(t, project+"-user", false, project)
	return c, creds, c.EC2(creds)
}

// only calls the SDK Describe describe with in and returns the one item items reads from its
// answer, which describes what.
func only[In, Out, T any](t *testing.T, what string, describe func(context.Context, *In, ...func(*ec2.Options)) (*Out, error),
	in *In, items func(*Out) []T) T {
	t.Helper()
	out, err := describe(context.Background(), in)
	if err != nil {
		t.Fatalf("describing %s: %v", what, err)
	}
	list := items(out)
	if len(list) != 1 {
		t.Fatalf("describing %s: %d items", what, len(list))
	}
	return list[0]
}

// idsOf returns, sorted, the id (or name) of each item.
func idsOf[T any](items []T, id func(T) *string) []string {
	out := make([]string, 0, len(items))
	for _, item := range items {
		out = append(out, aws.ToString(id(item)))
	}
	return sorted(out...)
}

func sorted(s ...string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// winners counts the racing calls that succeeded; every other one must have failed with loserCode.
func winners(t *testing.T, errs []error, loserCode string) int {
	t.Helper()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case apiCode(err) != loserCode:
			t.Fatalf("racing call: %v", err)
		}
	}
	return won
}

// noErrors fails the test on the first error of racing calls.
func noErrors(t *testing.T, errs []error) {
	t.Helper()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// pager is an SDK paginator.
type pager[O any] interface {
	HasMorePages() bool
	NextPage(ctx context.Context, optFns ...func(*ec2.Options)) (O, error)
}

// checkPages reads every page and checks that they hold wantItems ids, none twice, on wantPages pages.
func checkPages[O any](ctx context.Context, p pager[O], ids func(O) []string, wantItems, wantPages int) error {
	seen := map[string]bool{}
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		pages++
		for _, id := range ids(page) {
			if seen[id] {
				return fmt.Errorf("%s on two pages", id)
			}
			seen[id] = true
		}
	}
	if len(seen) != wantItems || pages != wantPages {
		return fmt.Errorf("%d items on %d pages, want %d on %d", len(seen), pages, wantItems, wantPages)
	}
	return nil
}

// rawEC2 sends a signed EC2 Query request with exactly the parameters given.
func rawEC2(t *testing.T, c *testcloud.Cloud, creds testcloud.Credentials, params url.Values) (int, string) {
	t.Helper()
	body := params.Encode()
	req, err := http.NewRequest(http.MethodPost, c.EC2URL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	err = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey},
		req, hex.EncodeToString(sum[:]), "ec2", testcloud.Region, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	status, data := send(t, req)
	return status, string(data)
}

// send sends req and returns the answer's status and body.
func send(t *testing.T, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

var errorCode = regexp.MustCompile(`<Code>([^<]*)</Code>`)

// signedQuery sends a signed EC2 Query request with exactly the parameters given (past the SDK's
// own checks of required parameters) and returns the error code, "" for success.
func signedQuery(t *testing.T, c *testcloud.Cloud, creds testcloud.Credentials, action string, params url.Values) string {
	t.Helper()
	params.Set("Action", action)
	params.Set("Version", "2016-11-15")
	status, data := rawEC2(t, c, creds, params)
	if status == http.StatusOK {
		return ""
	}
	if m := errorCode.FindStringSubmatch(data); m != nil {
		return m[1]
	}
	t.Fatalf("%s answered %d without an error code: %s", action, status, data)
	return ""
}

// cliEC2 runs the AWS CLI's ec2 commands against the cloud and returns what it printed.
func cliEC2(t *testing.T, c *testcloud.Cloud, creds testcloud.Credentials, args ...string) string {
	t.Helper()
	out, err := cliEC2Run(t, c, creds, args...)
	if err != nil {
		t.Fatalf("aws ec2 %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// cliEC2Fail runs a CLI command that must fail and returns what it printed.
func cliEC2Fail(t *testing.T, c *testcloud.Cloud, creds testcloud.Credentials, args ...string) string {
	t.Helper()
	out, err := cliEC2Run(t, c, creds, args...)
	if err == nil {
		t.Fatalf("aws ec2 %s succeeded:\n%s", strings.Join(args, " "), out)
	}
	return out
}

func cliEC2Run(t *testing.T, c *testcloud.Cloud, creds testcloud.Credentials, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("aws")
	if err != nil {
		t.Fatalf("the AWS CLI is not on PATH: %v", err)
	}
	home := t.TempDir()
	cmd := exec.Command(bin, append([]string{"--endpoint-url", c.EC2URL, "--output", "json", "ec2"}, args...)...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"AWS_ACCESS_KEY_ID=" + creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + creds.SecretAccessKey,
		"AWS_DEFAULT_REGION=" + testcloud.Region,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// awsCLI runs the AWS CLI's ec2 commands against the cloud and decodes the JSON it prints; the
// test is skipped where the CLI is not installed.
func awsCLI(t *testing.T, c *testcloud.Cloud, creds testcloud.Credentials, out any, args ...string) {
	t.Helper()
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skipf("the AWS CLI is not on PATH: %v", err)
	}
	data := cliEC2(t, c, creds, args...)
	if out != nil && len(strings.TrimSpace(data)) > 0 {
		if err := json.Unmarshal([]byte(data), out); err != nil {
			t.Fatalf("aws ec2 %s printed %s: %v", strings.Join(args, " "), data, err)
		}
	}
}

// filterCase is one filter of a Describe and the ids (or names) it selects, sorted.
type filterCase struct {
	name, value string
	want        []string
}

// expectFilters runs each filter through describe, whose answer ids reads the selected ids of.
func expectFilters[O any](t *testing.T, cases []filterCase, describe func(f []types.Filter) (O, error), ids func(O) []string) {
	t.Helper()
	for _, tc := range cases {
		out, err := describe([]types.Filter{{Name: aws.String(tc.name), Values: []string{tc.value}}})
		if err != nil {
			t.Fatalf("filter %s: %v", tc.name, err)
		}
		got := ids(out)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("filter %s=%s: %v, want %v", tc.name, tc.value, got, tc.want)
		}
	}
}

// expectQueryCode sends action with exactly params and checks the error code it answers.
func expectQueryCode(t *testing.T, c *testcloud.Cloud, creds testcloud.Credentials, action string, params url.Values, code string) {
	t.Helper()
	if got := signedQuery(t, c, creds, action, params); got != code {
		t.Fatalf("code %q, want %q", got, code)
	}
}

// queryCase is a request's parameters and the error code it must answer.
type queryCase struct {
	name   string
	params url.Values
	code   string
}

// expectQueryCodes sends each case as action, in a subtest named label and the case's name.
func expectQueryCodes(t *testing.T, c *testcloud.Cloud, creds testcloud.Credentials, label, action string, cases []queryCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(label+" "+tc.name, func(t *testing.T) { expectQueryCode(t, c, creds, action, tc.params, tc.code) })
	}
}

// expectCount checks that a project holds n objects of list's kind, as the API server has them.
func expectCount(t *testing.T, project string, list client.ObjectList, n int) {
	t.Helper()
	if err := countIs(project, list, n); err != nil {
		t.Fatal(err)
	}
}

// waitCount waits, within wait, until a project holds n objects of list's kind.
func waitCount(t *testing.T, wait time.Duration, project string, list client.ObjectList, n int, what string) {
	t.Helper()
	testenv.Eventually(t, wait, what, func() error { return countIs(project, list, n) })
}

func countIs(project string, list client.ObjectList, n int) error {
	if err := env.Client.List(context.Background(), list, client.InNamespace(project)); err != nil {
		return err
	}
	if got := meta.LenList(list); got != n {
		return fmt.Errorf("%s holds %d %T items, want %d", project, got, list, n)
	}
	return nil
}

// refusal is one change to a valid input and the error code the changed input must answer.
type refusal[In any] struct {
	name string
	mut  func(*In)
	code string
}

// expectRefusals calls the SDK operation call with valid() changed by each refusal's mut, in a
// subtest named prefix and the refusal's name, and checks the code it answers.
func expectRefusals[In, Out any](t *testing.T, prefix string, valid func() *In,
	call func(context.Context, *In, ...func(*ec2.Options)) (Out, error), cases []refusal[In]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(prefix+tc.name, func(t *testing.T) {
			in := valid()
			tc.mut(in)
			_, err := call(context.Background(), in)
			expectCode(t, err, tc.code)
		})
	}
}

// tenantWithNode is tenant plus what running instances takes: a node <project>-node in zone
// <project>-zone and a raw machine image, whose id it returns.
func tenantWithNode(t *testing.T, project string) (*testcloud.Cloud, testcloud.Credentials, *ec2.Client, string) {
	t.Helper()
	return tenantOnNode(t, project, 4, 8192)
}

// tenantOnNode is tenantWithNode with a node of vcpus and memMiB.
func tenantOnNode(t *testing.T, project string, vcpus int32, memMiB int64) (*testcloud.Cloud, testcloud.Credentials, *ec2.Client, string) {
	t.Helper()
	c, creds, cl := tenant(t, project)
	c.AddNode(t, project+"-node", project+"-zone", vcpus, memMiB)
	return c, creds, cl, c.RegisterRawImage(t, creds, project, "disk", []byte("0123456789"), false)
}
