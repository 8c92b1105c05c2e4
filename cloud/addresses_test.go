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
	"slices"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/quota"
	"pinet.io/pinet/internal/testenv"
)

// addressPool creates an address pool over cidr and waits until the address controller counts it.
func addressPool(t *testing.T, name, cidr string) {
	t.Helper()
	ctx := context.Background()
	pool := &cloudv1.AddressPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: cloudv1.AddressPoolSpec{CIDRs: []string{cidr}}}
	if err := env.Client.Create(ctx, pool); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	until(t, "pool "+name+" to be counted", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(pool), pool); err != nil {
			return err
		}
		if pool.Status.Total == 0 {
			return errors.New("not counted yet")
		}
		return nil
	})
}

// associate associates, retrying while the service's cache does not show the new instance yet.
func associate(t *testing.T, s *cloud.Service, c cloud.Caller, allocID, instanceID string) string {
	t.Helper()
	var assoc string
	until(t, "associating "+allocID+" with "+instanceID, func() error {
		var err error
		assoc, err = s.AssociateAddress(context.Background(), c, cloud.AssociateAddressInput{AllocationID: allocID, InstanceID: instanceID})
		var qe *query.Error
		if errors.As(err, &qe) && qe.Code != cloud.CodeInstanceNotFound {
			t.Fatalf("associating: %v", err)
		}
		return err
	})
	return assoc
}

func describeAddresses(t *testing.T, s *cloud.Service, c cloud.Caller) []cloud.Address {
	t.Helper()
	return everything(t, c, s.DescribeAddresses)
}

// addressObjects lists the Address objects of a project as the API server has them, but for
// those being deleted (released ones wait for their controller to return the IP).
func addressObjects(t *testing.T, project string) []cloudv1.Address {
	list := &cloudv1.AddressList{}
	return liveObjects(t, project, list, func() []cloudv1.Address { return list.Items })
}

// releaseAll releases what c's project holds, so the next test starts from nothing.
func releaseAll(t *testing.T, s *cloud.Service, c cloud.Caller) {
	t.Helper()
	ctx := context.Background()
	// After a race the association an address shows may still change (the address controller
	// converging): a call refused for a stale view is made again from a fresh one.
	until(t, "the caller's addresses released", func() error {
		as := describeAddresses(t, s, c)
		for _, a := range as {
			if a.InstanceID != "" {
				if err := s.DisassociateAddress(ctx, c, cloud.DisassociateAddressInput{AssociationID: a.AssociationID}); err != nil {
					return err
				}
			}
			if err := s.ReleaseAddress(ctx, c, cloud.ReleaseAddressInput{AllocationID: a.AllocationID}); err != nil {
				return err
			}
		}
		if len(as) > 0 {
			return fmt.Errorf("%d addresses were released; checking for more", len(as))
		}
		return nil
	})
}

