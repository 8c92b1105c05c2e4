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

package querytest_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/ec2shim/query/querytest"
)

type placement struct {
	AvailabilityZone string `ec2:"AvailabilityZone"`
}

type tag struct {
	Key   string `ec2:"Key" xml:"key"`
	Value string `ec2:"Value" xml:"value"`
}

type tagSpecification struct {
	ResourceType string `ec2:"ResourceType"`
	Tags         []tag  `ec2:"Tag,list"`
}

type goodInput struct {
	ImageID   string             `ec2:"ImageId"`
	MinCount  int32              `ec2:"MinCount"`
	Groups    []string           `ec2:"SecurityGroup,list"`
	Placement *placement         `ec2:"Placement"`
	Specs     []tagSpecification `ec2:"TagSpecification,list"`
	DryRun    bool               `ec2:"DryRun"`
}

func TestInputProblems(t *testing.T) {
	m := querytest.LoadModel(t)
	if problems := m.InputProblems("RunInstances", &goodInput{}); problems != nil {
		t.Fatalf("a correct shape has problems: %q", problems)
	}
	m.CheckInput(t, "RunInstances", goodInput{})

	tests := []struct {
		name, op string
		shape    any
		want     string // the problem, up to a member listing
	}{
		{"no such operation", "RunInstance", &goodInput{}, "the model has no such operation with an input"},
		{"Go name", "RunInstances", &struct{ ImageID string }{},
			"ImageID: RunInstancesRequest has no parameter ImageID (it has "},
		{"scalar for list", "RunInstances", &struct {
			G string `ec2:"SecurityGroup"`
		}{}, "SecurityGroup: the model's SecurityGroupStringList is a list, the Go shape has a scalar"},
		{"scalar for structure", "RunInstances", &struct {
			P string `ec2:"Placement"`
		}{}, "Placement: the model's Placement is a structure, the Go shape has a scalar"},
		{"list for scalar", "RunInstances", &struct {
			C []int32 `ec2:"MinCount,list"`
		}{}, "MinCount.N: MinCount is not a list but a integer (Integer)"},
		{"nested name", "RunInstances", &struct {
			P struct {
				Zone string `ec2:"Zone"`
			} `ec2:"Placement"`
		}{}, "Placement.Zone: Placement has no parameter Zone (it has "},
		{"member below scalar", "RunInstances", &struct {
			I struct {
				X string `ec2:"X"`
			} `ec2:"ImageId"`
		}{}, "ImageId.X: ImageId is not a structure but a string (ImageId)"},
		{"list element name", "RunInstances", &struct {
			S []struct {
				Tags []tag `ec2:"Tags,list"`
			} `ec2:"TagSpecification,list"`
		}{}, "TagSpecification.N.Tags.N.Key: TagSpecification has no parameter Tags (it has "},
		{"bad shape", "RunInstances", 3, "query: ParamNames needs a struct, not int"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := m.InputProblems(tt.op, tt.shape)
			if len(problems) == 0 || !strings.HasPrefix(problems[0], tt.want) {
				t.Fatalf("got %q, want %q…", problems, tt.want)
			}
		})
	}
}

type instanceState struct {
	Code int32  `xml:"code"`
	Name string `xml:"name"`
}

type instance struct {
	InstanceID string               `xml:"instanceId"`
	State      instanceState        `xml:"instanceState"`
	LaunchTime query.Timestamp      `xml:"launchTime"`
	Tags       *query.List[tag]     `xml:"tagSet,omitempty"`
	Attr       query.AttributeValue `xml:"-"`
}

type reservation struct {
	ReservationID string               `xml:"reservationId"`
	Instances     query.List[instance] `xml:"instancesSet"`
}

type describeOutput struct {
	Reservations query.List[reservation] `xml:"reservationSet"`
	NextToken    string                  `xml:"nextToken,omitempty"`
}

type embeddedBase struct {
	NextToken string `xml:"nextToken,omitempty"`
}

