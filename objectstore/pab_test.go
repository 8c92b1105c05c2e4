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
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

func putPAB(t *testing.T, c *s3.Client, bucket string, acls, ignore, policy, restrict bool) {
	t.Helper()
	_, err := c.PutPublicAccessBlock(context.Background(), &s3.PutPublicAccessBlockInput{Bucket: aws.String(bucket),
		PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(acls),
			IgnorePublicAcls: aws.Bool(ignore), BlockPublicPolicy: aws.Bool(policy), RestrictPublicBuckets: aws.Bool(restrict)}})
	if err != nil {
		t.Fatalf("PutPublicAccessBlock: %v", err)
	}
}

func TestPublicAccessBlock(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	a, b, anon := sdkClient(e, alice), sdkClient(e, bob), anonymousSDK(e)
	bucket := aws.String("blocked")
	mustCreate(t, a, "blocked", "")
	mustPut(t, a, "blocked", "pub", "public", types.ObjectCannedACLPublicRead)
	mustPut(t, a, "blocked", "priv", "private", "")

	putPAB(t, a, "blocked", true, false, false, false)
	got, err := a.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: bucket})
	if err != nil {
		t.Fatal(err)
	}
	if c := got.PublicAccessBlockConfiguration; !aws.ToBool(c.BlockPublicAcls) || aws.ToBool(c.IgnorePublicAcls) || aws.ToBool(c.BlockPublicPolicy) || aws.ToBool(c.RestrictPublicBuckets) {
		t.Fatalf("configuration = %+v", c)
	}
	// BlockPublicAcls: no new public ACL, by any route; existing ones still work.
	if _, err := a.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String("new"), Body: strings.NewReader("x"), ACL: types.ObjectCannedACLPublicRead}); apiCode(err) != CodeAccessDenied {
		t.Fatalf("PutObject public-read under BlockPublicAcls = %v", err)
	}
	if _, err := a.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: aws.String("new")}); apiCode(err) != "NotFound" {
		t.Fatalf("the refused PutObject left %v", err)
	}
	if _, err := a.CopyObject(ctx, &s3.CopyObjectInput{Bucket: bucket, Key: aws.String("copy"), CopySource: aws.String("blocked/priv"), ACL: types.ObjectCannedACLAuthenticatedRead}); apiCode(err) != CodeAccessDenied {
		t.Fatalf("CopyObject authenticated-read under BlockPublicAcls = %v", err)
	}
	if _, err := a.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bucket, Key: aws.String("mp"), ACL: types.ObjectCannedACLPublicReadWrite}); apiCode(err) != CodeAccessDenied {
		t.Fatalf("CreateMultipartUpload public-read-write under BlockPublicAcls = %v", err)
	}
	if _, err := a.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: bucket, Key: aws.String("priv"), ACL: types.ObjectCannedACLPublicRead}); apiCode(err) != CodeAccessDenied {
		t.Fatalf("PutObjectAcl public-read under BlockPublicAcls = %v", err)
	}
	if _, err := a.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: bucket, GrantRead: aws.String(`uri="` + groupAllUsers + `"`)}); apiCode(err) != CodeAccessDenied {
		t.Fatalf("PutBucketAcl AllUsers READ under BlockPublicAcls = %v", err)
	}
	wantDenied(t, "anonymous", anon, "blocked", "priv", CodeAccessDenied)
	wantBody(t, "anonymous", anon, "blocked", "pub", "public")
	// A grant to a user is not public.
	if _, err := a.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: bucket, Key: aws.String("priv"), GrantRead: aws.String(`id="` + UserCanonicalID("bob") + `"`)}); err != nil {
		t.Fatal(err)
	}
	wantBody(t, "bob", b, "blocked", "priv", "private")

	// IgnorePublicAcls: public grants stop counting.
	putPAB(t, a, "blocked", false, true, false, false)
	wantDenied(t, "anonymous", anon, "blocked", "pub", CodeAccessDenied)
	wantBody(t, "bob (user grant)", b, "blocked", "priv", "private")

	// BlockPublicPolicy: no public policy; one fixed to networks is not public.
	putPAB(t, a, "blocked", false, false, true, false)
	if _, err := a.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: bucket, Policy: aws.String(publicReadPolicy("blocked"))}); apiCode(err) != CodeAccessDenied {
		t.Fatalf("public policy under BlockPublicPolicy = %v", err)
	}
	if _, err := a.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: bucket}); apiCode(err) != CodeNoSuchBucketPolicy {
		t.Fatalf("the refused policy was stored: %v", err)
	}
	fixed := `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::blocked/*","Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}]}`
	if _, err := a.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: bucket, Policy: aws.String(fixed)}); err != nil {
		t.Fatalf("network-fixed policy under BlockPublicPolicy: %v", err)
	}
	wantBody(t, "anonymous from loopback", anon, "blocked", "priv", "private")

	// RestrictPublicBuckets: a public policy serves only the owner's project.
	putPAB(t, a, "blocked", false, false, false, false)
	if _, err := a.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: bucket, Policy: aws.String(publicReadPolicy("blocked"))}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, a, "blocked", "only-policy", "by policy", "")
	wantBody(t, "anonymous", anon, "blocked", "only-policy", "by policy")
	putPAB(t, a, "blocked", false, false, false, true)
	wantDenied(t, "anonymous", anon, "blocked", "only-policy", CodeAccessDenied)
	wantDenied(t, "bob", b, "blocked", "only-policy", CodeAccessDenied)

	// Deleting the configuration lifts every block.
	if _, err := a.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: bucket}); apiCode(err) != CodeNoSuchPublicAccessBlock {
		t.Fatalf("GetPublicAccessBlock after delete = %v", err)
	}
	wantBody(t, "anonymous", anon, "blocked", "only-policy", "by policy")
	if _, err := b.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: bucket, PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{}}); apiCode(err) != CodeAccessDenied {
		t.Fatalf("bob configuring alice's bucket = %v", err)
	}
}

