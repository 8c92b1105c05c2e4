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

package cloud_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/authz"
	"pinet.io/pinet/internal/awsauth"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

var (
	startOnce sync.Once
	svc       *cloud.Service
	// svcCloud and svcCache are the cloud and the informer-cached client the service runs over,
	// for tests that need the object store or build a service of their own.
	svcCloud *testcloud.Cloud
	svcCache client.Client
)

// service runs the whole cloud's controllers (for projects' and users' roles) once and returns a
// service over the real API server, called directly: no HTTP, no Query protocol.
func service(t *testing.T) *cloud.Service {
	t.Helper()
	startOnce.Do(func() {
		c, err := testcloud.Start(env, testcloud.Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		c.AddProject(t, "svc-a")
		c.AddProject(t, "svc-b")
		c.AddUser(t, "svc-alice", false, "svc-a")
		c.AddUser(t, "svc-bob", false, "svc-b")
		// The service reads through an informer cache with PiNet's field indexes, as in the manager.
		mgr, err := ctrl.NewManager(env.Config, ctrl.Options{Scheme: env.Scheme,
			Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
		if err == nil {
			err = index.Register(env.Ctx, mgr.GetFieldIndexer())
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		go func() { _ = mgr.Start(env.Ctx) }()
		if !mgr.GetCache().WaitForCacheSync(env.Ctx) {
			fmt.Fprintln(os.Stderr, "the cache never synced")
			os.Exit(1)
		}
		tokens, err := query.NewPageTokens([]byte("a page token key for the service's own tests"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		s, err := cloud.New(cloud.Config{Client: mgr.GetClient(), APIReader: env.Client, Authz: &authz.Authorizer{Client: env.Client},
			Tokens: tokens, Region: "svc-region", Endpoint: "http://ec2.svc.test"})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		svc, svcCloud, svcCache = s, c, mgr.GetClient()
	})
	if svc == nil {
		t.Fatal("the service did not start")
	}
	return svc
}

var (
	alice = cloud.Caller{Principal: awsauth.Principal{User: "svc-alice", Project: "svc-a"}}
	bob   = cloud.Caller{Principal: awsauth.Principal{User: "svc-bob", Project: "svc-b"}}
	// stranger acts in a project no role binds: the front doors authenticate who calls, the
	// service asks RBAC what they may do there.
	stranger = cloud.Caller{Principal: awsauth.Principal{User: "svc-stranger", Project: "svc-nowhere"}}
)

// expectCode checks that err is an EC2 error with code.
func expectCode(t *testing.T, err error, code string) {
	t.Helper()
	var qe *query.Error
	if !errors.As(err, &qe) || qe.Code != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

func describeKeys(t *testing.T, s *cloud.Service, c cloud.Caller) []cloud.KeyPair {
	t.Helper()
	kps, err := s.DescribeKeyPairs(context.Background(), c, cloud.DescribeKeyPairsInput{})
	if err != nil {
		t.Fatal(err)
	}
	return kps
}

func TestKeyPairsAcrossProjects(t *testing.T) {
	s := service(t)
	ctx := context.Background()
	created, err := s.CreateKeyPair(ctx, alice, cloud.CreateKeyPairInput{Name: "shared-name", Type: "ed25519",
		TagSpecifications: []cloud.TagSpecification{{ResourceType: "key-pair", Tags: []cloud.Tag{{Key: "team", Value: "a"}}}}})
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
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = s.CreateKeyPair(ctx, bob, cloud.CreateKeyPairInput{Name: "raced", Type: "ed25519"})
		}(i)
	}
	wg.Wait()
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
