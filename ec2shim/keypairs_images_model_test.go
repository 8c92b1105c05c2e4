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

import (
	"testing"

	"pinet.io/pinet/ec2shim/query/querytest"
)

// TestKeyPairAndImageShapesMatchTheModel checks every input and output shape of the key pair and
// image actions against botocore's EC2 model: a parameter or element the model does not have
// would be one no client sends or reads.
func TestKeyPairAndImageShapesMatchTheModel(t *testing.T) {
	m := querytest.LoadModel(t)
	for _, tc := range []struct {
		operation string
		in, out   any
	}{
		{"CreateKeyPair", &createKeyPairInput{}, &createKeyPairOutput{}},
		{"ImportKeyPair", &importKeyPairInput{}, &importKeyPairOutput{}},
		{"DeleteKeyPair", &deleteKeyPairInput{}, &deleteKeyPairOutput{}},
		{"DescribeKeyPairs", &describeKeyPairsInput{}, &describeKeyPairsOutput{}},
		{"RegisterImage", &registerImageInput{}, &registerImageOutput{}},
		{"DeregisterImage", &deregisterImageInput{}, &returnOutput{}},
		{"DescribeImages", &describeImagesInput{}, &describeImagesOutput{}},
		{"DescribeImageAttribute", &describeImageAttributeInput{}, &imageAttributeOutput{}},
		{"ModifyImageAttribute", &modifyImageAttributeInput{}, &returnOutput{}},
		{"ResetImageAttribute", &resetImageAttributeInput{}, &returnOutput{}},
	} {
		t.Run(tc.operation, func(t *testing.T) {
			m.CheckInput(t, tc.operation, tc.in)
			m.CheckOutput(t, tc.operation, tc.out)
		})
	}
}
