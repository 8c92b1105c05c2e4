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
	"fmt"
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

// TestNodeAgentReadsOnlyItsNode reads, as two nodes' agents (a node's own certificate identity,
// and the DaemonSet's service account with a token bound to a pod on the node), what another
// node holds: another node's Instances (their user data), Volumes and Snapshots are refused by
// the node authorizer whether listed, watched or read by name; the agent's own are read as
// before; other users are not affected.
func TestNodeAgentReadsOnlyItsNode(t *testing.T) {
	ctx := context.Background()
	c := startCloud(t)
	c.AddProjectWithQuota(t, "rn", testcloud.NoQuota())

	mine := boundInstance(t, "rn", "vm-on-1", "rn-1")
	theirs := boundInstance(t, "rn", "vm-on-2", "rn-2")
	volume := func(name string, l map[string]string) *cloudv1.Volume {
		v := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "rn", Labels: l},
			Spec: cloudv1.VolumeSpec{SizeGiB: 1, AvailabilityZone: "rn-nowhere"}}
		mustDo(t, "creating "+name, env.Client.Create(ctx, v))
		return v
	}
	stored := volume("stored-on-1", map[string]string{cloudv1.LabelStorageNode: "rn-1"})
	storedElsewhere := volume("stored-on-2", map[string]string{cloudv1.LabelStorageNode: "rn-2"})
	snapshot := func(name, node string) *cloudv1.Snapshot {
		sn := &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "rn",
			Labels: map[string]string{cloudv1.LabelStorageNode: node}}, Spec: cloudv1.SnapshotSpec{VolumeID: "vol-0123456789abcdef0"}}
		mustDo(t, "creating "+name, env.Client.Create(ctx, sn))
		return sn
	}
	copied := snapshot("copied-on-1", "rn-1")
	copiedElsewhere := snapshot("copied-on-2", "rn-2")

	// The DaemonSet's service account has the node agents' role (config/rbac/bindings.yaml).
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "rn-nodeagent-service-account"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "pinet-nodeagent"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: testenv.SystemNamespace, Name: "pinet-nodeagent"}}}
	mustDo(t, "binding the node agents' service account", env.Client.Create(ctx, binding))
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), binding) })
	saCfg := rest.CopyConfig(env.Config)
	saCfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + testenv.SystemNamespace + ":pinet-nodeagent",
		Groups:   []string{"system:serviceaccounts", "system:authenticated"},
		Extra:    map[string][]string{"authentication.kubernetes.io/node-name": {"rn-1"}},
	}
	podless := rest.CopyConfig(saCfg)
	podless.Impersonate.Extra = nil
	noNode := watchingClient(t, podless)
	certCfg, err := env.AddUser(testenv.NodeUser("rn-1"), testenv.NodeAgentsGroup)
	mustDo(t, "rn-1's identity", err)

	for _, agent := range []struct {
		name string
		cfg  *rest.Config
	}{{"rn-1's certificate", certCfg}, {"rn-1's pod token", saCfg}} {
		t.Run(agent.name, func(t *testing.T) {
			node1 := watchingClient(t, agent.cfg)
			// Its own, as its caches read them.
			insts := &cloudv1.InstanceList{}
			mustDo(t, "listing its instances", node1.List(ctx, insts, client.MatchingLabels{cloudv1.LabelHypervisor: "rn-1"}))
			if len(insts.Items) != 1 || insts.Items[0].Name != mine.Name {
				t.Fatalf("its instances: %d, want only %s", len(insts.Items), mine.Name)
			}
			mustDo(t, "listing its instances in a namespace", node1.List(ctx, insts, client.InNamespace("rn"),
				client.MatchingLabels{cloudv1.LabelHypervisor: "rn-1"}))
			mustDo(t, "reading its instance", node1.Get(ctx, client.ObjectKeyFromObject(mine), &cloudv1.Instance{}))
			vols := &cloudv1.VolumeList{}
			mustDo(t, "listing its stored volumes", node1.List(ctx, vols, client.MatchingLabels{cloudv1.LabelStorageNode: "rn-1"}))
			if len(vols.Items) != 1 || vols.Items[0].Name != stored.Name {
				t.Fatalf("its stored volumes: %d, want only %s", len(vols.Items), stored.Name)
			}
			mustDo(t, "listing its attached volumes", node1.List(ctx, vols, client.MatchingLabels{cloudv1.LabelAttachNode: "rn-1"}))
			mustDo(t, "reading its volume", node1.Get(ctx, client.ObjectKeyFromObject(stored), &cloudv1.Volume{}))
			snaps := &cloudv1.SnapshotList{}
			mustDo(t, "listing its snapshots", node1.List(ctx, snaps, client.MatchingLabels{cloudv1.LabelStorageNode: "rn-1"}))
			if len(snaps.Items) != 1 || snaps.Items[0].Name != copied.Name {
				t.Fatalf("its snapshots: %d, want only %s", len(snaps.Items), copied.Name)
			}
			mustDo(t, "reading its snapshot", node1.Get(ctx, client.ObjectKeyFromObject(copied), &cloudv1.Snapshot{}))

			// Everything else.
			wantRefused(t, "listing every instance", node1.List(ctx, &cloudv1.InstanceList{}),
				"may list instances only with the label selector cloud.pinet.io/hypervisor=rn-1")
			wantRefused(t, "listing a project's instances", node1.List(ctx, &cloudv1.InstanceList{}, client.InNamespace("rn")),
				"only with the label selector")
			wantRefused(t, "listing another node's instances", node1.List(ctx, &cloudv1.InstanceList{},
				client.MatchingLabels{cloudv1.LabelHypervisor: "rn-2"}), "only with the label selector")
			for _, op := range []selection.Operator{selection.In, selection.NotIn, selection.Exists} {
				values := []string{"rn-1", "rn-2"}
				if op == selection.Exists {
					values = nil
				}
				req, err := labels.NewRequirement(cloudv1.LabelHypervisor, op, values)
				mustDo(t, "a requirement", err)
				wantRefused(t, fmt.Sprintf("listing instances with hypervisor %s %v", op, values), node1.List(ctx,
					&cloudv1.InstanceList{}, client.MatchingLabelsSelector{Selector: labels.NewSelector().Add(*req)}),
					"only with the label selector")
			}
			wantRefused(t, "listing by another label", node1.List(ctx, &cloudv1.InstanceList{},
				client.MatchingLabels{cloudv1.LabelStorageNode: "rn-1"}), "only with the label selector")
			mustDo(t, "watching its instances", watchOnce(ctx, node1, &cloudv1.InstanceList{},
				client.MatchingLabels{cloudv1.LabelHypervisor: "rn-1"}))
			wantRefused(t, "watching every instance", watchOnce(ctx, node1, &cloudv1.InstanceList{}), "may watch instances only")
			wantRefused(t, "watching every volume", watchOnce(ctx, node1, &cloudv1.VolumeList{}), "may watch volumes only")
			wantRefused(t, "reading another node's instance", node1.Get(ctx, client.ObjectKeyFromObject(theirs), &cloudv1.Instance{}),
				"instance rn/vm-on-2 is not on node rn-1")
			wantRefused(t, "reading an instance that does not exist", node1.Get(ctx,
				client.ObjectKey{Namespace: "rn", Name: "no-such"}, &cloudv1.Instance{}), "is not on node rn-1")
			wantRefused(t, "listing every volume", node1.List(ctx, &cloudv1.VolumeList{}),
				"cloud.pinet.io/storage-node=rn-1 or cloud.pinet.io/attach-node=rn-1")
			wantRefused(t, "listing another node's volumes", node1.List(ctx, &cloudv1.VolumeList{},
				client.MatchingLabels{cloudv1.LabelStorageNode: "rn-2"}), "only with the label selector")
			wantRefused(t, "reading another node's volume", node1.Get(ctx, client.ObjectKeyFromObject(storedElsewhere), &cloudv1.Volume{}),
				"volume rn/stored-on-2 is not on node rn-1")
			wantRefused(t, "listing every snapshot", node1.List(ctx, &cloudv1.SnapshotList{}),
				"may list snapshots only with the label selector cloud.pinet.io/storage-node=rn-1")
			wantRefused(t, "watching another node's snapshots", watchOnce(ctx, node1, &cloudv1.SnapshotList{},
				client.MatchingLabels{cloudv1.LabelStorageNode: "rn-2"}), "may watch snapshots only")
			wantRefused(t, "reading another node's snapshot", node1.Get(ctx, client.ObjectKeyFromObject(copiedElsewhere), &cloudv1.Snapshot{}),
				"snapshot rn/copied-on-2 is not on node rn-1")
		})
	}

	wantRefused(t, "a node service account without a pod's node listing its instances", noNode.List(ctx, &cloudv1.InstanceList{},
		client.MatchingLabels{cloudv1.LabelHypervisor: "rn-1"}), "name no node")

	// A moved instance stops being readable by the node it left, and becomes readable by the one
	// it went to (as soon as the manager's cache sees the move).
	node1 := clientAs(t, testenv.NodeUser("rn-1"), testenv.NodeAgentsGroup)
	node2 := clientAs(t, testenv.NodeUser("rn-2"), testenv.NodeAgentsGroup)
	mustDo(t, "moving the instance", env.Client.Patch(ctx, mine,
		mergePatch(`{"metadata":{"labels":{"cloud.pinet.io/hypervisor":"rn-2"}}}`)))
	testenv.Eventually(t, shortWait, "rn-1 refused its moved instance, rn-2 allowed", func() error {
		if err := node1.Get(ctx, client.ObjectKeyFromObject(mine), &cloudv1.Instance{}); err == nil {
			return fmt.Errorf("rn-1 still reads it")
		}
		return node2.Get(ctx, client.ObjectKeyFromObject(mine), &cloudv1.Instance{})
	})

	// Users other than node agents are left to RBAC: the administrator lists everything.
	all := &cloudv1.InstanceList{}
	mustDo(t, "the administrator listing every instance", env.Client.List(ctx, all, client.InNamespace("rn")))
	if len(all.Items) != 2 {
		t.Fatalf("the administrator lists %d instances, want 2", len(all.Items))
	}
}

