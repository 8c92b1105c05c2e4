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

package awsauth

import (
	"slices"
	"testing"
)

// TestS3V2Resources checks which spellings of a request's path a SigV2 signature may cover:
// both of a bucket's, only the path itself for anything else.
func TestS3V2Resources(t *testing.T) {
	for path, want := range map[string][]string{
		"/":             {"/"},
		"/bucket":       {"/bucket", "/bucket/"},
		"/bucket/":      {"/bucket/", "/bucket"},
		"/bucket/key":   {"/bucket/key"},
		"/bucket/key/":  {"/bucket/key/"},
		"/bucket//":     {"/bucket//"},
		"/bucket/a%20b": {"/bucket/a%20b"},
		"/bucket%2Fkey": {"/bucket%2Fkey", "/bucket%2Fkey/"},
	} {
		if got := s3V2Resources(path); !slices.Equal(got, want) {
			t.Errorf("s3V2Resources(%q) = %q, want %q", path, got, want)
		}
	}
}
