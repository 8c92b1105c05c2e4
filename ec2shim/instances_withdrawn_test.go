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
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/quota"
	"pinet.io/pinet/internal/testenv"
)

// A launch retried with its ClientToken after an attempt that failed and withdrew its instance
// (deleted, still marked quota-pending, held by finalizers until a manager's instance controller
// releases what it holds, which after a failover takes a while) waits for that instance to go
// and then launches: neither a refusal while the predecessor goes nor a second launch. A storm of
// such retries at once all answer with the one instance.
func TestRunInstancesRetriedAfterWithdrawnAttempt(t *testing.T) {
	const project = "iwithdrawn"
	const hold = "test.pinet.io/hold"
	_, _, cl, ami := tenantWithNode(t, project)
	ctx := context.Background()
	// One attempt a call: the SDK's own retries must not hide a refusal.
	once := ec2.New(cl.Options(), func(o *ec2.Options) { o.Retryer = retry.AddWithMaxAttempts(retry.NewStandard(), 1) })
	in := &ec2.RunInstancesInput{ImageId: aws.String(ami), InstanceType: "m1.tiny",
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), ClientToken: aws.String("withdrawn-attempt")}
	first, err := once.RunInstances(ctx, in)
	if err != nil || len(first.Instances) != 1 {
		t.Fatalf("first launch: %+v %v", first, err)
	}
	id := aws.ToString(first.Instances[0].InstanceId)

	// The first attempt's instance as an attempt whose admission failed leaves it: still marked
	// pending, deleted, and held by a finalizer (here the test's) that goes only later.
	inst := &cloudv1.Instance{}
	key := client.ObjectKey{Namespace: project, Name: id}
	if err := env.Client.Get(ctx, key, inst); err != nil {
		t.Fatal(err)
	}
	if err := testenv.Update(ctx, env.Client, inst, func(i *cloudv1.Instance) {
		quota.MarkPending(i)
		controllerutil.AddFinalizer(i, hold)
	}); err != nil {
		t.Fatal(err)
	}
	withdrawn := inst.UID
	release := func() {
		held := &cloudv1.Instance{}
		if err := env.Client.Get(ctx, key, held); apierrors.IsNotFound(err) || held.UID != withdrawn {
			return
		}
		if err := testenv.Update(ctx, env.Client, held, func(i *cloudv1.Instance) {
			controllerutil.RemoveFinalizer(i, hold)
		}); err != nil && !apierrors.IsNotFound(err) {
			t.Error(err)
		}
	}
	t.Cleanup(release)
	if err := env.Client.Delete(ctx, inst); err != nil {
		t.Fatal(err)
	}

	type answer struct {
		out *ec2.RunInstancesOutput
		err error
	}
	const retries = 3
	answers := make(chan answer, retries)
	for range retries {
		go func() {
			out, err := once.RunInstances(ctx, in)
			answers <- answer{out, err}
		}()
	}
	// While the predecessor is held, no retry answers: not with a refusal, not with the
	// instance being deleted.
	select {
	case a := <-answers:
		t.Fatalf("a retry answered while its predecessor was being withdrawn: %+v %v", a.out, a.err)
	case <-time.After(3 * time.Second):
	}
	release()
	for range retries {
		a := <-answers
		if a.err != nil {
			t.Fatalf("a retry after the withdrawn attempt failed: %v", a.err)
		}
		if len(a.out.Instances) != 1 || aws.ToString(a.out.Instances[0].InstanceId) != id ||
			aws.ToString(a.out.ReservationId) != aws.ToString(first.ReservationId) {
			t.Fatalf("a retry answered %+v %s, want %s in %s", a.out.Instances, aws.ToString(a.out.ReservationId),
				id, aws.ToString(first.ReservationId))
		}
	}
	// Exactly one instance, made anew and admitted.
	if err := env.Client.Get(ctx, key, inst); err != nil {
		t.Fatal(err)
	}
	if inst.UID == withdrawn || !inst.DeletionTimestamp.IsZero() {
		t.Fatalf("the retries answered with the withdrawn instance (uid %s, deleting %v)", inst.UID, inst.DeletionTimestamp)
	}
	expectLive(t, project, 1)
}

// A storm of calls with one ClientToken at once, under a quota, makes one launch: every call
// answers with the same reservation and instances.
func TestRunInstancesClientTokenStorm(t *testing.T) {
	const project = "itokenstorm"
	_, _, cl, ami := tenantWithNode(t, project)
	ctx := context.Background()
	in := &ec2.RunInstancesInput{ImageId: aws.String(ami), InstanceType: "m1.tiny",
		MinCount: aws.Int32(2), MaxCount: aws.Int32(2), ClientToken: aws.String("storm")}
	const calls = 12
	outs := make([]*ec2.RunInstancesOutput, calls)
	errs := make([]error, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = cl.RunInstances(ctx, in)
		}()
	}
	wg.Wait()
	var want []string
	for i, out := range outs {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		var got []string
		for _, inst := range out.Instances {
			got = append(got, aws.ToString(inst.InstanceId))
		}
		if want == nil {
			want = got
		}
		if len(got) != 2 || !slices.Equal(got, want) {
			t.Fatalf("call %d answered %v, another %v", i, got, want)
		}
	}
	expectLive(t, project, 2)
}
