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

package index

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

func keysOf(entries []Entry) string {
	out := ""
	for _, e := range entries {
		out += e.Key + "=" + e.Name + " "
	}
	return out
}

// The index keeps each namespace's objects in key order through adds, moves and removals, and
// pages after a key that is gone as well as after one that is there.
func TestSortedKeepsOrder(t *testing.T) {
	key := func(o client.Object) string { return o.GetAnnotations()["k"] }
	obj := func(ns, name, k, rv string) *cloudv1.Instance {
		return &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: rv,
			Annotations: map[string]string{"k": k}}}
	}
	s := NewSorted(key)
	for i, k := range []string{"d", "b", "e", "a", "c"} {
		s.Put(obj("p", "o"+k, k, fmt.Sprint(i+1)))
	}
	s.Put(obj("q", "other", "b", "9"))
	s.Put(obj("p", "nokey", "", "10"))
	s.Put("not an object")
	if got, want := keysOf(s.After("p", "", 10)), "a=oa b=ob c=oc d=od e=oe "; got != want {
		t.Fatalf("all of p: %q, want %q", got, want)
	}
	if got, want := keysOf(s.After("p", "b", 2)), "c=oc d=od "; got != want {
		t.Fatalf("two after b: %q, want %q", got, want)
	}
	s.Put(obj("p", "oc", "f", "11")) // moves to the end
	s.Remove(obj("p", "od", "d", "12"))
	if got, want := keysOf(s.After("p", "c", 10)), "e=oe f=oc "; got != want {
		t.Fatalf("after the removed key c: %q, want %q", got, want)
	}
	if s.Len("p") != 4 || s.Len("q") != 1 || s.Len("none") != 0 {
		t.Fatalf("lengths %d %d %d", s.Len("p"), s.Len("q"), s.Len("none"))
	}
	if v := s.Version(client.ObjectKey{Namespace: "p", Name: "oc"}); v != "11" {
		t.Fatalf("version of a moved object %q", v)
	}
	if v := s.Version(client.ObjectKey{Namespace: "p", Name: "nokey"}); v != "10" {
		t.Fatalf("version of an object with no key %q", v)
	}
	if v := s.Version(client.ObjectKey{Namespace: "p", Name: "od"}); v != "" {
		t.Fatalf("version of a removed object %q", v)
	}
	h := s.handler()
	h.OnDelete(obj("q", "other", "b", "13"))
	h.OnDelete(toolscache.DeletedFinalStateUnknown{Key: "p/oa", Obj: obj("p", "oa", "a", "14")})
	if s.Len("q") != 0 || s.Len("p") != 3 {
		t.Fatal("a deleted object stays")
	}
}
