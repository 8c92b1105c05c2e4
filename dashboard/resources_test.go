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
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/minio/minio-go/v7"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/testenv"
)

func TestVolumesThroughTheDashboard(t *testing.T) {
	c := theCloud(t)
	p := newProject(t, c, "dash-vols")
	c.AddNode(t, "dash-vols-node", "dash-vols-zone", 4, 8192)
	b := newBrowser(t, c)
	b.signIn(p.creds)
	ctx := context.Background()
	page := b.get("/volumes")
	if page.status != http.StatusOK || !strings.Contains(page.body, "No volumes yet") {
		t.Fatalf("volumes page: %d", page.status)
	}
	csrf := field(t, csrfField, page.body)

	bad := b.post("/volumes/create", url.Values{"csrf": {csrf}, "size": {"0"}, "zone": {"dash-vols-zone"}})
	if bad.status != http.StatusBadRequest || field(t, flashError, bad.body) != "Size must be a whole number of GiB, at least 1." {
		t.Fatalf("size 0: %d", bad.status)
	}
	noZone := b.post("/volumes/create", url.Values{"csrf": {csrf}, "size": {"1"}, "zone": {"nowhere"}})
	if noZone.status < 400 || !strings.Contains(field(t, flashError, noZone.body), "InvalidZone.NotFound") {
		t.Fatalf("unknown zone: %d %s", noZone.status, field(t, flashError, noZone.body))
	}
	badIops := b.post("/volumes/create", url.Values{"csrf": {csrf}, "size": {"2"}, "zone": {"dash-vols-zone"}, "volume_type": {"gp3"}, "iops": {"many"}})
	if badIops.status != http.StatusBadRequest || field(t, flashError, badIops.body) != "IOPS must be a whole number, at least 1, or empty." {
		t.Fatalf("iops many: %d %s", badIops.status, field(t, flashError, badIops.body))
	}
	gp2Iops := b.post("/volumes/create", url.Values{"csrf": {csrf}, "size": {"2"}, "zone": {"dash-vols-zone"}, "volume_type": {"gp2"}, "iops": {"300"}})
	if gp2Iops.status < 400 || !strings.Contains(field(t, flashError, gp2Iops.body), "InvalidParameterCombination") {
		t.Fatalf("gp2 with iops: %d %s", gp2Iops.status, field(t, flashError, gp2Iops.body))
	}
	create := url.Values{"csrf": {csrf}, "size": {"2"}, "zone": {"dash-vols-zone"}, "client_token": {"dash-vol-once"},
		"volume_type": {"gp3"}, "iops": {"3000"}, "throughput": {"200"}}
	for range 2 {
		if r := b.post("/volumes/create", create); r.status != http.StatusSeeOther {
			t.Fatalf("create: %d %s", r.status, field(t, flashError, r.body))
		}
	}
	out, err := p.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Volumes) != 1 || aws.ToInt32(out.Volumes[0].Size) != 2 || out.Volumes[0].VolumeType != "gp3" ||
		aws.ToInt32(out.Volumes[0].Iops) != 3000 || aws.ToInt32(out.Volumes[0].Throughput) != 200 {
		t.Fatalf("EC2 shows %d volumes, want one gp3 of 2 GiB, 3000 iops, 200 MiB/s: %+v", len(out.Volumes), out.Volumes)
	}
	id := aws.ToString(out.Volumes[0].VolumeId)
	if page := b.get("/volumes"); !strings.Contains(page.body, id) || !strings.Contains(page.body, "gp3, 3000 IOPS, 200 MiB/s") {
		t.Fatalf("the page does not list %s as gp3, 3000 IOPS, 200 MiB/s", id)
	}
	if r := b.post("/volumes/delete", url.Values{"csrf": {csrf}, "id": {id}}); r.status != http.StatusSeeOther {
		t.Fatalf("delete: %d %s", r.status, field(t, flashError, r.body))
	}
	testenv.Eventually(t, longWait, id+" to go", func() error {
		out, err := p.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{})
		if err != nil {
			return err
		}
		if len(out.Volumes) != 0 {
			return fmt.Errorf("%d volumes left", len(out.Volumes))
		}
		return nil
	})
}

