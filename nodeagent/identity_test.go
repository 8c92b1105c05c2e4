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

package nodeagent_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/minio/minio-go/v7"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/credentials"
	"pinet.io/pinet/internal/s3client"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
	"pinet.io/pinet/nodeagent"
	"pinet.io/pinet/nodeagent/libvirt"
)

// clientAs is a client acting as a user of its own (a client certificate of the test's API
// server).
func clientAs(t *testing.T, user string, groups ...string) client.Client {
	t.Helper()
	c, err := env.ClientAs(user, groups...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wantRefused fails unless err is a Forbidden refusal whose message contains want, or one of its
// "|"-separated alternatives (when two policies refuse, either may answer first).
func wantRefused(t *testing.T, what string, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s was allowed", what)
	}
	if !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) {
		t.Fatalf("%s: want a refusal, got %v", what, err)
	}
	for _, w := range strings.Split(want, "|") {
		if strings.Contains(err.Error(), w) {
			return
		}
	}
	t.Fatalf("%s: refusal %q does not say %q", what, err, want)
}

func mustDo(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// boundInstance creates, as the test's scheduler identity, an Instance bound to node. Its image
// does not exist, so no controller acts on it beyond reporting that.
func boundInstance(t *testing.T, ns, name, node string) *cloudv1.Instance {
	t.Helper()
	inst := &cloudv1.Instance{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{cloudv1.LabelHypervisor: node}},
		Spec:       cloudv1.InstanceSpec{ImageID: "ami-00000000000000000", InstanceType: "m1.tiny"},
	}
	mustDo(t, "creating "+name, env.Client.Create(context.Background(), inst))
	return inst
}

// TestNodeAgentIdentity checks, with real requests as node-1's agent, that it writes its own
// Hypervisor and the Instances bound to it, and nothing of another node's.
func TestNodeAgentIdentity(t *testing.T) {
	ctx := context.Background()
	c := startCloud(t)
	c.AddProject(t, "p2")
	node1 := clientAs(t, testenv.NodeUser("node-1"), testenv.NodeAgentsGroup)

	// Its own Hypervisor: registration and status reports.
	hv1 := &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}, Spec: cloudv1.HypervisorSpec{Zone: "pinet-1a"}}
	mustDo(t, "node-1 registering itself", node1.Create(ctx, hv1))
	mustDo(t, "node-1 reporting its status", node1.Status().Patch(ctx, hv1, client.RawPatch("application/merge-patch+json",
		[]byte(`{"status":{"hostname":"node-1.example","console":{"url":"https://127.0.0.1:1","caBundle":"Y2VydA=="}}}`))))

	// Another node's Hypervisor: neither registered nor updated nor its status written.
	wantRefused(t, "node-1 registering node-2",
		node1.Create(ctx, &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: "node-2"}}), "may write only its own Hypervisor")
	hv2 := &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: "node-2"}}
	mustDo(t, "creating node-2", env.Client.Create(ctx, hv2))
	wantRefused(t, "node-1 writing node-2's status", node1.Status().Patch(ctx, hv2, client.RawPatch("application/merge-patch+json",
		[]byte(`{"status":{"hostname":"forged"}}`))), "may write only its own Hypervisor")
	wantRefused(t, "node-1 labelling node-2",
		node1.Patch(ctx, hv2, client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"labels":{"x":"y"}}}`))),
		"cannot patch")

	// Instances: its own may be written (finalizer, status), never rebound; another node's not at all.
	own := boundInstance(t, "p2", "bound-to-1", "node-1")
	other := boundInstance(t, "p2", "bound-to-2", "node-2")
	mustDo(t, "node-1 adding its finalizer", node1.Patch(ctx, own,
		client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"finalizers":["cloud.pinet.io/domain"]}}`))))
	mustDo(t, "node-1 reporting its instance", testenv.Update(ctx, node1, own, func(i *cloudv1.Instance) {
		i.Annotations = map[string]string{"cloud.pinet.io/rebooted-at": "now"}
	}))
	mustDo(t, "node-1 reporting its instance's status", node1.Status().Patch(ctx, own,
		client.RawPatch("application/merge-patch+json", []byte(`{"status":{"domain":{"name":"i-own"}}}`))))
	wantRefused(t, "node-1 rebinding its instance to node-2", node1.Patch(ctx, own,
		client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"labels":{"cloud.pinet.io/hypervisor":"node-2"}}}`))),
		"may not change")
	wantRefused(t, "node-1 unbinding its instance", node1.Patch(ctx, own,
		client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"labels":{"cloud.pinet.io/hypervisor":null}}}`))),
		"may not change")
	wantRefused(t, "node-1 adding a finalizer to node-2's instance", node1.Patch(ctx, other,
		client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"finalizers":["cloud.pinet.io/domain"]}}`))),
		"may write only Instances bound to it")
	wantRefused(t, "node-1 writing node-2's instance status", node1.Status().Patch(ctx, other,
		client.RawPatch("application/merge-patch+json", []byte(`{"status":{"domain":{"name":"forged"}}}`))),
		"may write only Instances bound to it")
	wantRefused(t, "node-1 taking node-2's instance", node1.Patch(ctx, other,
		client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"labels":{"cloud.pinet.io/hypervisor":"node-1"}}}`))),
		"may write only Instances bound to it|may not change it")

	// What its role withholds: project Secrets, other system Secrets, Users.
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "project-secret", Namespace: "p2"}, StringData: map[string]string{"k": "v"}}
	mustDo(t, "creating a project secret", env.Client.Create(ctx, sec))
	if err := node1.Get(ctx, client.ObjectKeyFromObject(sec), &corev1.Secret{}); !apierrors.IsForbidden(err) {
		t.Fatalf("node-1 reading a project secret: want Forbidden, got %v", err)
	}
	if err := node1.List(ctx, &corev1.SecretList{}, client.InNamespace("p2")); !apierrors.IsForbidden(err) {
		t.Fatalf("node-1 listing project secrets: want Forbidden, got %v", err)
	}
	if err := node1.List(ctx, &corev1.SecretList{}, client.InNamespace(testenv.SystemNamespace)); !apierrors.IsForbidden(err) {
		t.Fatalf("node-1 listing system secrets: want Forbidden, got %v", err)
	}
	if err := node1.Get(ctx, client.ObjectKey{Namespace: testenv.SystemNamespace, Name: "pinet-cloud-ca"}, &corev1.Secret{}); !apierrors.IsForbidden(err) {
		t.Fatalf("node-1 reading the cloud CA: want Forbidden, got %v", err)
	}
	u := &cloudv1.User{ObjectMeta: metav1.ObjectMeta{Name: "made-by-node"}, Spec: cloudv1.UserSpec{Admin: true}}
	if err := node1.Create(ctx, u); !apierrors.IsForbidden(err) {
		t.Fatalf("node-1 creating a user: want Forbidden, got %v", err)
	}
}

