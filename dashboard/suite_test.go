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
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

var (
	env   *testenv.Env
	cloud *testcloud.Cloud
)

func TestMain(m *testing.M) { testenv.Main(m, &env) }

var startOnce sync.Once

const longWait = 3 * time.Minute

// theCloud starts the package's cloud once.
func theCloud(t *testing.T) *testcloud.Cloud {
	t.Helper()
	startOnce.Do(func() {
		c, err := testcloud.Start(env, testcloud.Options{TerminatedRetention: 5 * time.Minute})
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

// browser is an HTTP client with its own cookies that does not follow redirects, so tests see
// every answer.
type browser struct {
	t    *testing.T
	base string
	http *http.Client
}

func newBrowser(t *testing.T, c *testcloud.Cloud) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: c.DashboardURL, http: &http.Client{
		Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// answer is a response with its body read.
type answer struct {
	status   int
	header   http.Header
	body     string
	location string
}

func (b *browser) do(req *http.Request) answer {
	b.t.Helper()
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: string(data), location: resp.Header.Get("Location")}
}

func (b *browser) get(path string) answer {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) answer {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var (
	signInToken = regexp.MustCompile(`name="token" value="([^"]+)"`)
	csrfField   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	clientToken = regexp.MustCompile(`name="client_token" value="([^"]+)"`)
	flashError  = regexp.MustCompile(`(?s)<p class="flash error" role="alert">(.*?)</p>`)
)

func field(t *testing.T, re *regexp.Regexp, body string) string {
	t.Helper()
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in the page:\n%s", re, body)
	}
	return m[1]
}

// trySignIn posts the sign-in form with the keys.
func (b *browser) trySignIn(keyID, secret string) answer {
	b.t.Helper()
	page := b.get("/signin")
	if page.status != http.StatusOK {
		b.t.Fatalf("sign-in page: %d", page.status)
	}
	return b.post("/signin", url.Values{"token": {field(b.t, signInToken, page.body)},
		"access_key_id": {keyID}, "secret_access_key": {secret}})
}

// signIn signs in and expects to land on the instances (or the project picker).
func (b *browser) signIn(creds testcloud.Credentials) {
	b.t.Helper()
	a := b.trySignIn(creds.AccessKeyID, creds.SecretAccessKey)
	if a.status != http.StatusSeeOther || (a.location != "/instances" && a.location != "/projects") {
		b.t.Fatalf("sign-in: %d to %q: %s", a.status, a.location, a.body)
	}
}

// csrf is the session's CSRF token, read from a page.
func (b *browser) csrf() string {
	b.t.Helper()
	a := b.get("/keypairs")
	if a.status != http.StatusOK {
		b.t.Fatalf("key pairs page: %d %s", a.status, a.body)
	}
	return field(b.t, csrfField, a.body)
}

// project makes a project with a user and a public image once per name.
type project struct {
	name  string
	creds testcloud.Credentials
	image string
	ec2   *ec2.Client
}

func newProject(t *testing.T, c *testcloud.Cloud, name string) project {
	t.Helper()
	c.AddProject(t, name)
	creds := c.AddUser(t, name+"-user", false, name)
	img := c.RegisterRawImage(t, creds, name, "img-"+name, []byte(strings.Repeat("pinet", 200)), false)
	return project{name: name, creds: creds, image: img, ec2: c.EC2(creds)}
}

// instancesOf lists a project's instance ids through the EC2 API.
func instancesOf(t *testing.T, p project) []string {
	t.Helper()
	out, err := p.ec2.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			ids = append(ids, aws.ToString(i.InstanceId))
		}
	}
	return ids
}

func metav1ObjectMeta(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name} }
