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

import "pinet.io/pinet/internal/testenv"

// APIServer returns the control plane the package's external tests start in their TestMain
// (agent_test.go sets it), for the internal tests that need a real API server.
var APIServer func() *testenv.Env

// ChainHostArgsEnv, set in the test binary's environment, makes it a chain host (`nodeagent
// volume-chains` with these flags) instead of running tests: the QEMU fixture's.
const ChainHostArgsEnv = "PINET_TEST_VOLUME_CHAINS_ARGS"
