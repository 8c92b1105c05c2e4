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

// Package ids makes EC2 resource ids: a prefix and 17 lower-case hex digits.
package ids

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
)

// Prefixes of the EC2 ids PiNet hands out.
const (
	Instance      = "i"
	Reservation   = "r"
	Machine       = "ami"
	Kernel        = "aki"
	Ramdisk       = "ari"
	KeyPair       = "key"
	Volume        = "vol"
	Snapshot      = "snap"
	Allocation    = "eipalloc"
	Association   = "eipassoc"
	SecurityGroup = "sg"
	Request       = "req"
)

const hexDigits = 17

var idPattern = regexp.MustCompile(`^([a-z]+)-([0-9a-f]{17})$`)

// New returns a random id with the given prefix.
func New(prefix string) string {
	var b [9]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand never fails on Linux; a failure means the process cannot make ids safely.
		panic(fmt.Sprintf("reading random bytes: %v", err))
	}
	return prefix + "-" + hex.EncodeToString(b[:])[:hexDigits]
}

// Derive returns the id with the given prefix derived from seed. Callers use it where a retried
// request must land on the same object (for example RunInstances with a ClientToken).
func Derive(prefix, seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return prefix + "-" + hex.EncodeToString(sum[:])[:hexDigits]
}

// Valid reports whether id is a well-formed id with the given prefix.
func Valid(prefix, id string) bool {
	m := idPattern.FindStringSubmatch(id)
	return m != nil && m[1] == prefix
}

// Prefix returns the prefix of a well-formed id, or "" if id is not one.
func Prefix(id string) string {
	m := idPattern.FindStringSubmatch(id)
	if m == nil {
		return ""
	}
	return m[1]
}
