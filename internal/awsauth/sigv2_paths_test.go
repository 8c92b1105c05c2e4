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

package awsauth

import (
	"slices"
	"strings"
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

// FuzzS3V2Resources checks that the spellings a SigV2 signature may cover always include the
// path as sent, and add at most the other spelling of a bucket.
func FuzzS3V2Resources(f *testing.F) {
	for _, p := range []string{"/", "/b", "/b/", "/b/k", "", "//"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, path string) {
		got := s3V2Resources(path)
		if len(got) == 0 || got[0] != path || len(got) > 2 {
			t.Fatalf("s3V2Resources(%q) = %q", path, got)
		}
		if len(got) == 2 && strings.TrimSuffix(got[0], "/") != strings.TrimSuffix(got[1], "/") {
			t.Fatalf("s3V2Resources(%q) = %q: not two spellings of one bucket", path, got)
		}
	})
}
