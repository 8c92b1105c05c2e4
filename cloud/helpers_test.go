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

package cloud_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/authz"
	"pinet.io/pinet/internal/awsauth"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

// The suite of the service's tests, and the helpers they share.

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

var (
	startOnce sync.Once
	svc       *cloud.Service
	// svcCloud and svcCache are the cloud and the informer-cached client the service runs over,
	// for tests that need the object store or build a service of their own.
	svcCloud *testcloud.Cloud
	svcCache client.Client
)

// service runs the whole cloud's controllers (for projects' and users' roles) once and returns a
// service over the real API server, called directly: no HTTP, no Query protocol.
func service(t *testing.T) *cloud.Service {
	t.Helper()
	startOnce.Do(func() {
		c, err := testcloud.Start(env, testcloud.Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		c.AddProject(t, "svc-a")
		c.AddProject(t, "svc-b")
		c.AddUser(t, "svc-alice", false, "svc-a")
		c.AddUser(t, "svc-bob", false, "svc-b")
		// The service reads through an informer cache with PiNet's field indexes, as in the manager.
		mgr, err := ctrl.NewManager(env.Config, ctrl.Options{Scheme: env.Scheme,
			Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
		if err == nil {
			err = index.Register(env.Ctx, mgr.GetFieldIndexer())
		}
		var order *index.Sorted
		if err == nil {
			order, err = cloud.RegisterInstanceOrder(env.Ctx, mgr.GetCache())
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		go func() { _ = mgr.Start(env.Ctx) }()
		if !mgr.GetCache().WaitForCacheSync(env.Ctx) {
			fmt.Fprintln(os.Stderr, "the cache never synced")
			os.Exit(1)
		}
		tokens, err := query.NewPageTokens([]byte("a page token key for the service's own tests"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		s, err := cloud.New(cloud.Config{Client: mgr.GetClient(), APIReader: env.Client, Authz: &authz.Authorizer{Client: env.Client},
			Tokens: tokens, Region: "svc-region", Endpoint: "http://ec2.svc.test", InstanceOrder: order})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		svc, svcCloud, svcCache = s, c, mgr.GetClient()
	})
	if svc == nil {
		t.Fatal("the service did not start")
	}
	return svc
}

var (
	alice = cloud.Caller{Principal: awsauth.Principal{User: "svc-alice", Project: "svc-a"}}
	bob   = cloud.Caller{Principal: awsauth.Principal{User: "svc-bob", Project: "svc-b"}}
	// stranger acts in a project no role binds: the front doors authenticate who calls, the
	// service asks RBAC what they may do there.
	stranger = cloud.Caller{Principal: awsauth.Principal{User: "svc-stranger", Project: "svc-nowhere"}}
)

// codeOf is the EC2 code of err, "" if it has none.
func codeOf(err error) string {
	var qe *query.Error
	if errors.As(err, &qe) {
		return qe.Code
	}
	return ""
}

// expectCode checks that err is an EC2 error with code.
func expectCode(t *testing.T, err error, code string) {
	t.Helper()
	if codeOf(err) != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

// tagSpecs asks for one tag on what a Create makes.
func tagSpecs(resourceType, key, value string) []cloud.TagSpecification {
	return []cloud.TagSpecification{{ResourceType: resourceType, Tags: []cloud.Tag{{Key: key, Value: value}}}}
}

// everything describes all the caller sees with describe (a Describe that does not page), failing
// the test on an error.
func everything[In, T any](t *testing.T, c cloud.Caller, describe func(context.Context, cloud.Caller, In) ([]T, error)) []T {
	t.Helper()
	var in In
	items, err := describe(context.Background(), c, in)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// byID maps items by their ids.
func byID[T any](items []T, id func(T) string) map[string]T {
	out := make(map[string]T, len(items))
	for _, item := range items {
		out[id(item)] = item
	}
	return out
}

// serviceWait bounds the tests' waits for controllers and the service's cache (the machine is
// loaded).
const serviceWait = time.Minute

// until retries check until it succeeds or serviceWait passes.
func until(t *testing.T, what string, check func() error) {
	t.Helper()
	testenv.Eventually(t, serviceWait, what, check)
}

// setQuota changes a project's quota with set; cleanup restores the quota it had.
func setQuota(t *testing.T, project string, set func(q *cloudv1.ProjectQuota)) {
	t.Helper()
	p := &cloudv1.Project{ObjectMeta: metav1.ObjectMeta{Name: project}}
	var was cloudv1.ProjectQuota
	if err := testenv.Update(context.Background(), env.Client, p, func(p *cloudv1.Project) {
		was = p.Spec.Quota
		set(&p.Spec.Quota)
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := testenv.Update(context.Background(), env.Client, p, func(p *cloudv1.Project) { p.Spec.Quota = was }); err != nil {
			t.Error(err)
		}
	})
}

// liveObjects lists a project's objects of one kind as the API server has them (into list) and
// returns those not being deleted.
func liveObjects[T any, P interface {
	*T
	client.Object
}](t *testing.T, project string, list client.ObjectList, items func() []T) []T {
	t.Helper()
	if err := env.Client.List(context.Background(), list, client.InNamespace(project)); err != nil {
		t.Fatal(err)
	}
	var out []T
	all := items()
	for i := range all {
		if P(&all[i]).GetDeletionTimestamp().IsZero() {
			out = append(out, all[i])
		}
	}
	return out
}

// kubectlInstance makes an Instance in zone as kubectl would and returns the EC2 id its
// controller gives it. Nothing runs it (no agent), but it lives: it can hold an address or volumes.
func kubectlInstance(t *testing.T, project, name, zone string) string {
	t.Helper()
	ctx := context.Background()
	inst := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: project},
		Spec: cloudv1.InstanceSpec{ImageID: "img", AvailabilityZone: zone}}
	if err := env.Client.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), inst) })
	until(t, "an id for instance "+name, func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), inst); err != nil {
			return err
		}
		if inst.Status.InstanceID == "" {
			return errors.New("no id yet")
		}
		return nil
	})
	return inst.Status.InstanceID
}

// ownNodeAndImage gives a test a node of its own in zone (cordoned when the test ends, before
// its agent stops, so that the package's later launches that name no zone are not placed on a
// node nobody runs) and an image of alice's, removed when it ends; it returns the image's id.
func ownNodeAndImage(t *testing.T, node, zone, image string) string {
	t.Helper()
	imageService(t)
	svcCloud.AddNode(t, node, zone, 8, 16384)
	t.Cleanup(func() {
		hv := &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: node}}
		if err := env.Client.Patch(context.Background(), hv, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"unschedulable":true}}`))); err != nil {
			t.Errorf("cordoning the test's node: %v", err)
		}
	})
	ami := svcCloud.RegisterRawImage(t, imageAliceKeys, "svc-a", image, []byte(strings.Repeat("n", 4096)), false)
	removeAfter(t, &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: image, Namespace: "svc-a"}})
	return ami
}
