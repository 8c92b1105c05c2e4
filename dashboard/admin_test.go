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
	"archive/zip"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/s3client"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

func TestAdminPages(t *testing.T) {
	c := theCloud(t)
	member := newProject(t, c, "dash-admin-member")
	c.AddProject(t, "dash-admins")
	admin := c.AddUser(t, "dash-admin", true, "dash-admins")
	c.AddNode(t, "dash-admin-node", "dash-admin-zone", 4, 8192)
	ctx := context.Background()

	memberRefusedAdminPages(t, c, member, admin)

	b := newBrowser(t, c)
	b.signIn(admin)
	if a := b.get("/admin/hypervisors"); a.status != http.StatusOK || !strings.Contains(a.body, "dash-admin-node") {
		t.Fatalf("hypervisors: %d", a.status)
	}
	page := b.get("/admin/projects")
	csrf := field(t, csrfField, page.body)
	// PiNet's own users' keys are neither rotated nor handed out here.
	for _, path := range []string{"/admin/users/rotate", "/admin/users/credentials"} {
		for _, name := range []string{s3client.SystemUser, s3client.NodeUser("dash-admin-node")} {
			if a := b.post(path, url.Values{"csrf": {csrf}, "name": {name}}); a.status != http.StatusForbidden {
				t.Fatalf("%s of %s: %d", path, name, a.status)
			}
		}
	}
	if a := b.post("/admin/projects", url.Values{"csrf": {csrf}, "name": {"Bad Name"}}); a.status != http.StatusBadRequest {
		t.Fatalf("a bad project name: %d", a.status)
	}
	if a := b.post("/admin/projects", url.Values{"csrf": {csrf}, "name": {"dash-made"}, "description": {"made in the dashboard"}}); a.status != http.StatusSeeOther {
		t.Fatalf("create project: %d %s", a.status, a.body)
	}
	if a := b.post("/admin/projects", url.Values{"csrf": {csrf}, "name": {"dash-made"}}); a.status != http.StatusBadRequest ||
		field(t, flashError, a.body) != "Project dash-made already exists." {
		t.Fatalf("the same project again: %d", a.status)
	}
	if a := b.post("/admin/users", url.Values{"csrf": {csrf}, "name": {"dash-made-user"}, "projects": {"dash-nowhere"}}); a.status != http.StatusBadRequest {
		t.Fatalf("a user of a project that does not exist: %d", a.status)
	}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "dash-made-user"}, &cloudv1.User{}); err == nil {
		t.Fatal("a refused user was made")
	}
	testenv.Eventually(t, longWait, "project dash-made to be ready", func() error {
		return readyErr(ctx, &cloudv1.Project{}, "dash-made")
	})
	if a := b.post("/admin/users", url.Values{"csrf": {csrf}, "name": {"dash-made-user"}, "projects": {"dash-made"}}); a.status != http.StatusSeeOther {
		t.Fatalf("create user: %d %s", a.status, a.body)
	}
	testenv.Eventually(t, longWait, "user dash-made-user to be ready", func() error {
		return readyErr(ctx, &cloudv1.User{}, "dash-made-user")
	})

	// The credentials zip holds keys that work against the EC2 API.
	var creds testcloud.Credentials
	testenv.Eventually(t, longWait, "the new user's keys to work", func() error {
		creds = credentialsFromZip(t, b, csrf, "dash-made-user")
		_, err := c.EC2(creds).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		return err
	})
	if !strings.HasSuffix(creds.AccessKeyID, ":dash-made") {
		t.Fatalf("the zip's key %s does not act in the user's project", creds.AccessKeyID)
	}

	// Rotating the key from the admin page ends the user's dashboard session.
	u := newBrowser(t, c)
	u.signIn(creds)
	if a := b.post("/admin/users/rotate", url.Values{"csrf": {csrf}, "name": {"dash-made-user"}}); a.status != http.StatusSeeOther {
		t.Fatalf("rotate: %d %s", a.status, a.body)
	}
	testenv.Eventually(t, longWait, "the user's session to end", func() error {
		if a := u.get("/instances.json"); a.status != http.StatusUnauthorized {
			return errStatus(a.status)
		}
		return nil
	})
}

// memberRefusedAdminPages checks a member sees no admin page and can change nothing there.
func memberRefusedAdminPages(t *testing.T, c *testcloud.Cloud, member project, admin testcloud.Credentials) {
	t.Helper()
	ctx := context.Background()
	m := newBrowser(t, c)
	m.signIn(member.creds)
	mcsrf := m.csrf()
	if strings.Contains(m.get("/instances").body, "/admin/hypervisors") {
		t.Error("a member's navigation offers the admin pages")
	}
	for _, path := range []string{"/admin/hypervisors", "/admin/projects", "/admin/users"} {
		if a := m.get(path); a.status != http.StatusForbidden {
			t.Errorf("a member's GET %s: %d", path, a.status)
		}
	}
	if a := m.post("/admin/projects", url.Values{"csrf": {mcsrf}, "name": {"dash-sneaky"}}); a.status != http.StatusForbidden {
		t.Errorf("a member creating a project: %d", a.status)
	}
	if a := m.post("/admin/users/credentials", url.Values{"csrf": {mcsrf}, "name": {"dash-admin"}}); a.status != http.StatusForbidden ||
		strings.Contains(a.body, admin.SecretAccessKey) {
		t.Errorf("a member downloading an admin's credentials: %d", a.status)
	}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "dash-sneaky"}, &cloudv1.Project{}); err == nil {
		t.Error("a member's refused request made a project")
	}
}

// credentialsZip downloads a user's credentials zip and reads the keys from its pinetrc.
func credentialsFromZip(t *testing.T, b *browser, csrf, user string) testcloud.Credentials {
	t.Helper()
	a := b.post("/admin/users/credentials", url.Values{"csrf": {csrf}, "name": {user}})
	if a.status != http.StatusOK || a.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("credentials: %d %q", a.status, a.header.Get("Cache-Control"))
	}
	zr, err := zip.NewReader(bytes.NewReader([]byte(a.body)), int64(len(a.body)))
	if err != nil {
		t.Fatal(err)
	}
	var creds testcloud.Credentials
	files := map[string]bool{}
	for _, f := range zr.File {
		files[f.Name] = true
		if f.Name != "pinetrc" {
			continue
		}
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(r)
		r.Close()
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "export AWS_ACCESS_KEY_ID="); ok {
				creds.AccessKeyID = v
			}
			if v, ok := strings.CutPrefix(line, "export AWS_SECRET_ACCESS_KEY="); ok {
				creds.SecretAccessKey = v
			}
		}
	}
	for _, name := range []string{"pinetrc", "cert.pem", "pk.pem", "cacert.pem"} {
		if !files[name] {
			t.Fatalf("the zip lacks %s", name)
		}
	}
	return creds
}

type errStatus int

func (e errStatus) Error() string { return "status " + http.StatusText(int(e)) }

func readyErr(ctx context.Context, obj interface {
	client.Object
	cloudv1.ConditionsAccessor
}, name string) error {
	if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, obj); err != nil {
		return err
	}
	for _, cond := range obj.GetConditions() {
		if cond.Type == cloudv1.ReadyCondition && cond.Status == "True" {
			return nil
		}
	}
	return errStatus(http.StatusAccepted)
}
