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
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"pinet.io/pinet/ec2shim/query"
)

// runInstancesQuery is a RunInstances request as an SDK sends it (lists given out of order).
const runInstancesQuery = "ImageId=ami-0123456789abcdef0&MinCount=1&MaxCount=3&KeyName=admin-key" +
	"&UserData=IyEvYmluL3NoCmVjaG8gaGkK" +
	"&SecurityGroup.2=web&SecurityGroup.1=default" +
	"&SecurityGroupId.1=sg-0aaaaaaaaaaaaaaa1" +
	"&Placement.AvailabilityZone=pinet-a" +
	"&BlockDeviceMapping.1.DeviceName=%2Fdev%2Fsda1&BlockDeviceMapping.1.Ebs.VolumeSize=20" +
	"&BlockDeviceMapping.1.Ebs.DeleteOnTermination=true" +
	"&BlockDeviceMapping.2.DeviceName=%2Fdev%2Fsdb&BlockDeviceMapping.2.VirtualName=ephemeral0" +
	"&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=Name" +
	"&TagSpecification.1.Tag.1.Value=web+1&TagSpecification.1.Tag.2.Key=env" +
	"&TagSpecification.1.Tag.2.Value=prod" +
	"&TagSpecification.2.ResourceType=volume&TagSpecification.2.Tag.1.Key=backup" +
	"&TagSpecification.2.Tag.1.Value=" +
	"&ClientToken=token-1&InstanceType=m1.small&KernelId=aki-00000001&RamdiskId=ari-00000001" +
	"&Monitoring.Enabled=false&DisableApiTermination=TRUE&DryRun=false"

// wantRunInstances is what runInstancesQuery decodes to.
func wantRunInstances() runInstancesInput {
	return runInstancesInput{
		ImageID:          "ami-0123456789abcdef0",
		MinCount:         1,
		MaxCount:         3,
		KeyName:          ptr("admin-key"),
		UserData:         []byte("#!/bin/sh\necho hi\n"),
		SecurityGroups:   []string{"default", "web"},
		SecurityGroupIDs: []string{"sg-0aaaaaaaaaaaaaaa1"},
		Placement:        &placement{AvailabilityZone: "pinet-a"},
		BlockDeviceMappings: []blockDeviceMapping{
			{DeviceName: "/dev/sda1", Ebs: &ebsBlockDevice{VolumeSize: ptr[int32](20),
				DeleteOnTermination: ptr(true)}},
			{DeviceName: "/dev/sdb", VirtualName: "ephemeral0"},
		},
		TagSpecifications: []tagSpecification{
			{ResourceType: "instance", Tags: []tag{{Key: "Name", Value: "web 1"}, {Key: "env", Value: "prod"}}},
			{ResourceType: "volume", Tags: []tag{{Key: "backup", Value: ""}}},
		},
		ClientToken:           "token-1",
		InstanceType:          "m1.small",
		KernelID:              "aki-00000001",
		RamdiskID:             "ari-00000001",
		Monitoring:            &monitoringEnabled{Enabled: false},
		DisableAPITermination: ptr(true),
	}
}

func TestDecodeRunInstances(t *testing.T) {
	var got runInstancesInput
	if err := parseGET(t, "RunInstances", runInstancesQuery).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if want := wantRunInstances(); !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", got, want)
	}
}

func TestDecodeRunInstancesMinimal(t *testing.T) {
	var got runInstancesInput
	if err := parseGET(t, "RunInstances", "ImageId=ami-1&MinCount=1&MaxCount=1").Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := runInstancesInput{ImageID: "ami-1", MinCount: 1, MaxCount: 1}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %+v, want %+v (absent lists nil, absent pointers nil)", got, want)
	}
}

