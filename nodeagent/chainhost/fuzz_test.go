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

package chainhost_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"pinet.io/pinet/nodeagent/chainhost"
)

// FuzzControlRequest sends arbitrary bytes to a chain host's control socket: every request gets
// one answer of the current protocol version, and a host that reaches no target makes nothing
// (no chain, no socket) whatever it is asked.
func FuzzControlRequest(f *testing.F) {
	for _, seed := range []string{
		`{"version":1,"op":"ensure","chain":{"namespace":"p","name":"v","volumeID":"vol-1","shelf":1,"slot":2}}` + "\n",
		`{"version":1,"op":"ensure","chain":{"namespace":"p","name":"v","volumeID":"vol-1"},"settings":{"storageInterface":"x"}}` + "\n",
		`{"version":1,"op":"grow","chain":{"namespace":"p","name":"v"},"size":1073741824}` + "\n",
		`{"version":1,"op":"announce","chain":{"namespace":"p","name":"v"},"size":-1}` + "\n",
		`{"version":1,"op":"list"}` + "\n",
		`{"op":"stop","chain":{"namespace":"p","name":"v"}}` + "\n",
		"\n", "{",
	} {
		f.Add(seed)
	}
	dir := filepath.Join(f.TempDir(), "nbd")
	cl := startHost(f, chainhost.Config{Dir: dir})
	f.Fuzz(func(t *testing.T, raw string) {
		answer := call(t, cl.Path, raw)
		var resp struct {
			Version int `json:"version"`
		}
		if err := json.Unmarshal([]byte(answer), &resp); err != nil || resp.Version != chainhost.ProtocolVersion {
			t.Fatalf("answer %q (%v)", answer, err)
		}
		if got := sockets(t, dir); len(got) != 0 {
			t.Fatalf("sockets made: %v", got)
		}
		if chains, err := cl.List(context.Background()); err != nil || len(chains) != 0 {
			t.Fatalf("chains made: %+v %v", chains, err)
		}
	})
}
