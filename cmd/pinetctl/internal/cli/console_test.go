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

package cli

import (
	"strings"
	"testing"

	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// A kubeconfig that signs in with an API-server token is refused with words that say what to
// use instead; the token is never sent to a node.
func TestConsoleCredentialsRefuseAPIServerTokens(t *testing.T) {
	for name, cfg := range map[string]*rest.Config{
		"token":      {BearerToken: "abc"},
		"token file": {BearerTokenFile: "/var/run/token"},
		"exec":       {ExecProvider: &clientcmdapi.ExecConfig{Command: "login"}},
	} {
		creds, err := credentialsOf(cfg)
		if err == nil || !strings.Contains(err.Error(), "client certificate") {
			t.Errorf("%s: %+v, %v", name, creds, err)
		}
	}
	if _, err := credentialsOf(&rest.Config{}); err == nil || !strings.Contains(err.Error(), "neither") {
		t.Errorf("no credentials at all: %v", err)
	}
}
