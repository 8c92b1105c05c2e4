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

package index

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// Only instances refused an address or quota they may still get are indexed as waiting: a
// terminated instance that released its address, or one that no longer counts against the
// quota, waits for nothing.
func TestInstanceWaits(t *testing.T) {
	cond := func(typ string, status metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason}
	}
	now := metav1.Now()
	for _, tc := range []struct {
		name       string
		conditions []metav1.Condition
		desired    cloudv1.DesiredState
		deleting   bool
		want       []string
	}{
		{name: "new", want: nil},
		{name: "addressed and admitted", conditions: []metav1.Condition{
			cond(cloudv1.InstanceAddressAssigned, metav1.ConditionTrue, "Assigned"),
			cond(cloudv1.InstanceQuotaAdmitted, metav1.ConditionTrue, cloudv1.ReasonAdmitted)}},
		{name: "refused an address", conditions: []metav1.Condition{
			cond(cloudv1.InstanceAddressAssigned, metav1.ConditionFalse, "InsufficientAddresses")},
			want: []string{WaitingForAddress}},
		{name: "released its address", conditions: []metav1.Condition{
			cond(cloudv1.InstanceAddressAssigned, metav1.ConditionFalse, cloudv1.ReasonAddressReleased)}},
		{name: "refused quota", conditions: []metav1.Condition{
			cond(cloudv1.InstanceQuotaAdmitted, metav1.ConditionFalse, "QuotaExceeded")},
			want: []string{WaitingForQuota}},
		{name: "refused quota, then terminated", desired: cloudv1.DesiredTerminated, conditions: []metav1.Condition{
			cond(cloudv1.InstanceQuotaAdmitted, metav1.ConditionFalse, "QuotaExceeded")}},
		{name: "refused quota, being deleted", deleting: true, conditions: []metav1.Condition{
			cond(cloudv1.InstanceQuotaAdmitted, metav1.ConditionFalse, "QuotaExceeded")}},
		{name: "refused both", conditions: []metav1.Condition{
			cond(cloudv1.InstanceQuotaAdmitted, metav1.ConditionFalse, "QuotaExceeded"),
			cond(cloudv1.InstanceAddressAssigned, metav1.ConditionFalse, "InsufficientAddresses")},
			want: []string{WaitingForAddress, WaitingForQuota}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst := &cloudv1.Instance{}
			inst.Status.Conditions = tc.conditions
			inst.Spec.DesiredState = tc.desired
			if tc.deleting {
				inst.DeletionTimestamp = &now
			}
			if got := instanceWaits(inst); !slices.Equal(got, tc.want) {
				t.Errorf("waits for %v, want %v", got, tc.want)
			}
		})
	}
}

// recordingIndexer notes the indexes registered with it.
type recordingIndexer struct {
	fields []string
	funcs  map[string]client.IndexerFunc
}

func (r *recordingIndexer) IndexField(_ context.Context, obj client.Object, field string, fn client.IndexerFunc) error {
	r.fields = append(r.fields, fmt.Sprintf("%T/%s", obj, field))
	if r.funcs == nil {
		r.funcs = map[string]client.IndexerFunc{}
	}
	r.funcs[field] = fn
	return nil
}

// Images and snapshots are indexed by the projects they are shared with, and public ones by
// SharedWithAll; a private one by nothing (its own project lists its namespace).
func TestSharedWith(t *testing.T) {
	r := &recordingIndexer{}
	if err := Register(context.Background(), r, ImageSharedWith, SnapshotSharedWith); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		public   bool
		projects []string
		want     []string
	}{
		{false, nil, nil},
		{false, []string{"a", "b"}, []string{"a", "b"}},
		{true, nil, []string{SharedWithAll}},
		{true, []string{"a"}, []string{"a", SharedWithAll}},
	} {
		img := &cloudv1.Image{Spec: cloudv1.ImageSpec{LaunchPermission: cloudv1.LaunchPermission{Public: c.public, Projects: c.projects}}}
		snap := &cloudv1.Snapshot{}
		snap.Spec.CreateVolumePermission.Public, snap.Spec.CreateVolumePermission.Projects = c.public, c.projects
		if got := r.funcs[ImageSharedWith](img); !slices.Equal(got, c.want) {
			t.Errorf("image shared %v/%v: %v, want %v", c.public, c.projects, got, c.want)
		}
		if got := r.funcs[SnapshotSharedWith](snap); !slices.Equal(got, c.want) {
			t.Errorf("snapshot shared %v/%v: %v, want %v", c.public, c.projects, got, c.want)
		}
	}
}

// Register adds exactly the indexes named, every index when none is, and nothing when a name is
// unknown.
func TestRegisterAddsTheNamedIndexes(t *testing.T) {
	ctx := context.Background()
	named := &recordingIndexer{}
	if err := Register(ctx, named, InstanceID, GroupName); err != nil {
		t.Fatal(err)
	}
	want := []string{"*v1alpha1.Instance/" + InstanceID, "*v1alpha1.SecurityGroup/" + GroupName}
	if !slices.Equal(named.fields, want) {
		t.Fatalf("registered %v, want %v", named.fields, want)
	}

	all := &recordingIndexer{}
	if err := Register(ctx, all); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{InstanceHypervisor, InstanceWaiting, ImageID, KeyName, VolumeID, SnapshotVolume, AllocationID, AccessKeyID} {
		if !slices.ContainsFunc(all.fields, func(s string) bool { return strings.HasSuffix(s, "/"+f) }) {
			t.Errorf("with no names, %s was not registered (%v)", f, all.fields)
		}
	}

	refused := &recordingIndexer{}
	err := Register(ctx, refused, InstanceID, "status.nope")
	if err == nil || !strings.Contains(err.Error(), `"status.nope"`) {
		t.Fatalf("an unknown index name: %v", err)
	}
	if len(refused.fields) != 0 {
		t.Fatalf("an unknown name still registered %v", refused.fields)
	}
}
