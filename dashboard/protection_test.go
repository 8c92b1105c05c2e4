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
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/testenv"
)

// TestInstanceProtectionFromTheDashboard launches with termination and stop protection from
// the form, is refused the stop and the termination with EC2's words, switches the protections
// off on the instance's page (which EC2 then shows), and sees another project's user refused.
func TestInstanceProtectionFromTheDashboard(t *testing.T) {
	c := theCloud(t)
	p := newProject(t, c, "dash-protect")
	other := newProject(t, c, "dash-protect-other")
	c.AddNode(t, "dash-protect-node", "pinet-1a", 8, 16384)
	b := newBrowser(t, c)
	b.signIn(p.creds)
	form := b.get("/launch")
	csrf, token := field(t, csrfField, form.body), field(t, clientToken, form.body)
	r := b.post("/launch", url.Values{"csrf": {csrf}, "image": {p.image}, "type": {"m1.tiny"}, "count": {"1"},
		"client_token": {token}, "termination_protection": {"on"}, "stop_protection": {"on"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("launch: %d %s", r.status, r.body)
	}
	ids := instancesOf(t, p)
	if len(ids) != 1 {
		t.Fatalf("EC2 shows %v, want one instance", ids)
	}
	id := ids[0]
	protection := func(attr types.InstanceAttributeName) bool {
		t.Helper()
		out, err := p.ec2.DescribeInstanceAttribute(context.Background(), &ec2.DescribeInstanceAttributeInput{InstanceId: aws.String(id), Attribute: attr})
		if err != nil {
			t.Fatal(err)
		}
		if attr == types.InstanceAttributeNameDisableApiStop {
			return aws.ToBool(out.DisableApiStop.Value)
		}
		return aws.ToBool(out.DisableApiTermination.Value)
	}
	if !protection(types.InstanceAttributeNameDisableApiTermination) || !protection(types.InstanceAttributeNameDisableApiStop) {
		t.Fatal("the form's protections did not reach the instance")
	}
	page := b.get("/instances/" + id)
	for _, want := range []string{"Termination protection", "Stop protection", "/instances/" + id + "/termination-protection-off",
		"/instances/" + id + "/stop-protection-off"} {
		if !strings.Contains(page.body, want) {
			t.Fatalf("the instance page lacks %q", want)
		}
	}

	for action, says := range map[string]string{"terminate": "may not be terminated", "stop": "may not be stopped"} {
		a := b.post("/instances/"+id+"/"+action, url.Values{"csrf": {csrf}})
		if a.status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(field(t, flashError, a.body)), says) {
			t.Fatalf("%s of a protected instance: %d, says %q", action, a.status, field(t, flashError, a.body))
		}
	}

	// Another project's user: not found, nothing changed.
	ob := newBrowser(t, c)
	ob.signIn(other.creds)
	if a := ob.post("/instances/"+id+"/termination-protection-off", url.Values{"csrf": {ob.csrf()}}); a.status != http.StatusNotFound {
		t.Fatalf("another project switching the protection: %d", a.status)
	}
	if !protection(types.InstanceAttributeNameDisableApiTermination) {
		t.Fatal("another project's user switched the protection off")
	}

	for _, action := range []string{"termination-protection-off", "stop-protection-off"} {
		if a := b.post("/instances/"+id+"/"+action, url.Values{"csrf": {csrf}}); a.status != http.StatusSeeOther || a.location != "/instances/"+id+"?done="+action {
			t.Fatalf("%s: %d to %q %s", action, a.status, a.location, a.body)
		}
	}
	if protection(types.InstanceAttributeNameDisableApiTermination) || protection(types.InstanceAttributeNameDisableApiStop) {
		t.Fatal("the protections are still on")
	}
	if page := b.get("/instances/" + id + "?done=termination-protection-off"); !strings.Contains(page.body, "Termination protection is off.") ||
		!strings.Contains(page.body, "/instances/"+id+"/termination-protection-on") {
		t.Fatal("the page does not say the protection is off and offer to turn it on")
	}
	if a := b.post("/instances/"+id+"/terminate", url.Values{"csrf": {csrf}}); a.status != http.StatusSeeOther {
		t.Fatalf("terminate after the protection is off: %d %s", a.status, a.body)
	}
}

// TestInstanceGroupsFromTheDashboard moves an instance into another security group from its
// page, as EC2 then shows; no group at all is refused in words, and another project's user is
// answered not found.
func TestInstanceGroupsFromTheDashboard(t *testing.T) {
	c := theCloud(t)
	p := newProject(t, c, "dash-regroup")
	other := newProject(t, c, "dash-regroup-other")
	c.AddNode(t, "dash-regroup-node", "pinet-1a", 8, 16384)
	ctx := context.Background()
	web, err := p.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("web"), Description: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	webID := aws.ToString(web.GroupId)
	run, err := p.ec2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(p.image), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		InstanceType: "m1.tiny"})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	groupsOf := func() []string {
		t.Helper()
		out, err := p.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, g := range out.Reservations[0].Instances[0].SecurityGroups {
			names = append(names, aws.ToString(g.GroupName))
		}
		return names
	}

	b := newBrowser(t, c)
	b.signIn(p.creds)
	page := b.get("/instances/" + id)
	if !strings.Contains(page.body, `action="/instances/`+id+`/groups"`) || !strings.Contains(page.body, `value="`+webID+`"`) {
		t.Fatal("the instance page offers no change of groups")
	}
	csrf := field(t, csrfField, page.body)
	if a := b.post("/instances/"+id+"/groups", url.Values{"csrf": {csrf}}); a.status != http.StatusBadRequest ||
		!strings.Contains(field(t, flashError, a.body), "Choose at least one security group.") {
		t.Fatalf("no group: %d %q", a.status, field(t, flashError, a.body))
	}
	ob := newBrowser(t, c)
	ob.signIn(other.creds)
	if a := ob.post("/instances/"+id+"/groups", url.Values{"csrf": {ob.csrf()}, "groups": {webID}}); a.status != http.StatusNotFound {
		t.Fatalf("another project changing the groups: %d", a.status)
	}
	if got := groupsOf(); fmt.Sprint(got) != "[default]" {
		t.Fatalf("refused changes moved the instance to %v", got)
	}
	if a := b.post("/instances/"+id+"/groups", url.Values{"csrf": {csrf}, "groups": {webID}}); a.status != http.StatusSeeOther {
		t.Fatalf("moving to web: %d %s", a.status, field(t, flashError, a.body))
	}
	if got := groupsOf(); fmt.Sprint(got) != "[web]" {
		t.Fatalf("EC2 shows the instance in %v, want web", got)
	}
	if _, err := p.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
}

