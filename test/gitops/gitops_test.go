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

// Package gitops keeps the samples in git, as a GitOps user would, and applies them to a whole
// cloud (the real API server, manager, EC2 API, object store and a node agent on libvirt's test
// driver) with the real kubectl, server-side: every object converges to what kstatus (the status
// library Flux uses) calls Current, re-applying changes nothing, a broken object says why, and
// deleting from git removes everything through the finalizers.
package gitops_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/claims"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// Named waits, generous for loaded two-core machines.
const (
	longWait = 3 * time.Minute
)

const (
	project  = "research" // the samples' project
	member   = "alice"    // its member (config/samples/user.yaml)
	nodeName = "node-1"   // the sample hypervisor, registered by its node agent
	rawImage = "sample-disk"
)

// expect is what an applied object must come to.
type expect int

const (
	// ready: Ready=True at the current generation, kstatus Current.
	ready expect = iota
	// settled: the status reflects the current generation and kstatus agrees with Ready (the
	// object waits on something this cloud has not got, such as a storage node).
	settled
	// waiting: Ready=False at the current generation on something that may yet come (an image,
	// a pool); kstatus InProgress with the reason.
	waiting
	// failed: Ready=False and Stalled=True at the current generation (nothing but a new object
	// can mend it); kstatus Failed with the reason.
	failed
)

// applied is an object applied from git, and who applied it.
type applied struct {
	manifest
	by     identity
	expect expect
	// reason is the Ready condition's reason a broken object must give.
	reason string
	uid    types.UID
	// finalized: the object held a finalizer, so its claims go with it.
	finalized bool
}

type gitops struct {
	t       *testing.T
	cloud   *testcloud.Cloud
	admin   identity
	member  identity
	samples map[string][]manifest
	objects []*applied
}

// sample is the one object of a sample file (or the named one), put into the project's
// namespace if its kind is namespaced.
func (g *gitops) sample(file, name string, namespaced bool) manifest {
	g.t.Helper()
	for _, m := range g.samples[file] {
		if name == "" || m.obj.GetName() == name {
			m.obj = m.obj.DeepCopy()
			if namespaced {
				m.obj.SetNamespace(project)
			}
			return m
		}
	}
	g.t.Fatalf("no object %q in config/samples/%s", name, file)
	return manifest{}
}

// apply applies m and waits until it is what e says.
func (g *gitops) apply(m manifest, by identity, e expect) *applied {
	g.t.Helper()
	return g.applyBroken(m, by, e, "")
}

// applyBroken applies m and waits until it is what e says, not Ready for the reason.
func (g *gitops) applyBroken(m manifest, by identity, e expect, reason string) *applied {
	g.t.Helper()
	by.apply(g.t, m)
	a := &applied{manifest: m, by: by, expect: e, reason: reason}
	g.objects = append(g.objects, a)
	g.converge(a)
	return a
}