// actAs makes an SDK client send cloudv1.HeaderActAsProject.
func actAs(project string) func(*s3.Options) { return actAsUser(project, "") }

// actAsUser makes an SDK client send cloudv1.HeaderActAsProject and cloudv1.HeaderActAsUser
// (each only when not empty).
func actAsUser(project, user string) func(*s3.Options) {
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Build.Add(middleware.BuildMiddlewareFunc("actAs", func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
				if req, ok := in.Request.(*smithyhttp.Request); ok {
					if project != "" {
						req.Header.Set(cloudv1.HeaderActAsProject, project)
					}
					if user != "" {
						req.Header.Set(cloudv1.HeaderActAsUser, user)
					}
				}
				return next.HandleBuild(ctx, in)
			}), middleware.Before)
		})
	}
}

// TestActingAsAUser: PiNet's components may narrow a request to one user of a project, which is
// then judged as that user (a bucket policy naming the user applies), but never to a system user
// whose Grants would open PiNet's own bucket.
func TestActingAsAUser(t *testing.T) {
	e := newTestEnv(t, func(c *Config) {
		c.Grants = bucketGrant{bucket: "sys-images"}
	})
	ctx := context.Background()
	a, adm := sdkClient(e, alice), sdkClient(e, admin)
	mustCreate(t, a, "acting", "")
	mustPut(t, a, "acting", "k", "alice's", "")
	deny := `{"Statement":[{"Effect":"Deny","Principal":{"AWS":["` + UserCanonicalID(carol.p.User) + `"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::acting/*"}]}`
	if _, err := a.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("acting"), Policy: aws.String(deny)}); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, adm, "sys-images", "")
	mustPut(t, adm, "sys-images", "stored", "every project's image", "")

	as := func(project, user string) *s3.Client { return s3.New(adm.Options(), actAsUser(project, user)) }
	wantBody(t, "admin as the project", as(alice.p.Project, ""), "acting", "k", "alice's")
	wantBody(t, "admin as alice", as(alice.p.Project, alice.p.User), "acting", "k", "alice's")
	wantDenied(t, "admin as carol", as(carol.p.Project, carol.p.User), "acting", "k", CodeAccessDenied)
	wantDenied(t, "carol herself", sdkClient(e, carol), "acting", "k", CodeAccessDenied)
	// The reader may read sys-images with its own key, but no project acts with its grant.
	wantBody(t, "the reader", sdkClient(e, reader), "sys-images", "stored", "every project's image")
	wantDenied(t, "admin as the reader in a project", as(alice.p.Project, reader.p.User), "sys-images", "stored", CodeAccessDenied)
	wantDenied(t, "admin as a user of no project", as("", alice.p.User), "acting", "k", CodeInvalidRequest)
	wantDenied(t, "alice claiming to act as carol", s3.New(a.Options(), actAsUser(alice.p.Project, carol.p.User)), "acting", "k", CodeAccessDenied)
}

