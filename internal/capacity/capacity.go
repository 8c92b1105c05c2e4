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

// Package capacity is the arithmetic of hypervisor capacity: what an instance of a type claims
// after overcommit, and which instances hold their claim.
package capacity

import (
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// Claim is what an instance takes from its hypervisor.
type Claim struct {
	// MilliCPU is physical CPU in thousandths: vCPUs / cpuOvercommit.
	MilliCPU int64
	// MemoryMiB is host memory: memoryMiB / memoryOvercommit.
	MemoryMiB int64
	// Class is the instance type's class.
	Class cloudv1.InstanceClass
}

// Add returns the sum of two claims (the class of the receiver is kept).
func (c Claim) Add(o Claim) Claim {
	return Claim{MilliCPU: c.MilliCPU + o.MilliCPU, MemoryMiB: c.MemoryMiB + o.MemoryMiB, Class: c.Class}
}

// ClaimOf returns what an instance of the type claims. Overcommit ratios below 1 count as 1.
func ClaimOf(it *cloudv1.InstanceType) Claim {
	cpuRatio := int64(max(it.Spec.CPUOvercommit, 1))
	memRatio := int64(max(it.Spec.MemoryOvercommit, 1))
	class := it.Spec.Class
	if class == "" {
		class = cloudv1.InstanceClassStandard
	}
	return Claim{
		MilliCPU:  ceilDiv(int64(it.Spec.VCPUs)*1000, cpuRatio),
		MemoryMiB: ceilDiv(int64(it.Spec.MemoryMiB), memRatio),
		Class:     class,
	}
}

// Holds reports whether a bound instance still holds its claim: everything but a terminated
// instance whose domain is gone. Stopped instances keep their claim so they can start again
// where their disks are.
func Holds(inst *cloudv1.Instance) bool {
	if inst.Status.Hypervisor == "" {
		return false
	}
	terminating := inst.Terminating()
	return !terminating || controllerutil.ContainsFinalizer(inst, cloudv1.DomainFinalizer)
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }
