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
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	// MaxListItems bounds every list parameter whose tag sets no max=N.
	MaxListItems = 1000
	// maxIndex bounds list indexes to nine digits, so they parse without overflow.
	maxIndex = 999_999_999
)

// Decode fills v (a pointer to struct) from r.Params. Field tags: `ec2:"ImageId"` (scalar),
// `ec2:"InstanceId,list"` for InstanceId.1..N ([]string or []int or []struct), nested structs via
// dotted names (`ec2:"Placement"` with inner `ec2:"AvailabilityZone"` → Placement.AvailabilityZone;
// lists of structs → BlockDeviceMapping.1.Ebs.VolumeSize), options `required`, and types string, bool,
// int32, int64, *T for optional scalars, []byte for base64 values (UserData), time.Time (ISO 8601).
//
// More precisely:
//   - A field without a tag is named by its Go name; `ec2:"-"` skips it; an embedded struct
//     without a tag name contributes its fields as if they were the outer struct's.
//   - Scalars are strings (and named string types), bools (true or false, any case), signed and
//     unsigned integers of every size, floats (finite), []byte (standard base64, padding
//     optional), time.Time (RFC 3339, any fraction, converted to UTC) and any type whose pointer
//     implements encoding.TextUnmarshaler (netip.Addr, …). A pointer to any of these, or to a
//     struct, stays nil when its parameter is absent.
//   - Lists (slices other than []byte, tag option `list`) are given as Name.N. Indexes are whole
//     numbers from 1 to 999999999 without leading zeros; gaps are allowed and items keep the
//     order of their indexes, so InstanceId.3 and InstanceId.7 make a list of two. Anything else
//     (InstanceId.0, InstanceId.01, InstanceId.x) is InvalidParameterValue. A list holds at most
//     MaxListItems items unless the tag sets `max=N`. A bare `Name=` with an empty value is an
//     empty list, as the plain Query protocol sends it.
//   - `required` on a list means at least one item.
//   - Every parameter must belong to the shape: others are UnknownParameter.
//
// Errors returned as *Error are the client's fault (HTTP 400). Any other error reports a shape
// Decode cannot fill (an unsupported field type or a bad tag): a programming error.
func (r *Request) Decode(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("query: Decode needs a non-nil pointer to a struct, not %T", v)
	}
	c, err := compileShape(rv.Elem().Type())
	if err != nil {
		return err
	}
	root, err := buildTree(r.Params)
	if err != nil {
		return err
	}
	return decodeStruct(root, rv.Elem(), c)
}

// node is one dotted segment of the parameter names: Filter.1.Value.2 makes the chain
// Filter → 1 → Value → 2.
type node struct {
	// name is the wire name up to and including this segment.
	name string
	// set says a parameter ends at this node, with value.
	set      bool
	value    string
	children map[string]*node
}

func buildTree(params map[string][]string) (*node, error) {
	root := &node{}
	for name, values := range params {
		if len(values) > 1 {
			return nil, Errorf(CodeInvalidQueryParameter, http.StatusBadRequest,
				"The parameter %s is given more than once", clip(name))
		}
		n := root
		for end := 0; end <= len(name); end++ {
			if end < len(name) && name[end] != '.' {
				continue
			}
			start := len(n.name)
			if n != root {
				start++ // skip the dot
			}
			seg := name[start:end]
			child := n.children[seg]
			if child == nil {
				if n.children == nil {
					n.children = make(map[string]*node)
				}
				child = &node{name: name[:end]}
				n.children[seg] = child
			}
			n = child
		}
		n.set = true
		if len(values) == 1 {
			n.value = values[0]
		}
	}
	return root, nil
}

// firstLeaf names the smallest parameter at or below n, so errors about a subtree are stable.
func firstLeaf(n *node) string {
	for !n.set {
		keys := sortedKeys(n.children)
		if len(keys) == 0 {
			break
		}
		n = n.children[keys[0]]
	}
	return n.name
}

func sortedKeys(m map[string]*node) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func childName(parent *node, name string) string {
	if parent.name == "" {
		return name
	}
	return parent.name + "." + name
}

func decodeStruct(n *node, v reflect.Value, c *codec) error {
	for _, key := range sortedKeys(n.children) {
		if c.field(key) == nil {
			return unknownParameter(firstLeaf(n.children[key]))
		}
	}
	for i := range c.fields {
		f := &c.fields[i]
		child := n.children[f.name]
		if child == nil {
			if f.required {
				return missingParameter(childName(n, f.name))
			}
			continue
		}
		fv := v.FieldByIndex(f.index)
		if err := decodeValue(child, fv, f.codec, f.max); err != nil {
			return err
		}
		if f.required && f.codec.kind == kindList && fv.Len() == 0 {
			return missingParameter(child.name)
		}
	}
	return nil
}