func TestOutputProblems(t *testing.T) {
	m := querytest.LoadModel(t)
	if problems := m.OutputProblems("DescribeInstances", &describeOutput{}); problems != nil {
		t.Fatalf("a correct shape has problems: %q", problems)
	}
	m.CheckOutput(t, "RunInstances", reservation{})
	m.CheckOutput(t, "DescribeInstances", &struct {
		embeddedBase
		Reservations query.List[reservation] `xml:"reservationSet"`
	}{})
	m.CheckOutput(t, "CreateTags", &struct {
		Return bool `xml:"return"`
	}{Return: true})
	m.CheckOutput(t, "CreateTags", nil)
	m.CheckOutput(t, "DescribeInstanceAttribute", &struct {
		InstanceID string                 `xml:"instanceId"`
		Disable    query.AttributeBoolean `xml:"disableApiTermination"`
		Type       query.AttributeValue   `xml:"instanceType"`
	}{})

	tests := []struct {
		name, op string
		body     any
		want     string
	}{
		{"no such operation", "DescribeInstance", &describeOutput{}, "the model has no such operation"},
		{"not a struct", "DescribeInstances", "x", "the body is a string, not a struct"},
		{"wrong name", "RunInstances", &struct {
			ID string `xml:"reservationID"`
		}{}, "reservationID: Reservation has no element reservationID (it has "},
		{"Go name", "RunInstances", &struct{ ReservationId string }{},
			"ReservationId: Reservation has no element ReservationId (it has "},
		{"bare slice", "RunInstances", &struct {
			I []instance `xml:"instancesSet"`
		}{}, "instancesSet: use query.List for lists (a bare slice repeats the element)"},
		{"time.Time", "RunInstances", &struct {
			I query.List[struct {
				T time.Time `xml:"launchTime"`
			}] `xml:"instancesSet"`
		}{}, "instancesSet.item.launchTime: use query.Timestamp for times, so they print as EC2 prints them"},
		{"string for integer", "RunInstances", &struct {
			I query.List[struct {
				N string `xml:"amiLaunchIndex"`
			}] `xml:"instancesSet"`
		}{}, "instancesSet.item.amiLaunchIndex: a Go string, a integer (Integer) in the model"},
		{"bool for string", "RunInstances", &struct {
			O bool `xml:"ownerId"`
		}{}, "ownerId: a Go boolean, a string (String) in the model"},
		{"list for structure", "RunInstances", &struct {
			I query.List[struct {
				P query.List[string] `xml:"placement"`
			}] `xml:"instancesSet"`
		}{}, "instancesSet.item.placement: a list in Go, a structure (Placement) in the model"},
		{"structure for list", "RunInstances", &struct {
			G struct{} `xml:"groupSet"`
		}{}, "groupSet: a struct in Go, a list (GroupIdentifierList) in the model"},
		{"path tag", "RunInstances", &struct {
			G string `xml:"groupSet>item"`
		}{}, "(body): field G: use plain element names (tag \"groupSet>item\")"},
		{"attribute", "RunInstances", &struct {
			G string `xml:"ownerId,attr"`
		}{}, "(body): field G: use plain element names (tag \"ownerId,attr\")"},
		{"number for timestamp", "RunInstances", &struct {
			I query.List[struct {
				T int64 `xml:"launchTime"`
			}] `xml:"instancesSet"`
		}{}, "instancesSet.item.launchTime: a Go integer, a timestamp (DateTime) in the model"},
		{"no such element", "DeleteKeyPair", &struct{ X string }{}, "X: DeleteKeyPairResult has no element X (it has "},
		{"no output", "CreateTags", &struct {
			Return bool   `xml:"return"`
			X      string `xml:"x"`
		}{}, "field X: the operation has no output; only a <return> boolean may be sent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := m.OutputProblems(tt.op, tt.body)
			if len(problems) == 0 || !strings.HasPrefix(problems[0], tt.want) {
				t.Fatalf("got %q, want %q…", problems, tt.want)
			}
		})
	}
}

func TestReadModel(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "service-2.json")
	doc := `{"operations":{"Op":{"input":{"shape":"OpRequest"}}},` +
		`"shapes":{"OpRequest":{"type":"structure","members":{"Name":{"shape":"String","locationName":"name"}}},` +
		`"String":{"type":"string"}}}`
	if err := os.WriteFile(plain, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := querytest.ReadModel(plain)
	if err != nil {
		t.Fatal(err)
	}
	type in struct {
		Name string `ec2:"Name"`
	}
	if problems := m.InputProblems("Op", in{}); problems != nil {
		t.Fatalf("locationName name is the parameter Name: %q", problems)
	}
	for name, content := range map[string]string{"empty.json": `{}`, "bad.json": `{`, "bad.json.gz": "not gzip"} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := querytest.ReadModel(path); err == nil {
			t.Errorf("ReadModel(%s) succeeded", name)
		}
	}
	if _, err := querytest.ReadModel(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("ReadModel of a missing file succeeded")
	}
	t.Setenv(querytest.ModelEnv, plain)
	if got := querytest.LoadModel(t); !reflect.DeepEqual(got, m) {
		t.Error("LoadModel ignored " + querytest.ModelEnv)
	}
}
