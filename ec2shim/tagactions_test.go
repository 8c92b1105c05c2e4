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
	"fmt"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/sshkey"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

// taggables are one object of each kind that takes tags.
type taggables struct {
	instance, image, volume, group, address, keyPair string
}

func (tg taggables) all() []string {
	return []string{tg.instance, tg.image, tg.volume, tg.group, tg.address, tg.keyPair}
}

// makeTaggables makes one object of each kind in the project; pool is an address pool of its own.
func makeTaggables(t *testing.T, c *testcloud.Cloud, creds testcloud.Credentials, project, zone, pool string) taggables {
	t.Helper()
	ctx := context.Background()
	cl := c.EC2(creds)
	var tg taggables
	tg.image = c.RegisterRawImage(t, creds, project, "disk", []byte("0123456789"), false)
	tg.instance = launchIn(t, cl, tg.image, zone)
	tg.volume = newVolume(t, cl, zone, 1)
	sg, err := cl.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("tagged"), Description: aws.String("tagged")})
	if err != nil {
		t.Fatal(err)
	}
	tg.group = aws.ToString(sg.GroupId)
	tg.address = aws.ToString(allocate(t, cl, pool).AllocationId)
	key, err := sshkey.Generate(sshkey.ED25519, "tagged")
	if err != nil {
		t.Fatal(err)
	}
	kp := &cloudv1.KeyPair{ObjectMeta: metav1.ObjectMeta{Name: "tagged", Namespace: project}, Spec: cloudv1.KeyPairSpec{PublicKey: key.Public}}
	if err := env.Client.Create(ctx, kp); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "the key pair's id", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(kp), kp); err != nil {
			return err
		}
		if kp.Status.KeyPairID == "" {
			return fmt.Errorf("no id yet")
		}
		return nil
	})
	tg.keyPair = kp.Status.KeyPairID
	// The API reads through its cache: wait until it knows the key pair.
	testenv.Eventually(t, shortWait, "the API to know the key pair", func() error {
		_, err := cl.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{tg.keyPair}, Tags: []types.Tag{{Key: aws.String("seen"), Value: aws.String("")}}})
		return err
	})
	if _, err := cl.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{tg.keyPair}}); err != nil {
		t.Fatal(err)
	}
	return tg
}

// tagLines lists DescribeTags' answer as "resource type key=value" lines.
func tagLines(t *testing.T, cl *ec2.Client, filters ...types.Filter) []string {
	t.Helper()
	var out []string
	p := ec2.NewDescribeTagsPaginator(cl, &ec2.DescribeTagsInput{Filters: filters})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range page.Tags {
			out = append(out, fmt.Sprintf("%s %s %s=%s", aws.ToString(tag.ResourceId), tag.ResourceType, aws.ToString(tag.Key), aws.ToString(tag.Value)))
		}
	}
	sort.Strings(out)
	return out
}

func filter(name string, values ...string) types.Filter {
	return types.Filter{Name: aws.String(name), Values: values}
}

func tagsOfObject(t *testing.T, obj client.Object) string {
	t.Helper()
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	return obj.GetAnnotations()["cloud.pinet.io/tags"]
}