// TestNodeAgentRole checks the node agents' role with SubjectAccessReviews: what the agent needs is
// allowed, nothing more.
func TestNodeAgentRole(t *testing.T) {
	ctx := context.Background()
	// The nodes' object store keys exist and the manager's role names them.
	c := startCloud(t)
	nodeStore(t, c, "node-1")
	nodeStore(t, c, "node-2")
	attrs := func(verb, resource, sub, ns, name string) *authorizationv1.ResourceAttributes {
		group := cloudv1.GroupVersion.Group
		if resource == "secrets" || resource == "namespaces" {
			group = ""
		}
		return &authorizationv1.ResourceAttributes{Verb: verb, Group: group, Resource: resource, Subresource: sub, Namespace: ns, Name: name}
	}
	selected := func(a *authorizationv1.ResourceAttributes, selector string) *authorizationv1.ResourceAttributes {
		a.LabelSelector = &authorizationv1.LabelSelectorAttributes{RawSelector: selector}
		return a
	}
	cases := []struct {
		attrs *authorizationv1.ResourceAttributes
		allow bool
	}{
		// Reads of instances: only with its node's label (the node authorizer), i-1 being no
		// instance of node-1's.
		{selected(attrs("watch", "instances", "", "", ""), cloudv1.LabelHypervisor+"=node-1"), true},
		{selected(attrs("list", "instances", "", "p2", ""), cloudv1.LabelHypervisor+"=node-1"), true},
		{attrs("watch", "instances", "", "", ""), false},
		{selected(attrs("list", "instances", "", "", ""), cloudv1.LabelHypervisor+"=node-2"), false},
		{attrs("get", "instances", "", "p2", "i-1"), false},
		{attrs("patch", "instances", "status", "p2", "i-1"), true},
		{attrs("update", "hypervisors", "status", "", "node-1"), true},
		{attrs("create", "hypervisors", "", "", "node-1"), true},
		// What its instances use: only what the manager gave the node (its use label).
		{selected(attrs("list", "images", "", "", ""), cloudv1.NodeUseLabel("node-1")+"=true"), true},
		{selected(attrs("watch", "keypairs", "", "", ""), cloudv1.NodeUseLabel("node-1")+"=true"), true},
		{selected(attrs("list", "securitygroups", "", "p2", ""), cloudv1.NodeUseLabel("node-1")+"=true"), true},
		{attrs("list", "images", "", "", ""), false},
		// The images made of its instances, while it copies their disks (the capture label).
		{selected(attrs("watch", "images", "", "", ""), cloudv1.LabelCaptureNode+"=node-1"), true},
		{selected(attrs("list", "images", "", "", ""), cloudv1.LabelCaptureNode+"=node-2"), false},
		{selected(attrs("list", "keypairs", "", "", ""), cloudv1.LabelCaptureNode+"=node-1"), false},
		{selected(attrs("watch", "keypairs", "", "", ""), cloudv1.NodeUseLabel("node-2")+"=true"), false},
		{attrs("get", "securitygroups", "", "p2", "default"), false},
		{attrs("get", "namespaces", "", "", "kube-system"), true},
		{attrs("get", "namespaces", "", "", "p2"), false},
		{attrs("get", "secrets", "", "p2", "project-secret"), false},
		{attrs("list", "secrets", "", "p2", ""), false},
		{attrs("list", "secrets", "", "", ""), false},
		{attrs("get", "secrets", "", testenv.SystemNamespace, "pinet-cloud-ca"), false},
		{attrs("get", "secrets", "", testenv.SystemNamespace, "pinet-user-admin"), false},
		{attrs("get", "secrets", "", testenv.SystemNamespace, "pinet-user-pinet-system"), false},
		// Its own node's object store key, and no other node's.
		{attrs("get", "secrets", "", testenv.SystemNamespace, "pinet-user-pinet-node-node-1"), true},
		{attrs("update", "secrets", "", testenv.SystemNamespace, "pinet-user-pinet-node-node-1"), false},
		{attrs("get", "secrets", "", testenv.SystemNamespace, "pinet-user-pinet-node-node-2"), false},
		{attrs("create", "users", "", "", ""), false},
		{attrs("update", "users", "", "", "admin"), false},
		{attrs("patch", "users", "status", "", "admin"), false},
		{attrs("delete", "instances", "", "p2", "i-1"), false},
		{attrs("create", "instances", "", "p2", ""), false},
		{attrs("delete", "hypervisors", "", "", "node-2"), false},
		{attrs("update", "instancetypes", "", "", "m1.tiny"), false},
	}
	for _, tc := range cases {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: testenv.NodeUser("node-1"), Groups: []string{testenv.NodeAgentsGroup, "system:authenticated"},
			ResourceAttributes: tc.attrs,
		}}
		mustDo(t, "reviewing", env.Client.Create(ctx, sar))
		if sar.Status.Allowed != tc.allow {
			t.Errorf("%s %s/%s %s/%s: allowed %v, want %v (%s)", tc.attrs.Verb, tc.attrs.Resource, tc.attrs.Subresource,
				tc.attrs.Namespace, tc.attrs.Name, sar.Status.Allowed, tc.allow, sar.Status.Reason)
		}
	}
}

