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

// Package bench measures PiNet's front ends against a baseline run side by side in the same
// process: each benchmark has a sub-benchmark for the PiNet path and one for the cheapest way to
// do the same work without PiNet, so results are read as ratios, not absolute times, and stay
// comparable across machines. `make bench` runs them; `make test` only compiles them.
package bench

import (
	"flag"
	"os"
	"testing"

	"pinet.io/pinet/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	flag.Parse()
	// Without -bench there is nothing to measure: skip the control plane so `go test ./...`
	// stays cheap.
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		os.Exit(m.Run())
	}
	testenv.Main(m, &env)
}

// shared is the testing.TB the shared cloud's nodes are added with: the benchmark that happens
// to build the fixture first reports its failures, but the cleanups it would register (each
// node's agent stopped) are not tied to that benchmark's end, or the benchmarks after it would
// find the fixture's nodes ready, bound instances to them, and wait for agents that had
// stopped. The agents run under the control plane's context, which ends when the process's
// benchmarks are done, before the control plane stops.
type shared struct{ testing.TB }

func (shared) Cleanup(func()) {}