// TestInstanceImageFromTheDashboard makes an image of a running instance from its page, which
// EC2 then shows and which becomes available; a bad name is refused in EC2's words, and
// another project's user is answered not found and makes nothing.
func TestInstanceImageFromTheDashboard(t *testing.T) {
	c := theCloud(t)
	p := newProject(t, c, "dash-image")
	other := newProject(t, c, "dash-image-other")
	// A zone of its own: the cloud's other nodes are other tests' (some stopped by now).
	c.AddNode(t, "dash-image-node", "dash-image-zone", 8, 16384)
	ctx := context.Background()
	run, err := p.ec2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(p.image), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		InstanceType: "m1.tiny", Placement: &types.Placement{AvailabilityZone: aws.String("dash-image-zone")}})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	imagesNamed := func(pr project, name string) []types.Image {
		t.Helper()
		out, err := pr.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"},
			Filters: []types.Filter{{Name: aws.String("name"), Values: []string{name}}}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Images
	}
	b := newBrowser(t, c)
	b.signIn(p.creds)
	testenv.Eventually(t, 2*time.Minute, id+" to offer an image of it", func() error {
		if page := b.get("/instances/" + id); !strings.Contains(page.body, `action="/instances/`+id+`/image"`) {
			return fmt.Errorf("no image form yet")
		}
		return nil
	})
	csrf := b.csrf()

	if a := b.post("/instances/"+id+"/image", url.Values{"csrf": {csrf}, "name": {"x"}}); a.status != http.StatusBadRequest ||
		!strings.Contains(html.UnescapeString(field(t, flashError, a.body)), "AMI names must be") {
		t.Fatalf("a short name: %d, says %q", a.status, field(t, flashError, a.body))
	}
	ob := newBrowser(t, c)
	ob.signIn(other.creds)
	if a := ob.post("/instances/"+id+"/image", url.Values{"csrf": {ob.csrf()}, "name": {"stolen"}}); a.status != http.StatusNotFound {
		t.Fatalf("another project imaging the instance: %d", a.status)
	}
	if imgs := imagesNamed(other, "stolen"); len(imgs) != 0 {
		t.Fatalf("another project made %v", imgs)
	}

	a := b.post("/instances/"+id+"/image", url.Values{"csrf": {csrf}, "name": {"from the dashboard"},
		"description": {"web server"}, "no_reboot": {"on"}})
	if a.status != http.StatusSeeOther || a.location != "/images?done=image-create" {
		t.Fatalf("creating the image: %d to %q %s", a.status, a.location, a.body)
	}
	testenv.Eventually(t, 2*time.Minute, "the image to be available", func() error {
		imgs := imagesNamed(p, "from the dashboard")
		if len(imgs) != 1 || imgs[0].State != types.ImageStateAvailable || aws.ToString(imgs[0].Description) != "web server" {
			return fmt.Errorf("images %+v", imgs)
		}
		return nil
	})
	if page := b.get("/images?done=image-create"); !strings.Contains(page.body, "from the dashboard") ||
		!strings.Contains(page.body, "copying its root disk") {
		t.Fatal("the images page does not list the new image and say it is being made")
	}

	// Past the project's image quota (its two images), the form is refused in EC2's words and
	// makes nothing.
	proj := &cloudv1.Project{ObjectMeta: metav1.ObjectMeta{Name: "dash-image"}}
	if err := testenv.Update(ctx, c.Env.Client, proj, func(pr *cloudv1.Project) {
		pr.Spec.Quota.Images, pr.Spec.Quota.Addresses = ptr.To[int32](2), ptr.To[int32](4)
	}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "the quota to be read", func() error {
		out, err := p.ec2.DescribeAccountAttributes(ctx, &ec2.DescribeAccountAttributesInput{AttributeNames: []types.AccountAttributeName{"max-elastic-ips"}})
		if err != nil {
			return err
		}
		if got := aws.ToString(out.AccountAttributes[0].AttributeValues[0].AttributeValue); got != "4" {
			return fmt.Errorf("max-elastic-ips %s", got)
		}
		return nil
	})
	if a := b.post("/instances/"+id+"/image", url.Values{"csrf": {csrf}, "name": {"one too many"}}); a.status != http.StatusBadRequest ||
		!strings.Contains(html.UnescapeString(field(t, flashError, a.body)), "image quota of project dash-image is used up") {
		t.Fatalf("an image past the quota: %d, says %q", a.status, field(t, flashError, a.body))
	}
	if imgs := imagesNamed(p, "one too many"); len(imgs) != 0 {
		t.Fatalf("an image past the quota was made: %v", imgs)
	}
}