// TestOnlySchedulerBinds checks that a project member with kubectl can neither create an Instance
// bound to a node nor bind or rebind one, and gets a clear refusal.
func TestOnlySchedulerBinds(t *testing.T) {
	ctx := context.Background()
	c := startCloud(t)
	c.AddProject(t, "p3")
	c.AddUser(t, "u3", false, "p3")
	member := clientAs(t, "pinet:user:u3", "pinet:project:p3")

	bound := &cloudv1.Instance{
		ObjectMeta: metav1.ObjectMeta{Name: "self-bound", Namespace: "p3", Labels: map[string]string{cloudv1.LabelHypervisor: "node-1"}},
		Spec:       cloudv1.InstanceSpec{ImageID: "ami-00000000000000000", InstanceType: "m1.tiny"},
	}
	wantRefused(t, "a member creating a bound instance", member.Create(ctx, bound), "set only by the scheduler")
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(bound), &cloudv1.Instance{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the refused instance exists: %v", err)
	}

	inst := &cloudv1.Instance{
		ObjectMeta: metav1.ObjectMeta{Name: "unbound", Namespace: "p3"},
		Spec:       cloudv1.InstanceSpec{ImageID: "ami-00000000000000000", InstanceType: "m1.tiny"},
	}
	mustDo(t, "a member creating an instance", member.Create(ctx, inst))
	wantRefused(t, "a member binding an instance", testenv.Update(ctx, member, inst, func(i *cloudv1.Instance) {
		i.Labels = map[string]string{cloudv1.LabelHypervisor: "node-1"}
	}), "set only by the scheduler")

	// Bound by the scheduler's identity, the member still edits it but cannot move or unbind it.
	other := boundInstance(t, "p3", "bound", "node-9")
	mustDo(t, "a member annotating a bound instance", testenv.Update(ctx, member, other, func(i *cloudv1.Instance) {
		i.Annotations = map[string]string{"note": "mine"}
	}))
	wantRefused(t, "a member rebinding an instance", testenv.Update(ctx, member, other, func(i *cloudv1.Instance) {
		i.Labels[cloudv1.LabelHypervisor] = "node-1"
	}), "may not change it")
	wantRefused(t, "a member unbinding an instance", testenv.Update(ctx, member, other, func(i *cloudv1.Instance) {
		delete(i.Labels, cloudv1.LabelHypervisor)
	}), "may not change it")

	// The node's agent reports the instance's status but cannot change the type it was given
	// (counted on the node and under the project's quota).
	node9 := clientAs(t, testenv.NodeUser("node-9"), testenv.NodeAgentsGroup)
	given := func(i *cloudv1.Instance) error {
		return node9.Status().Patch(ctx, i, client.RawPatch("application/merge-patch+json", []byte(`{"status":{"instanceType":"m1.xlarge"}}`)))
	}
	wantRefused(t, "a node changing the type its instance was given", given(other.DeepCopy()), "set only by the scheduler")
	mustDo(t, "a node reporting its instance's domain", node9.Status().Patch(ctx, other.DeepCopy(),
		client.RawPatch("application/merge-patch+json", []byte(`{"status":{"domain":{"name":"`+other.Name+`","state":"running"}}}`))))
}