func TestSystemBucketsStayPrivate(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	adm, op, anon := sdkClient(e, admin), sdkClient(e, sysop), anonymousSDK(e)
	for _, name := range systemBuckets {
		bucket := aws.String(name)
		mustCreate(t, adm, name, "")
		mustPut(t, adm, name, "image", "disk", "")
		// Nobody but the system makes it public: not its project's members, nor the system
		// acting as the project, whatever the bucket's own Block Public Access says.
		for who, c := range map[string]*s3.Client{"sysop": op, "admin acting as the project": s3.New(adm.Options(), actAs("pinet-system"))} {
			if _, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: bucket, ACL: types.BucketCannedACLPublicRead}); apiCode(err) != CodeAccessDenied {
				t.Fatalf("%s: PutBucketAcl public-read on %s = %v", who, name, err)
			}
			if _, err := c.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: bucket}); err != nil {
				t.Fatalf("%s: DeletePublicAccessBlock: %v", who, err)
			}
			if _, err := c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: bucket, Key: aws.String("image"), GrantRead: aws.String(`uri="` + groupAuthenticated + `"`)}); apiCode(err) != CodeAccessDenied {
				t.Fatalf("%s: PutObjectAcl AuthenticatedUsers on %s = %v", who, name, err)
			}
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String("leak"), Body: strings.NewReader("x"), ACL: types.ObjectCannedACLPublicRead}); apiCode(err) != CodeAccessDenied {
				t.Fatalf("%s: PutObject public-read on %s = %v", who, name, err)
			}
			if _, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: bucket, Policy: aws.String(publicReadPolicy(name))}); apiCode(err) != CodeAccessDenied {
				t.Fatalf("%s: public policy on %s = %v", who, name, err)
			}
			// Private changes remain theirs to make.
			mustPut(t, c, name, "private-by-"+strings.Fields(who)[0], "x", types.ObjectCannedACLBucketOwnerFullControl)
		}
		wantDenied(t, "anonymous", anon, name, "image", CodeAccessDenied)
		if _, err := sdkClient(e, bob).GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String("image")}); apiCode(err) != CodeAccessDenied {
			t.Fatalf("bob reading %s = %v", name, err)
		}
		// The system itself may.
		if _, err := adm.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: bucket, Key: aws.String("image"), ACL: types.ObjectCannedACLPublicRead}); err != nil {
			t.Fatalf("admin making %s/image public: %v", name, err)
		}
		wantBody(t, "anonymous", anon, name, "image", "disk")
	}
}

func TestPresignedAndVersionedACLs(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	a, anon := sdkClient(e, alice), anonymousSDK(e)
	mustCreate(t, a, "versioned-acl", "")
	bucket := aws.String("versioned-acl")
	// Presigned URLs of a private object keep working; the bare URL does not.
	mustPut(t, a, "versioned-acl", "k", "v0", "")
	signed, err := s3.NewPresignClient(a).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String("k")}, s3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(signed.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("presigned GET = %d", resp.StatusCode)
	}
	expectError(t, e.do(t, nobody, rawRequest{method: http.MethodGet, path: "/versioned-acl/k", unsigned: true}), http.MethodGet, 403, CodeAccessDenied)

	// Unversioned: an overwrite does not inherit the ACL it replaced.
	if _, err := a.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: bucket, Key: aws.String("k"), ACL: types.ObjectCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	wantBody(t, "anonymous", anon, "versioned-acl", "k", "v0")
	mustPut(t, a, "versioned-acl", "k", "v0b", "")
	wantDenied(t, "anonymous", anon, "versioned-acl", "k", CodeAccessDenied)

	// Versioned: each version has its own ACL.
	if _, err := a.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: bucket, VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	v1 := aws.ToString(mustPut(t, a, "versioned-acl", "k", "v1", types.ObjectCannedACLPublicRead).VersionId)
	v2 := aws.ToString(mustPut(t, a, "versioned-acl", "k", "v2", "").VersionId)
	wantDenied(t, "anonymous", anon, "versioned-acl", "k", CodeAccessDenied)
	wantBody(t, "anonymous", anon, "versioned-acl", "k", "v1", v1)
	wantDenied(t, "anonymous", anon, "versioned-acl", "k", CodeAccessDenied, v2)
	if _, err := a.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: bucket, Key: aws.String("k"), VersionId: aws.String(v2), ACL: types.ObjectCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	wantBody(t, "anonymous", anon, "versioned-acl", "k", "v2")
	if _, err := a.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: bucket, Key: aws.String("k"), VersionId: aws.String(v1), ACL: types.ObjectCannedACLPrivate}); err != nil {
		t.Fatal(err)
	}
	wantDenied(t, "anonymous", anon, "versioned-acl", "k", CodeAccessDenied, v1)
	wantBody(t, "anonymous", anon, "versioned-acl", "k", "v2", v2)
	got, err := a.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: bucket, Key: aws.String("k"), VersionId: aws.String(v1)})
	if err != nil || len(got.Grants) != 1 {
		t.Fatalf("GetObjectAcl of v1 = %+v, %v", got, err)
	}
	// A version-scoped Deny closes old versions to everyone but not the latest.
	deny := `{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObjectVersion","Resource":"arn:aws:s3:::versioned-acl/*"}]}`
	if _, err := a.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: bucket, Policy: aws.String(deny)}); err != nil {
		t.Fatal(err)
	}
	wantBody(t, "anonymous", anon, "versioned-acl", "k", "v2")
	wantDenied(t, "anonymous", anon, "versioned-acl", "k", CodeAccessDenied, v2)

	// A copy takes the ACL its request names, not its source's.
	if _, err := a.CopyObject(ctx, &s3.CopyObjectInput{Bucket: bucket, Key: aws.String("copy"), CopySource: aws.String("versioned-acl/k")}); err != nil {
		t.Fatal(err)
	}
	wantDenied(t, "anonymous", anon, "versioned-acl", "copy", CodeAccessDenied)
	// Reading a copy source needs read access to it: bob may not copy a private object out.
	mustCreate(t, sdkClient(e, bob), "bobs", "")
	src := fmt.Sprintf("versioned-acl/k?versionId=%s", v1)
	if _, err := sdkClient(e, bob).CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bobs"), Key: aws.String("stolen"), CopySource: aws.String(src)}); apiCode(err) != CodeAccessDenied {
		t.Fatalf("bob copying a private version = %v", err)
	}
	if _, err := sdkClient(e, bob).CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bobs"), Key: aws.String("given"), CopySource: aws.String("versioned-acl/k")}); err != nil {
		t.Fatalf("bob copying the public latest version: %v", err)
	}
}

