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

package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/controllers"
	"pinet.io/pinet/internal/nodeuse"
	"pinet.io/pinet/internal/testenv"
)

const useKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKfVbUNIwsN0OxP5aaQoMzk/wsBf0aDiiIRxeEYgmIGx use"

// usedObjects makes, in project, image img, key pair k and security groups web (admitting db),
// db and spare.
func usedObjects(t *testing.T, project string) {
	t.Helper()
	ctx := context.Background()
	objs := []client.Object{
		&cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "img", Namespace: project},
			Spec: cloudv1.ImageSpec{ImageLocation: "bucket/img.manifest.xml"}},
		&cloudv1.KeyPair{ObjectMeta: metav1.ObjectMeta{Name: "k", Namespace: project}, Spec: cloudv1.KeyPairSpec{PublicKey: useKey}},
		&cloudv1.SecurityGroup{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: project},
			Spec: cloudv1.SecurityGroupSpec{Description: "web", Ingress: []cloudv1.IngressRule{{Protocol: "tcp",
				FromPort: ptr.To[int32](80), ToPort: ptr.To[int32](80), SourceGroups: []string{"db"}}}}},
		&cloudv1.SecurityGroup{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: project}, Spec: cloudv1.SecurityGroupSpec{Description: "db"}},
		&cloudv1.SecurityGroup{ObjectMeta: metav1.ObjectMeta{Name: "spare", Namespace: project}, Spec: cloudv1.SecurityGroupSpec{Description: "spare"}},
	}
	for _, o := range objs {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
}

// given lists what carries node's use label, as "Kind ns/name".
func given(ctx context.Context, node string) ([]string, error) {
	var out []string
	sel := client.MatchingLabels{cloudv1.NodeUseLabel(node): cloudv1.NodeUseLabelValue}
	for _, list := range []client.ObjectList{&cloudv1.KeyPairList{}, &cloudv1.ImageList{}, &cloudv1.SecurityGroupList{}} {
		if err := env.Client.List(ctx, list, sel); err != nil {
			return nil, err
		}
		items, err := apimeta.ExtractList(list)
		if err != nil {
			return nil, err
		}
		for _, item := range items {
			out = append(out, nodeuse.KeyOf(item.(client.Object)).String())
		}
	}
	slices.Sort(out)
	return out, nil
}

func waitGiven(t *testing.T, node string, want ...string) {
	t.Helper()
	slices.Sort(want)
	testenv.Eventually(t, longWait, fmt.Sprintf("node %s to be given %v", node, want), func() error {
		got, err := given(context.Background(), node)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("given %v", got)
		}
		return nil
	})
}

func bindTo(t *testing.T, inst *cloudv1.Instance, node string) {
	t.Helper()
	ctx := context.Background()
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), inst); err != nil {
			return err
		}
		inst.Status.Hypervisor = node
		return env.Client.Status().Update(ctx, inst)
	}); err != nil {
		t.Fatal(err)
	}
}

// The manager labels for a node exactly the key pairs, images and security groups (with the
// groups their rules admit) its instances use — nothing of another project's of the same names,
// nothing unused — follows an instance that moves, a rule that changes and an instance that
// goes, and no one else may set or take such a label.
func TestNodeUseLabels(t *testing.T) {
	startManagerWith(t, controllers.Options{NodeUseGrace: time.Second})
	ctx := context.Background()
	for _, p := range []string{"use-a", "use-b"} {
		createProject(t, p)
		usedObjects(t, p)
	}
	for _, n := range []string{"use-n1", "use-n2"} {
		hv := &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: n}}
		if err := env.Client.Create(ctx, hv); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), hv) })
	}
	inst := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "use-a"},
		Spec: cloudv1.InstanceSpec{ImageID: "img", InstanceType: "m1.tiny", KeyName: "k", SecurityGroups: []string{"web"}}}
	if err := env.Client.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	// B's instance of the same names, bound nowhere: B's objects go to no node.
	if err := env.Client.Create(ctx, &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "use-b"},
		Spec: cloudv1.InstanceSpec{ImageID: "img", InstanceType: "m1.tiny", KeyName: "k"}}); err != nil {
		t.Fatal(err)
	}
	bindTo(t, inst, "use-n1")
	waitGiven(t, "use-n1", "Image use-a/img", "KeyPair use-a/k", "SecurityGroup use-a/web", "SecurityGroup use-a/db")
	waitGiven(t, "use-n2")

	// Moved: the new node is given all of it, the old one loses it.
	bindTo(t, inst, "use-n2")
	waitGiven(t, "use-n2", "Image use-a/img", "KeyPair use-a/k", "SecurityGroup use-a/web", "SecurityGroup use-a/db")
	waitGiven(t, "use-n1")

	// The rule admits another group: the node reads that one's members instead.
	web := &cloudv1.SecurityGroup{}
	if err := env.Client.Get(ctx, types.NamespacedName{Namespace: "use-a", Name: "web"}, web); err != nil {
		t.Fatal(err)
	}
	web.Spec.Ingress[0].SourceGroups = []string{"spare"}
	if err := env.Client.Update(ctx, web); err != nil {
		t.Fatal(err)
	}
	waitGiven(t, "use-n2", "Image use-a/img", "KeyPair use-a/k", "SecurityGroup use-a/web", "SecurityGroup use-a/spare")

	// A project's user may neither take nor set a node use label.
	icfg := rest.CopyConfig(env.Config)
	icfg.Impersonate = rest.ImpersonationConfig{UserName: "pinet:user:alice", Groups: []string{"system:masters"}}
	alice, err := client.New(icfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	refused := func(what string, err error) {
		t.Helper()
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "is set only by PiNet") {
			t.Fatalf("%s: %v, want the node use policy's refusal", what, err)
		}
	}
	take := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"`+cloudv1.NodeUseLabel("use-n2")+`":null}}}`))
	refused("a user taking a node's label", alice.Patch(ctx, &cloudv1.KeyPair{ObjectMeta: metav1.ObjectMeta{Name: "k", Namespace: "use-a"}}, take))
	give := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"`+cloudv1.NodeUseLabel("use-n1")+`":"true"}}}`))
	refused("a user giving a node an image", alice.Patch(ctx, &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "img", Namespace: "use-b"}}, give))
	refused("a user creating a group given to a node", alice.Create(ctx, &cloudv1.SecurityGroup{
		ObjectMeta: metav1.ObjectMeta{Name: "given", Namespace: "use-b", Labels: map[string]string{cloudv1.NodeUseLabel("use-n1"): "true"}},
		Spec:       cloudv1.SecurityGroupSpec{Description: "given"}}))
	// Other labels stay the user's.
	if err := alice.Patch(ctx, &cloudv1.KeyPair{ObjectMeta: metav1.ObjectMeta{Name: "k", Namespace: "use-a"}},
		client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"team":"blue"}}}`))); err != nil {
		t.Fatalf("a user's own label: %v", err)
	}

	// Terminated with its domain let go, then deleted: the node keeps nothing.
	if err := env.Client.Delete(ctx, inst); err != nil {
		t.Fatal(err)
	}
	waitGiven(t, "use-n2")
	waitGiven(t, "use-n1")
}
