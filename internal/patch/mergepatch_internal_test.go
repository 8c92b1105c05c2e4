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

package patch

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// mergePatch agrees with an independent RFC 7386 implementation, and applying its patch to
// before gives after.
func TestMergePatchAgreesWithRFC7386(t *testing.T) {
	cases := []struct{ before, after string }{
		{`{}`, `{}`},
		{`{"a":1}`, `{"a":1}`},
		{`{"a":1}`, `{"a":2}`},
		{`{"a":1}`, `{}`},
		{`{}`, `{"a":{"b":[1,2]}}`},
		{`{"a":{"b":1,"c":2}}`, `{"a":{"b":1}}`},
		{`{"a":{"b":1}}`, `{"a":{}}`},
		{`{"a":{}}`, `{"a":{"b":{"c":"d"}}}`},
		{`{"a":[1,2,3]}`, `{"a":[1,2]}`},
		{`{"a":[{"x":1}]}`, `{"a":[{"x":1,"y":2}]}`},
		{`{"a":{"b":1}}`, `{"a":"now a string"}`},
		{`{"a":"s"}`, `{"a":{"b":1}}`},
		{`{"a":true,"b":null}`, `{"a":false}`},
		{`{"metadata":{"finalizers":["x"],"labels":{"k":"v"}},"spec":{"n":1}}`, `{"metadata":{"labels":{"k":"w","j":"u"}},"spec":{"n":1}}`},
	}
	for _, tc := range cases {
		checkMergePatch(t, tc.before, tc.after)
	}
	// Random documents, bounded.
	r := rand.New(rand.NewPCG(16, 7))
	for range 500 {
		b, a := randomDoc(r, 3), randomDoc(r, 3)
		if r.IntN(2) == 0 {
			a = mutate(r, b)
		}
		bj, _ := json.Marshal(b)
		aj, _ := json.Marshal(a)
		checkMergePatch(t, string(bj), string(aj))
	}
}

func checkMergePatch(t *testing.T, before, after string) {
	t.Helper()
	var b, a map[string]any
	if err := json.Unmarshal([]byte(before), &b); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(after), &a); err != nil {
		t.Fatal(err)
	}
	got := mergePatch(b, a)

	ref, err := jsonpatch.CreateMergePatch([]byte(before), []byte(after))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal(ref, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		want = nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mergePatch(%s, %s) = %v, want %s", before, after, got, ref)
		return
	}
	if got == nil {
		return
	}
	pj, _ := json.Marshal(got)
	applied, err := jsonpatch.MergePatch([]byte(before), pj)
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if err := json.Unmarshal(applied, &res); err != nil {
		t.Fatal(err)
	}
	// A merge patch cannot carry an explicit null: after's null members are absent once applied.
	if !reflect.DeepEqual(res, withoutNulls(a)) {
		t.Errorf("%s patched with %s is %s, want %s", before, pj, applied, after)
	}
}

func withoutNulls(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		switch v := v.(type) {
		case nil:
		case map[string]any:
			out[k] = withoutNulls(v)
		default:
			out[k] = v
		}
	}
	return out
}

func randomDoc(r *rand.Rand, depth int) map[string]any {
	m := map[string]any{}
	for i := range r.IntN(4) {
		m[fmt.Sprint("k", i+r.IntN(3))] = randomValue(r, depth-1)
	}
	return m
}

func randomValue(r *rand.Rand, depth int) any {
	switch n := r.IntN(6); {
	case n == 0 && depth > 0:
		return randomDoc(r, depth)
	case n == 1:
		return []any{float64(r.IntN(3)), "x"}
	case n == 2:
		return "s" + fmt.Sprint(r.IntN(3))
	case n == 3:
		return r.IntN(2) == 0
	default:
		return float64(r.IntN(4))
	}
}

// mutate returns a copy of m with a few members changed, added or removed.
func mutate(r *rand.Rand, m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		switch r.IntN(4) {
		case 0: // removed
		case 1:
			out[k] = randomValue(r, 2)
		default:
			if sub, ok := v.(map[string]any); ok {
				out[k] = mutate(r, sub)
			} else {
				out[k] = v
			}
		}
	}
	if r.IntN(2) == 0 {
		out[fmt.Sprint("n", r.IntN(3))] = randomValue(r, 2)
	}
	return out
}