// TestLaunchVolumeFromTheDashboard launches an instance with a volume of its own from the
// launch form: EC2 shows the volume attached to it at the form's device, kept after termination
// as asked; a bad size or another project's snapshot is refused and launches nothing.
func TestLaunchVolumeFromTheDashboard(t *testing.T) {
	c := theCloud(t)
	p := newProject(t, c, "dash-launchvol")
	c.AddNode(t, "dash-launchvol-node", "dash-launchvol-zone", 4, 8192)
	b := newBrowser(t, c)
	b.signIn(p.creds)
	ctx := context.Background()
	form := b.get("/launch")
	csrf := field(t, csrfField, form.body)
	launch := func(extra url.Values) answer {
		v := url.Values{"csrf": {csrf}, "image": {p.image}, "type": {"m1.tiny"}, "count": {"1"},
			"zone": {"dash-launchvol-zone"}, "client_token": {field(t, clientToken, b.get("/launch").body)}}
		for k, vals := range extra {
			v[k] = vals
		}
		return b.post("/launch", v)
	}
	if r := launch(url.Values{"volume_gib": {"big"}}); r.status != http.StatusBadRequest ||
		field(t, flashError, r.body) != "Volume size must be a whole number of GiB." {
		t.Fatalf("a size that is no number: %d %s", r.status, field(t, flashError, r.body))
	}
	if r := launch(url.Values{"volume_snapshot": {"snap-0123456789abcdef0"}}); r.status < 400 ||
		!strings.Contains(field(t, flashError, r.body), "InvalidSnapshot.NotFound") {
		t.Fatalf("a snapshot the project cannot use: %d %s", r.status, field(t, flashError, r.body))
	}
	if ids := instancesOf(t, p); len(ids) != 0 {
		t.Fatalf("refused launches made %v", ids)
	}
	if r := launch(url.Values{"volume_gib": {"3"}, "volume_keep": {"on"}}); r.status != http.StatusSeeOther {
		t.Fatalf("launch: %d %s", r.status, field(t, flashError, r.body))
	}
	ids := instancesOf(t, p)
	if len(ids) != 1 {
		t.Fatalf("EC2 shows %v, want one instance", ids)
	}
	// The zone has no storage node: the volume waits to be made, shown attaching to the instance.
	var vol string
	testenv.Eventually(t, longWait, "the instance's volume", func() error {
		out, err := p.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{})
		if err != nil {
			return err
		}
		if len(out.Volumes) != 1 || len(out.Volumes[0].Attachments) != 1 {
			return fmt.Errorf("volumes %+v", out.Volumes)
		}
		v, a := out.Volumes[0], out.Volumes[0].Attachments[0]
		if aws.ToInt32(v.Size) != 3 || aws.ToString(a.InstanceId) != ids[0] || aws.ToString(a.Device) != "/dev/sdf" || aws.ToBool(a.DeleteOnTermination) {
			return fmt.Errorf("volume %s of %d GiB at %s %s, deleteOnTermination %v", aws.ToString(v.VolumeId), aws.ToInt32(v.Size),
				aws.ToString(a.InstanceId), aws.ToString(a.Device), aws.ToBool(a.DeleteOnTermination))
		}
		vol = aws.ToString(v.VolumeId)
		return nil
	})
	if _, err := p.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "the instance to terminate, keeping "+vol, func() error {
		out, err := p.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
		if err != nil {
			return err
		}
		if st := out.Reservations[0].Instances[0].State.Name; st != "terminated" {
			return fmt.Errorf("instance %s", st)
		}
		vols, err := p.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{vol}})
		if err != nil || len(vols.Volumes[0].Attachments) != 0 {
			return fmt.Errorf("volume %+v (%v)", vols, err)
		}
		return nil
	})
}

