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
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// TestInstanceNamesFromTheDashboard: the launch form's name becomes the instances' Name tag,
// which the list (and its live JSON) shows; the instance's page renames it and removes it, as
// EC2 then shows. A name EC2 would refuse is refused in words, and another project's user is
// answered not found.
func TestInstanceNamesFromTheDashboard(t *testing.T) {
	c := theCloud(t)
	p := newProject(t, c, "dash-names")
	other := newProject(t, c, "dash-names-other")
	c.AddNode(t, "dash-names-node", "pinet-1a", 8, 16384)
	ctx := context.Background()
	b := newBrowser(t, c)
	b.signIn(p.creds)
	form := b.get("/launch")
	csrf := field(t, csrfField, form.body)
	if r := b.post("/launch", url.Values{"csrf": {csrf}, "image": {p.image}, "type": {"m1.tiny"}, "count": {"1"},
		"client_token": {field(t, clientToken, form.body)}, "name": {" web-1 "}}); r.status != http.StatusSeeOther {
		t.Fatalf("launch: %d %s", r.status, field(t, flashError, r.body))
	}
	ids := instancesOf(t, p)
	if len(ids) != 1 {
		t.Fatalf("EC2 shows %v, want one instance", ids)
	}
	id := ids[0]
	name := func() (string, bool) {
		t.Helper()
		out, err := p.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range out.Reservations[0].Instances[0].Tags {
			if aws.ToString(tag.Key) == "Name" {
				return aws.ToString(tag.Value), true
			}
		}
		return "", false
	}
	if got, _ := name(); got != "web-1" {
		t.Fatalf("EC2 shows the name %q, want web-1", got)
	}
	if page := b.get("/instances"); !strings.Contains(page.body, "<td>web-1</td>") {
		t.Fatal("the list does not show the name")
	}
	var list struct {
		Instances []struct{ ID, Name string } `json:"instances"`
	}
	if err := json.Unmarshal([]byte(b.get("/instances.json").body), &list); err != nil || len(list.Instances) != 1 || list.Instances[0].Name != "web-1" {
		t.Fatalf("instances.json: %+v %v", list, err)
	}

	rename := func(br *browser, token, to string) answer {
		return br.post("/instances/"+id+"/name", url.Values{"csrf": {token}, "name": {to}})
	}
	if a := rename(b, csrf, strings.Repeat("n", 257)); a.status != http.StatusBadRequest || field(t, flashError, a.body) == "" {
		t.Fatalf("a name of 257 characters: %d %q", a.status, field(t, flashError, a.body))
	}
	ob := newBrowser(t, c)
	ob.signIn(other.creds)
	if a := rename(ob, ob.csrf(), "mine now"); a.status != http.StatusNotFound {
		t.Fatalf("another project renaming the instance: %d", a.status)
	}
	if got, _ := name(); got != "web-1" {
		t.Fatalf("refused renames changed the name to %q", got)
	}
	if a := rename(b, csrf, "db-1"); a.status != http.StatusSeeOther || a.location != "/instances/"+id+"?done=name" {
		t.Fatalf("rename: %d %q %s", a.status, a.location, field(t, flashError, a.body))
	}
	if got, _ := name(); got != "db-1" {
		t.Fatalf("EC2 shows the name %q after renaming, want db-1", got)
	}
	if a := rename(b, csrf, ""); a.status != http.StatusSeeOther {
		t.Fatalf("removing the name: %d %s", a.status, field(t, flashError, a.body))
	}
	if got, ok := name(); ok {
		t.Fatalf("the name %q is still there", got)
	}
	if _, err := p.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
}