func TestTagsOnEveryKind(t *testing.T) {
	c, creds, cl := tenant(t, "tagall")
	c.AddNode(t, "tagall-node", "tagall-zone", 4, 8192)
	addAddressPool(t, "tagall-pool", false, "198.51.100.80/29")
	tg := makeTaggables(t, c, creds, "tagall", "tagall-zone", "tagall-pool")
	ctx := context.Background()

	if _, err := cl.CreateTags(ctx, &ec2.CreateTagsInput{Resources: tg.all(),
		Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("shared")}, {Key: aws.String("env"), Value: aws.String("prod")}}}); err != nil {
		t.Fatal(err)
	}
	kindOf := map[string]string{tg.instance: "instance", tg.image: "image", tg.volume: "volume", tg.group: "security-group",
		tg.address: "elastic-ip", tg.keyPair: "key-pair"}
	var want []string
	for id, typ := range kindOf {
		want = append(want, id+" "+typ+" Name=shared", id+" "+typ+" env=prod")
	}
	sort.Strings(want)
	if got := tagLines(t, cl); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("tags\n%v, want\n%v", got, want)
	}
	for _, tc := range []struct {
		filter types.Filter
		want   int
	}{
		{filter("resource-type", "volume"), 2},
		{filter("resource-type", "key-pair", "elastic-ip"), 4},
		{filter("resource-id", tg.image), 2},
		{filter("key", "env"), 6},
		{filter("value", "pro*"), 6},
		{filter("tag:Name", "shared"), 6},
		{filter("tag-key", "Name"), 6},
		{filter("key", "nothing"), 0},
	} {
		if got := tagLines(t, cl, tc.filter); len(got) != tc.want {
			t.Errorf("filter %s=%v: %d tags, want %d: %v", aws.ToString(tc.filter.Name), tc.filter.Values, len(got), tc.want, got)
		}
	}
	// Paging covers every tag once.
	if err := checkPages(ctx, ec2.NewDescribeTagsPaginator(cl, &ec2.DescribeTagsInput{MaxResults: aws.Int32(5)}),
		func(o *ec2.DescribeTagsOutput) []string {
			var keys []string
			for _, tag := range o.Tags {
				keys = append(keys, aws.ToString(tag.ResourceId)+aws.ToString(tag.Key))
			}
			return keys
		}, 12, 3); err != nil {
		t.Fatal(err)
	}

	// Each kind's own Describe shows them, and labels select by them.
	inst, err := cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{tg.instance}})
	if err != nil || len(inst.Reservations[0].Instances[0].Tags) != 2 {
		t.Fatalf("instance tags: %v", err)
	}
	if v := describeVolume(t, cl, tg.volume); len(v.Tags) != 2 {
		t.Fatalf("volume tags %+v", v.Tags)
	}
	if a := describeAddress(t, cl, tg.address); len(a.Tags) != 2 {
		t.Fatalf("address tags %+v", a.Tags)
	}
	if g := describeGroup(t, cl, "tagged"); len(g.Tags) != 2 {
		t.Fatalf("group tags %+v", g.Tags)
	}
	insts := &cloudv1.InstanceList{}
	if err := env.Client.List(ctx, insts, client.InNamespace("tagall"), client.MatchingLabels{"tags.cloud.pinet.io/Name": "shared"}); err != nil {
		t.Fatal(err)
	}
	if len(insts.Items) != 1 || insts.Items[0].Name != tg.instance {
		t.Fatalf("label selection found %d instances", len(insts.Items))
	}
	vols := &cloudv1.VolumeList{}
	if err := env.Client.List(ctx, vols, client.InNamespace("tagall"), client.MatchingLabels{"tags.cloud.pinet.io/env": "prod"}); err != nil || len(vols.Items) != 1 {
		t.Fatalf("label selection found %d volumes (%v)", len(vols.Items), err)
	}

	// A value that is no label value is kept in the annotation all the same.
	if _, err := cl.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{tg.instance},
		Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("Ada Lovelace")}}}); err != nil {
		t.Fatal(err)
	}
	if got := tagLines(t, cl, filter("key", "owner")); fmt.Sprint(got) != fmt.Sprint([]string{tg.instance + " instance owner=Ada Lovelace"}) {
		t.Fatalf("owner tag %v", got)
	}

	// DeleteTags: a value must match; no value deletes the key; no tag deletes every tag.
	del := func(ids []string, tags ...types.Tag) {
		t.Helper()
		if _, err := cl.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: ids, Tags: tags}); err != nil {
			t.Fatal(err)
		}
	}
	del([]string{tg.instance}, types.Tag{Key: aws.String("env"), Value: aws.String("dev")})
	del([]string{tg.instance}, types.Tag{Key: aws.String("owner"), Value: aws.String("")})
	if got := tagLines(t, cl, filter("resource-id", tg.instance)); len(got) != 3 {
		t.Fatalf("after deleting with other values: %v", got)
	}
	del([]string{tg.instance}, types.Tag{Key: aws.String("env"), Value: aws.String("prod")}, types.Tag{Key: aws.String("Name")})
	if got := tagLines(t, cl, filter("resource-id", tg.instance)); fmt.Sprint(got) != fmt.Sprint([]string{tg.instance + " instance owner=Ada Lovelace"}) {
		t.Fatalf("after deleting env and Name: %v", got)
	}
	del([]string{tg.volume, tg.image, tg.keyPair})
	for _, id := range []string{tg.volume, tg.image, tg.keyPair} {
		if got := tagLines(t, cl, filter("resource-id", id)); len(got) != 0 {
			t.Fatalf("after deleting every tag of %s: %v", id, got)
		}
	}
	if err := env.Client.List(ctx, insts, client.InNamespace("tagall"), client.MatchingLabels{"tags.cloud.pinet.io/Name": "shared"}); err != nil || len(insts.Items) != 0 {
		t.Fatalf("label selection still finds %d instances (%v)", len(insts.Items), err)
	}
}

