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
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Test credentials. The key carries a project suffix, as PiNet keys may.
const (
	testKey     = "AKIAEXAMPLEEXAMPLE12:research"
	testSecret  = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	retiredKey  = "AKIARETIREDEXAMPLE99"
	retiredSec  = "retiredSecretretiredSecretretiredSecret1"
	testRegion  = "us-east-1"
	wrongSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ"
)

var testPrincipal = Principal{User: "alice", Project: "research"}

// memStore is an in-memory CredentialStore; the real one reads Kubernetes.
type memStore struct {
	creds   map[string]Credential
	retired map[string]bool
}

func newMemStore(creds ...Credential) *memStore {
	s := &memStore{creds: map[string]Credential{}, retired: map[string]bool{}}
	for _, c := range creds {
		s.creds[c.AccessKeyID] = c
	}
	return s
}

// testStore knows testKey, and retiredKey as retired.
func testStore() *memStore {
	s := newMemStore(
		Credential{AccessKeyID: testKey, SecretAccessKey: testSecret, Principal: testPrincipal},
		Credential{AccessKeyID: retiredKey, SecretAccessKey: retiredSec, Principal: testPrincipal},
	)
	s.retired[retiredKey] = true
	return s
}

func (s *memStore) Lookup(_ context.Context, accessKeyID string) (Credential, error) {
	if s.retired[accessKeyID] {
		return Credential{}, fmt.Errorf("%w: %s was retired", ErrRetiredKey, accessKeyID)
	}
	c, ok := s.creds[accessKeyID]
	if !ok {
		return Credential{}, fmt.Errorf("%w: no access key %s", ErrUnknownKey, accessKeyID)
	}
	return c, nil
}

var errorKinds = []error{ErrMissingAuth, ErrMalformed, ErrUnknownKey, ErrRetiredKey, ErrSignatureMismatch, ErrExpired, ErrPayloadMismatch, ErrBodyTooLarge}

// assertKind fails unless err wraps kind and no other kind, and leaks none of the secrets.
func assertKind(t *testing.T, err, kind error, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", kind)
	}
	for _, k := range errorKinds {
		if got := errors.Is(err, k); got != (k == kind) {
			t.Errorf("error %q: errors.Is(%v) = %v, want %v", err, k, got, k == kind)
		}
	}
	for _, s := range append(secrets, testSecret, retiredSec) {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q reveals a secret or expected signature %q", err, s)
		}
	}
}
