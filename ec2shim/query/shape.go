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

package query

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// The shape compiler turns a Go input type into codecs once per Decode, so a bad tag or an
// unsupported field type is reported whether or not the client sent that parameter.

type codecKind int

const (
	kindString codecKind = iota
	kindBool
	kindInt
	kindUint
	kindFloat
	kindBytes
	kindTime
	kindText
	kindStruct
	kindList
	kindPointer
)

type codec struct {
	kind codecKind
	typ  reflect.Type
	// elem decodes what a pointer points to, or a list's items.
	elem *codec
	// fields of a struct, in declaration order (embedded structs flattened).
	fields []fieldCodec
}

type fieldCodec struct {
	name     string
	index    []int
	required bool
	// max bounds a list's items.
	max   int
	codec *codec
}

func (c *codec) field(name string) *fieldCodec {
	for i := range c.fields {
		if c.fields[i].name == name {
			return &c.fields[i]
		}
	}
	return nil
}

// compiler remembers struct codecs while it works, so recursive types terminate.
type compiler struct {
	structs map[reflect.Type]*codec
}

func compileShape(t reflect.Type) (*codec, error) {
	comp := compiler{structs: make(map[reflect.Type]*codec)}
	c, err := comp.codecFor(t)
	if err != nil {
		return nil, err
	}
	if c.kind != kindStruct {
		return nil, fmt.Errorf("query: %s decodes as a scalar, not a struct of parameters", t)
	}
	return c, nil
}

func (comp *compiler) codecFor(t reflect.Type) (*codec, error) {
	switch {
	case t == reflect.TypeFor[time.Time]():
		return &codec{kind: kindTime, typ: t}, nil
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return &codec{kind: kindBytes, typ: t}, nil
	case t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()):
		return &codec{kind: kindText, typ: t}, nil
	}
	switch t.Kind() {
	case reflect.String:
		return &codec{kind: kindString, typ: t}, nil
	case reflect.Bool:
		return &codec{kind: kindBool, typ: t}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return &codec{kind: kindInt, typ: t}, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return &codec{kind: kindUint, typ: t}, nil
	case reflect.Float32, reflect.Float64:
		return &codec{kind: kindFloat, typ: t}, nil
	case reflect.Pointer:
		elem, err := comp.codecFor(t.Elem())
		if err != nil {
			return nil, err
		}
		if elem.kind == kindPointer || elem.kind == kindList {
			return nil, fmt.Errorf("query: unsupported field type %s: "+
				"use a plain slice for lists and one pointer for optional values", t)
		}
		return &codec{kind: kindPointer, typ: t, elem: elem}, nil
	case reflect.Slice:
		elem, err := comp.codecFor(t.Elem())
		if err != nil {
			return nil, err
		}
		return &codec{kind: kindList, typ: t, elem: elem}, nil
	case reflect.Struct:
		return comp.structCodec(t)
	}
	return nil, fmt.Errorf("query: unsupported field type %s", t)
}

func (comp *compiler) structCodec(t reflect.Type) (*codec, error) {
	if c, ok := comp.structs[t]; ok {
		return c, nil
	}
	c := &codec{kind: kindStruct, typ: t}
	comp.structs[t] = c
	fields, err := comp.fields(t, nil)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		if seen[f.name] {
			return nil, fmt.Errorf("query: %s has two fields for the parameter %s", t, f.name)
		}
		seen[f.name] = true
	}
	c.fields = fields
	return c, nil
}

// fields lists t's parameters; index is the path of an embedded struct inside the outer one.
func (comp *compiler) fields(t reflect.Type, index []int) ([]fieldCodec, error) {
	var out []fieldCodec
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("ec2")
		if tag == "-" {
			continue
		}
		name, opts, err := parseTag(tag)
		if err != nil {
			return nil, fmt.Errorf("query: %s.%s: %w", t, sf.Name, err)
		}
		path := append(append([]int(nil), index...), i)
		if sf.Anonymous && name == "" && sf.Type.Kind() == reflect.Struct {
			inner, err := comp.fields(sf.Type, path)
			if err != nil {
				return nil, err
			}
			out = append(out, inner...)
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		c, err := comp.codecFor(sf.Type)
		if err != nil {
			return nil, fmt.Errorf("query: %s.%s: %w", t, sf.Name, err)
		}
		if (c.kind == kindList) != opts.list {
			return nil, fmt.Errorf("query: %s.%s: the list option goes with slice fields, "+
				"and only with them ([]byte is a base64 scalar)", t, sf.Name)
		}
		max := MaxListItems
		if opts.max > 0 {
			max = opts.max
		}
		out = append(out, fieldCodec{name: name, index: path, required: opts.required,
			max: max, codec: c})
	}
	return out, nil
}

type tagOptions struct {
	list, required bool
	max            int
}

func parseTag(tag string) (string, tagOptions, error) {
	var opts tagOptions
	parts := strings.Split(tag, ",")
	if strings.Contains(parts[0], ".") {
		return "", opts, fmt.Errorf("tag name %q has a dot; nest a struct instead", parts[0])
	}
	for _, opt := range parts[1:] {
		switch {
		case opt == "list":
			opts.list = true
		case opt == "required":
			opts.required = true
		case strings.HasPrefix(opt, "max="):
			n, err := strconv.Atoi(strings.TrimPrefix(opt, "max="))
			if err != nil || n <= 0 {
				return "", opts, fmt.Errorf("tag option %q needs a positive number", opt)
			}
			opts.max = n
		default:
			return "", opts, fmt.Errorf("unknown tag option %q", opt)
		}
	}
	if opts.max > 0 && !opts.list {
		return "", opts, fmt.Errorf("tag option max=%d needs the list option", opts.max)
	}
	return parts[0], opts, nil
}

// ParamNames lists the wire names a shape accepts, in declaration order, with N standing for a
// list index: ImageId, InstanceId.N, BlockDeviceMapping.N.Ebs.VolumeSize, … v is a struct or a
// pointer to one. Tests use it to check a shape against the service model.
func ParamNames(v any) ([]string, error) {
	t := reflect.TypeOf(v)
	if t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("query: ParamNames needs a struct, not %T", v)
	}
	c, err := compileShape(t)
	if err != nil {
		return nil, err
	}
	var out []string
	listNames(c, "", make(map[*codec]bool), &out)
	return out, nil
}

func listNames(c *codec, prefix string, active map[*codec]bool, out *[]string) {
	switch c.kind {
	case kindPointer:
		listNames(c.elem, prefix, active, out)
	case kindList:
		listNames(c.elem, prefix+".N", active, out)
	case kindStruct:
		if active[c] { // a recursive type: name the recursion once
			*out = append(*out, prefix+".…")
			return
		}
		active[c] = true
		for _, f := range c.fields {
			name := f.name
			if prefix != "" {
				name = prefix + "." + f.name
			}
			listNames(f.codec, name, active, out)
		}
		delete(active, c)
	default:
		*out = append(*out, prefix)
	}
}