func TestDecodeDescribeInstances(t *testing.T) {
	raw := "InstanceId.1=i-1&InstanceId.2=i-2&Filter.1.Name=instance-state-name" +
		"&Filter.1.Value.1=running&Filter.1.Value.2=stopped&Filter.2.Name=tag%3AName" +
		"&Filter.2.Value.1=web*&MaxResults=50&NextToken=abc&DryRun=true"
	var got describeInstancesInput
	if err := parseGET(t, "DescribeInstances", raw).Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := describeInstancesInput{
		InstanceIDs: []string{"i-1", "i-2"},
		Filters: []query.Filter{
			{Name: "instance-state-name", Values: []string{"running", "stopped"}},
			{Name: "tag:Name", Values: []string{"web*"}},
		},
		DryRun: true,
		Paging: query.Paging{MaxResults: ptr[int32](50), NextToken: "abc"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %+v, want %+v", got, want)
	}
}

func TestDecodeListOrderAndGaps(t *testing.T) {
	tests := []struct {
		query string
		want  []string
	}{
		{"InstanceId.3=c&InstanceId.1=a&InstanceId.2=b", []string{"a", "b", "c"}},
		{"InstanceId.7=late&InstanceId.3=early", []string{"early", "late"}},
		{"InstanceId.10=ten&InstanceId.9=nine&InstanceId.100=hundred", []string{"nine", "ten", "hundred"}},
		{"InstanceId.999999999=max", []string{"max"}},
		{"InstanceId=", nil}, // the plain Query protocol's empty list
		{"", nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var got describeInstancesInput
			if err := parseGET(t, "DescribeInstances", tt.query).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.InstanceIDs, tt.want) {
				t.Fatalf("got %q, want %q", got.InstanceIDs, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	const base = "ImageId=ami-1&MinCount=1&MaxCount=1"
	many := func(name string, n int) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, "&%s.%d=x", name, i)
		}
		return b.String()
	}
	manyDevices := func(n int) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, "&BlockDeviceMapping.%d.DeviceName=sd%d", i, i)
		}
		return b.String()
	}
	tests := []struct {
		name, query, code, message string
	}{
		{"missing ImageId", "MinCount=1&MaxCount=1", "MissingParameter",
			"The request must contain the parameter ImageId"},
		{"missing MaxCount", "ImageId=ami-1&MinCount=1", "MissingParameter",
			"The request must contain the parameter MaxCount"},
		{"int syntax", "ImageId=ami-1&MinCount=one&MaxCount=1", "InvalidParameterValue",
			"Value (one) for parameter MinCount is invalid. Expected an integer."},
		{"int empty", "ImageId=ami-1&MinCount=&MaxCount=1", "InvalidParameterValue",
			"Value () for parameter MinCount is invalid. Expected an integer."},
		{"int32 range", "ImageId=ami-1&MinCount=1&MaxCount=2147483648", "InvalidParameterValue",
			"Value (2147483648) for parameter MaxCount is invalid. Expected an integer from -2147483648 to 2147483647."},
		{"nested int", base + "&BlockDeviceMapping.1.Ebs.VolumeSize=20G", "InvalidParameterValue",
			"Value (20G) for parameter BlockDeviceMapping.1.Ebs.VolumeSize is invalid. Expected an integer."},
		{"bool", base + "&BlockDeviceMapping.4.Ebs.DeleteOnTermination=yes", "InvalidParameterValue",
			"Value (yes) for parameter BlockDeviceMapping.4.Ebs.DeleteOnTermination is invalid. Expected true or false."},
		{"bool DryRun", base + "&DryRun=1", "InvalidParameterValue",
			"Value (1) for parameter DryRun is invalid. Expected true or false."},
		{"base64", base + "&UserData=not+base64!", "InvalidParameterValue",
			"Value (not base64!) for parameter UserData is invalid. Expected base64-encoded data."},
		{"unknown", base + "&Foo=1", "UnknownParameter", "The parameter Foo is not recognized"},
		{"unknown nested", base + "&Placement.Foo=1", "UnknownParameter",
			"The parameter Placement.Foo is not recognized"},
		{"unknown deep", base + "&BlockDeviceMapping.1.Ebs.Size=1", "UnknownParameter",
			"The parameter BlockDeviceMapping.1.Ebs.Size is not recognized"},
		{"unknown case", base + "&imageId=ami-2", "UnknownParameter",
			"The parameter imageId is not recognized"},
		{"unknown below scalar", base + "&ImageId.1=ami-2", "UnknownParameter",
			"The parameter ImageId.1 is not recognized"},
		{"scalar for struct", base + "&Placement=pinet-a", "UnknownParameter",
			"The parameter Placement is not recognized"},
		{"scalar for list", base + "&SecurityGroup=web", "UnknownParameter",
			"The parameter SecurityGroup is not recognized"},
		{"empty marker and items", base + "&SecurityGroup=&SecurityGroup.1=web", "UnknownParameter",
			"The parameter SecurityGroup is not recognized"},
		{"empty segment", base + "&Placement..AvailabilityZone=a", "UnknownParameter",
			"The parameter Placement..AvailabilityZone is not recognized"},
		{"index 0", base + "&SecurityGroup.0=web", "InvalidParameterValue",
			"Invalid list index (0) in parameter SecurityGroup.0. Indexes are whole numbers from 1, without leading zeros"},
		{"index leading zero", base + "&SecurityGroup.1=a&SecurityGroup.01=b", "InvalidParameterValue",
			"Invalid list index (01) in parameter SecurityGroup.01. Indexes are whole numbers from 1, without leading zeros"},
		{"index negative", base + "&SecurityGroup.-1=web", "InvalidParameterValue",
			"Invalid list index (-1) in parameter SecurityGroup.-1. Indexes are whole numbers from 1, without leading zeros"},
		{"index word", base + "&TagSpecification.first.ResourceType=instance", "InvalidParameterValue",
			"Invalid list index (first) in parameter TagSpecification.first.ResourceType. Indexes are whole numbers from 1, without leading zeros"},
		{"index empty", base + "&SecurityGroup.=web", "InvalidParameterValue",
			"Invalid list index () in parameter SecurityGroup.. Indexes are whole numbers from 1, without leading zeros"},
		{"index too large", base + "&SecurityGroup.1000000000=web", "InvalidParameterValue",
			"Invalid list index (1000000000) in parameter SecurityGroup.1000000000. Indexes are whole numbers from 1, without leading zeros"},
		{"index plus", base + "&SecurityGroup.%2B1=web", "InvalidParameterValue",
			"Invalid list index (+1) in parameter SecurityGroup.+1. Indexes are whole numbers from 1, without leading zeros"},
		{"list limit", base + many("SecurityGroup", query.MaxListItems+1), "InvalidParameterValue",
			"The parameter SecurityGroup has 1001 items; at most 1000 are allowed"},
		{"tag max", base + manyDevices(33), "InvalidParameterValue",
			"The parameter BlockDeviceMapping has 33 items; at most 32 are allowed"},
		{"nested required", base + "&Monitoring.Enabled=", "InvalidParameterValue",
			"Value () for parameter Monitoring.Enabled is invalid. Expected true or false."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in runInstancesInput
			err := parseGET(t, "RunInstances", tt.query).Decode(&in)
			wantError(t, err, tt.code, tt.message)
		})
	}
}