// TestImageCopyFromTheDashboard copies an image shared with the project from the images page
// into one of its own, which stays when the owner unshares it; a private image of another
// project is refused in EC2's words and nothing is made.
func TestImageCopyFromTheDashboard(t *testing.T) {
	c := theCloud(t)
	owner := newProject(t, c, "dash-imgcopy")
	p := newProject(t, c, "dash-imgcopy-user")
	ctx := context.Background()
	b := newBrowser(t, c)
	b.signIn(p.creds)
	copyForm := func(name string) answer {
		return b.post("/images/copy", url.Values{"csrf": {b.csrf()}, "id": {owner.image}, "name": {name}})
	}
	if r := copyForm("not yet shared"); r.status != http.StatusBadRequest || !strings.Contains(field(t, flashError, r.body), "InvalidAMIID.NotFound") {
		t.Fatalf("copying a private image: %d %q", r.status, field(t, flashError, r.body))
	}
	share := func(op string) {
		t.Helper()
		mod := &types.LaunchPermissionModifications{Add: []types.LaunchPermission{{UserId: aws.String(p.name)}}}
		if op == "remove" {
			mod = &types.LaunchPermissionModifications{Remove: mod.Add}
		}
		if _, err := owner.ec2.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(owner.image), LaunchPermission: mod}); err != nil {
			t.Fatal(err)
		}
	}
	share("add")
	if page := b.get("/images"); !strings.Contains(page.body, `action="/images/copy"`) || !strings.Contains(page.body, owner.image) {
		t.Fatal("the images page offers no copy of the shared image")
	}
	if r := copyForm("kept copy"); r.status != http.StatusSeeOther || r.location != "/images?done=image-copy" {
		t.Fatalf("copying the shared image: %d %q %s", r.status, r.location, field(t, flashError, r.body))
	}
	var copied string
	testenv.Eventually(t, 2*time.Minute, "the copy to be available", func() error {
		out, err := p.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"},
			Filters: []types.Filter{{Name: aws.String("name"), Values: []string{"kept copy"}}}})
		if err != nil {
			return err
		}
		if len(out.Images) != 1 || out.Images[0].State != types.ImageStateAvailable {
			return fmt.Errorf("images %+v", out.Images)
		}
		copied = aws.ToString(out.Images[0].ImageId)
		return nil
	})
	share("remove")
	if page := b.get("/images"); !strings.Contains(page.body, copied) || strings.Contains(page.body, `data-id="`+owner.image+`"`) {
		t.Fatalf("after the unsharing the page lists the copy %v, the source %v", strings.Contains(page.body, copied),
			strings.Contains(page.body, `data-id="`+owner.image+`"`))
	}
	if r := copyForm("too late"); r.status != http.StatusBadRequest || !strings.Contains(field(t, flashError, r.body), "InvalidAMIID.NotFound") {
		t.Fatalf("copying the unshared image: %d %q", r.status, field(t, flashError, r.body))
	}
}

