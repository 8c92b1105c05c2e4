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

package cloud

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/conditions"
)

// VolumeStatus is EC2's VolumeStatusItem: whether the volume's I/O can work. PiNet has no
// scheduled volume events or actions.
type VolumeStatus struct {
	VolumeID, AvailabilityZone string
	// Status is ok, impaired or insufficient-data.
	Status string
	// Details are the checks: io-enabled (passed, failed or insufficient-data) and
	// io-performance (not-applicable: PiNet's volumes have no provisioned IOPS).
	Details []StatusDetail
}

// DescribeVolumeStatusInput names volumes by id, and filters and pages them.
type DescribeVolumeStatusInput struct {
	VolumeIDs []string
	Filters   []query.Filter
	DryRun    bool
	Page
}

var volumeStatusListing = listing{resource: "volumes", filters: []string{
	"availability-zone", "volume-status.status", "volume-status.details-name", "volume-status.details-status",
}, minPage: 5, maxPage: 1000, idsWithPage: "The parameter volumeSet cannot be used with the parameter maxResults"}

// DescribeVolumeStatus tells, for each of the project's volumes, whether its I/O can work: a
// volume with storage (available or in use) whose storage node is ready is ok, one whose node
// is not ready is impaired (its export cannot be reached), one that failed is impaired, and one
// still being made has insufficient data.
func (s *Service) DescribeVolumeStatus(ctx context.Context, c Caller, in DescribeVolumeStatusInput) ([]VolumeStatus, string, error) {
	matcher, size, err := s.startDescribe(ctx, c, volumeStatusListing, in.DryRun, in.Filters, in.Page, len(in.VolumeIDs))
	if err != nil {
		return nil, "", err
	}
	vols, err := named(ctx, s, c, volumeKind, in.VolumeIDs)
	if err != nil {
		return nil, "", err
	}
	ready := map[string]bool{}
	for _, v := range vols {
		node := v.Labels[cloudv1.LabelStorageNode]
		if _, seen := ready[node]; seen || node == "" {
			continue
		}
		if ready[node], err = s.nodeReady(ctx, node); err != nil {
			return nil, "", err
		}
	}
	items := shapes(vols, func(v *cloudv1.Volume) VolumeStatus { return volumeStatusOf(v, ready) },
		func(item *VolumeStatus) bool { return matcher.Match(item.attributes, nil) })
	return pageOf(s, c, fmt.Sprint("DescribeVolumeStatus", in.VolumeIDs, in.Filters), in.Page, size, items)
}

// nodeReady tells whether the hypervisor is ready; one that is gone is not.
func (s *Service) nodeReady(ctx context.Context, name string) (bool, error) {
	hv := &cloudv1.Hypervisor{}
	if err := s.cfg.Client.Get(ctx, client.ObjectKey{Name: name}, hv); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return false, nil
		}
		return false, fmt.Errorf("reading hypervisor %s: %w", name, err)
	}
	return conditions.IsTrue(hv, cloudv1.ReadyCondition), nil
}

func volumeStatusOf(v *cloudv1.Volume, ready map[string]bool) VolumeStatus {
	status, io := "insufficient-data", "insufficient-data"
	switch volumeState(v) {
	case string(cloudv1.VolumeStateAvailable), string(cloudv1.VolumeStateInUse):
		status, io = "impaired", "failed"
		if ready[v.Labels[cloudv1.LabelStorageNode]] {
			status, io = "ok", "passed"
		}
	case string(cloudv1.VolumeStateError):
		status, io = "impaired", "failed"
	}
	return VolumeStatus{VolumeID: volumeID(v), AvailabilityZone: volumeZone(v), Status: status,
		Details: []StatusDetail{{Name: "io-enabled", Status: io}, {Name: "io-performance", Status: "not-applicable"}}}
}

// attributes are the volume status's values of a filter.
func (st VolumeStatus) attributes(name string) []string {
	switch name {
	case "availability-zone":
		return []string{st.AvailabilityZone}
	case "volume-status.status":
		return []string{st.Status}
	case "volume-status.details-name", "volume-status.details-status":
		var out []string
		for _, d := range st.Details {
			if name == "volume-status.details-name" {
				out = append(out, d.Name)
			} else {
				out = append(out, d.Status)
			}
		}
		return out
	}
	return nil
}