func TestDecodeListLimitAccepted(t *testing.T) {
	var b strings.Builder
	b.WriteString("ImageId=ami-1&MinCount=1&MaxCount=1")
	for i := 1; i <= query.MaxListItems; i++ {
		fmt.Fprintf(&b, "&SecurityGroup.%d=g%d", i, i)
	}
	var in runInstancesInput
	if err := parseGET(t, "RunInstances", b.String()).Decode(&in); err != nil {
		t.Fatal(err)
	}
	if len(in.SecurityGroups) != query.MaxListItems || in.SecurityGroups[999] != "g1000" {
		t.Fatalf("got %d groups, last %q", len(in.SecurityGroups), in.SecurityGroups[len(in.SecurityGroups)-1])
	}
}

func TestDecodeRequiredNested(t *testing.T) {
	tests := []struct {
		name, action, query, code, message string
		into                               any
	}{
		{"filter without name", "DescribeInstances", "Filter.1.Value.1=running",
			"MissingParameter", "The request must contain the parameter Filter.1.Name", &describeInstancesInput{}},
		{"struct without required member", "RunInstances",
			"ImageId=a&MinCount=1&MaxCount=1&Monitoring.Extra=1", "UnknownParameter",
			"The parameter Monitoring.Extra is not recognized", &runInstancesInput{}},
		{"required list absent", "TerminateInstances", "", "MissingParameter",
			"The request must contain the parameter InstanceId", &terminateInstancesInput{}},
		{"required list empty", "TerminateInstances", "InstanceId=", "MissingParameter",
			"The request must contain the parameter InstanceId", &terminateInstancesInput{}},
		{"filter value index", "DescribeInstances", "Filter.1.Name=a&Filter.1.Value.0=x",
			"InvalidParameterValue",
			"Invalid list index (0) in parameter Filter.1.Value.0. Indexes are whole numbers from 1, without leading zeros",
			&describeInstancesInput{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, parseGET(t, tt.action, tt.query).Decode(tt.into), tt.code, tt.message)
		})
	}
}

// allTypes exercises every kind of field Decode fills.
type allTypes struct {
	S       string
	Named   instanceType
	B       bool
	I       int
	I8      int8
	I16     int16
	I64     int64
	U       uint
	U8      uint8
	U16     uint16
	U32     uint32
	U64     uint64
	F32     float32
	F64     float64
	Bytes   []byte
	When    time.Time
	MaybeAt *time.Time
	Stamp   query.Timestamp
	Addr    netip.Addr
	PtrAddr *netip.Addr
	PtrS    *string
	PtrB    *bool
	Ints    []int          `ec2:"Int,list"`
	Matrix  [][]string     `ec2:"Row,list"`
	Nested  *allTypesInner `ec2:"Inner"`
	Skipped string         `ec2:"-"`
	private string
	embedded
}

