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

package nodeuse

import (
	"context"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/index"
)

// builderIndexer registers the cache's field indexes on a fake client's builder.
type builderIndexer struct{ b *fake.ClientBuilder }

func (bi builderIndexer) IndexField(_ context.Context, obj client.Object, field string, fn client.IndexerFunc) error {
	bi.b.WithIndex(obj, field, fn)
	return nil
}

func fakeClient(t *testing.T, objs ...client.Object) client.Client {
	t.Helper()
	s := runtime.NewScheme()
	if err := cloudv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	b := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...)
	if err := index.Register(context.Background(), builderIndexer{b}); err != nil {
		t.Fatal(err)
	}
	return b.Build()
}

func meta(ns, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(ns + "/" + name)}
}

func keys(objs []client.Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, KeyOf(o).String())
	}
	slices.Sort(out)
	return out
}

// Uses resolves as the node agent does: an image by id in another project that shares it, that
// image's default kernel in its owner's project, the key pair and groups of the instance's own
// project (the default group when it names none), and the groups the rules admit; what names
// nothing is left out, and another project's objects of the same names are never taken.
func TestUses(t *testing.T) {
	public := &cloudv1.Image{ObjectMeta: meta("owner", "base"),
		Spec:   cloudv1.ImageSpec{ImageLocation: "bkt/base", KernelID: "vmlinuz", LaunchPermission: cloudv1.LaunchPermission{Public: true}},
		Status: cloudv1.ImageStatus{ImageID: "ami-0000000000000000a"}}
	kernel := &cloudv1.Image{ObjectMeta: meta("owner", "vmlinuz"),
		Spec:   cloudv1.ImageSpec{ImageLocation: "bkt/k", LaunchPermission: cloudv1.LaunchPermission{Public: true}},
		Status: cloudv1.ImageStatus{ImageID: "aki-0000000000000000b"}}
	c := fakeClient(t, public, kernel,
		&cloudv1.KeyPair{ObjectMeta: meta("p", "k")},
		&cloudv1.KeyPair{ObjectMeta: meta("other", "k")},
		&cloudv1.SecurityGroup{ObjectMeta: meta("p", "default"),
			Spec: cloudv1.SecurityGroupSpec{Ingress: []cloudv1.IngressRule{{Protocol: "-1", SourceGroups: []string{"db", "gone"}}}}},
		&cloudv1.SecurityGroup{ObjectMeta: meta("p", "db")},
		&cloudv1.SecurityGroup{ObjectMeta: meta("p", "spare")},
		&cloudv1.SecurityGroup{ObjectMeta: meta("other", "default")},
	)
	r := &Resolver{Reader: c}
	ctx := context.Background()
	inst := &cloudv1.Instance{ObjectMeta: meta("p", "vm"),
		Spec: cloudv1.InstanceSpec{ImageID: "ami-0000000000000000a", KeyName: "k"}}
	objs, err := r.Uses(ctx, inst)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Image owner/base", "Image owner/vmlinuz", "KeyPair p/k", "SecurityGroup p/db", "SecurityGroup p/default"}
	if got := keys(objs); !slices.Equal(got, want) {
		t.Fatalf("uses %v, want %v", got, want)
	}
	// A second instance of the same references is answered from the memo, the same objects.
	again, err := r.Uses(ctx, inst)
	if err != nil || !slices.Equal(keys(again), want) {
		t.Fatalf("again: %v %v", keys(again), err)
	}
	// Names that resolve to nothing: nothing to give.
	missing := &cloudv1.Instance{ObjectMeta: meta("p", "vm2"),
		Spec: cloudv1.InstanceSpec{ImageID: "ami-0000000000000000f", KeyName: "none", SecurityGroups: []string{"nope"}}}
	if objs, err := r.Uses(ctx, missing); err != nil || len(objs) != 0 {
		t.Fatalf("unresolved references: %v %v", keys(objs), err)
	}
}

// A label given before a binding is kept for the grace whatever is asked; one given for a bound
// instance is not, and a taken label is gone.
func TestLabellerGrace(t *testing.T) {
	ctx := context.Background()
	kp := &cloudv1.KeyPair{ObjectMeta: meta("p", "k")}
	img := &cloudv1.Image{ObjectMeta: meta("p", "img"), Spec: cloudv1.ImageSpec{ImageLocation: "bkt/img"}}
	c := fakeClient(t, kp, img)
	clk := clocktesting.NewFakePassiveClock(time.Unix(1000, 0))
	l := &Labeller{Client: c, Clock: clk, Grace: time.Minute}
	if err := l.GiveBeforeBinding(ctx, "n1", kp); err != nil {
		t.Fatal(err)
	}
	if err := l.Give(ctx, "n1", img); err != nil {
		t.Fatal(err)
	}
	read := func(o client.Object) client.Object {
		t.Helper()
		if err := c.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	if !Has(read(kp), "n1") || !Has(read(img), "n1") || Has(kp, "n2") {
		t.Fatalf("labels: %v %v", kp.Labels, img.Labels)
	}
	clk.SetTime(clk.Now().Add(20 * time.Second))
	wait, err := l.Take(ctx, "n1", kp)
	if err != nil || wait != 40*time.Second || !Has(read(kp), "n1") {
		t.Fatalf("taken within the grace: wait %v, %v, labels %v", wait, err, kp.Labels)
	}
	if wait, err := l.Take(ctx, "n1", img); err != nil || wait != 0 || Has(read(img), "n1") {
		t.Fatalf("a label given for a bound instance: wait %v, %v, labels %v", wait, err, img.Labels)
	}
	clk.SetTime(clk.Now().Add(41 * time.Second))
	if wait, err := l.Take(ctx, "n1", kp); err != nil || wait != 0 || Has(read(kp), "n1") {
		t.Fatalf("after the grace: wait %v, %v, labels %v", wait, err, kp.Labels)
	}
	// Another writer's labels stay; a gone object needs none.
	if err := c.Delete(ctx, img); err != nil {
		t.Fatal(err)
	}
	if err := l.Give(ctx, "n1", img); err != nil {
		t.Fatalf("giving a deleted object: %v", err)
	}
}