// TestConsoleEndpointOnlyFromItsNode checks that no one but a node's agent, not even an
// administrator, can point its Hypervisor's console somewhere else.
func TestConsoleEndpointOnlyFromItsNode(t *testing.T) {
	ctx := context.Background()
	node5 := clientAs(t, testenv.NodeUser("node-5"), testenv.NodeAgentsGroup)
	hv := &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: "node-5"}}
	mustDo(t, "node-5 registering", node5.Create(ctx, hv))
	mustDo(t, "node-5 reporting its console", node5.Status().Patch(ctx, hv, client.RawPatch("application/merge-patch+json",
		[]byte(`{"status":{"console":{"url":"https://127.0.0.1:5","caBundle":"Y2VydA=="}}}`))))

	admin := clientAs(t, "cloud-operator", "system:masters")
	for _, patch := range []string{
		`{"status":{"console":{"url":"https://attacker.example:443"}}}`,
		`{"status":{"console":{"caBundle":"YXR0YWNrZXI="}}}`,
		`{"status":{"console":null}}`,
	} {
		wantRefused(t, "an administrator changing node-5's console "+patch, admin.Status().Patch(ctx, hv,
			client.RawPatch("application/merge-patch+json", []byte(patch))), "reported only by its own node agent")
	}
	// Other status fields stay the manager's to write.
	mustDo(t, "the manager reporting allocations", env.Client.Status().Patch(ctx, hv,
		client.RawPatch("application/merge-patch+json", []byte(`{"status":{"allocated":{"vcpus":1}}}`))))
	got := &cloudv1.Hypervisor{}
	mustDo(t, "reading node-5", env.Client.Get(ctx, client.ObjectKeyFromObject(hv), got))
	if got.Status.Console == nil || got.Status.Console.URL != "https://127.0.0.1:5" {
		t.Fatalf("node-5's console is %+v", got.Status.Console)
	}
}

