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

package testenv

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// OneAddressEach checks, as the API server has them, that the namespace's elastic IPs and
// instances agree: no instance is named by two Addresses, every Address records (in status) the
// live instance its spec names, and every instance shows the public IP of the Address that names
// it, or none. Its error ends with the state of every Address and Instance, so a failed wait
// shows who holds what.
func OneAddressEach(ctx context.Context, c client.Reader, namespace string) error {
	addrs := &cloudv1.AddressList{}
	if err := c.List(ctx, addrs, client.InNamespace(namespace)); err != nil {
		return err
	}
	insts := &cloudv1.InstanceList{}
	if err := c.List(ctx, insts, client.InNamespace(namespace)); err != nil {
		return err
	}
	live := map[string]bool{}
	for _, inst := range insts.Items {
		if id := inst.Status.InstanceID; id != "" && inst.DeletionTimestamp.IsZero() &&
			inst.EffectiveDesiredState() != cloudv1.DesiredTerminated {
			live[id] = true
		}
	}
	var problems []string
	byInstance := map[string]*cloudv1.Address{}
	for i := range addrs.Items {
		a := &addrs.Items[i]
		id := a.Spec.InstanceID
		if !a.DeletionTimestamp.IsZero() || !live[id] {
			id = ""
		}
		if other, dup := byInstance[id]; dup && id != "" {
			problems = append(problems, fmt.Sprintf("instance %s is named by two addresses: %s and %s", id, other.Name, a.Name))
		}
		if id != "" {
			byInstance[id] = a
		}
		if a.DeletionTimestamp.IsZero() && a.Status.InstanceID != id {
			problems = append(problems, fmt.Sprintf("address %s names instance %q, its status records %q", a.Name, id, a.Status.InstanceID))
		}
	}
	for _, inst := range insts.Items {
		want := ""
		if a := byInstance[inst.Status.InstanceID]; a != nil {
			want = a.Status.PublicIP
		}
		if got := inst.Status.PublicIPAddress; got != want {
			problems = append(problems, fmt.Sprintf("instance %s shows public IP %q, its address's is %q", inst.Status.InstanceID, got, want))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "; ") + "\n" + addressState(addrs.Items, insts.Items))
}

// addressState is a table of the Addresses' and Instances' association fields.
func addressState(addrs []cloudv1.Address, insts []cloudv1.Instance) string {
	var lines []string
	for _, a := range addrs {
		deleting := ""
		if !a.DeletionTimestamp.IsZero() {
			deleting = " (being deleted)"
		}
		lines = append(lines, fmt.Sprintf("  address %s ip=%s spec.instanceId=%q status.instanceId=%q resourceVersion=%s%s",
			a.Name, a.Status.PublicIP, a.Spec.InstanceID, a.Status.InstanceID, a.ResourceVersion, deleting))
	}
	sort.Strings(lines)
	var instLines []string
	for _, inst := range insts {
		instLines = append(instLines, fmt.Sprintf("  instance %s (%s) publicIp=%q desired=%s resourceVersion=%s",
			inst.Status.InstanceID, inst.Name, inst.Status.PublicIPAddress, inst.EffectiveDesiredState(), inst.ResourceVersion))
	}
	sort.Strings(instLines)
	return strings.Join(append(lines, instLines...), "\n")
}