// TestImageProtectionFromTheDashboard protects an image from its page: deregistering it is then
// refused in EC2's words until the protection is disabled; another project cannot change it.
func TestImageProtectionFromTheDashboard(t *testing.T) {
	c := theCloud(t)
	p := newProject(t, c, "dash-imgprot")
	other := newProject(t, c, "dash-imgprot-other")
	b := newBrowser(t, c)
	b.signIn(p.creds)
	post := func(br *browser, path string, form url.Values) answer {
		form.Set("csrf", br.csrf())
		form.Set("id", p.image)
		return br.post(path, form)
	}
	if r := post(b, "/images/protection", url.Values{"op": {"enable"}}); r.status != http.StatusSeeOther || r.location != "/images?done=image-protect" {
		t.Fatalf("protect: %d %q %s", r.status, r.location, field(t, flashError, r.body))
	}
	testenv.Eventually(t, 30*time.Second, "the page to show the protection", func() error {
		if page := b.get("/images"); !strings.Contains(page.body, "Deregistration protection: enabled-without-cooldown") {
			return fmt.Errorf("not shown yet")
		}
		return nil
	})
	if r := post(b, "/images/deregister", url.Values{}); r.status != http.StatusBadRequest || !strings.Contains(field(t, flashError, r.body), "OperationNotPermitted") {
		t.Fatalf("deregistering a protected image: %d %q", r.status, field(t, flashError, r.body))
	}
	ob := newBrowser(t, c)
	ob.signIn(other.creds)
	if r := post(ob, "/images/protection", url.Values{"op": {"disable"}}); r.status < 400 || !strings.Contains(field(t, flashError, r.body), "InvalidAMIID.NotFound") {
		t.Fatalf("another project disabling the protection: %d %q", r.status, field(t, flashError, r.body))
	}
	if r := post(b, "/images/protection", url.Values{"op": {"disable"}}); r.status != http.StatusSeeOther || r.location != "/images?done=image-unprotect" {
		t.Fatalf("unprotect: %d %q %s", r.status, r.location, field(t, flashError, r.body))
	}
	testenv.Eventually(t, 30*time.Second, "the image to be deregistered", func() error {
		if r := post(b, "/images/deregister", url.Values{}); r.status != http.StatusSeeOther {
			return fmt.Errorf("deregister: %d %q", r.status, field(t, flashError, r.body))
		}
		return nil
	})
}