func TestTagsRefuseBadInput(t *testing.T) {
	c, creds, _ := tenant(t, "tagbad")
	_, other, _ := tenant(t, "tagother")
	c.AddNode(t, "tagbad-node", "tagbad-zone", 4, 8192)
	addAddressPool(t, "tagbad-pool", false, "198.51.100.88/29")
	tg := makeTaggables(t, c, creds, "tagbad", "tagbad-zone", "tagbad-pool")
	ctx := context.Background()
	cl := c.EC2(creds)
	publicElsewhere := c.RegisterRawImage(t, other, "tagother", "public", []byte("0123456789"), true)
	theirInstance := launchIn(t, c.EC2(other), publicElsewhere, "tagbad-zone")

	one := []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}
	for _, tc := range []struct {
		name string
		ids  []string
		tags []types.Tag
		code string
	}{
		{"unknown volume among others", []string{tg.instance, tg.group, "vol-0123456789abcdef0"}, one, "InvalidVolume.NotFound"},
		{"unknown instance", []string{"i-0123456789abcdef0"}, one, "InvalidInstanceID.NotFound"},
		{"unknown image", []string{"ami-0123456789abcdef0"}, one, "InvalidAMIID.NotFound"},
		{"unknown kernel", []string{"aki-0123456789abcdef0"}, one, "InvalidAMIID.NotFound"},
		{"unknown group", []string{"sg-0123456789abcdef0"}, one, "InvalidGroup.NotFound"},
		{"unknown address", []string{"eipalloc-0123456789abcdef0"}, one, "InvalidAllocationID.NotFound"},
		{"unknown key pair", []string{"key-0123456789abcdef0"}, one, "InvalidKeyPair.NotFound"},
		{"unknown kind", []string{"r-0123456789abcdef0"}, one, "InvalidID"},
		{"no id", []string{"tagged"}, one, "InvalidID"},
		{"another project's instance", []string{theirInstance}, one, "InvalidInstanceID.NotFound"},
		{"another project's public image", []string{publicElsewhere}, one, "InvalidAMIID.NotFound"},
		{"reserved key", []string{tg.instance}, []types.Tag{{Key: aws.String("aws:cloudformation"), Value: aws.String("x")}}, "InvalidParameterValue"},
		{"empty key", []string{tg.instance}, []types.Tag{{Key: aws.String(""), Value: aws.String("x")}}, "InvalidParameterValue"},
		{"long key", []string{tg.instance}, []types.Tag{{Key: aws.String(strings.Repeat("k", 129))}}, "InvalidParameterValue"},
		{"long value", []string{tg.instance}, []types.Tag{{Key: aws.String("k"), Value: aws.String(strings.Repeat("v", 257))}}, "InvalidParameterValue"},
		{"too many", []string{tg.volume}, manyTags("k", 51), "TagLimitExceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cl.CreateTags(ctx, &ec2.CreateTagsInput{Resources: tc.ids, Tags: tc.tags})
			expectCode(t, err, tc.code)
		})
	}
	_, err := cl.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{tg.instance}, Tags: one, DryRun: aws.Bool(true)})
	expectCode(t, err, "DryRunOperation")
	for _, tc := range []struct {
		name, action string
		params       url.Values
		code         string
	}{
		{"no resource", "CreateTags", url.Values{"Tag.1.Key": {"k"}}, "MissingParameter"},
		{"no tag", "CreateTags", url.Values{"ResourceId.1": {tg.instance}}, "MissingParameter"},
		{"delete reserved", "DeleteTags", url.Values{"ResourceId.1": {tg.instance}, "Tag.1.Key": {"aws:x"}}, "InvalidParameterValue"},
		{"delete unknown", "DeleteTags", url.Values{"ResourceId.1": {"vol-0123456789abcdef0"}}, "InvalidVolume.NotFound"},
		{"describe bad filter", "DescribeTags", url.Values{"Filter.1.Name": {"owner"}, "Filter.1.Value.1": {"x"}}, "InvalidParameterValue"},
		{"describe small page", "DescribeTags", url.Values{"MaxResults": {"4"}}, "InvalidParameterValue"},
		{"describe dry run", "DescribeTags", url.Values{"DryRun": {"true"}}, "DryRunOperation"},
	} {
		t.Run(tc.name, func(t *testing.T) { expectQueryCode(t, c, creds, tc.action, tc.params, tc.code) })
	}
	// Up to the limit, counting the tags already there.
	if _, err := cl.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{tg.volume}, Tags: manyTags("a", 49)}); err != nil {
		t.Fatal(err)
	}
	_, err = cl.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{tg.instance, tg.volume}, Tags: manyTags("b", 2)})
	expectCode(t, err, "TagLimitExceeded")

	// Nothing was half-made: only the volume's 49 tags exist.
	if got := tagLines(t, cl); len(got) != 49 {
		t.Fatalf("%d tags after refused calls: %v", len(got), got)
	}
	if got := tagLines(t, c.EC2(other)); len(got) != 0 {
		t.Fatalf("the other project has tags: %v", got)
	}
	if ann := tagsOfObject(t, &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: theirInstance, Namespace: "tagother"}}); ann != "" {
		t.Fatalf("the other project's instance was tagged: %s", ann)
	}
}

