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

package cloud_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/awsauth"
	"pinet.io/pinet/internal/testenv"
)

func describeKeys(t *testing.T, s *cloud.Service, c cloud.Caller) []cloud.KeyPair {
	t.Helper()
	return everything(t, c, s.DescribeKeyPairs)
}

func TestKeyPairsAcrossProjects(t *testing.T) {
	s := service(t)
	ctx := context.Background()
	created, err := s.CreateKeyPair(ctx, alice, cloud.CreateKeyPairInput{Name: "shared-name", Type: "ed25519",
		TagSpecifications: tagSpecs("key-pair", "team", "a")})
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == "" || created.Fingerprint == "" || !strings.Contains(created.PrivateKeyPEM, "PRIVATE KEY") || created.Tags["team"] != "a" {
		t.Fatalf("created %+v", created)
	}
	if got := describeKeys(t, s, bob); len(got) != 0 {
		t.Fatalf("bob sees alice's key pairs: %+v", got)
	}
	// The same name in another project is another key pair.
	bobs, err := s.CreateKeyPair(ctx, bob, cloud.CreateKeyPairInput{Name: "shared-name"})
	if err != nil {
		t.Fatal(err)
	}
	if bobs.ID == created.ID {
		t.Fatalf("bob's key pair has alice's id %s", bobs.ID)
	}
	_, err = s.DeleteKeyPair(ctx, bob, cloud.DeleteKeyPairInput{ID: created.ID})
	expectCode(t, err, cloud.CodeKeyPairNotFound)
	_, err = s.DescribeKeyPairs(ctx, bob, cloud.DescribeKeyPairsInput{IDs: []string{created.ID}})
	expectCode(t, err, cloud.CodeKeyPairNotFound)
	got := describeKeys(t, s, alice)
	if len(got) != 1 || got[0].ID != created.ID || got[0].Fingerprint != created.Fingerprint || got[0].Type != "ed25519" {
		t.Fatalf("alice's key pairs after bob's calls: %+v", got)
	}
	// Filters select by attribute and tag.
	byTag, err := s.DescribeKeyPairs(ctx, alice, cloud.DescribeKeyPairsInput{Filters: []query.Filter{{Name: "tag:team", Values: []string{"a"}}}})
	if err != nil || len(byTag) != 1 {
		t.Fatalf("by tag: %+v %v", byTag, err)
	}
	none, err := s.DescribeKeyPairs(ctx, alice, cloud.DescribeKeyPairsInput{Filters: []query.Filter{{Name: "key-type", Values: []string{"rsa"}}}})
	if err != nil || len(none) != 0 {
		t.Fatalf("rsa filter: %+v %v", none, err)
	}
	if id, err := s.DeleteKeyPair(ctx, alice, cloud.DeleteKeyPairInput{Name: "shared-name"}); err != nil || id != created.ID {
		t.Fatalf("delete: %q %v", id, err)
	}
	if got := describeKeys(t, s, alice); len(got) != 0 {
		t.Fatalf("after delete: %+v", got)
	}
	if got := describeKeys(t, s, bob); len(got) != 1 {
		t.Fatalf("alice's delete touched bob's: %+v", got)
	}
}

func TestKeyPairRefusalsMakeNothing(t *testing.T) {
	s := service(t)
	ctx := context.Background()
	if _, err := s.ImportKeyPair(ctx, alice, cloud.ImportKeyPairInput{Name: "first", PublicKey: []byte(testKey)}); err != nil {
		t.Fatal(err)
	}
	before := len(describeKeys(t, s, alice))
	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"duplicate name", func() error {
			_, err := s.CreateKeyPair(ctx, alice, cloud.CreateKeyPairInput{Name: "first"})
			return err
		}, cloud.CodeKeyPairDuplicate},
		{"no name", func() error { _, err := s.CreateKeyPair(ctx, alice, cloud.CreateKeyPairInput{}); return err }, cloud.CodeMissingParameter},
		{"long name", func() error {
			_, err := s.CreateKeyPair(ctx, alice, cloud.CreateKeyPairInput{Name: strings.Repeat("k", 256)})
			return err
		}, cloud.CodeInvalidParameter},
		{"control character", func() error {
			_, err := s.CreateKeyPair(ctx, alice, cloud.CreateKeyPairInput{Name: "a\x01b"})
			return err
		}, cloud.CodeInvalidParameter},
		{"unknown type", func() error {
			_, err := s.CreateKeyPair(ctx, alice, cloud.CreateKeyPairInput{Name: "t", Type: "dsa"})
			return err
		}, cloud.CodeInvalidParameter},
		{"ppk format", func() error {
			_, err := s.CreateKeyPair(ctx, alice, cloud.CreateKeyPairInput{Name: "t", Format: "ppk"})
			return err
		}, cloud.CodeInvalidParameter},
		{"wrong tag resource type", func() error {
			_, err := s.CreateKeyPair(ctx, alice, cloud.CreateKeyPairInput{Name: "t",
				TagSpecifications: []cloud.TagSpecification{{ResourceType: "instance"}}})
			return err
		}, cloud.CodeInvalidParameter},
		{"garbage public key", func() error {
			_, err := s.ImportKeyPair(ctx, alice, cloud.ImportKeyPairInput{Name: "t", PublicKey: []byte("not a key")})
			return err
		}, cloud.CodeKeyFormat},
		{"no role in the project", func() error {
			_, err := s.CreateKeyPair(ctx, stranger, cloud.CreateKeyPairInput{Name: "t"})
			return err
		}, cloud.CodeUnauthorized},
		{"no project", func() error {
			_, err := s.CreateKeyPair(ctx, cloud.Caller{Principal: awsauth.Principal{User: "svc-alice"}}, cloud.CreateKeyPairInput{Name: "t"})
			return err
		}, cloud.CodeAuthFailure},
		{"dry run", func() error {
			_, err := s.CreateKeyPair(ctx, alice, cloud.CreateKeyPairInput{Name: "t", DryRun: true})
			return err
		}, cloud.CodeDryRun},
		{"delete with neither name nor id", func() error {
			_, err := s.DeleteKeyPair(ctx, alice, cloud.DeleteKeyPairInput{})
			return err
		}, cloud.CodeMissingParameter},
	} {
		t.Run(tc.name, func(t *testing.T) { expectCode(t, tc.call(), tc.code) })
	}
	if after := len(describeKeys(t, s, alice)); after != before {
		t.Fatalf("refused calls left %d key pairs, want %d", after, before)
	}
	// Deleting a name nothing has is no error, as in EC2.
	if _, err := s.DeleteKeyPair(ctx, alice, cloud.DeleteKeyPairInput{Name: "never-made"}); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentCreatesOfOneName(t *testing.T) {
	s := service(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errs := testenv.Race(8, func(int) error {
		_, err := s.CreateKeyPair(ctx, bob, cloud.CreateKeyPairInput{Name: "raced", Type: "ed25519"})
		return err
	})
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		expectCode(t, err, cloud.CodeKeyPairDuplicate)
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent creates of one name won", won, len(errs))
	}
}

// testKey is an ed25519 public key in authorized_keys form.
const testKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBr7mMz0uH6jyW1w4E6B3N9d8wB6n7m9l0C1a2b3c4d5 test"
