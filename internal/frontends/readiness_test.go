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

package frontends

import (
	"context"
	"strings"
	"testing"
)

// A replica is ready only once the cache is warm and every door it expects serves; what is
// missing is named.
func TestReadinessWaitsForCacheAndEveryDoor(t *testing.T) {
	r := NewReadiness()
	cfg := Config{Readiness: r}
	ec2 := cfg.serving("ec2", nil)
	s3 := cfg.serving("s3", nil)
	if err := r.Check(nil); err == nil || !strings.Contains(err.Error(), "cache, ec2, s3") {
		t.Fatalf("before anything started: %v", err)
	}
	r.done("cache")
	r.done(ec2.name)
	if err := r.Check(nil); err == nil || err.Error() != "not started yet: s3" {
		t.Fatalf("with s3 not serving: %v", err)
	}
	r.done(s3.name)
	if err := r.Check(nil); err != nil {
		t.Fatalf("with everything started: %v", err)
	}
}

// Servers added without a Readiness (tests that run the front doors in process) start as before,
// on every replica.
func TestServingWithoutReadiness(t *testing.T) {
	started := false
	s := Config{}.serving("ec2", func(context.Context) error { started = true; return nil })
	if s.NeedLeaderElection() {
		t.Error("a front door waits for the leader election")
	}
	if err := s.Start(context.Background()); err != nil || !started {
		t.Fatalf("Start: %v, served %v", err, started)
	}
}
