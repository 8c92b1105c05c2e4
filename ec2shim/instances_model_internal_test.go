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

package ec2shim

import "testing"

// TestInstanceShapesMatchTheModel checks the instance actions' input and output shapes against
// botocore's EC2 model: a parameter or element the model does not have would be one no client
// sends or reads. Start, Terminate and Reboot share StopInstances' input, which takes the
// parameters of all four; only their outputs are checked.
func TestInstanceShapesMatchTheModel(t *testing.T) {
	checkShapes(t, []shapeCase{
		{"RunInstances", &runInstancesInput{}, &reservation{}},
		{"DescribeInstances", &describeInstancesInput{}, &describeInstancesOutput{}},
		{"StartInstances", nil, &stateChangeOutput{}},
		{"StopInstances", &instanceIDsInput{}, &stateChangeOutput{}},
		{"TerminateInstances", nil, &stateChangeOutput{}},
		{"RebootInstances", nil, &returnOutput{}},
		{"DescribeInstanceStatus", &describeInstanceStatusInput{}, &describeInstanceStatusOutput{}},
		{"DescribeInstanceAttribute", &instanceAttributeInput{}, &instanceAttributeOutput{}},
		{"ModifyInstanceAttribute", &modifyInstanceAttributeInput{}, &returnOutput{}},
		{"GetConsoleOutput", &getConsoleOutputInput{}, &getConsoleOutputOutput{}},
	})
}
