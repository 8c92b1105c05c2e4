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

// Package querytest checks the Go shapes of EC2 handlers against the EC2 service model that
// botocore ships: every input parameter a shape decodes must exist in the operation's input, and
// every element a response body prints must exist, with a matching type, in its output. Tests
// call it; nothing in the server imports it.
package querytest

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"pinet.io/pinet/ec2shim/query"
)

// ModelEnv names a service-2.json(.gz) file to use instead of botocore's.
const ModelEnv = "PINET_EC2_MODEL"

// Model is the EC2 2016-11-15 service model: operations and their shapes.
type Model struct {
	operations map[string]operation
	shapes     map[string]*shape
}

type operation struct {
	Input  *shapeRef `json:"input"`
	Output *shapeRef `json:"output"`
}

type shapeRef struct {
	Shape string `json:"shape"`
}

type shape struct {
	Type     string            `json:"type"`
	Members  map[string]member `json:"members"`
	Member   *member           `json:"member"`
	Required []string          `json:"required"`
}

type member struct {
	Shape        string `json:"shape"`
	LocationName string `json:"locationName"`
	QueryName    string `json:"queryName"`
}

// LoadModel reads the model named by $PINET_EC2_MODEL, else the one in the botocore package of
// python3 on PATH. It skips the test when neither is there.
func LoadModel(t testing.TB) *Model {
	t.Helper()
	path := os.Getenv(ModelEnv)
	if path == "" {
		out, err := exec.Command("python3", "-c",
			"import botocore,os;print(os.path.dirname(botocore.__file__))").Output()
		if err != nil {
			t.Skipf("no EC2 service model: set %s or install botocore for python3 (%v)", ModelEnv, err)
		}
		path = filepath.Join(strings.TrimSpace(string(out)), "data", "ec2", "2016-11-15",
			"service-2.json.gz")
	}
	m, err := ReadModel(path)
	if err != nil {
		t.Fatalf("reading the EC2 service model: %v", err)
	}
	return m
}

// ReadModel reads a service-2.json file, gzipped when its name ends in .gz.
func ReadModel(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var doc struct {
		Operations map[string]operation `json:"operations"`
		Shapes     map[string]*shape    `json:"shapes"`
	}
	dec := json.NewDecoder(f)
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		dec = json.NewDecoder(zr)
	}
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Operations) == 0 || len(doc.Shapes) == 0 {
		return nil, fmt.Errorf("%s: no operations or shapes", path)
	}
	return &Model{operations: doc.Operations, shapes: doc.Shapes}, nil
}

// CheckInput fails the test for every parameter the input shape v (what a handler passes to
// Request.Decode) would accept that the operation's input does not have.
func (m *Model) CheckInput(t testing.TB, operation string, v any) {
	t.Helper()
	for _, problem := range m.InputProblems(operation, v) {
		t.Errorf("%s input: %s", operation, problem)
	}
}

// InputProblems lists what CheckInput reports.
func (m *Model) InputProblems(operation string, v any) []string {
	op, ok := m.operations[operation]
	if !ok || op.Input == nil {
		return []string{"the model has no such operation with an input"}
	}
	names, err := query.ParamNames(v)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	for _, name := range names {
		if err := m.checkParam(op.Input.Shape, name); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", name, err))
		}
	}
	return problems
}

// checkParam walks a wire name (with N for list indexes) through the model from the input shape.
func (m *Model) checkParam(root, name string) error {
	sh, shapeName := m.shapes[root], root
	segs := strings.Split(name, ".")
	for i, seg := range segs {
		switch {
		case sh == nil:
			return fmt.Errorf("the model lacks the shape %s", shapeName)
		case sh.Type == "list":
			if seg != "N" {
				return fmt.Errorf("%s is a list: give it as a slice with the list option",
					strings.Join(segs[:i], "."))
			}
			shapeName = sh.Member.Shape
		case seg == "N":
			return fmt.Errorf("%s is not a list but a %s (%s)", strings.Join(segs[:i], "."),
				sh.Type, shapeName)
		case sh.Type != "structure":
			return fmt.Errorf("%s is not a structure but a %s (%s)", strings.Join(segs[:i], "."),
				sh.Type, shapeName)
		default:
			mem, ok := findMember(sh, seg, queryName)
			if !ok {
				return fmt.Errorf("%s has no parameter %s (it has %s)", shapeName, seg,
					strings.Join(memberNames(sh, queryName), ", "))
			}
			shapeName = mem.Shape
		}
		sh = m.shapes[shapeName]
	}
	if sh != nil && (sh.Type == "structure" || sh.Type == "list") {
		return fmt.Errorf("the model's %s is a %s, the Go shape has a scalar", shapeName, sh.Type)
	}
	return nil
}

// queryName is the EC2 protocol's input name of a member.
func queryName(name string, mem member) string {
	switch {
	case mem.QueryName != "":
		return mem.QueryName
	case mem.LocationName != "":
		r, size := utf8.DecodeRuneInString(mem.LocationName)
		return string(unicode.ToUpper(r)) + mem.LocationName[size:]
	}
	return name
}

// xmlName is the element name of a member in a response.
func xmlName(name string, mem member) string {
	if mem.LocationName != "" {
		return mem.LocationName
	}
	return name
}

func findMember(sh *shape, name string, naming func(string, member) string) (member, bool) {
	for memberName, mem := range sh.Members {
		if naming(memberName, mem) == name {
			return mem, true
		}
	}
	return member{}, false
}

func memberNames(sh *shape, naming func(string, member) string) []string {
	var names []string
	for memberName, mem := range sh.Members {
		names = append(names, naming(memberName, mem))
	}
	sort.Strings(names)
	return names
}
