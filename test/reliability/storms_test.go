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

package reliability

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

// Many RunInstances calls at once, with one ClientToken and with many: each token makes exactly
// one reservation, every call with it answers that reservation, and every instance runs once.
func TestClientTokenStorm(t *testing.T) {
	c := startCloud(t)
	const zone = "rel-token"
	nodes := []*testcloud.Node{c.AddNode(t, "rel-token-1", zone, 256, 262144)}
	tn := newTenant(t, c, "rel-token", testcloud.NoQuota())
	ctx := context.Background()
	run := func(token string, count int32) (*ec2.RunInstancesOutput, error) {
		return tn.ec2.RunInstances(ctx, &ec2.RunInstancesInput{
			ImageId: aws.String(tn.ami), InstanceType: "m1.tiny", MinCount: aws.Int32(count), MaxCount: aws.Int32(count),
			Placement: &ec2types.Placement{AvailabilityZone: aws.String(zone)}, ClientToken: aws.String(token),
		})
	}
	same, tokens, callsPerToken := scale(16, 64), scale(8, 40), 3

	// One token, many callers.
	answers := make([]*ec2.RunInstancesOutput, same)
	for i, err := range testenv.Race(same, func(i int) error {
		var err error
		answers[i], err = run("rel-storm-same", 2)
		return err
	}) {
		if err != nil {
			t.Fatalf("call %d with the shared token: %v", i, err)
		}
	}
	want := reservationOf(t, answers[0])
	if len(want.ids) != 2 {
		t.Fatalf("the shared token's reservation has %d instances: %v", len(want.ids), want.ids)
	}
	for i, out := range answers[1:] {
		if got := reservationOf(t, out); got.id != want.id || !slices.Equal(got.ids, want.ids) {
			t.Fatalf("call %d answered %+v, the first %+v", i+1, got, want)
		}
	}

	// Many tokens, each called by several at once.
	byToken := make([][]reservation, tokens)
	for i := range byToken {
		byToken[i] = make([]reservation, callsPerToken)
	}
	for i, err := range testenv.Race(tokens*callsPerToken, func(i int) error {
		out, err := run(fmt.Sprintf("rel-storm-%d", i/callsPerToken), 1)
		if err == nil {
			byToken[i/callsPerToken][i%callsPerToken] = reservationOf(t, out)
		}
		return err
	}) {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	all := slices.Clone(want.ids)
	seen := map[string]bool{want.id: true}
	for tok, calls := range byToken {
		for _, r := range calls[1:] {
			if r.id != calls[0].id || !slices.Equal(r.ids, calls[0].ids) {
				t.Fatalf("token %d answered %+v and %+v", tok, calls[0], r)
			}
		}
		if seen[calls[0].id] || len(calls[0].ids) != 1 {
			t.Fatalf("token %d: reservation %+v (seen before: %v)", tok, calls[0], seen[calls[0].id])
		}
		seen[calls[0].id] = true
		all = append(all, calls[0].ids...)
	}

	// A token reused with other parameters is refused, and makes nothing.
	if _, err := run("rel-storm-same", 3); apiCode(err) != "IdempotentParameterMismatch" {
		t.Fatalf("the shared token with another count: %v", err)
	}
	testenv.Eventually(t, longWait, "every token's instances to run, once each", func() error {
		return converged(t, tn.project, all, nodes)
	})
}

// reservation is what one RunInstances call answered.
type reservation struct {
	id  string
	ids []string
}

func reservationOf(t *testing.T, out *ec2.RunInstancesOutput) reservation {
	t.Helper()
	r := reservation{id: aws.ToString(out.ReservationId)}
	for _, inst := range out.Instances {
		r.ids = append(r.ids, aws.ToString(inst.InstanceId))
	}
	slices.Sort(r.ids)
	return r
}

// Issue 11's acceptance: 200 AllocateAddress calls at once, under a quota above the pool's size,
// get distinct addresses of the pool until it is empty and AddressLimitExceeded after;
// nothing half-made stays. Then associations, disassociations and releases race on a few
// addresses and instances: each instance ends with at most one address, the one whose public IP
// it shows, and the pool counts exactly the addresses left.
func TestAddressStorm(t *testing.T) {
	c := startCloud(t)
	const zone = "rel-eip"
	c.AddNode(t, "rel-eip-1", zone, 64, 65536)
	q := testcloud.NoQuota()
	q.Addresses = ptr.To[int32](1000)
	tn := newTenant(t, c, "rel-eip", q)
	ctx := context.Background()
	const cidr = "198.18.0.0/25"
	pool := addPool(t, "rel-eip-pool", cidr)
	calls := scale(200, 400)

	// Each caller tries again while the cloud answers Unavailable ("try again"), as clients do,
	// a bounded number of times; what counts is the final answer.
	ips := make([]string, calls)
	var unavailable atomic.Int32
	errs := testenv.Race(calls, func(i int) error {
		for range 20 {
			out, err := tn.ec2.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc, PublicIpv4Pool: aws.String(pool.Name)})
			if err == nil {
				ips[i] = aws.ToString(out.PublicIp)
			}
			if apiCode(err) != "Unavailable" {
				return err
			}
			unavailable.Add(1)
		}
		return errors.New("unavailable 20 times")
	})
	t.Logf("%d answers were Unavailable", unavailable.Load())
	won := map[string]bool{}
	for i, err := range errs {
		switch {
		case err == nil:
			if won[ips[i]] || !netip.MustParsePrefix(cidr).Contains(netip.MustParseAddr(ips[i])) {
				t.Fatalf("call %d got %s (handed out before: %v)", i, ips[i], won[ips[i]])
			}
			won[ips[i]] = true
		case apiCode(err) != "AddressLimitExceeded":
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if int64(len(won)) != min(int64(calls), pool.Status.Total) {
		t.Fatalf("%d of %d calls got an address from a pool of %d", len(won), calls, pool.Status.Total)
	}
	t.Logf("%d calls: %d addresses, the rest refused", calls, len(won))
	testenv.Eventually(t, shortWait, "the refused calls' Addresses to go and the pool to count the rest", func() error {
		return addressesLeft(t, tn.project, pool.Name, len(won))
	})

	racingAssociations(t, tn, zone, pool.Name, len(won))
}

// racingAssociations races associations, disassociations and releases of a few of the
// project's addresses onto a few instances.
func racingAssociations(t *testing.T, tn *tenant, zone, pool string, allocated int) {
	ctx := context.Background()
	insts := launch(t, tn, zone, 3)
	testenv.Eventually(t, longWait, "the instances to run", func() error {
		if n := runningCount(t, tn.project); n != len(insts) {
			return fmt.Errorf("%d running", n)
		}
		return nil
	})
	list := &cloudv1.AddressList{}
	if err := env.Client.List(ctx, list, client.InNamespace(tn.project)); err != nil {
		t.Fatal(err)
	}
	addrs, ips := make([]string, 0, 6), make([]string, 0, 6)
	for _, a := range list.Items[:6] {
		addrs, ips = append(addrs, a.Status.AllocationID), append(ips, a.Status.PublicIP)
	}
	released := map[string]bool{}
	for round := range scale(3, 10) {
		errs := testenv.Race(3*len(addrs), func(i int) error {
			alloc := aws.String(addrs[i%len(addrs)])
			inst := aws.String(insts[(i+round)%len(insts)])
			switch {
			case i/len(addrs) == 2 && i%len(addrs) == round:
				_, err := tn.ec2.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: alloc})
				return err
			case i/len(addrs) == 1:
				_, err := tn.ec2.DisassociateAddress(ctx, &ec2.DisassociateAddressInput{PublicIp: aws.String(ips[i%len(addrs)])})
				return err
			default:
				_, err := tn.ec2.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: alloc, InstanceId: inst, AllowReassociation: aws.Bool(i%2 == 0)})
				return err
			}
		})
		for i, err := range errs {
			switch apiCode(err) {
			case "":
				if i/len(addrs) == 2 && i%len(addrs) == round {
					released[addrs[i%len(addrs)]] = true
				}
			case "Resource.AlreadyAssociated", "InvalidIPAddress.InUse", "InvalidAllocationID.NotFound", "InvalidAddress.NotFound":
				// Refusals the race makes legitimate.
			default:
				t.Fatalf("round %d call %d: %v", round, i, err)
			}
		}
	}
	testenv.Eventually(t, longWait, "each instance to show its one address", func() error {
		return testenv.OneAddressEach(ctx, env.Client, tn.project)
	})
	testenv.Eventually(t, shortWait, "the pool to count the addresses left", func() error {
		return addressesLeft(t, tn.project, pool, allocated-len(released))
	})
}