// TestAgentRefusesAnotherNodesIdentity checks that an agent started with another node's
// credentials stops at once with a clear error instead of running and being refused everything.
func TestAgentRefusesAnotherNodesIdentity(t *testing.T) {
	dir := t.TempDir()
	nodeXML := filepath.Join(dir, "node.xml")
	if err := os.WriteFile(nodeXML, []byte("<node></node>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conn, err := libvirt.Open(env.Ctx, "test://"+nodeXML)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cfg, err := env.AddUser(testenv.NodeUser("node-7"), testenv.NodeAgentsGroup)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(env.Ctx, longWait)
	defer cancel()
	err = nodeagent.RunWith(ctx, nodeagent.Config{NodeName: "node-8", LibvirtURI: conn.URI(), StateDir: dir}, cfg, conn)
	if err == nil || !strings.Contains(err.Error(), "runs with the credentials of node node-7") {
		t.Fatalf("want a refusal to run as node-7, got %v", err)
	}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: "node-8"}, &cloudv1.Hypervisor{}); !apierrors.IsNotFound(err) {
		t.Fatalf("node-8 was registered: %v", err)
	}
}

// nodeStore returns node's object store client as its agent makes it: with the key of the node's
// own user, read through the node's identity (the manager makes the user for the node's
// Hypervisor, created here when no agent registered it, and names its Secret in the node agents'
// role). It also returns the node's Kubernetes client.
func nodeStore(t *testing.T, c *testcloud.Cloud, node string) (*minio.Client, client.Client) {
	t.Helper()
	ctx := context.Background()
	hv := &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: node}}
	if err := env.Client.Create(ctx, hv); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	nc := clientAs(t, testenv.NodeUser(node), testenv.NodeAgentsGroup)
	cfg := s3client.Config{Endpoint: c.S3URL, Region: testcloud.Region, SystemNamespace: testenv.SystemNamespace, User: s3client.NodeUser(node)}
	var mc *minio.Client
	testenv.Eventually(t, shortWait, node+"'s object store key", func() error {
		var err error
		mc, err = s3client.New(ctx, nc, cfg)
		return err
	})
	return mc, nc
}