func decodeValue(n *node, v reflect.Value, c *codec, max int) error {
	switch c.kind {
	case kindPointer:
		p := reflect.New(c.elem.typ)
		if err := decodeValue(n, p.Elem(), c.elem, max); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case kindStruct:
		if n.set {
			return unknownParameter(n.name)
		}
		return decodeStruct(n, v, c)
	case kindList:
		return decodeList(n, v, c, max)
	}
	if len(n.children) > 0 {
		return unknownParameter(firstLeaf(n.children[sortedKeys(n.children)[0]]))
	}
	return decodeScalar(n.name, n.value, v, c)
}

func decodeList(n *node, v reflect.Value, c *codec, max int) error {
	if n.set && (n.value != "" || len(n.children) > 0) {
		return unknownParameter(n.name)
	}
	if len(n.children) > max {
		return Errorf(CodeInvalidParameterValue, http.StatusBadRequest,
			"The parameter %s has %d items; at most %d are allowed", n.name, len(n.children), max)
	}
	type item struct {
		index int
		node  *node
	}
	items := make([]item, 0, len(n.children))
	for _, key := range sortedKeys(n.children) {
		child := n.children[key]
		index, ok := parseIndex(key)
		if !ok {
			return Errorf(CodeInvalidParameterValue, http.StatusBadRequest,
				"Invalid list index (%s) in parameter %s. Indexes are whole numbers from 1, "+
					"without leading zeros", clip(key), clip(firstLeaf(child)))
		}
		items = append(items, item{index: index, node: child})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].index < items[j].index })
	list := reflect.MakeSlice(c.typ, len(items), len(items))
	for i, it := range items {
		if err := decodeValue(it.node, list.Index(i), c.elem, MaxListItems); err != nil {
			return err
		}
	}
	if len(items) > 0 {
		v.Set(list)
	}
	return nil
}

func parseIndex(s string) (int, bool) {
	if s == "" || len(s) > 9 || s[0] == '0' {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, n <= maxIndex
}

func decodeScalar(name, s string, v reflect.Value, c *codec) error {
	switch c.kind {
	case kindString:
		v.SetString(s)
	case kindBool:
		switch {
		case strings.EqualFold(s, "true"):
			v.SetBool(true)
		case strings.EqualFold(s, "false"):
			v.SetBool(false)
		default:
			return invalidValue(name, s, "Expected true or false.")
		}
	case kindInt:
		x, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return intError(name, s, err, v.Type().Bits(), true)
		}
		v.SetInt(x)
	case kindUint:
		x, err := strconv.ParseUint(s, 10, v.Type().Bits())
		if err != nil {
			return intError(name, s, err, v.Type().Bits(), false)
		}
		v.SetUint(x)
	case kindFloat:
		x, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
			return invalidValue(name, s, "Expected a number.")
		}
		v.SetFloat(x)
	case kindBytes:
		b, err := decodeBase64(s)
		if err != nil {
			return invalidValue(name, s, "Expected base64-encoded data.")
		}
		v.SetBytes(b)
	case kindTime:
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return invalidValue(name, s,
				"Expected an ISO 8601 timestamp such as 2006-01-02T15:04:05.000Z.")
		}
		v.Set(reflect.ValueOf(t.UTC()))
	case kindText:
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			return invalidValue(name, s, "The value is not in the expected format.")
		}
	default:
		return fmt.Errorf("query: no scalar decoder for %s", c.typ)
	}
	return nil
}

func intError(name, s string, err error, bits int, signed bool) *Error {
	if !errors.Is(err, strconv.ErrRange) {
		if signed {
			return invalidValue(name, s, "Expected an integer.")
		}
		return invalidValue(name, s, "Expected a non-negative integer.")
	}
	if signed {
		lowest := int64(-1) << (bits - 1)
		return invalidValue(name, s, fmt.Sprintf("Expected an integer from %d to %d.",
			lowest, -(lowest+1)))
	}
	return invalidValue(name, s, fmt.Sprintf("Expected an integer from 0 to %d.",
		uint64(1)<<bits-1))
}

// decodeBase64 accepts standard base64 with or without padding; line breaks are ignored.
func decodeBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}
