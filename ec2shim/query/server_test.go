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

package query_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pinet.io/pinet/ec2shim/query"
)

// The test server is a miniature EC2 built only from this package: Parse, Decode, NewMatcher,
// PageSize/PageTokens/Page, WriteResponse and WriteError. Real clients talk to it.

const testOwner = "123456789012"

var testLaunchTime = time.Date(2026, 3, 4, 5, 6, 7, 890000000, time.UTC)

type ec2Server struct {
	t      *testing.T
	tokens *query.PageTokens
	// fleet is what DescribeInstances pages through, one instance per reservation.
	fleet []reservation

	mu       sync.Mutex
	requests int
	lastRun  *runInstancesInput
}

func newEC2Server(t *testing.T) (*ec2Server, *httptest.Server) {
	s := &ec2Server{t: t, tokens: newTokens(t), fleet: testFleet()}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

// testFleet has twelve instances; the odd ones run, the even ones are stopped.
func testFleet() []reservation {
	var fleet []reservation
	for i := 1; i <= 12; i++ {
		state := instanceState{Code: 80, Name: "stopped"}
		if i%2 == 1 {
			state = instanceState{Code: 16, Name: "running"}
		}
		env := "dev"
		if i <= 6 {
			env = "prod"
		}
		inst := instance{
			InstanceID:   fmt.Sprintf("i-%017x", i),
			ImageID:      "ami-0123456789abcdef0",
			State:        state,
			InstanceType: "m1.small",
			LaunchTime:   query.NewTimestamp(testLaunchTime.Add(time.Duration(i) * time.Minute)),
			Placement:    placementResponse{AvailabilityZone: "pinet-a", Tenancy: "default"},
			Monitoring:   monitoring{State: "disabled"},
			Architecture: "x86_64", RootDeviceType: "ebs", RootDeviceName: "/dev/sda1",
			VirtualizationType: "hvm", Hypervisor: "xen",
			PrivateIPAddress: fmt.Sprintf("10.0.0.%d", i),
			Tags:             ptr(query.NewList(tag{"Name", fmt.Sprintf("web-%d", i)}, tag{"env", env})),
			SecurityGroups:   query.NewList(groupIdentifier{GroupID: "sg-1", GroupName: "default"}),
			SourceDestCheck:  ptr(true),
		}
		fleet = append(fleet, reservation{
			ReservationID: fmt.Sprintf("r-%017x", i),
			OwnerID:       testOwner,
			Instances:     query.NewList(inst),
		})
	}
	return fleet
}

func (s *ec2Server) lastRunInstances() *runInstancesInput {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastRun
}

func (s *ec2Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	requestID := fmt.Sprintf("req-%d", s.requests)
	s.mu.Unlock()

	req, err := query.Parse(r, 1<<20)
	if err != nil {
		query.WriteError(w, query.ErrorFrom(err), requestID)
		return
	}
	var body any
	switch req.Action {
	case "RunInstances":
		body, err = s.runInstances(req)
	case "DescribeInstances":
		body, err = s.describeInstances(req)
	case "TerminateInstances":
		var in terminateInstancesInput
		if err = req.Decode(&in); err == nil {
			err = query.Errorf("InvalidInstanceID.NotFound", http.StatusBadRequest,
				"The instance ID '%s' does not exist", strings.Join(in.InstanceIDs, ", "))
		}
	default:
		err = query.Errorf("InvalidAction", http.StatusBadRequest,
			"The action %s is not valid for this web service.", req.Action)
	}
	if err != nil {
		query.WriteError(w, query.ErrorFrom(err), requestID)
		return
	}
	if err := query.WriteResponse(w, req.Action, requestID, body); err != nil {
		s.t.Errorf("WriteResponse: %v", err)
	}
}

func (s *ec2Server) runInstances(req *query.Request) (any, error) {
	var in runInstancesInput
	if err := req.Decode(&in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.lastRun = &in
	s.mu.Unlock()

	out := &reservation{ReservationID: "r-0000000000000000a", OwnerID: testOwner}
	for _, g := range in.SecurityGroups {
		out.Groups.Items = append(out.Groups.Items, groupIdentifier{GroupName: g})
	}
	for i := range in.MinCount {
		inst := instance{
			InstanceID:     fmt.Sprintf("i-%017x", 0xa0+i),
			ImageID:        in.ImageID,
			State:          instanceState{Code: 0, Name: "pending"},
			Reason:         "",
			AmiLaunchIndex: i,
			InstanceType:   in.InstanceType,
			LaunchTime:     query.NewTimestamp(testLaunchTime),
			KernelID:       in.KernelID,
			RamdiskID:      in.RamdiskID,
			Monitoring:     monitoring{State: "disabled"},
			ClientToken:    in.ClientToken,
			Architecture:   "x86_64", RootDeviceType: "ebs", RootDeviceName: "/dev/sda1",
			VirtualizationType: "hvm", Hypervisor: "xen",
			StateReason: &stateReason{Code: "pending", Message: "pending"},
		}
		if in.KeyName != nil {
			inst.KeyName = *in.KeyName
		}
		if in.Placement != nil {
			inst.Placement.AvailabilityZone = in.Placement.AvailabilityZone
		}
		for j, bdm := range in.BlockDeviceMappings {
			if bdm.Ebs == nil {
				continue
			}
			inst.BlockDeviceMappings.Items = append(inst.BlockDeviceMappings.Items, instanceBlockDeviceMapping{
				DeviceName: bdm.DeviceName,
				Ebs: ebsInstanceBlockDev{VolumeID: fmt.Sprintf("vol-%017x", j+1), Status: "attaching",
					AttachTime: query.NewTimestamp(testLaunchTime), DeleteOnTermination: *bdm.Ebs.DeleteOnTermination},
			})
		}
		for _, spec := range in.TagSpecifications {
			if spec.ResourceType == "instance" {
				inst.Tags = ptr(query.NewList(spec.Tags...))
			}
		}
		out.Instances.Items = append(out.Instances.Items, inst)
	}
	return out, nil
}

var describeInstancesFilters = []string{"instance-id", "instance-state-name", "instance-state-code",
	"instance-type", "reservation-id"}

func (s *ec2Server) describeInstances(req *query.Request) (any, error) {
	var in describeInstancesInput
	if err := req.Decode(&in); err != nil {
		return nil, err
	}
	m, err := query.NewMatcher(in.Filters, describeInstancesFilters)
	if err != nil {
		return nil, err
	}
	size, err := query.PageSize(in.MaxResults, 5, 1000, 0)
	if err != nil {
		return nil, err
	}
	scope := req.PageScope() + "\x00" + testOwner
	cursor, err := s.tokens.Decode(scope, in.NextToken)
	if err != nil {
		return nil, err
	}
	var matched []reservation
	for _, r := range s.fleet {
		inst := r.Instances.Items[0]
		if len(in.InstanceIDs) > 0 && !slices.Contains(in.InstanceIDs, inst.InstanceID) {
			continue
		}
		attrs := func(name string) []string {
			switch name {
			case "instance-id":
				return []string{inst.InstanceID}
			case "instance-state-name":
				return []string{inst.State.Name}
			case "instance-state-code":
				return []string{fmt.Sprint(inst.State.Code)}
			case "instance-type":
				return []string{inst.InstanceType}
			case "reservation-id":
				return []string{r.ReservationID}
			}
			return nil
		}
		tags := make(map[string]string)
		for _, t := range inst.Tags.Items {
			tags[t.Key] = t.Value
		}
		if m.Match(attrs, tags) {
			matched = append(matched, r)
		}
	}
	page, next, more := query.Page(matched, cursor.Offset, size)
	out := &describeInstancesOutput{Reservations: query.NewList(page...)}
	if more {
		out.NextToken = s.tokens.Encode(scope, query.Cursor{Offset: next})
	}
	return out, nil
}