func TestAddressesThroughTheDashboard(t *testing.T) {
	c := theCloud(t)
	p := newProject(t, c, "dash-eips")
	ctx := context.Background()
	pool := &cloudv1.AddressPool{ObjectMeta: metav1.ObjectMeta{Name: "dash-pool"},
		Spec: cloudv1.AddressPoolSpec{CIDRs: []string{"203.0.113.0/28"}, Default: true}}
	if err := env.Client.Create(ctx, pool); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "the pool to be counted", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(pool), pool); err != nil {
			return err
		}
		if pool.Status.Total == 0 {
			return fmt.Errorf("not counted yet")
		}
		return nil
	})
	b := newBrowser(t, c)
	b.signIn(p.creds)
	page := b.get("/addresses")
	if page.status != http.StatusOK || !strings.Contains(page.body, "No elastic IPs allocated") {
		t.Fatalf("addresses page: %d", page.status)
	}
	csrf := field(t, csrfField, page.body)
	if r := b.post("/addresses/allocate", url.Values{"csrf": {csrf}}); r.status != http.StatusSeeOther {
		t.Fatalf("allocate: %d %s", r.status, r.body)
	}
	out, err := p.ec2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{})
	if err != nil || len(out.Addresses) != 1 {
		t.Fatalf("EC2 shows %v (%v), want one address", out, err)
	}
	ip, id := aws.ToString(out.Addresses[0].PublicIp), aws.ToString(out.Addresses[0].AllocationId)
	if page := b.get("/addresses"); !strings.Contains(page.body, ip) {
		t.Fatalf("the page does not show %s", ip)
	}
	// Associating with an instance that is not the project's is refused in EC2's words.
	r := b.post("/addresses/associate", url.Values{"csrf": {csrf}, "id": {id}, "instance": {"i-0123456789abcdef0"}})
	if r.status < 400 || !strings.Contains(field(t, flashError, r.body), "InvalidInstanceID.NotFound") {
		t.Fatalf("associate with an unknown instance: %d", r.status)
	}
	if r := b.post("/addresses/release", url.Values{"csrf": {csrf}, "id": {id}}); r.status != http.StatusSeeOther {
		t.Fatalf("release: %d %s", r.status, field(t, flashError, r.body))
	}
	if out, err := p.ec2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{}); err != nil || len(out.Addresses) != 0 {
		t.Fatalf("after release EC2 shows %v (%v)", out, err)
	}
}

func TestSecurityGroupsThroughTheDashboard(t *testing.T) {
	c := theCloud(t)
	p := newProject(t, c, "dash-groups")
	b := newBrowser(t, c)
	b.signIn(p.creds)
	ctx := context.Background()
	page := b.get("/groups")
	if page.status != http.StatusOK || !strings.Contains(page.body, "default") {
		t.Fatalf("groups page: %d", page.status)
	}
	csrf := field(t, csrfField, page.body)
	if r := b.post("/groups/create", url.Values{"csrf": {csrf}, "name": {"web"}, "description": {"web servers"}}); r.status != http.StatusSeeOther {
		t.Fatalf("create: %d %s", r.status, field(t, flashError, r.body))
	}
	if r := b.post("/groups/create", url.Values{"csrf": {csrf}, "name": {"web"}, "description": {"again"}}); r.status < 400 ||
		!strings.Contains(field(t, flashError, r.body), "InvalidGroup.Duplicate") {
		t.Fatalf("duplicate: %d", r.status)
	}
	out, err := p.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupNames: []string{"web"}})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.SecurityGroups[0].GroupId)
	rule := url.Values{"csrf": {csrf}, "id": {id}, "protocol": {"tcp"}, "from": {"80"}, "to": {"80"}, "cidr": {"10.0.0.0/8"}}
	badPort := url.Values{"csrf": {csrf}, "id": {id}, "protocol": {"tcp"}, "from": {"http"}, "to": {"80"}, "cidr": {"10.0.0.0/8"}}
	if r := b.post("/groups/authorize", badPort); r.status != http.StatusBadRequest || !strings.Contains(field(t, flashError, r.body), "Ports must be whole numbers") {
		t.Fatalf("bad port: %d", r.status)
	}
	if r := b.post("/groups/authorize", rule); r.status != http.StatusSeeOther {
		t.Fatalf("authorize: %d %s", r.status, field(t, flashError, r.body))
	}
	perms := func() int {
		out, err := p.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{id}})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.SecurityGroups[0].IpPermissions)
	}
	if n := perms(); n != 1 {
		t.Fatalf("EC2 shows %d permissions after the dashboard added one", n)
	}
	if page := b.get("/groups"); !strings.Contains(page.body, "10.0.0.0/8") {
		t.Fatal("the page does not show the rule")
	}
	if r := b.post("/groups/revoke", rule); r.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d %s", r.status, field(t, flashError, r.body))
	}
	if n := perms(); n != 0 {
		t.Fatalf("EC2 shows %d permissions after the dashboard removed the rule", n)
	}
	if r := b.post("/groups/delete", url.Values{"csrf": {csrf}, "id": {id}}); r.status != http.StatusSeeOther {
		t.Fatalf("delete: %d %s", r.status, field(t, flashError, r.body))
	}
}

