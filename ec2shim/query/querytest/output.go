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

package querytest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"pinet.io/pinet/ec2shim/query"
)

// CheckOutput fails the test for every element the response body v (what a handler passes to
// query.WriteResponse) prints that the operation's output does not have, or has with another
// type: lists must be query.List (EC2's <item> elements), times query.Timestamp, numbers and
// booleans Go numbers and bools.
func (m *Model) CheckOutput(t testing.TB, operation string, v any) {
	t.Helper()
	for _, problem := range m.OutputProblems(operation, v) {
		t.Errorf("%s output: %s", operation, problem)
	}
}

// OutputProblems lists what CheckOutput reports.
func (m *Model) OutputProblems(operation string, v any) []string {
	op, ok := m.operations[operation]
	if !ok {
		return []string{"the model has no such operation"}
	}
	if v == nil {
		return nil // a response with only the request id
	}
	typ := reflect.TypeOf(v)
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct {
		return []string{fmt.Sprintf("the body is a %T, not a struct", v)}
	}
	if op.Output == nil {
		return noOutputProblems(typ)
	}
	w := outputWalker{model: m, seen: make(map[visit]bool)}
	w.walk("", typ, op.Output.Shape)
	return w.problems
}

// noOutputProblems checks the body of an operation the model gives no output: EC2 still answers
// such calls (CreateTags, …) with <return>true</return>, so that boolean alone is allowed.
func noOutputProblems(typ reflect.Type) []string {
	var problems []string
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("xml"), ",")
		if name == "-" || f.Name == "XMLName" || !f.IsExported() ||
			name == "return" && f.Type.Kind() == reflect.Bool {
			continue
		}
		problems = append(problems, fmt.Sprintf("field %s: the operation has no output; "+
			"only a <return> boolean may be sent", f.Name))
	}
	return problems
}

type visit struct {
	typ   reflect.Type
	shape string
}

type outputWalker struct {
	model    *Model
	seen     map[visit]bool
	problems []string
}

func (w *outputWalker) problem(path, format string, args ...any) {
	if path == "" {
		path = "(body)"
	}
	w.problems = append(w.problems, path+": "+fmt.Sprintf(format, args...))
}

func (w *outputWalker) walk(path string, typ reflect.Type, shapeName string) {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	sh := w.model.shapes[shapeName]
	if sh == nil {
		w.problem(path, "the model lacks the shape %s", shapeName)
		return
	}
	if w.seen[visit{typ, shapeName}] {
		return
	}
	w.seen[visit{typ, shapeName}] = true

	switch {
	case typ == reflect.TypeFor[query.Timestamp]():
		w.expect(path, sh, shapeName, "timestamp")
	case typ == reflect.TypeFor[time.Time]():
		w.problem(path, "use query.Timestamp for times, so they print as EC2 prints them")
	case isList(typ):
		if sh.Type != "list" {
			w.problem(path, "a list in Go, a %s (%s) in the model", sh.Type, shapeName)
			return
		}
		if got := xmlName("member", *sh.Member); got != "item" {
			w.problem(path, "the model's %s names its items <%s>, query.List prints <item>",
				shapeName, got)
		}
		w.walk(path+".item", typ.Field(0).Type.Elem(), sh.Member.Shape)
	case typ.Kind() == reflect.Struct:
		if sh.Type != "structure" {
			w.problem(path, "a struct in Go, a %s (%s) in the model", sh.Type, shapeName)
			return
		}
		w.walkFields(path, typ, sh, shapeName)
	case typ.Kind() == reflect.Slice:
		w.problem(path, "use query.List for lists (a bare slice repeats the element)")
	case typ.Kind() == reflect.String:
		w.expect(path, sh, shapeName, "string")
	case typ.Kind() == reflect.Bool:
		w.expect(path, sh, shapeName, "boolean")
	case typ.Kind() >= reflect.Int && typ.Kind() <= reflect.Uint64:
		w.expect(path, sh, shapeName, "integer", "long")
	case typ.Kind() == reflect.Float32 || typ.Kind() == reflect.Float64:
		w.expect(path, sh, shapeName, "float", "double")
	default:
		w.problem(path, "unsupported Go type %s", typ)
	}
}

func (w *outputWalker) expect(path string, sh *shape, shapeName string, types ...string) {
	for _, t := range types {
		if sh.Type == t {
			return
		}
	}
	w.problem(path, "a Go %s, a %s (%s) in the model", types[0], sh.Type, shapeName)
}

func (w *outputWalker) walkFields(path string, typ reflect.Type, sh *shape, shapeName string) {
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		tag := f.Tag.Get("xml")
		name, opts, _ := strings.Cut(tag, ",")
		switch {
		case tag == "-" || f.Name == "XMLName":
			continue
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			w.walkFields(path, f.Type, sh, shapeName)
			continue
		case !f.IsExported():
			continue
		case strings.Contains(name, ">") || strings.Contains(name, " ") || opts != "" && opts != "omitempty":
			w.problem(path, "field %s: use plain element names (tag %q)", f.Name, tag)
			continue
		}
		if name == "" {
			name = f.Name
		}
		fieldPath := name
		if path != "" {
			fieldPath = path + "." + name
		}
		mem, ok := findMember(sh, name, xmlName)
		if !ok {
			w.problem(fieldPath, "%s has no element %s (it has %s)", shapeName, name,
				strings.Join(memberNames(sh, xmlName), ", "))
			continue
		}
		w.walk(fieldPath, f.Type, mem.Shape)
	}
}

// isList recognises query.List[T] by its shape: one field Items []T tagged `xml:"item"`.
func isList(typ reflect.Type) bool {
	if typ.Kind() != reflect.Struct || typ.NumField() != 1 || typ.PkgPath() != listPkgPath() {
		return false
	}
	f := typ.Field(0)
	return f.Name == "Items" && f.Type.Kind() == reflect.Slice && f.Tag.Get("xml") == "item"
}

func listPkgPath() string {
	return reflect.TypeFor[query.List[int]]().PkgPath()
}
