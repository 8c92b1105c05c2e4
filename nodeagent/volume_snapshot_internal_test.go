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

package nodeagent

import (
	"encoding/json"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// A progress report applies to a pending snapshot only: once the snapshot is completed (or
// failed), the report is refused whole and the progress stays what it was.
func TestProgressReportNeverRewindsAFinishedSnapshot(t *testing.T) {
	p, err := jsonpatch.DecodePatch(progressPatch(42))
	if err != nil {
		t.Fatal(err)
	}
	apply := func(state cloudv1.SnapshotState, progress int32) (cloudv1.Snapshot, error) {
		s := cloudv1.Snapshot{}
		s.Status.State, s.Status.Progress = state, progress
		doc, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		out, err := p.Apply(doc)
		if err != nil {
			return s, err
		}
		got := cloudv1.Snapshot{}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		return got, nil
	}
	if got, err := apply(cloudv1.SnapshotPending, 0); err != nil || got.Status.Progress != 42 {
		t.Fatalf("a pending snapshot's report: progress %d, %v", got.Status.Progress, err)
	}
	if got, err := apply(cloudv1.SnapshotPending, 17); err != nil || got.Status.Progress != 42 {
		t.Fatalf("a pending snapshot's later report: progress %d, %v", got.Status.Progress, err)
	}
	for _, st := range []cloudv1.SnapshotState{cloudv1.SnapshotCompleted, cloudv1.SnapshotError} {
		if _, err := apply(st, 100); err == nil {
			t.Fatalf("a report over a %s snapshot was applied", st)
		}
	}
}
