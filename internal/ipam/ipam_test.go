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

package ipam

import (
	"net/netip"
	"testing"
)

func TestSet(t *testing.T) {
	s, err := NewSet("p", []string{"10.0.0.0/30", "10.0.1.5/32"}, []string{"10.0.0.0", "10.0.0.3"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	s.each(func(a netip.Addr) bool { got = append(got, a.String()); return true })
	want := []string{"10.0.0.1", "10.0.0.2", "10.0.1.5"}
	if len(got) != len(want) {
		t.Fatalf("addresses %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("addresses %v, want %v", got, want)
		}
	}
	if s.Size() != 3 {
		t.Fatalf("size %d", s.Size())
	}
	for addr, in := range map[string]bool{"10.0.0.1": true, "10.0.0.0": false, "10.0.1.5": true, "10.0.1.6": false} {
		if s.Contains(netip.MustParseAddr(addr)) != in {
			t.Errorf("Contains(%s) != %v", addr, in)
		}
	}
	if ClaimName("pool", netip.MustParseAddr("10.0.0.1")) != "ip-pool-10-0-0-1" {
		t.Fatal("claim name")
	}
	for _, bad := range [][]string{{"10.0.0.0/33"}, {"2001:db8::/64"}, {"nonsense"}} {
		if _, err := NewSet("x", bad, nil); err == nil {
			t.Errorf("accepted range %v", bad)
		}
	}
	if _, err := NewSet("x", []string{"10.0.0.0/24"}, []string{"10.0.0.300"}); err == nil {
		t.Error("accepted a bad excluded address")
	}
}
