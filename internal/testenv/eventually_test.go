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

package testenv

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// fatalRecorder is a testing.TB whose Fatalf records the message instead of ending the test.
type fatalRecorder struct {
	testing.TB
	fatal string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }

func TestEventuallyReturnsOnceTheConditionHolds(t *testing.T) {
	r := &fatalRecorder{}
	tries := 0
	Eventually(r, time.Minute, "the third try", func() error {
		tries++
		if tries < 3 {
			return fmt.Errorf("try %d", tries)
		}
		return nil
	})
	if r.fatal != "" || tries != 3 {
		t.Fatalf("after %d tries: failure %q; want success on the third", tries, r.fatal)
	}
}

func TestEventuallyFailsWithTheLastErrorAfterTheTimeout(t *testing.T) {
	r := &fatalRecorder{}
	tries := 0
	Eventually(r, 3*PollInterval, "a condition that never holds", func() error {
		tries++
		return fmt.Errorf("still no (try %d)", tries)
	})
	want := fmt.Sprintf("timed out after %s waiting for a condition that never holds: still no (try %d)", 3*PollInterval, tries)
	if r.fatal != want {
		t.Fatalf("failure %q, want %q", r.fatal, want)
	}
	if tries < 2 {
		t.Fatalf("the condition was tried %d times before giving up", tries)
	}
}

func TestEventuallyTriesOnceEvenWithNoTime(t *testing.T) {
	r := &fatalRecorder{}
	Eventually(r, 0, "an immediate check", func() error { return errors.New("not yet") })
	if !strings.HasSuffix(r.fatal, "waiting for an immediate check: not yet") {
		t.Fatalf("failure %q", r.fatal)
	}
	r = &fatalRecorder{}
	Eventually(r, 0, "an immediate check", func() error { return nil })
	if r.fatal != "" {
		t.Fatalf("a condition that holds at once failed: %q", r.fatal)
	}
}