func TestAddressesAcrossProjects(t *testing.T) {
	s := service(t)
	ctx := context.Background()
	addressPool(t, "svc-eip-ab", "198.51.100.0/28")
	t.Cleanup(func() { releaseAll(t, s, alice); releaseAll(t, s, bob) })
	theirs, err := s.AllocateAddress(ctx, alice, cloud.AllocateAddressInput{Pool: "svc-eip-ab",
		TagSpecifications: tagSpecs("elastic-ip", "team", "a")})
	if err != nil {
		t.Fatal(err)
	}
	if !ids.Valid(ids.Allocation, theirs.AllocationID) || theirs.PublicIP == "" || theirs.Domain != "vpc" ||
		theirs.Pool != "svc-eip-ab" || theirs.NetworkBorderGroup != "svc-region" {
		t.Fatalf("allocated %+v", theirs)
	}
	aliceVM, bobVM := kubectlInstance(t, "svc-a", "eip-vm", ""), kubectlInstance(t, "svc-b", "eip-vm", "")
	assoc := associate(t, s, alice, theirs.AllocationID, aliceVM)
	mine, err := s.AllocateAddress(ctx, bob, cloud.AllocateAddressInput{Pool: "svc-eip-ab"})
	if err != nil {
		t.Fatal(err)
	}

	_, err = s.DescribeAddresses(ctx, bob, cloud.DescribeAddressesInput{AllocationIDs: []string{theirs.AllocationID}})
	expectCode(t, err, cloud.CodeAllocationNotFound)
	_, err = s.DescribeAddresses(ctx, bob, cloud.DescribeAddressesInput{PublicIPs: []string{theirs.PublicIP}})
	expectCode(t, err, cloud.CodeAddressNotFound)
	expectCode(t, s.ReleaseAddress(ctx, bob, cloud.ReleaseAddressInput{AllocationID: theirs.AllocationID}), cloud.CodeAllocationNotFound)
	expectCode(t, s.ReleaseAddress(ctx, bob, cloud.ReleaseAddressInput{PublicIP: theirs.PublicIP}), cloud.CodeAddressNotFound)
	_, err = s.AssociateAddress(ctx, bob, cloud.AssociateAddressInput{AllocationID: theirs.AllocationID, InstanceID: bobVM})
	expectCode(t, err, cloud.CodeAllocationNotFound)
	_, err = s.AssociateAddress(ctx, bob, cloud.AssociateAddressInput{AllocationID: mine.AllocationID, InstanceID: aliceVM})
	expectCode(t, err, cloud.CodeInstanceNotFound)
	expectCode(t, s.DisassociateAddress(ctx, bob, cloud.DisassociateAddressInput{AssociationID: assoc}), cloud.CodeAssociationNotFound)
	expectCode(t, s.DisassociateAddress(ctx, bob, cloud.DisassociateAddressInput{PublicIP: theirs.PublicIP}), cloud.CodeAddressNotFound)
	if got := describeAddresses(t, s, bob); len(got) != 1 || got[0].AllocationID != mine.AllocationID || got[0].InstanceID != "" {
		t.Fatalf("bob sees %+v", got)
	}
	got := describeAddresses(t, s, alice)
	if len(got) != 1 || got[0].AllocationID != theirs.AllocationID || got[0].InstanceID != aliceVM ||
		got[0].AssociationID != assoc || got[0].Tags["team"] != "a" {
		t.Fatalf("alice's addresses after bob's calls: %+v", got)
	}
	// Filters select by attribute and tag.
	byTag, err := s.DescribeAddresses(ctx, alice, cloud.DescribeAddressesInput{Filters: []query.Filter{{Name: "tag:team", Values: []string{"a"}}}})
	if err != nil || len(byTag) != 1 {
		t.Fatalf("by tag: %+v %v", byTag, err)
	}
	byInstance, err := s.DescribeAddresses(ctx, alice, cloud.DescribeAddressesInput{Filters: []query.Filter{{Name: "instance-id", Values: []string{bobVM}}}})
	if err != nil || len(byInstance) != 0 {
		t.Fatalf("by bob's instance: %+v %v", byInstance, err)
	}

	// Alice's own: an associated address is not released; disassociated, it is.
	expectCode(t, s.ReleaseAddress(ctx, alice, cloud.ReleaseAddressInput{AllocationID: theirs.AllocationID}), cloud.CodeAddressInUse)
	if err := s.DisassociateAddress(ctx, alice, cloud.DisassociateAddressInput{PublicIP: theirs.PublicIP}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseAddress(ctx, alice, cloud.ReleaseAddressInput{PublicIP: theirs.PublicIP}); err != nil {
		t.Fatal(err)
	}
	if got := describeAddresses(t, s, alice); len(got) != 0 {
		t.Fatalf("after release alice has %+v", got)
	}
	if got := describeAddresses(t, s, bob); len(got) != 1 || got[0].AllocationID != mine.AllocationID {
		t.Fatalf("alice's release touched bob's: %+v", got)
	}
}

func TestAddressRefusalsMakeNothing(t *testing.T) {
	s := service(t)
	ctx := context.Background()
	addressPool(t, "svc-eip-bad", "198.51.100.16/28")
	t.Cleanup(func() { releaseAll(t, s, alice) })
	held, err := s.AllocateAddress(ctx, alice, cloud.AllocateAddressInput{Pool: "svc-eip-bad"})
	if err != nil {
		t.Fatal(err)
	}
	vm := kubectlInstance(t, "svc-a", "eip-bad-vm", "")
	before := len(addressObjects(t, "svc-a"))
	allocate := func(in cloud.AllocateAddressInput) func() error {
		return func() error { _, err := s.AllocateAddress(ctx, alice, in); return err }
	}
	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"unknown pool", allocate(cloud.AllocateAddressInput{Pool: "no-such-pool"}), cloud.CodePoolNotFound},
		{"classic domain", allocate(cloud.AllocateAddressInput{Pool: "svc-eip-bad", Domain: "classic"}), cloud.CodeInvalidParameter},
		{"other border group", allocate(cloud.AllocateAddressInput{Pool: "svc-eip-bad", NetworkBorderGroup: "elsewhere"}), cloud.CodeInvalidParameter},
		{"tags for instances", allocate(cloud.AllocateAddressInput{Pool: "svc-eip-bad",
			TagSpecifications: []cloud.TagSpecification{{ResourceType: "instance"}}}), cloud.CodeInvalidParameter},
		{"reserved tag key", allocate(cloud.AllocateAddressInput{Pool: "svc-eip-bad",
			TagSpecifications: []cloud.TagSpecification{{ResourceType: "elastic-ip", Tags: []cloud.Tag{{Key: "aws:x"}}}}}), cloud.CodeInvalidParameter},
		{"dry run", allocate(cloud.AllocateAddressInput{Pool: "svc-eip-bad", DryRun: true}), cloud.CodeDryRun},
		{"no role in the project", func() error {
			_, err := s.AllocateAddress(ctx, stranger, cloud.AllocateAddressInput{Pool: "svc-eip-bad"})
			return err
		}, cloud.CodeUnauthorized},
		{"release nothing", func() error { return s.ReleaseAddress(ctx, alice, cloud.ReleaseAddressInput{}) }, cloud.CodeMissingParameter},
		{"release both", func() error {
			return s.ReleaseAddress(ctx, alice, cloud.ReleaseAddressInput{AllocationID: held.AllocationID, PublicIP: held.PublicIP})
		}, cloud.CodeParamCombination},
		{"release malformed", func() error {
			return s.ReleaseAddress(ctx, alice, cloud.ReleaseAddressInput{AllocationID: "vol-123"})
		}, cloud.CodeAllocationMalformed},
		{"release unknown", func() error {
			return s.ReleaseAddress(ctx, alice, cloud.ReleaseAddressInput{AllocationID: ids.New(ids.Allocation)})
		}, cloud.CodeAllocationNotFound},
		{"release dry run", func() error {
			return s.ReleaseAddress(ctx, alice, cloud.ReleaseAddressInput{AllocationID: held.AllocationID, DryRun: true})
		}, cloud.CodeDryRun},
		{"associate without instance", func() error {
			_, err := s.AssociateAddress(ctx, alice, cloud.AssociateAddressInput{AllocationID: held.AllocationID})
			return err
		}, cloud.CodeMissingParameter},
		{"associate malformed instance", func() error {
			_, err := s.AssociateAddress(ctx, alice, cloud.AssociateAddressInput{AllocationID: held.AllocationID, InstanceID: "eip-bad-vm"})
			return err
		}, cloud.CodeInstanceMalformed},
		{"associate unknown instance", func() error {
			_, err := s.AssociateAddress(ctx, alice, cloud.AssociateAddressInput{AllocationID: held.AllocationID, InstanceID: ids.New(ids.Instance)})
			return err
		}, cloud.CodeInstanceNotFound},
		{"associate dry run", func() error {
			_, err := s.AssociateAddress(ctx, alice, cloud.AssociateAddressInput{AllocationID: held.AllocationID, InstanceID: vm, DryRun: true})
			return err
		}, cloud.CodeDryRun},
		{"disassociate both", func() error {
			return s.DisassociateAddress(ctx, alice, cloud.DisassociateAddressInput{AssociationID: "eipassoc-1", PublicIP: held.PublicIP})
		}, cloud.CodeParamCombination},
		{"disassociate unknown", func() error {
			return s.DisassociateAddress(ctx, alice, cloud.DisassociateAddressInput{AssociationID: ids.New(ids.Association)})
		}, cloud.CodeAssociationNotFound},
		{"disassociate dry run", func() error {
			return s.DisassociateAddress(ctx, alice, cloud.DisassociateAddressInput{PublicIP: held.PublicIP, DryRun: true})
		}, cloud.CodeDryRun},
		{"describe malformed", func() error {
			_, err := s.DescribeAddresses(ctx, alice, cloud.DescribeAddressesInput{AllocationIDs: []string{"nope"}})
			return err
		}, cloud.CodeAllocationMalformed},
		{"describe bad filter", func() error {
			_, err := s.DescribeAddresses(ctx, alice, cloud.DescribeAddressesInput{Filters: []query.Filter{{Name: "colour", Values: []string{"red"}}}})
			return err
		}, cloud.CodeInvalidParameter},
		{"describe dry run", func() error {
			_, err := s.DescribeAddresses(ctx, alice, cloud.DescribeAddressesInput{DryRun: true})
			return err
		}, cloud.CodeDryRun},
	} {
		t.Run(tc.name, func(t *testing.T) { expectCode(t, tc.call(), tc.code) })
	}
	if after := len(addressObjects(t, "svc-a")); after != before {
		t.Fatalf("refused calls left %d Address objects, want %d", after, before)
	}
	got := describeAddresses(t, s, alice)
	if len(got) != 1 || got[0].AllocationID != held.AllocationID || got[0].InstanceID != "" {
		t.Fatalf("after refused calls alice has %+v", got)
	}
}