func TestImagesShareAndUnshare(t *testing.T) {
	c := theCloud(t)
	owner := newProject(t, c, "dash-img-owner")
	other := newProject(t, c, "dash-img-other")
	ob, xb := newBrowser(t, c), newBrowser(t, c)
	ob.signIn(owner.creds)
	xb.signIn(other.creds)
	page := ob.get("/images")
	if page.status != http.StatusOK || !strings.Contains(page.body, owner.image) {
		t.Fatalf("the owner's images page: %d", page.status)
	}
	csrf, xcsrf := field(t, csrfField, page.body), xb.csrf()
	sees := func(b *browser, path string) bool { return strings.Contains(b.get(path).body, owner.image) }
	if sees(xb, "/images") || sees(xb, "/launch") {
		t.Fatal("another project sees a private image")
	}
	// Only the owner changes who may launch it.
	if r := xb.post("/images/share", url.Values{"csrf": {xcsrf}, "id": {owner.image}, "project": {other.name}}); r.status < 400 {
		t.Fatalf("another project shared the image: %d", r.status)
	}
	if r := ob.post("/images/share", url.Values{"csrf": {csrf}, "id": {owner.image}, "project": {""}}); r.status != http.StatusBadRequest {
		t.Fatalf("sharing with no project: %d", r.status)
	}
	if r := ob.post("/images/share", url.Values{"csrf": {csrf}, "id": {owner.image}, "project": {other.name}}); r.status != http.StatusSeeOther {
		t.Fatalf("share: %d %s", r.status, field(t, flashError, r.body))
	}
	if !sees(xb, "/images") || !sees(xb, "/launch") {
		t.Fatal("the project the image is shared with does not see it")
	}
	if !strings.Contains(ob.get("/images").body, "project "+other.name) {
		t.Fatal("the owner's page does not show the share")
	}
	if r := ob.post("/images/share", url.Values{"csrf": {csrf}, "id": {owner.image}, "project": {other.name}, "op": {"remove"}}); r.status != http.StatusSeeOther {
		t.Fatalf("unshare: %d %s", r.status, field(t, flashError, r.body))
	}
	if sees(xb, "/images") {
		t.Fatal("an unshared image is still visible")
	}
	if r := ob.post("/images/share", url.Values{"csrf": {csrf}, "id": {owner.image}, "public": {"true"}}); r.status != http.StatusSeeOther {
		t.Fatalf("make public: %d", r.status)
	}
	if !sees(xb, "/images") {
		t.Fatal("a public image is not visible")
	}
	if r := ob.post("/images/share", url.Values{"csrf": {csrf}, "id": {owner.image}, "public": {"true"}, "op": {"remove"}}); r.status != http.StatusSeeOther {
		t.Fatalf("make private: %d", r.status)
	}
	if sees(xb, "/images") {
		t.Fatal("a private image is still visible")
	}

	// Only the owner deregisters it.
	if r := xb.post("/images/deregister", url.Values{"csrf": {xcsrf}, "id": {owner.image}}); r.status < 400 ||
		!strings.Contains(field(t, flashError, r.body), "InvalidAMIID.NotFound") {
		t.Fatalf("another project deregistered the image: %d %q", r.status, field(t, flashError, r.body))
	}
	if !sees(ob, "/images") {
		t.Fatal("another project's deregistration took the image away")
	}
	if r := ob.post("/images/deregister", url.Values{"csrf": {csrf}, "id": {owner.image}}); r.status != http.StatusSeeOther ||
		r.location != "/images?done=image-deregister" {
		t.Fatalf("deregister: %d %q %s", r.status, r.location, field(t, flashError, r.body))
	}
	testenv.Eventually(t, longWait, owner.image+" to be deregistered", func() error {
		out, err := owner.ec2.DescribeImages(context.Background(), &ec2.DescribeImagesInput{Owners: []string{"self"}})
		if err != nil {
			return err
		}
		for _, img := range out.Images {
			if aws.ToString(img.ImageId) == owner.image {
				return fmt.Errorf("still described, %s", img.State)
			}
		}
		return nil
	})
}