type instanceType string

type allTypesInner struct {
	Again *allTypesInner `ec2:"Again"` // recursive shapes compile
	Leaf  string         `ec2:"Leaf"`
}

type embedded struct {
	Promoted string `ec2:"Promoted"`
}

func TestDecodeAllTypes(t *testing.T) {
	raw := "S=hello+world&Named=m1.small&B=True&I=-9&I8=-128&I16=32767&I64=-9223372036854775808" +
		"&U=9&U8=255&U16=65535&U32=4294967295&U64=18446744073709551615&F32=1.5&F64=-2.25e3" +
		"&Bytes=AAEC&When=2026-01-02T03%3A04%3A05.678%2B01%3A00&MaybeAt=2026-01-02T03%3A04%3A05Z" +
		"&Stamp=2026-05-06T07%3A08%3A09.123Z&Addr=10.0.0.1&PtrAddr=fd00%3A%3A1&PtrS=&PtrB=false" +
		"&Int.2=20&Int.1=10&Row.1.2=b&Row.1.1=a&Row.2.1=c&Inner.Leaf=x&Inner.Again.Again.Leaf=z" +
		"&Promoted=up"
	var got allTypes
	if err := parseGET(t, "Test", raw).Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := allTypes{
		S: "hello world", Named: "m1.small", B: true, I: -9, I8: -128, I16: 32767,
		I64: -9223372036854775808, U: 9, U8: 255, U16: 65535, U32: 4294967295,
		U64: 18446744073709551615, F32: 1.5, F64: -2250, Bytes: []byte{0, 1, 2},
		When:    time.Date(2026, 1, 2, 2, 4, 5, 678000000, time.UTC),
		MaybeAt: ptr(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		Stamp:   query.NewTimestamp(time.Date(2026, 5, 6, 7, 8, 9, 123000000, time.UTC)),
		Addr:    netip.MustParseAddr("10.0.0.1"), PtrAddr: ptr(netip.MustParseAddr("fd00::1")),
		PtrS: ptr(""), PtrB: ptr(false), Ints: []int{10, 20},
		Matrix:   [][]string{{"a", "b"}, {"c"}},
		Nested:   &allTypesInner{Leaf: "x", Again: &allTypesInner{Again: &allTypesInner{Leaf: "z"}}},
		embedded: embedded{Promoted: "up"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", got, want)
	}
}

func TestDecodeScalarErrors(t *testing.T) {
	tests := []struct{ query, message string }{
		{"I8=128", "Value (128) for parameter I8 is invalid. Expected an integer from -128 to 127."},
		{"I64=9223372036854775808", "Value (9223372036854775808) for parameter I64 is invalid. " +
			"Expected an integer from -9223372036854775808 to 9223372036854775807."},
		{"U8=256", "Value (256) for parameter U8 is invalid. Expected an integer from 0 to 255."},
		{"U64=18446744073709551616", "Value (18446744073709551616) for parameter U64 is invalid. " +
			"Expected an integer from 0 to 18446744073709551615."},
		{"U=-1", "Value (-1) for parameter U is invalid. Expected a non-negative integer."},
		{"F64=NaN", "Value (NaN) for parameter F64 is invalid. Expected a number."},
		{"F64=1e400", "Value (1e400) for parameter F64 is invalid. Expected a number."},
		{"When=2026-01-02", "Value (2026-01-02) for parameter When is invalid. " +
			"Expected an ISO 8601 timestamp such as 2006-01-02T15:04:05.000Z."},
		{"Stamp=yesterday", "Value (yesterday) for parameter Stamp is invalid. " +
			"The value is not in the expected format."},
		{"Addr=10.0.0.256", "Value (10.0.0.256) for parameter Addr is invalid. " +
			"The value is not in the expected format."},
		{"S=" + strings.Repeat("x", 200) + "&B=" + strings.Repeat("y", 200),
			"Value (" + strings.Repeat("y", 128) + "...) for parameter B is invalid. Expected true or false."},
		{"Row.1=a", "The parameter Row.1 is not recognized"},
		{"Inner.Again=x", "The parameter Inner.Again is not recognized"},
		{"Skipped=x", "The parameter Skipped is not recognized"},
		{"private=x", "The parameter private is not recognized"},
		{"embedded.Promoted=x", "The parameter embedded.Promoted is not recognized"},
	}
	for _, tt := range tests {
		t.Run(tt.query[:min(len(tt.query), 30)], func(t *testing.T) {
			err := parseGET(t, "Test", tt.query).Decode(&allTypes{})
			var e *query.Error
			if !errors.As(err, &e) || e.Message != tt.message {
				t.Fatalf("got %v, want message %q", err, tt.message)
			}
		})
	}
}

func TestDecodeUnknownReportsSmallestName(t *testing.T) {
	req := parseGET(t, "RunInstances", "ImageId=a&MinCount=1&MaxCount=1&Zeta=1&Alpha.2=1&Alpha.1.X=2")
	for range 5 { // map order must not leak into the message
		wantError(t, req.Decode(&runInstancesInput{}), "UnknownParameter",
			"The parameter Alpha.1.X is not recognized")
	}
}

func TestDecodeProgrammingErrors(t *testing.T) {
	req := parseGET(t, "Test", "")
	tests := []struct {
		name string
		into any
		want string
	}{
		{"nil", nil, "query: Decode needs a non-nil pointer to a struct, not <nil>"},
		{"not a pointer", allTypes{}, "query: Decode needs a non-nil pointer to a struct, not query_test.allTypes"},
		{"nil pointer", (*allTypes)(nil), "query: Decode needs a non-nil pointer to a struct, not *query_test.allTypes"},
		{"pointer to scalar", ptr(""), "query: Decode needs a non-nil pointer to a struct, not *string"},
		{"text struct", &query.Timestamp{}, "query: query.Timestamp decodes as a scalar, not a struct of parameters"},
		{"map", &struct{ M map[string]string }{}, "query: struct { M map[string]string }.M: query: unsupported field type map[string]string"},
		{"slice without list", &struct{ L []string }{}, "query: struct { L []string }.L: the list option goes with slice fields, and only with them ([]byte is a base64 scalar)"},
		{"list on scalar", &struct {
			S string `ec2:"S,list"`
		}{}, "query: struct { S string \"ec2:\\\"S,list\\\"\" }.S: the list option goes with slice fields, and only with them ([]byte is a base64 scalar)"},
		{"bad option", &struct {
			S string `ec2:"S,optional"`
		}{}, "query: struct { S string \"ec2:\\\"S,optional\\\"\" }.S: unknown tag option \"optional\""},
		{"bad max", &struct {
			L []string `ec2:"L,list,max=0"`
		}{}, "query: struct { L []string \"ec2:\\\"L,list,max=0\\\"\" }.L: tag option \"max=0\" needs a positive number"},
		{"max without list", &struct {
			S string `ec2:"S,max=3"`
		}{}, "query: struct { S string \"ec2:\\\"S,max=3\\\"\" }.S: tag option max=3 needs the list option"},
		{"dotted name", &struct {
			S string `ec2:"A.B"`
		}{}, "query: struct { S string \"ec2:\\\"A.B\\\"\" }.S: tag name \"A.B\" has a dot; nest a struct instead"},
		{"duplicate name", &struct {
			A string `ec2:"X"`
			B string `ec2:"X"`
		}{}, "query: struct { A string \"ec2:\\\"X\\\"\"; B string \"ec2:\\\"X\\\"\" } has two fields for the parameter X"},
		{"double pointer", &struct{ P **string }{}, "query: struct { P **string }.P: query: unsupported field type **string: use a plain slice for lists and one pointer for optional values"},
		{"pointer to list", &struct {
			P *[]string `ec2:"P,list"`
		}{}, "query: struct { P *[]string \"ec2:\\\"P,list\\\"\" }.P: query: unsupported field type *[]string: use a plain slice for lists and one pointer for optional values"},
		{"chan in list", &struct {
			C []chan int `ec2:"C,list"`
		}{}, "query: struct { C []chan int \"ec2:\\\"C,list\\\"\" }.C: query: unsupported field type chan int"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := req.Decode(tt.into)
			var e *query.Error
			if err == nil || errors.As(err, &e) {
				t.Fatalf("got %v, want a programming error", err)
			}
			if err.Error() != tt.want {
				t.Fatalf("got  %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestDecodeHandBuiltDuplicates(t *testing.T) {
	req := &query.Request{Action: "X", Params: map[string][]string{"ImageId": {"a", "b"}}}
	wantError(t, req.Decode(&runInstancesInput{}), "InvalidQueryParameter",
		"The parameter ImageId is given more than once")
}

func TestParamNames(t *testing.T) {
	got, err := query.ParamNames(describeInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"InstanceId.N", "Filter.N.Name", "Filter.N.Value.N", "DryRun", "MaxResults", "NextToken"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	got, err = query.ParamNames(&allTypesInner{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"Again.…", "Leaf"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if _, err := query.ParamNames(3); err == nil {
		t.Fatal("ParamNames(3) succeeded")
	}
}