// watchingClient is a client of cfg that can watch.
func watchingClient(t *testing.T, cfg *rest.Config) client.WithWatch {
	t.Helper()
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: env.Scheme})
	mustDo(t, "a client", err)
	return c
}

// watchOnce opens a watch of list's kind and closes it.
func watchOnce(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
	w, err := c.Watch(ctx, list, opts...)
	if err != nil {
		return err
	}
	w.Stop()
	return nil
}

const usePublicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKfVbUNIwsN0OxP5aaQoMzk/wsBf0aDiiIRxeEYgmIGx ru"

// TestNodeAgentReadsOnlyWhatItsInstancesUse: the key pairs, images and security groups (with the
// groups their rules admit) a node's instances use are labelled for it by the manager, and the
// node reads those and no others — another node's, the same project's unused ones, none listed
// or watched without its label — until its instance leaves the node.
func TestNodeAgentReadsOnlyWhatItsInstancesUse(t *testing.T) {
	ctx := context.Background()
	c := startCloud(t)
	c.AddProjectWithQuota(t, "ru", testcloud.NoQuota())
	for _, o := range []client.Object{
		&cloudv1.KeyPair{ObjectMeta: metav1.ObjectMeta{Name: "key-1", Namespace: "ru"}, Spec: cloudv1.KeyPairSpec{PublicKey: usePublicKey}},
		&cloudv1.KeyPair{ObjectMeta: metav1.ObjectMeta{Name: "key-2", Namespace: "ru"}, Spec: cloudv1.KeyPairSpec{PublicKey: usePublicKey}},
		&cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "img-1", Namespace: "ru"}, Spec: cloudv1.ImageSpec{ImageLocation: "bkt/img-1.manifest.xml"}},
		&cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "img-2", Namespace: "ru"}, Spec: cloudv1.ImageSpec{ImageLocation: "bkt/img-2.manifest.xml"}},
		&cloudv1.SecurityGroup{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ru"}, Spec: cloudv1.SecurityGroupSpec{Description: "web",
			Ingress: []cloudv1.IngressRule{{Protocol: "-1", SourceGroups: []string{"db"}}}}},
		&cloudv1.SecurityGroup{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ru"}, Spec: cloudv1.SecurityGroupSpec{Description: "db"}},
		&cloudv1.SecurityGroup{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "ru"}, Spec: cloudv1.SecurityGroupSpec{Description: "other"}},
	} {
		mustDo(t, "creating "+o.GetName(), env.Client.Create(ctx, o))
	}
	bind := func(name, image, key, group, node string) *cloudv1.Instance {
		inst := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ru", Labels: map[string]string{cloudv1.LabelHypervisor: node}},
			Spec: cloudv1.InstanceSpec{ImageID: image, InstanceType: "m1.tiny", KeyName: key, SecurityGroups: []string{group}}}
		mustDo(t, "creating "+name, env.Client.Create(ctx, inst))
		mustDo(t, "binding "+name, env.Client.Status().Patch(ctx, inst, mergePatch(`{"status":{"hypervisor":"`+node+`"}}`)))
		return inst
	}
	mine := bind("vm-1", "img-1", "key-1", "web", "ru-1")
	bind("vm-2", "img-2", "key-2", "other", "ru-2")

	cfg1, err := env.AddUser(testenv.NodeUser("ru-1"), testenv.NodeAgentsGroup)
	mustDo(t, "ru-1's identity", err)
	node1 := watchingClient(t, cfg1)
	given := client.MatchingLabels{cloudv1.NodeUseLabel("ru-1"): cloudv1.NodeUseLabelValue}
	names := func(list client.ObjectList) []string {
		items, err := apimeta.ExtractList(list)
		mustDo(t, "reading a list", err)
		var out []string
		for _, item := range items {
			out = append(out, item.(client.Object).GetName())
		}
		slices.Sort(out)
		return out
	}
	testenv.Eventually(t, shortWait, "ru-1 to read what vm-1 uses", func() error {
		for _, w := range []struct {
			list client.ObjectList
			want []string
		}{
			{&cloudv1.KeyPairList{}, []string{"key-1"}},
			{&cloudv1.ImageList{}, []string{"img-1"}},
			{&cloudv1.SecurityGroupList{}, []string{"db", "web"}},
		} {
			if err := node1.List(ctx, w.list, client.InNamespace("ru"), given); err != nil {
				return err
			}
			if got := names(w.list); !slices.Equal(got, w.want) {
				return fmt.Errorf("%T: %v, want %v", w.list, got, w.want)
			}
		}
		return nil
	})
	mustDo(t, "reading its key pair", node1.Get(ctx, client.ObjectKey{Namespace: "ru", Name: "key-1"}, &cloudv1.KeyPair{}))
	mustDo(t, "reading the group its group admits", node1.Get(ctx, client.ObjectKey{Namespace: "ru", Name: "db"}, &cloudv1.SecurityGroup{}))
	mustDo(t, "watching its images", watchOnce(ctx, node1, &cloudv1.ImageList{}, given))

	for _, l := range []client.ObjectList{&cloudv1.KeyPairList{}, &cloudv1.ImageList{}, &cloudv1.SecurityGroupList{}} {
		wantRefused(t, fmt.Sprintf("listing every %T", l), node1.List(ctx, l), "only with the label selector node.cloud.pinet.io/ru-1=true")
		wantRefused(t, fmt.Sprintf("listing a project's %T", l), node1.List(ctx, l, client.InNamespace("ru")), "only with the label selector")
		wantRefused(t, fmt.Sprintf("listing ru-2's %T", l), node1.List(ctx, l,
			client.MatchingLabels{cloudv1.NodeUseLabel("ru-2"): cloudv1.NodeUseLabelValue}), "only with the label selector")
		wantRefused(t, fmt.Sprintf("watching every %T", l), watchOnce(ctx, node1, l), "only with the label selector")
	}
	wantRefused(t, "reading ru-2's key pair", node1.Get(ctx, client.ObjectKey{Namespace: "ru", Name: "key-2"}, &cloudv1.KeyPair{}),
		"keypair ru/key-2 is not used by an instance on node ru-1")
	wantRefused(t, "reading ru-2's image", node1.Get(ctx, client.ObjectKey{Namespace: "ru", Name: "img-2"}, &cloudv1.Image{}),
		"image ru/img-2 is not used")
	wantRefused(t, "reading a group no instance of ru-1 uses", node1.Get(ctx, client.ObjectKey{Namespace: "ru", Name: "other"},
		&cloudv1.SecurityGroup{}), "securitygroup ru/other is not used")

	// The instance moves to another node: what the node could read of it goes with it.
	mustDo(t, "moving vm-1", env.Client.Status().Patch(ctx, mine, mergePatch(`{"status":{"hypervisor":"ru-3"}}`)))
	testenv.Eventually(t, longWait, "ru-1 to read nothing of vm-1's", func() error {
		if err := node1.Get(ctx, client.ObjectKey{Namespace: "ru", Name: "key-1"}, &cloudv1.KeyPair{}); err == nil {
			return fmt.Errorf("ru-1 still reads key-1")
		}
		list := &cloudv1.SecurityGroupList{}
		if err := node1.List(ctx, list, given); err != nil {
			return err
		}
		if len(list.Items) > 0 {
			return fmt.Errorf("ru-1 still lists %v", names(list))
		}
		return nil
	})
}
