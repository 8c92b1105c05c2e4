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

package main

import "testing"

// Servers bound to every interface are reached on loopback by the process itself.
func TestLocalURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:3333": "http://127.0.0.1:3333",
		":3333":          "http://127.0.0.1:3333",
		"0.0.0.0:8773":   "http://127.0.0.1:8773",
		"[::]:8773":      "http://127.0.0.1:8773",
		"10.1.2.3:8080":  "http://10.1.2.3:8080",
		"[fd00::1]:8080": "http://[fd00::1]:8080",
		"store:3333":     "http://store:3333",
	} {
		if got := localURL(addr); got != want {
			t.Errorf("localURL(%q) = %q, want %q", addr, got, want)
		}
	}
}
