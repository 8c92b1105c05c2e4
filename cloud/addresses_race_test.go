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
	"fmt"
	"testing"

	"k8s.io/utils/ptr"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/cloud"
	"pinet.io/pinet/internal/testenv"
)

// Associations, disassociations and releases race over a few addresses and instances, round
// after round with no pause between rounds (what test/reliability's storm does a few times over
// the EC2 API): the API server keeps each instance to one address, and the address controller
// converges on what the specs say — every address records the instance it names, every
// instance shows the public IP of the address that names it, or none.
func TestAddressAssociationRaces(t *testing.T) {
	s := service(t)
	ctx := context.Background()
	addressPool(t, "svc-eip-race", "198.51.100.128/26")
	setQuota(t, "svc-a", func(q *cloudv1.ProjectQuota) { q.Addresses = ptr.To[int32](100) })
	t.Cleanup(func() { releaseAll(t, s, alice) })
	insts := make([]string, 3)
	for i := range insts {
		insts[i] = kubectlInstance(t, "svc-a", fmt.Sprintf("race-vm-%d", i), "")
	}
	addrs := make([]cloud.Address, 6)
	allocate := func(i int) {
		a, err := s.AllocateAddress(ctx, alice, cloud.AllocateAddressInput{Pool: "svc-eip-race"})
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = *a
	}
	for i := range addrs {
		allocate(i)
	}
	// The instances' cache entries must show their ids before the first association.
	associate(t, s, alice, addrs[0].AllocationID, insts[2])

	const rounds = 20
	for round := range rounds {
		n := len(addrs)
		errs := testenv.Race(3*n, func(i int) error {
			a, inst := addrs[i%n], insts[(i+round)%len(insts)]
			switch {
			case i/n == 2 && i%n == round%n:
				return s.ReleaseAddress(ctx, alice, cloud.ReleaseAddressInput{AllocationID: a.AllocationID})
			case i/n == 1:
				return s.DisassociateAddress(ctx, alice, cloud.DisassociateAddressInput{PublicIP: a.PublicIP})
			default:
				_, err := s.AssociateAddress(ctx, alice, cloud.AssociateAddressInput{AllocationID: a.AllocationID,
					InstanceID: inst, AllowReassociation: i%2 == 0})
				return err
			}
		})
		for i, err := range errs {
			switch codeOf(err) {
			case "":
				if err != nil {
					t.Fatalf("round %d call %d: %v", round, i, err)
				}
				if i/n == 2 && i%n == round%n {
					allocate(i % n)
				}
			case cloud.CodeAlreadyAssociated, cloud.CodeAddressInUse, cloud.CodeAllocationNotFound, cloud.CodeAddressNotFound:
				// Refusals the race makes legitimate.
			default:
				t.Fatalf("round %d call %d: %v", round, i, err)
			}
		}
	}
	until(t, "each instance to show its one address", func() error {
		return testenv.OneAddressEach(ctx, env.Client, "svc-a")
	})
}
