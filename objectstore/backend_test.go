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

package objectstore

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"pinet.io/pinet/internal/testmoto"
	"pinet.io/pinet/objectstore/fsstore"
)

// backendEnv names the backend newTestEnv's stores use: "fs" (the default) or "s3", which runs
// them on moto's moto_server (started once for the package, a backend bucket per store).
const backendEnv = "PINET_OBJECTSTORE_TEST_BACKEND"

// s3ScaleEnv, set, lets the scale tests run on the S3 backend too.
const s3ScaleEnv = "PINET_OBJECTSTORE_TEST_S3_SCALE"

var moto struct {
	once   sync.Once
	server *testmoto.Server
	err    error
	n      atomic.Int64
}

func TestMain(m *testing.M) {
	code := m.Run()
	if moto.server != nil {
		moto.server.Stop()
	}
	os.Exit(code)
}

// testS3Backend is the S3 backend of a new store: a fresh bucket of the package's moto_server.
func testS3Backend(t *testing.T) *fsstore.S3Config {
	t.Helper()
	moto.once.Do(func() { moto.server, moto.err = testmoto.Start(nil) })
	if moto.err != nil {
		t.Fatal(moto.err)
	}
	bucket := fmt.Sprintf("backend-%d", moto.n.Add(1))
	if err := moto.server.NewBucket(context.Background(), bucket); err != nil {
		t.Fatal(err)
	}
	return &fsstore.S3Config{
		Endpoint: moto.server.Endpoint, Bucket: bucket, Prefix: "pinet/",
		AccessKey: testmoto.AccessKey, SecretKey: testmoto.SecretKey, Region: testmoto.Region,
	}
}

// backendFromEnv puts newTestEnv's store on the backend backendEnv names.
func backendFromEnv(t *testing.T) func(*Config) {
	switch b := os.Getenv(backendEnv); b {
	case "", "fs":
		return func(*Config) {}
	case "s3":
		s3 := testS3Backend(t)
		return func(c *Config) { c.S3 = s3 }
	default:
		t.Fatalf("%s=%q: want fs or s3", backendEnv, b)
		return nil
	}
}

// s3SuiteTests is the part of the package's tests TestSuiteOnS3Backend runs on the S3
// backend: every test that stores something through the SDK, minio-go and boto3 (objects,
// versions, ACLs, policies, Block Public Access, multipart uploads and their keep-alive,
// listing, conditional reads, awkward keys, error codes, checksums, conditional writes and
// retried completions, tagging, CORS and lifecycle configuration, SSE-C and SSE-S3). Left out for time: the AWS CLI's
// (its start dominates), the scale test, and those that never reach the store's files.
// PINET_OBJECTSTORE_TEST_BACKEND=s3 runs every test of the package on the S3 backend.
const s3SuiteTests = `^(TestAWSSDK|TestBoto3|TestMinio.*|TestVersioning(SDK|Boto3|Minio|Wire|BadInput)|` +
	`TestVersionsListingWithDelimiter|TestVersionsAreAuthorized|TestACL(Minio|Boto3|GrantsToUsersAndProjects|AndPolicyRefusals)|` +
	`TestCannedACLsAndAnonymousReads|TestPolicy.*|TestDeleteObjectsJudgedPerKey|TestDeniedReadsRevealNothing|TestCopyNeedsTheSourcesTagsReadable|` +
	`TestProjectsAreIsolated|TestCreateBucketNeedsProject|TestPublicAccessBlock|TestSystemBucketsStayPrivate|TestSystemBucketNamesAreReserved|TestSystemRefusesASystemBucketItDoesNotOwn|` +
	`TestPresignedAndVersionedACLs|TestMultipartUploadKeepsItsACL|TestErrorCode.*|TestReadsAndConditions|` +
	`TestKeysThatAreNotFileNames|TestUploadPartCopy|TestReadOnlyGrant|TestPutGrant|TestCompleteSendsKeepAlive|` +
	`TestChecksumsSDK|TestMultipartChecksumsSDK|TestDefaultChecksumFromParts|TestConditionalWritesSDK|TestCompleteRetryAndPartReupload|` +
	`TestObjectTagging(SDK|Versions)|TestBucketTaggingSDK|TestTaggingConditionalWritesSDK|TestCORSConfigurationSDK|` +
	`TestLifecycleConfigurationSDK|TestLifecycleVersions|TestSSECustomerKeys|TestSSEMultipart|TestSSES3AndBucketDefault)$`

// s3SuiteMinTests is how many tests s3SuiteTests names at least, so that a renamed test shows.
const s3SuiteMinTests = 45

// TestSuiteOnS3Backend runs the package's own tests (s3SuiteTests) again with every store on
// the S3 backend, against moto_server.
func TestSuiteOnS3Backend(t *testing.T) {
	if os.Getenv(backendEnv) != "" {
		t.Skipf("%s is set: this run is on that backend already", backendEnv)
	}
	cmd := exec.Command(os.Args[0], "-test.run", s3SuiteTests, "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), backendEnv+"=s3")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the tests on the S3 backend failed: %v\n%s", err, out)
	}
	ran := strings.Count(string(out), "\n--- PASS: ")
	if ran < s3SuiteMinTests {
		t.Fatalf("only %d tests passed on the S3 backend, want %d or more:\n%s", ran, s3SuiteMinTests, out)
	}
	t.Logf("%d tests passed on the S3 backend", ran)
}
