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

package dashboard

import (
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

func TestSessionsEndWhenIdle(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC))
	ss := newSessions(clk, time.Hour)
	a := ss.start("AKIAEXAMPLE000000001", "secret", "alice", false, "research")
	b := ss.start("AKIAEXAMPLE000000001", "secret", "alice", false, "research")
	if a.id == b.id || a.csrf == b.csrf || a.id == a.csrf {
		t.Fatal("sessions share an id or a token")
	}
	clk.SetTime(clk.Now().Add(50 * time.Minute))
	if _, ok := ss.get(a.id); !ok {
		t.Fatal("a session used within the idle time ended")
	}
	clk.SetTime(clk.Now().Add(50 * time.Minute))
	if _, ok := ss.get(a.id); !ok {
		t.Fatal("a session ended although its last use was 50 minutes ago")
	}
	if _, ok := ss.get(b.id); ok {
		t.Fatal("a session idle for 100 minutes is still live")
	}
	ss.end(a.id)
	if _, ok := ss.get(a.id); ok {
		t.Fatal("an ended session is still live")
	}
	if _, ok := ss.get(""); ok {
		t.Fatal("the empty id finds a session")
	}
}

func TestSameToken(t *testing.T) {
	for _, c := range []struct {
		got, want string
		same      bool
	}{{"abc", "abc", true}, {"abc", "abd", false}, {"", "", false}, {"abc", "", false}, {"", "abc", false}, {"ab", "abc", false}} {
		if sameToken(c.got, c.want) != c.same {
			t.Errorf("sameToken(%q, %q) != %v", c.got, c.want, c.same)
		}
	}
}

func TestSafeFileName(t *testing.T) {
	for name, want := range map[string]string{"laptop": "laptop.pem", "../../etc/passwd": "_.._etc_passwd.pem",
		`a"b;c`: "a_b_c.pem", "ключ": "____.pem"} {
		if got := safeFileName(name, ".pem"); got != want {
			t.Errorf("safeFileName(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestFailedSignInsAreThrottled(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC))
	f := newFailures(clk)
	for i := range maxFailures {
		if f.blocked("ip\x00key") {
			t.Fatalf("blocked after %d failures", i)
		}
		f.failed("ip\x00key")
	}
	if !f.blocked("ip\x00key") {
		t.Fatal("not blocked after the limit")
	}
	if f.blocked("ip\x00other") || f.blocked("other\x00key") {
		t.Fatal("another key or address is blocked too")
	}
	clk.SetTime(clk.Now().Add(failureWindow + time.Second))
	if f.blocked("ip\x00key") {
		t.Fatal("still blocked after the window")
	}
	f.failed("ip\x00key")
	f.succeeded("ip\x00key")
	if c := f.by["ip\x00key"]; c.n != 0 {
		t.Fatal("a success left failures behind")
	}
}