// TestNodeStoreCredential checks the credential a node agent downloads images with: its node's
// own user reads the stored image of an instance bound to its node, and nothing else — not while
// no instance of the node uses the image, not another node's, not after the instance left; it
// writes nothing, lists nothing, reads no project's bucket and no snapshot of another node's, and
// opens no EC2 API. A node reads no other node's key.
func TestNodeStoreCredential(t *testing.T) {
	ctx := context.Background()
	c := startCloud(t)
	name := newProject(t, c, "readerp")
	img := &cloudv1.Image{}
	mustDo(t, "reading the image", env.Client.Get(ctx, client.ObjectKey{Namespace: name, Name: "img"}, img))
	stored := img.Status.Stored
	if stored == nil {
		t.Fatal("the image has no stored copy")
	}
	mc1, node1 := nodeStore(t, c, "keys-1")
	mc2, _ := nodeStore(t, c, "keys-2")
	denied := func(what string, err error) {
		t.Helper()
		if code := minio.ToErrorResponse(err).Code; code != "AccessDenied" {
			t.Errorf("%s: want AccessDenied, got %v", what, err)
		}
	}
	read := func(mc *minio.Client) error {
		obj, err := mc.GetObject(ctx, stored.Bucket, stored.Key, minio.GetObjectOptions{})
		if err != nil {
			return err
		}
		defer obj.Close()
		data, err := io.ReadAll(obj)
		if err == nil && string(data) != strings.Repeat("pinet", 1000) {
			err = fmt.Errorf("read %d bytes", len(data))
		}
		return err
	}
	denied("keys-1 reading an image no instance of its node uses", read(mc1))

	inst := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: "vm-store", Namespace: name, Labels: map[string]string{cloudv1.LabelHypervisor: "keys-1"}},
		Spec: cloudv1.InstanceSpec{ImageID: "img", InstanceType: "m1.tiny"}}
	mustDo(t, "creating vm-store", env.Client.Create(ctx, inst))
	mustDo(t, "binding vm-store to keys-1", env.Client.Status().Patch(ctx, inst, mergePatch(`{"status":{"hypervisor":"keys-1"}}`)))
	testenv.Eventually(t, shortWait, "keys-1 to read its instance's image", func() error { return read(mc1) })
	denied("keys-2 reading keys-1's image", read(mc2))

	_, err := mc1.ListBuckets(ctx)
	denied("listing buckets", err)
	_, err = mc1.PutObject(ctx, stored.Bucket, stored.Key, strings.NewReader("x"), 1, minio.PutObjectOptions{})
	denied("overwriting its image", err)
	_, err = mc1.PutObject(ctx, stored.Bucket, "planted", strings.NewReader("x"), 1, minio.PutObjectOptions{})
	denied("writing the image bucket", err)
	denied("deleting its image", mc1.RemoveObject(ctx, stored.Bucket, stored.Key, minio.RemoveObjectOptions{}))
	for o := range mc1.ListObjects(ctx, stored.Bucket, minio.ListObjectsOptions{}) {
		denied("listing the image bucket", o.Err)
	}
	_, err = mc1.StatObject(ctx, "raw-"+name, "img", minio.StatObjectOptions{})
	denied("reading a project's bucket", err)
	_, err = mc1.PutObject(ctx, s3client.SnapshotBucket, name+"/snap-0123456789abcdef0/manifest.json", strings.NewReader("{}"), 2, minio.PutObjectOptions{})
	denied("writing a snapshot its node does not copy", err)
	_, err = mc1.StatObject(ctx, s3client.SnapshotBucket, name+"/snap-0123456789abcdef0/manifest.json", minio.StatObjectOptions{})
	denied("reading a snapshot its node does not hold", err)

	// Keys: its own, never another node's nor the system user's.
	err = node1.Get(ctx, client.ObjectKey{Namespace: testenv.SystemNamespace, Name: credentials.SecretName(s3client.NodeUser("keys-2"))}, &corev1.Secret{})
	wantRefused(t, "keys-1 reading keys-2's key", err, "is not this node's object store key")
	wantRefused(t, "keys-1 listing secrets", node1.List(ctx, &corev1.SecretList{}, client.InNamespace(testenv.SystemNamespace)), "read Secrets only by name")
	_, err = s3client.New(ctx, node1, s3client.Config{Endpoint: c.S3URL, Region: testcloud.Region, SystemNamespace: testenv.SystemNamespace})
	if !apierrors.IsForbidden(errors.Unwrap(err)) {
		t.Fatalf("a node reading the system user's key: want Forbidden, got %v", err)
	}

	// Nor does the key open the EC2 API.
	sec := &corev1.Secret{}
	mustDo(t, "reading its key", node1.Get(ctx, client.ObjectKey{Namespace: testenv.SystemNamespace, Name: credentials.SecretName(s3client.NodeUser("keys-1"))}, sec))
	keys, err := credentials.ReadKeys(sec)
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys: %v", err)
	}
	_, err = c.EC2(testcloud.Credentials{AccessKeyID: keys[len(keys)-1].AccessKeyID, SecretAccessKey: keys[len(keys)-1].SecretAccessKey}).
		DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if err == nil || !strings.Contains(err.Error(), "InvalidClientTokenId") {
		t.Fatalf("a node's key on the EC2 API: want InvalidClientTokenId, got %v", err)
	}

	// The instance goes: so does its node's reach to the image.
	mustDo(t, "deleting vm-store", env.Client.Delete(ctx, inst))
	testenv.Eventually(t, longWait, "keys-1 to read its gone instance's image no more", func() error {
		if err := read(mc1); minio.ToErrorResponse(err).Code != "AccessDenied" {
			return fmt.Errorf("keys-1 reading the image: %v", err)
		}
		return nil
	})
}

// TestServiceAccountNodeIdentity checks the in-cluster identity: the DaemonSet's service account,
// whose pod-bound tokens name the pod's node, writes only that node's Hypervisor; without a node
// it writes none.
func TestServiceAccountNodeIdentity(t *testing.T) {
	ctx := context.Background()
	as := func(extra map[string][]string) client.Client {
		cfg := rest.CopyConfig(env.Config)
		// system:masters stands in for the service account's role binding (config/rbac), which
		// the test's API server does not have.
		cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:pinet-system:pinet-nodeagent",
			Groups: []string{"system:serviceaccounts", "system:masters"}, Extra: extra}
		c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	onNode3 := as(map[string][]string{"authentication.kubernetes.io/node-name": {"node-3"}})
	mustDo(t, "the agent on node-3 registering it",
		onNode3.Create(ctx, &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: "node-3"}}))
	mustDo(t, "the agent on node-3 reporting its console", onNode3.Status().Patch(ctx,
		&cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: "node-3"}}, client.RawPatch("application/merge-patch+json",
			[]byte(`{"status":{"console":{"url":"https://127.0.0.1:3","caBundle":"Y2VydA=="}}}`))))
	wantRefused(t, "the agent on node-3 registering node-4",
		onNode3.Create(ctx, &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: "node-4"}}), "may write only its own Hypervisor")
	wantRefused(t, "the service account without a node",
		as(nil).Create(ctx, &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: "node-4"}}), "a node agent acts as")
}