// converge waits until the object is what its expectation says and checks kstatus' verdict.
func (g *gitops) converge(a *applied) {
	t := g.t
	t.Helper()
	var live *unstructured.Unstructured
	testenv.Eventually(t, longWait, a.String()+" converged", func() error {
		u, err := get(context.Background(), a.manifest)
		if err != nil {
			return err
		}
		if err := observed(u); err != nil {
			return err
		}
		c := readyCondition(u)
		switch {
		case a.expect == ready && (c == nil || c.Status != metav1.ConditionTrue):
			return fmt.Errorf("not ready: %+v", c)
		case (a.expect == waiting || a.expect == failed) && (c == nil || c.Status != metav1.ConditionFalse):
			return fmt.Errorf("no Ready=False: %+v", c)
		case a.reason != "" && c.Reason != a.reason:
			return fmt.Errorf("not Ready for %s but %s: %s", c.Reason, a.reason, c.Message)
		}
		live = u
		return nil
	})
	a.uid = live.GetUID()
	a.finalized = a.finalized || len(live.GetFinalizers()) > 0
	res := compute(t, live)
	c := readyCondition(live)
	switch {
	case c != nil && c.Status == metav1.ConditionTrue:
		if res.Status != status.CurrentStatus {
			t.Errorf("%s is Ready but kstatus says %s: %s", a, res.Status, res.Message)
		}
	case c == nil:
		if a.expect != settled || res.Status != status.CurrentStatus {
			t.Errorf("%s has no Ready condition; kstatus says %s: %s", a, res.Status, res.Message)
		}
	default:
		want := status.InProgressStatus
		if a.expect == failed {
			want = status.FailedStatus
		}
		if res.Status != want {
			t.Errorf("%s is not Ready (%s: %s): kstatus says %s, want %s", a, c.Reason, c.Message, res.Status, want)
		}
		if !slices.ContainsFunc(res.Conditions, func(rc status.Condition) bool { return rc.Reason == c.Reason }) ||
			!strings.Contains(res.Message, c.Message) {
			t.Errorf("kstatus on %s does not carry the reason %s (%q): %+v", a, c.Reason, c.Message, res)
		}
	}
	if c != nil {
		t.Logf("%s: Ready=%s %s; kstatus %s (%s)", a, c.Status, c.Reason, res.Status, res.Message)
	}
}