func manyTags(prefix string, n int) []types.Tag {
	out := make([]types.Tag, n)
	for i := range out {
		out[i] = types.Tag{Key: aws.String(fmt.Sprintf("%s%02d", prefix, i)), Value: aws.String("x")}
	}
	return out
}

func TestTagsConcurrentCalls(t *testing.T) {
	_, _, cl := tenant(t, "tagrace")
	ctx := context.Background()
	sg, err := cl.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("busy"), Description: aws.String("busy")})
	if err != nil {
		t.Fatal(err)
	}
	noErrors(t, testenv.Race(10, func(i int) error {
		_, err := cl.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{aws.ToString(sg.GroupId)},
			Tags: []types.Tag{{Key: aws.String(fmt.Sprintf("k%d", i)), Value: aws.String("v")}}})
		return err
	}))
	if got := tagLines(t, cl); len(got) != 10 {
		t.Fatalf("%d tags after 10 racing calls: %v", len(got), got)
	}
}

// TestResourcesThroughTheCLI runs groups, volumes, addresses and tags through the AWS CLI, which
// parses every response with botocore.
func TestResourcesThroughTheCLI(t *testing.T) {
	c, creds, _ := tenant(t, "rescli")
	c.AddNode(t, "rescli-node", "rescli-zone", 4, 8192)
	addAddressPool(t, "rescli-pool", false, "198.51.100.96/29")
	ami := c.RegisterRawImage(t, creds, "rescli", "disk", []byte("0123456789"), false)
	inst := launchIn(t, c.EC2(creds), ami, "rescli-zone")

	var group struct{ GroupId string }
	awsCLI(t, c, creds, &group, "create-security-group", "--group-name", "web", "--description", "web servers")
	awsCLI(t, c, creds, nil, "authorize-security-group-ingress", "--group-name", "web", "--protocol", "tcp", "--port", "22", "--cidr", "0.0.0.0/0")
	awsCLI(t, c, creds, nil, "authorize-security-group-ingress", "--group-id", group.GroupId,
		"--ip-permissions", "IpProtocol=tcp,FromPort=80,ToPort=80,IpRanges=[{CidrIp=10.0.0.0/8}]", "IpProtocol=-1,UserIdGroupPairs=[{GroupName=default}]")
	var groups struct {
		SecurityGroups []struct {
			GroupId, GroupName string
			IpPermissions      []struct {
				IpProtocol       string
				FromPort, ToPort *int
				IpRanges         []struct{ CidrIp string }
				UserIdGroupPairs []struct{ GroupId, GroupName string }
			}
		}
	}
	awsCLI(t, c, creds, &groups, "describe-security-groups", "--group-names", "web")
	if len(groups.SecurityGroups) != 1 || groups.SecurityGroups[0].GroupId != group.GroupId || len(groups.SecurityGroups[0].IpPermissions) != 3 {
		t.Fatalf("describe-security-groups: %+v", groups)
	}

	var vol struct{ VolumeId, State string }
	awsCLI(t, c, creds, &vol, "create-volume", "--size", "2", "--availability-zone", "rescli-zone")
	var att struct{ State, InstanceId string }
	awsCLI(t, c, creds, &att, "attach-volume", "--volume-id", vol.VolumeId, "--instance-id", inst, "--device", "/dev/sdf")
	var vols struct {
		Volumes []struct {
			VolumeId, State string
			Size            int
			Attachments     []struct{ InstanceId, Device, State string }
		}
	}
	awsCLI(t, c, creds, &vols, "describe-volumes", "--filters", "Name=attachment.instance-id,Values="+inst)
	if vol.State != "creating" || att.State != "attaching" || len(vols.Volumes) != 1 || vols.Volumes[0].Size != 2 ||
		vols.Volumes[0].Attachments[0].Device != "/dev/sdf" {
		t.Fatalf("volume %+v, attachment %+v, described %+v", vol, att, vols)
	}
	awsCLI(t, c, creds, &att, "detach-volume", "--volume-id", vol.VolumeId)

	var addr struct{ AllocationId, PublicIp, Domain string }
	awsCLI(t, c, creds, &addr, "allocate-address", "--domain", "vpc", "--public-ipv4-pool", "rescli-pool")
	var assoc struct{ AssociationId string }
	awsCLI(t, c, creds, &assoc, "associate-address", "--allocation-id", addr.AllocationId, "--instance-id", inst)
	var addrs struct {
		Addresses []struct{ AllocationId, PublicIp, InstanceId, AssociationId, Domain string }
	}
	awsCLI(t, c, creds, &addrs, "describe-addresses", "--allocation-ids", addr.AllocationId)
	if len(addrs.Addresses) != 1 || addrs.Addresses[0].InstanceId != inst || addrs.Addresses[0].AssociationId != assoc.AssociationId ||
		addrs.Addresses[0].PublicIp != addr.PublicIp || addrs.Addresses[0].Domain != "vpc" {
		t.Fatalf("describe-addresses: %+v", addrs)
	}
	awsCLI(t, c, creds, nil, "disassociate-address", "--association-id", assoc.AssociationId)
	awsCLI(t, c, creds, nil, "release-address", "--allocation-id", addr.AllocationId)

	awsCLI(t, c, creds, nil, "create-tags", "--resources", vol.VolumeId, group.GroupId, "--tags", "Key=Name,Value=cli", "Key=team,Value=ops")
	var tags struct {
		Tags []struct{ ResourceId, ResourceType, Key, Value string }
	}
	awsCLI(t, c, creds, &tags, "describe-tags", "--filters", "Name=key,Values=Name")
	if len(tags.Tags) != 2 || tags.Tags[0].Value != "cli" {
		t.Fatalf("describe-tags: %+v", tags)
	}
	awsCLI(t, c, creds, nil, "delete-tags", "--resources", vol.VolumeId, "--tags", "Key=team")
	awsCLI(t, c, creds, &tags, "describe-tags", "--filters", "Name=resource-id,Values="+vol.VolumeId)
	if len(tags.Tags) != 1 || tags.Tags[0].ResourceType != "volume" {
		t.Fatalf("describe-tags after delete-tags: %+v", tags)
	}
	awsCLI(t, c, creds, nil, "delete-volume", "--volume-id", vol.VolumeId)
	awsCLI(t, c, creds, nil, "delete-security-group", "--group-id", group.GroupId)
}