// TestImagesPageSaysWhyAnImageFailed: an image the cloud refused shows its reason beside its
// state on the owner's page (here a vmdk descriptor naming a file of the node).
func TestImagesPageSaysWhyAnImageFailed(t *testing.T) {
	c := theCloud(t)
	p := newProject(t, c, "dash-img-failed")
	ctx := context.Background()
	descriptor := "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\nRW 2048 FLAT \"/etc/shadow\" 0\n"
	bucket := "raw-" + p.name
	if _, err := c.S3(t, p.creds).PutObject(ctx, bucket, "descriptor", strings.NewReader(descriptor), int64(len(descriptor)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	img := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "descriptor", Namespace: p.name},
		Spec: cloudv1.ImageSpec{ImageLocation: bucket + "/descriptor", Format: cloudv1.ImageFormatRaw, Type: cloudv1.ImageTypeMachine}}
	if err := env.Client.Create(ctx, img); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, c)
	b.signIn(p.creds)
	testenv.Eventually(t, longWait, "the images page to say why the image failed", func() error {
		body := b.get("/images").body
		if !strings.Contains(body, "vmdk descriptor, which names its extents&#39; files") {
			return fmt.Errorf("the page does not say why (image %s: %+v)", img.Name, img.Status)
		}
		return nil
	})
}

// TestVolumeGrowsThroughTheDashboard grows an available volume from the volumes page, as
// ModifyVolume does; bad sizes and another project's volume are refused in the service's words,
// with nothing changed.
func TestVolumeGrowsThroughTheDashboard(t *testing.T) {
	c := theCloud(t)
	p, q := newProject(t, c, "dash-grow"), newProject(t, c, "dash-grow-other")
	c.AddStorageNodes(t, "dash-grow-store", "dash-grow-compute", "dash-grow-zone")
	ctx := context.Background()
	vol, err := p.ec2.CreateVolume(ctx, &ec2.CreateVolumeInput{Size: aws.Int32(1), AvailabilityZone: aws.String("dash-grow-zone")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(vol.VolumeId)
	size := func() (int32, string) {
		t.Helper()
		out, err := p.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{id}})
		if err != nil || len(out.Volumes) != 1 {
			t.Fatalf("describing %s: %v", id, err)
		}
		return aws.ToInt32(out.Volumes[0].Size), string(out.Volumes[0].State)
	}
	testenv.Eventually(t, longWait, id+" to be available", func() error {
		if _, st := size(); st != "available" {
			return fmt.Errorf("state %s", st)
		}
		return nil
	})

	// Another project's user does not find it.
	other := newBrowser(t, c)
	other.signIn(q.creds)
	ocsrf := field(t, csrfField, other.get("/volumes").body)
	if r := other.post("/volumes/grow", url.Values{"csrf": {ocsrf}, "id": {id}, "size": {"5"}}); r.status < 400 ||
		!strings.Contains(field(t, flashError, r.body), "InvalidVolume.NotFound") {
		t.Fatalf("another project growing %s: %d %s", id, r.status, field(t, flashError, r.body))
	}

	b := newBrowser(t, c)
	b.signIn(p.creds)
	page := b.get("/volumes")
	if !strings.Contains(page.body, `action="/volumes/grow"`) {
		t.Fatal("the page offers no way to grow the volume")
	}
	csrf := field(t, csrfField, page.body)
	if r := b.post("/volumes/grow", url.Values{"csrf": {csrf}, "id": {id}, "size": {"x"}}); r.status != http.StatusBadRequest ||
		field(t, flashError, r.body) != "Size must be a whole number of GiB, at least 1." {
		t.Fatalf("size x: %d %s", r.status, field(t, flashError, r.body))
	}
	if r := b.post("/volumes/grow", url.Values{"csrf": {csrf}, "id": {id}, "size": {"1"}}); r.status < 400 ||
		!strings.Contains(field(t, flashError, r.body), "nothing to modify") {
		t.Fatalf("the same size: %d %s", r.status, field(t, flashError, r.body))
	}
	if n, _ := size(); n != 1 {
		t.Fatalf("refused growths changed the volume to %d GiB", n)
	}
	if r := b.post("/volumes/grow", url.Values{"csrf": {csrf}, "id": {id}, "size": {"2"}}); r.status != http.StatusSeeOther {
		t.Fatalf("grow: %d %s", r.status, field(t, flashError, r.body))
	}
	testenv.Eventually(t, longWait, id+" to be modified to 2 GiB", func() error {
		out, err := p.ec2.DescribeVolumesModifications(ctx, &ec2.DescribeVolumesModificationsInput{VolumeIds: []string{id}})
		if err != nil {
			return err
		}
		if len(out.VolumesModifications) != 1 || out.VolumesModifications[0].ModificationState != "completed" ||
			aws.ToInt32(out.VolumesModifications[0].TargetSize) != 2 {
			return fmt.Errorf("modifications %+v", out.VolumesModifications)
		}
		return nil
	})
	if n, _ := size(); n != 2 {
		t.Fatalf("after the growth EC2 shows %d GiB", n)
	}
}