// Every sample, applied from git with kubectl --server-side (cluster-scoped kinds as the
// operator, the rest as a project member), converges to kstatus Current; broken variants say
// why; re-applying changes nothing; deleting removes everything through the finalizers.
func TestSamplesConvergeReapplyAndDelete(t *testing.T) {
	ctx := context.Background()
	cloud, err := testcloud.Start(env, testcloud.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cloud.AddNode(t, nodeName, "pinet-1a", 8, 16384)
	memberCfg, err := env.AddUser(cloudv1.UserPrefix+member, cloudv1.ProjectGroupPrefix+project)
	if err != nil {
		t.Fatal(err)
	}
	g := &gitops{t: t, cloud: cloud, samples: readSamples(t),
		admin: newIdentity(t, "admin", env.Config), member: newIdentity(t, member, memberCfg)}

	// Cluster-scoped kinds, as the cloud's operator.
	g.apply(g.sample("instancetype.yaml", "", false), g.admin, ready)
	g.apply(g.sample("addresspool.yaml", "", false), g.admin, ready)
	g.apply(g.sample("project.yaml", "", false), g.admin, ready)
	g.apply(g.sample("user.yaml", "", false), g.admin, ready)
	hv := g.apply(g.sample("hypervisor.yaml", "", false), g.admin, ready)

	// The bytes of the machine image, uploaded as a member would before registering it.
	uploader := cloud.AddUser(t, "gitops-uploader", false, project)
	mc := cloud.S3(t, uploader)
	bucket := "raw-" + project
	if err := mc.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	disk := bytes.Repeat([]byte("gitops sample disk "), 1024)
	if _, err := mc.PutObject(ctx, bucket, rawImage, bytes.NewReader(disk), int64(len(disk)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}

	// Namespaced kinds, as the project's member, in dependency order.
	g.apply(g.sample("keypair.yaml", "", true), g.member, ready)
	g.apply(g.sample("securitygroup.yaml", "", true), g.member, ready)
	vol := g.apply(g.sample("volume.yaml", "", true), g.member, settled)
	g.apply(g.sample("address.yaml", "", true), g.member, ready)
	g.apply(g.rawImage("sample", bucket), g.member, ready)
	g.apply(g.sample("instance.yaml", "", true), g.member, ready)
	snap := g.sample("snapshot.yaml", "", true)
	volLive, err := get(ctx, vol.manifest)
	if err != nil {
		t.Fatal(err)
	}
	volID, _, _ := unstructured.NestedString(volLive.Object, "status", "volumeId")
	_ = unstructured.SetNestedField(snap.obj.Object, volID, "spec", "volumeId")
	g.apply(snap, g.member, settled)

	g.applyBrokenSamples()
	for file := range g.samples {
		if !slices.ContainsFunc(g.objects, func(a *applied) bool { return a.file == file }) {
			t.Errorf("config/samples/%s is not applied here: add it", file)
		}
	}

	g.reapplyChangesNothing(hv)
	g.changeInGit(bucket)
	g.deleteAll(hv)
}

// reapplyChangesNothing re-applies git: no generation moves, nothing is written, no controller
// owns a spec field, and every object is still what it was.
func (g *gitops) reapplyChangesNothing(hv *applied) {
	t := g.t
	t.Helper()
	ctx := context.Background()
	generations := map[*applied]int64{}
	for _, a := range g.objects {
		u, err := get(ctx, a.manifest)
		if err != nil {
			t.Fatal(err)
		}
		generations[a] = u.GetGeneration()
	}
	for _, a := range g.objects {
		a.by.apply(t, a.manifest)
		g.applyIsNoOp(a)
	}
	for _, a := range g.objects {
		u, err := get(ctx, a.manifest)
		if err != nil {
			t.Fatal(err)
		}
		if u.GetGeneration() != generations[a] {
			t.Errorf("re-applying %s moved its generation from %d to %d", a, generations[a], u.GetGeneration())
		}
		// The node agent created its Hypervisor, so it keeps the spec fields git does not set;
		// that it never writes them again shows in the unchanged generation.
		if owners := specOwners(u); len(owners) > 0 && a != hv {
			t.Errorf("besides git, %v own spec fields of %s", owners, a)
		}
		g.converge(a)
	}

}

// rawImage is the sample machine image as a raw disk in the bucket: the sample's bundle is built
// by `make up`.
func (g *gitops) rawImage(name, bucket string) manifest {
	img := g.sample("image.yaml", "sample", true)
	img.obj.SetName(name)
	_ = unstructured.SetNestedField(img.obj.Object, bucket+"/"+rawImage, "spec", "imageLocation")
	_ = unstructured.SetNestedField(img.obj.Object, string(cloudv1.ImageFormatRaw), "spec", "format")
	unstructured.RemoveNestedField(img.obj.Object, "spec", "kernelId")
	unstructured.RemoveNestedField(img.obj.Object, "spec", "ramdiskId")
	return img
}

// changeInGit changes git: a new generation is observed and Current again, and what waited
// (InProgress, not Failed) comes when what it waited for is added.
func (g *gitops) changeInGit(bucket string) {
	t := g.t
	t.Helper()
	find := func(kind, name string) *applied {
		for _, a := range g.objects {
			if a.obj.GetKind() == kind && a.obj.GetName() == name {
				return a
			}
		}
		t.Fatalf("no %s %s applied", kind, name)
		return nil
	}
	proj := find("Project", project)
	before, err := get(context.Background(), proj.manifest)
	if err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(proj.obj.Object, "Changed in git", "spec", "description")
	proj.by.apply(t, proj.manifest)
	g.converge(proj)
	after, err := get(context.Background(), proj.manifest)
	if err != nil {
		t.Fatal(err)
	}
	if after.GetGeneration() <= before.GetGeneration() {
		t.Errorf("a changed description kept the project's generation %d", after.GetGeneration())
	}

	// The broken instance names an image that git now adds: it runs. The image goes before the
	// instance in the order of deletion's reverse.
	waiting := find("Instance", "broken")
	g.apply(g.rawImage("no-such-image", bucket), g.member, ready)
	img := g.objects[len(g.objects)-1]
	g.objects = g.objects[:len(g.objects)-1]
	g.objects = slices.Insert(g.objects, slices.Index(g.objects, waiting), img)
	waiting.expect, waiting.reason = ready, ""
	g.converge(waiting)
}

// applyIsNoOp re-applies an unchanged manifest and checks that the API server wrote nothing: the
// object's resourceVersion is the one read just before. A controller may write status between
// the read and the apply, so a few tries are allowed; a manifest that fights a controller or a
// default writes on every apply. Conflicts are not forced: once applied, git owns every field it
// sets (on the Hypervisor its node agent created, the first apply took them over), and no
// controller takes one back.
func (g *gitops) applyIsNoOp(a *applied) {
	t := g.t
	t.Helper()
	args := []string{"apply", "--server-side", "--field-manager=" + fieldManager, "-o", "jsonpath={.metadata.resourceVersion}", "-f", "-"}
	var before, after string
	for range 5 {
		u, err := get(context.Background(), a.manifest)
		if err != nil {
			t.Fatal(err)
		}
		before = u.GetResourceVersion()
		out, err := a.by.kubectl(a.yaml(t), args...)
		if err != nil {
			t.Fatalf("re-applying %s: %v", a, err)
		}
		if after = strings.TrimSpace(out); after == before {
			return
		}
	}
	t.Errorf("re-applying %s unchanged writes it every time (resourceVersion %s, then %s)", a, before, after)
}

// applyBrokenSamples applies, as the member, objects git may hold that cannot work: each must say
// why, and those only a new object can mend must say so (Stalled, kstatus Failed).
func (g *gitops) applyBrokenSamples() {
	g.t.Helper()
	inst := g.sample("instance.yaml", "", true)
	inst.obj.SetName("broken")
	_ = unstructured.SetNestedField(inst.obj.Object, "no-such-image", "spec", "imageId")
	g.applyBroken(inst, g.member, waiting, cloudv1.ReasonImageNotFound)

	kp := g.sample("keypair.yaml", "", true)
	kp.obj.SetName("broken")
	_ = unstructured.SetNestedField(kp.obj.Object, "broken", "spec", "keyName")
	_ = unstructured.SetNestedField(kp.obj.Object, "ssh-ed25519 AAAAnotakey", "spec", "publicKey")
	g.applyBroken(kp, g.member, failed, cloudv1.ReasonInvalidPublicKey)

	addr := g.sample("address.yaml", "", true)
	addr.obj.SetName("broken")
	_ = unstructured.SetNestedField(addr.obj.Object, "no-such-pool", "spec", "pool")
	g.applyBroken(addr, g.member, waiting, cloudv1.ReasonPoolNotFound)

	// As in git: the snapshot names a volume the project does not have, the kernel and ramdisk a
	// bucket it does not have.
	snap := g.sample("snapshot.yaml", "", true)
	snap.obj.SetName("broken")
	g.applyBroken(snap, g.member, failed, cloudv1.ReasonVolumeNotFound)
	g.applyBroken(g.sample("image.yaml", "sample-kernel", true), g.member, failed, cloudv1.ReasonSourceNotFound)
	g.applyBroken(g.sample("image.yaml", "sample-ramdisk", true), g.member, failed, cloudv1.ReasonSourceNotFound)
}

// deleteAll deletes from git in reverse order (the hypervisor stays: its node agent registered
// it) and waits until each object is gone with every claim it held.
func (g *gitops) deleteAll(keep *applied) {
	t := g.t
	t.Helper()
	ctx := context.Background()
	for i := len(g.objects) - 1; i >= 0; i-- {
		a := g.objects[i]
		if a == keep {
			continue
		}
		if _, err := a.by.kubectl(a.yaml(t), "delete", "--wait=false", "-f", "-"); err != nil {
			t.Fatalf("deleting %s: %v", a, err)
		}
		testenv.Eventually(t, longWait, a.String()+" gone", func() error {
			u, err := get(ctx, a.manifest)
			switch {
			case apierrors.IsNotFound(err):
				return nil
			case err != nil:
				return err
			}
			return fmt.Errorf("still there: finalizers %v, Ready %+v", u.GetFinalizers(), readyCondition(u))
		})
		if !a.finalized {
			continue // its claims go with the claim sweeper
		}
		testenv.Eventually(t, longWait, a.String()+" claims released", func() error {
			list := &coordinationv1.LeaseList{}
			if err := env.Client.List(ctx, list, client.MatchingLabels{claims.LabelHolderUID: string(a.uid)}); err != nil {
				return err
			}
			if len(list.Items) > 0 {
				return fmt.Errorf("%d claims left, e.g. %s", len(list.Items), list.Items[0].Name)
			}
			return nil
		})
	}
}
