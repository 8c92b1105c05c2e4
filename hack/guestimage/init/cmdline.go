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

import (
	"fmt"
	"strings"
)

// instanceIDParam is the kernel command line parameter that names the instance.
const instanceIDParam = "pinet.instance_id"

// parseCmdline splits a kernel command line into its parameters the way the kernel does: words
// are separated by white space, double quotes group white space into a value and are removed, and
// a later occurrence of a key wins. A word without '=' maps to "".
func parseCmdline(line string) map[string]string {
	params := map[string]string{}
	for _, word := range splitCmdline(line) {
		key, value, _ := strings.Cut(word, "=")
		if key == "" {
			continue
		}
		params[key] = value
	}
	return params
}

// splitCmdline returns the words of a command line with their quotes removed. An unterminated
// quote runs to the end of the line, as the kernel's own parser treats it.
func splitCmdline(line string) []string {
	var words []string
	var word strings.Builder
	inWord, quoted := false, false
	for _, r := range line {
		switch {
		case r == '"':
			quoted = !quoted
			inWord = true
		case !quoted && (r == ' ' || r == '\t' || r == '\n' || r == '\r'):
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words
}

// validateInstanceID checks the EC2 shape of an instance id: "i-" and 8 or 17 lowercase hex digits.
// It keeps a hypervisor's unrelated serial number ("Not Specified", a UUID) from being taken for one.
func validateInstanceID(id string) error {
	hex, ok := strings.CutPrefix(id, "i-")
	if !ok || (len(hex) != 8 && len(hex) != 17) {
		return fmt.Errorf("invalid instance id %q: want \"i-\" and 8 or 17 hex digits", id)
	}
	for _, c := range hex {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("invalid instance id %q: %q is not a lowercase hex digit", id, c)
		}
	}
	return nil
}

// idSource is one place the instance id may come from, in the order they are tried.
type idSource struct {
	name  string
	value string
}

// chooseInstanceID returns the first valid id among the sources and the source's name; problems
// with sources that held something invalid are returned as warnings. An empty id means none held one.
func chooseInstanceID(sources ...idSource) (id, from string, warnings []string) {
	for _, s := range sources {
		v := strings.TrimSpace(s.value)
		if v == "" {
			continue
		}
		if err := validateInstanceID(v); err != nil {
			warnings = append(warnings, fmt.Sprintf("ignoring %s: %v", s.name, err))
			continue
		}
		return v, s.name, warnings
	}
	return "", "", warnings
}