// addressesLeft checks that the project holds n Addresses, each with an IP, and the pool counts
// n allocated.
func addressesLeft(t *testing.T, project, pool string, n int) error {
	list := &cloudv1.AddressList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace(project)); err != nil {
		return err
	}
	if len(list.Items) != n {
		return fmt.Errorf("%d Addresses, want %d", len(list.Items), n)
	}
	for _, a := range list.Items {
		if a.Status.PublicIP == "" {
			return fmt.Errorf("address %s has no IP", a.Name)
		}
	}
	p := &cloudv1.AddressPool{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: pool}, p); err != nil {
		return err
	}
	if p.Status.Allocated != int64(n) {
		return fmt.Errorf("pool %s counts %d allocated, want %d", pool, p.Status.Allocated, n)
	}
	return nil
}

// addPool makes an address pool of cidr and waits until it is counted.
func addPool(t *testing.T, name, cidr string) *cloudv1.AddressPool {
	t.Helper()
	pool := &cloudv1.AddressPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: cloudv1.AddressPoolSpec{CIDRs: []string{cidr}}}
	if err := env.Client.Create(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "pool "+name+" to be counted", func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(pool), pool); err != nil {
			return err
		}
		if pool.Status.Total == 0 {
			return fmt.Errorf("not counted yet")
		}
		return nil
	})
	return pool
}