// setAddressQuota sets a project's address quota; cleanup restores the quota it had.
func setAddressQuota(t *testing.T, project string, addresses int32) {
	setQuota(t, project, func(q *cloudv1.ProjectQuota) { q.Addresses = ptr.To(addresses) })
}

// expectAddressObjects checks that the project's Address objects are exactly the allocations
// won, none still marked pending admission.
func expectAddressObjects(t *testing.T, project string, won []string) {
	t.Helper()
	objs := addressObjects(t, project)
	if len(objs) != len(won) {
		t.Fatalf("%d Address objects for %d allocations: %+v", len(objs), len(won), objs)
	}
	for _, a := range objs {
		if quota.IsMarkedPending(&a) || !slices.Contains(won, cloud.AllocationID(&a)) {
			t.Fatalf("Address %s (pending %v) is none of the allocations %v", a.Name, quota.IsMarkedPending(&a), won)
		}
	}
}

func TestAddressQuotaRefusalLeavesNothing(t *testing.T) {
	s := service(t)
	ctx := context.Background()
	addressPool(t, "svc-eip-quota", "198.51.100.32/28")
	releaseAll(t, s, bob)
	until(t, "bob's released addresses to go", func() error {
		if n := len(addressObjects(t, "svc-b")); n != 0 {
			return fmt.Errorf("%d Address objects", n)
		}
		return nil
	})
	setAddressQuota(t, "svc-b", 1)
	t.Cleanup(func() { releaseAll(t, s, bob) })
	in := cloud.AllocateAddressInput{Pool: "svc-eip-quota"}

	// Until the service's cache shows the quota, allocations succeed unlimited; once it does, the
	// next is refused. Every allocation that succeeded is there, and nothing else.
	var won []string
	until(t, "a refusal under an address quota of 1", func() error {
		a, err := s.AllocateAddress(ctx, bob, in)
		if err == nil {
			won = append(won, a.AllocationID)
			return fmt.Errorf("allocated %s", a.AllocationID)
		}
		expectCode(t, err, cloud.CodeAddressLimit)
		return nil
	})
	if len(won) == 0 {
		t.Fatal("the quota refused the first address")
	}
	expectAddressObjects(t, "svc-b", won)

	// Racing allocations at a full quota are all refused and leave nothing.
	for _, err := range testenv.Race(6, func(int) error {
		_, err := s.AllocateAddress(ctx, bob, in)
		return err
	}) {
		expectCode(t, err, cloud.CodeAddressLimit)
	}
	expectAddressObjects(t, "svc-b", won)
	if got := describeAddresses(t, s, bob); len(got) != len(won) {
		t.Fatalf("bob describes %+v after refusals, want %v", got, won)
	}

	// Released, the addresses make room again.
	releaseAll(t, s, bob)
	var again *cloud.Address
	until(t, "room under the quota", func() error {
		var err error
		again, err = s.AllocateAddress(ctx, bob, in)
		if err != nil {
			expectCode(t, err, cloud.CodeAddressLimit)
		}
		return err
	})
	until(t, "only the new allocation to remain", func() error {
		if objs := addressObjects(t, "svc-b"); len(objs) != 1 || cloud.AllocationID(&objs[0]) != again.AllocationID {
			return fmt.Errorf("%d Address objects", len(objs))
		}
		return nil
	})
	// Bob's quota is not alice's.
	if _, err := s.AllocateAddress(ctx, alice, in); err != nil {
		t.Fatal(err)
	}
	releaseAll(t, s, alice)
}