func TestMultipartUploadKeepsItsACL(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	a := sdkClient(e, alice)
	mustCreate(t, a, "mp-acl", "")
	up, err := a.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mp-acl"), Key: aws.String("big"), ACL: types.ObjectCannedACLPublicRead})
	if err != nil {
		t.Fatal(err)
	}
	part, err := a.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mp-acl"), Key: aws.String("big"), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("only part")})
	if err != nil {
		t.Fatal(err)
	}
	wantDenied(t, "anonymous before completion", anonymousSDK(e), "mp-acl", "big", CodeAccessDenied)
	if _, err := a.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mp-acl"), Key: aws.String("big"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: part.ETag, PartNumber: aws.Int32(1)}}}}); err != nil {
		t.Fatal(err)
	}
	wantBody(t, "anonymous", anonymousSDK(e), "mp-acl", "big", "only part")
}

// TestCrashDuringPublicPut kills the store (SIGKILL) in the middle of a public-read upload over
// a private object: the restarted store serves the previous object, still private, and the
// ACL the upload asked for applies to nothing.
func TestCrashDuringPublicPut(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		t.Skip("this is the child")
	}
	dir := t.TempDir()
	cmd, addr := startStoreProcess(t, dir)
	e := &testEnv{host: addr, url: "http://" + addr, dir: dir}
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/acrash"})
	e.mustOK(t, alice, rawRequest{method: http.MethodPut, path: "/acrash/k", body: []byte("private data")})

	const size, stallAt = 64 << 20, 4 << 20
	release := make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(release) })
	upload := streamPut(t, addr, "/acrash/k", &stalledReader{p: newPattern(size, 7), stallAt: stallAt, release: release}, size, "x-amz-acl", "public-read")
	waitForTempFiles(t, dir, 1, 1<<20)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	once.Do(func() { close(release) })
	if err := <-upload; err == nil || strings.Contains(err.Error(), "status") {
		t.Fatalf("the upload survived the crash: %v", err)
	}

	_, addr = startStoreProcess(t, dir)
	e = &testEnv{host: addr, url: "http://" + addr, dir: dir}
	if got := e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/acrash/k"}); string(got.body) != "private data" {
		t.Fatalf("after the crash the object reads %q", got.body)
	}
	expectError(t, e.do(t, nobody, rawRequest{method: http.MethodGet, path: "/acrash/k", unsigned: true}), http.MethodGet, http.StatusForbidden, CodeAccessDenied)
}
