/*
Copyright 2026 The PiNet Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package ec2shim

// routes maps every action the API serves to its handler; each resource family lists its own.
func (s *Server) routes() map[string]action {
	all := map[string]action{}
	for _, family := range []map[string]action{
		s.instanceRoutes(), s.keyPairRoutes(), s.imageRoutes(), s.volumeRoutes(),
		s.addressRoutes(), s.securityGroupRoutes(), s.tagRoutes(),
	} {
		for name, act := range family {
			all[name] = act
		}
	}
	return all
}

func (s *Server) instanceRoutes() map[string]action {
	return map[string]action{
		// Instances
		"RunInstances":              s.runInstances,
		"DescribeInstances":         s.describeInstances,
		"TerminateInstances":        s.terminateInstances,
		"StopInstances":             s.stopInstances,
		"StartInstances":            s.startInstances,
		"RebootInstances":           s.rebootInstances,
		"GetConsoleOutput":          s.getConsoleOutput,
		"DescribeInstanceStatus":    s.describeInstanceStatus,
		"DescribeInstanceAttribute": s.describeInstanceAttribute,
		"ModifyInstanceAttribute":   s.modifyInstanceAttribute,
		"DescribeInstanceTypes":     s.describeInstanceTypes,
		// Regions, zones and the account
		"DescribeRegions":           s.describeRegions,
		"DescribeAvailabilityZones": s.describeAvailabilityZones,
		"DescribeAccountAttributes": s.describeAccountAttributes,
	}
}
