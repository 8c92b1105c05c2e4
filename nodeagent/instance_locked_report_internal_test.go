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

package nodeagent

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/testenv"
)

// laggingCache is the agent's cache when it has not shown the latest change of an instance yet:
// reads of that instance give the copy it holds; writes go to the API server.
type laggingCache struct {
	client.Client
	held *cloudv1.Instance
}

func (c *laggingCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if inst, ok := obj.(*cloudv1.Instance); ok && key == client.ObjectKeyFromObject(c.held) {
		c.held.DeepCopyInto(inst)
		return nil
	}
	return c.Client.Get(ctx, key, obj, opts...)
}

// The report that makes an instance running is decided from the spec the agent read, so it is
// sent under that read's resourceVersion: a user's stop written after the read refuses the
// whole report (the next reconcile reports from the newer object), and the instance is not
// made running against its spec. The same report from the current object goes through.
func TestRunningReportIsRefusedAfterAStop(t *testing.T) {
	env := APIServer()
	if env == nil {
		t.Fatal("no API server: the package's TestMain did not start one")
	}
	ctx := context.Background()
	const ns, node = "locked-report", "locked-report-node"
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conn := testDriverNode(t, dir)

	// launched makes an instance bound to node, with its guest already running: what the agent
	// finds when the launch's report is all that is left to do.
	launched := func(name string) *cloudv1.Instance {
		t.Helper()
		inst := &cloudv1.Instance{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Finalizers: []string{cloudv1.DomainFinalizer}},
			Spec: cloudv1.InstanceSpec{ImageID: "ami-0123456789abcdef0", InstanceType: "m1.tiny",
				DesiredState: cloudv1.DesiredRunning},
		}
		if err := env.Client.Create(ctx, inst); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = env.Client.Delete(ctx, inst)
			_ = testenv.Update(ctx, env.Client, inst, func(i *cloudv1.Instance) { i.Finalizers = nil })
		})
		id := fmt.Sprintf("i-%017x", len(name))
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), inst); err != nil {
				return err
			}
			inst.Status.InstanceID, inst.Status.Hypervisor = id, node
			inst.Status.State = cloudv1.InstanceStatePending
			conditions.MarkTrue(inst, cloudv1.InstanceScheduled, cloudv1.ReasonScheduled, "", metav1.Now())
			return env.Client.Status().Update(ctx, inst)
		}); err != nil {
			t.Fatal(err)
		}
		x := `<domain type="test"><name>` + id + `</name><uuid>` + string(inst.UID) + `</uuid>
<metadata><instance xmlns="https://pinet.io/xmlns/domain/1"><cloud>cloud-1</cloud><namespace>` + ns + `</namespace>
<name>` + name + `</name><uid>` + string(inst.UID) + `</uid><instanceId>` + id + `</instanceId><node>` + node + `</node></instance></metadata>
<memory unit="MiB">64</memory><vcpu>1</vcpu><os><type arch="x86_64">hvm</type></os></domain>`
		must(t, conn.Define(x))
		must(t, conn.Start(id))
		return inst
	}
	agent := func(c client.Client) *instanceSync {
		return &instanceSync{virt: conn, client: c, apiReader: env.Client, cloudID: "cloud-1",
			cfg: Config{NodeName: node, StateDir: dir}, clock: clock.RealClock{}}
	}
	reconcileOnce := func(s *instanceSync, inst *cloudv1.Instance) error {
		_, err := s.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(inst)})
		return err
	}
	stored := func(inst *cloudv1.Instance) *cloudv1.Instance {
		t.Helper()
		got := &cloudv1.Instance{}
		must(t, env.Client.Get(ctx, client.ObjectKeyFromObject(inst), got))
		return got
	}

	// Read, then stopped by its user before the agent's report.
	stopped := launched("stopped-meanwhile")
	read := stored(stopped)
	if err := testenv.Update(ctx, env.Client, stopped, func(i *cloudv1.Instance) {
		i.Spec.DesiredState = cloudv1.DesiredStopped
	}); err != nil {
		t.Fatal(err)
	}
	err := reconcileOnce(agent(&laggingCache{Client: env.Client, held: read}), read)
	if !apierrors.IsConflict(err) {
		t.Fatalf("the report from before the stop: %v, want a conflict", err)
	}
	got := stored(stopped)
	if got.Status.State == cloudv1.InstanceStateRunning || conditions.Get(got, cloudv1.InstanceGuestRunning) != nil ||
		got.Status.Domain != nil {
		t.Fatalf("a report from before the stop was written: state %q, domain %+v, conditions %+v",
			got.Status.State, got.Status.Domain, got.Status.Conditions)
	}

	// Read after every change: the report makes it running (a conflict with a write of the
	// instance controller's, should a manager run in this package's control plane, is
	// retried from a fresh read, as the agent's queue would).
	current := launched("current")
	testenv.Eventually(t, 30*time.Second, "the report to make the instance running", func() error {
		if err := reconcileOnce(agent(env.Client), current); err != nil {
			return err
		}
		if got := stored(current); got.Status.State != cloudv1.InstanceStateRunning || !controllerutil.ContainsFinalizer(got, cloudv1.DomainFinalizer) {
			return fmt.Errorf("state %q", got.Status.State)
		}
		return nil
	})
}
