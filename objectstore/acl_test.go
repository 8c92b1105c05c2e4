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
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// nobody stands for unsigned requests (rawRequest.unsigned).
var nobody = testUser{}

// anonymousSDK is an SDK client that signs nothing.
func anonymousSDK(e *testEnv) *s3.Client {
	return s3.New(s3.Options{Region: testRegion, BaseEndpoint: aws.String(e.url), UsePathStyle: true, Credentials: aws.AnonymousCredentials{}})
}

// sdkGet reads an object through c, returning its body or the error code.
func aclGet(t *testing.T, c *s3.Client, bucket, key string, version ...string) (string, string) {
	t.Helper()
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if len(version) > 0 {
		in.VersionId = aws.String(version[0])
	}
	out, err := c.GetObject(context.Background(), in)
	if err != nil {
		return "", apiCode(err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), ""
}

// wantBody fails unless c reads want from bucket/key.
func wantBody(t *testing.T, who string, c *s3.Client, bucket, key, want string, version ...string) {
	t.Helper()
	got, code := aclGet(t, c, bucket, key, version...)
	if code != "" || got != want {
		t.Fatalf("%s reading %s/%s = %q, %q; want %q", who, bucket, key, got, code, want)
	}
}

// wantDenied fails unless c's read of bucket/key is refused with code.
func wantDenied(t *testing.T, who string, c *s3.Client, bucket, key, code string, version ...string) {
	t.Helper()
	if got, gotCode := aclGet(t, c, bucket, key, version...); gotCode != code {
		t.Fatalf("%s reading %s/%s = %q, %q; want %s", who, bucket, key, got, gotCode, code)
	}
}

func mustPut(t *testing.T, c *s3.Client, bucket, key, body string, acl types.ObjectCannedACL) *s3.PutObjectOutput {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body), ACL: acl})
	if err != nil {
		t.Fatalf("PutObject %s/%s (ACL %q): %v", bucket, key, acl, err)
	}
	return out
}

func mustCreate(t *testing.T, c *s3.Client, bucket string, acl types.BucketCannedACL) {
	t.Helper()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket), ACL: acl}); err != nil {
		t.Fatalf("CreateBucket %s: %v", bucket, err)
	}
}

// grantsOf renders grants as "GRANTEE:PERMISSION" strings, sorted.
func grantsOf(gs []types.Grant) []string {
	var out []string
	for _, g := range gs {
		who := aws.ToString(g.Grantee.ID)
		if g.Grantee.Type == types.TypeGroup {
			who = aws.ToString(g.Grantee.URI)
		}
		out = append(out, string(g.Grantee.Type)+"/"+who+":"+string(g.Permission))
	}
	slices.Sort(out)
	return out
}

func userGrant(id, perm string) string   { return "CanonicalUser/" + id + ":" + perm }
func groupGrant(uri, perm string) string { return "Group/" + uri + ":" + perm }

func TestCannedACLsAndAnonymousReads(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	a, b, anon := sdkClient(e, alice), sdkClient(e, bob), anonymousSDK(e)
	mustCreate(t, a, "canned", "")
	mustPut(t, a, "canned", "private", "mine", "")
	mustPut(t, a, "canned", "public", "for all", types.ObjectCannedACLPublicRead)
	mustPut(t, a, "canned", "signed", "for the signed", types.ObjectCannedACLAuthenticatedRead)
	mustPut(t, a, "canned", "owner-read", "bor", types.ObjectCannedACLBucketOwnerRead)

	// The acceptance pair: an anonymous GET of a private object is refused, of a public-read one served.
	wantDenied(t, "anonymous", anon, "canned", "private", CodeAccessDenied)
	wantBody(t, "anonymous", anon, "canned", "public", "for all")
	res := e.do(t, nobody, rawRequest{method: http.MethodGet, path: "/canned/private", unsigned: true})
	expectError(t, res, http.MethodGet, http.StatusForbidden, CodeAccessDenied)
	res = e.do(t, nobody, rawRequest{method: http.MethodHead, path: "/canned/private", unsigned: true})
	expectError(t, res, http.MethodHead, http.StatusForbidden, CodeAccessDenied)
	if res := e.mustOK(t, nobody, rawRequest{method: http.MethodGet, path: "/canned/public", unsigned: true}); string(res.body) != "for all" {
		t.Fatalf("unsigned GET of the public object = %q", res.body)
	}
	// Without the right to list, a missing key is AccessDenied, not NoSuchKey.
	wantDenied(t, "anonymous", anon, "canned", "missing", CodeAccessDenied)
	wantDenied(t, "alice", a, "canned", "missing", CodeNoSuchKey)
	// authenticated-read: every signed caller, no unsigned one.
	wantBody(t, "bob", b, "canned", "signed", "for the signed")
	wantDenied(t, "anonymous", anon, "canned", "signed", CodeAccessDenied)
	wantDenied(t, "bob", b, "canned", "private", CodeAccessDenied)
	wantDenied(t, "bob", b, "canned", "owner-read", CodeAccessDenied)
	wantBody(t, "carol (alice's project)", sdkClient(e, carol), "canned", "owner-read", "bor")
	// A private bucket lists for no one outside, and anonymous callers list no buckets.
	for who, c := range map[string]*s3.Client{"anonymous": anon, "bob": b} {
		if _, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("canned")}); apiCode(err) != CodeAccessDenied {
			t.Fatalf("%s listing a private bucket = %v", who, err)
		}
	}
	if _, err := anon.ListBuckets(ctx, &s3.ListBucketsInput{}); apiCode(err) != CodeAccessDenied {
		t.Fatalf("anonymous ListBuckets = %v", err)
	}
	// Anonymous callers write nowhere private, and create no buckets.
	if _, err := anon.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("canned"), Key: aws.String("planted"), Body: strings.NewReader("x")}); apiCode(err) != CodeAccessDenied {
		t.Fatalf("anonymous PutObject = %v", err)
	}
	if _, err := anon.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("anon-bucket")}); apiCode(err) != CodeAccessDenied {
		t.Fatalf("anonymous CreateBucket = %v", err)
	}

	// The ACLs read back as S3 writes them: the owner project, then the canned grants.
	owner := ProjectCanonicalID("proj-a")
	acl, err := a.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("canned"), Key: aws.String("public")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(acl.Owner.ID) != owner || aws.ToString(acl.Owner.DisplayName) != "proj-a" {
		t.Fatalf("owner = %+v", acl.Owner)
	}
	if got, want := grantsOf(acl.Grants), []string{userGrant(owner, "FULL_CONTROL"), groupGrant(groupAllUsers, "READ")}; !slices.Equal(got, want) {
		t.Fatalf("public-read grants = %q, want %q", got, want)
	}
	bacl, err := a.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("canned")})
	if err != nil {
		t.Fatal(err)
	}
	if got := grantsOf(bacl.Grants); !slices.Equal(got, []string{userGrant(owner, "FULL_CONTROL")}) {
		t.Fatalf("private bucket grants = %q", got)
	}

	// public-read and public-read-write buckets.
	mustCreate(t, a, "open-read", types.BucketCannedACLPublicRead)
	mustPut(t, a, "open-read", "k", "v", "")
	if out, err := anon.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("open-read")}); err != nil || len(out.Contents) != 1 {
		t.Fatalf("anonymous listing a public-read bucket = %v", err)
	}
	wantDenied(t, "anonymous", anon, "open-read", "k", CodeAccessDenied) // the object itself is private
	wantDenied(t, "anonymous", anon, "open-read", "missing", CodeNoSuchKey)
	if _, err := anon.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("open-read"), Key: aws.String("x"), Body: strings.NewReader("x")}); apiCode(err) != CodeAccessDenied {
		t.Fatalf("anonymous write into a public-read bucket = %v", err)
	}
	mustCreate(t, a, "open-write", types.BucketCannedACLPublicReadWrite)
	if _, err := anon.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("open-write"), Key: aws.String("drop"), Body: strings.NewReader("dropped")}); err != nil {
		t.Fatalf("anonymous write into a public-read-write bucket: %v", err)
	}
	// What an outsider writes belongs to the bucket's project.
	wantBody(t, "alice", a, "open-write", "drop", "dropped")
	mustPut(t, b, "open-write", "from-bob", "b", "")
	wantDenied(t, "bob", b, "open-write", "from-bob", CodeAccessDenied)
	wantBody(t, "alice", a, "open-write", "from-bob", "b")
}

func TestACLGrantsToUsersAndProjects(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	a, b := sdkClient(e, alice), sdkClient(e, bob)
	mustCreate(t, a, "grants", "")
	mustPut(t, a, "grants", "doc", "shared", "")
	owner := ProjectCanonicalID("proj-a")
	bobID := UserCanonicalID("bob")

	put := func(grants ...types.Grant) error {
		_, err := a.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: aws.String("grants"), Key: aws.String("doc"),
			AccessControlPolicy: &types.AccessControlPolicy{Owner: &types.Owner{ID: aws.String(owner)}, Grants: grants}})
		return err
	}
	user := func(id string, p types.Permission) types.Grant {
		return types.Grant{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String(id)}, Permission: p}
	}
	wantDenied(t, "bob", b, "grants", "doc", CodeAccessDenied)
	// A grant to bob's user id lets bob read, from his own project.
	if err := put(user(owner, types.PermissionFullControl), user(bobID, types.PermissionRead)); err != nil {
		t.Fatal(err)
	}
	wantBody(t, "bob", b, "grants", "doc", "shared")
	wantDenied(t, "anonymous", anonymousSDK(e), "grants", "doc", CodeAccessDenied)
	// READ does not include READ_ACP.
	if _, err := b.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("grants"), Key: aws.String("doc")}); apiCode(err) != CodeAccessDenied {
		t.Fatalf("bob reading the ACL with READ only = %v", err)
	}
	// A grant to a project's id covers its members.
	if err := put(user(ProjectCanonicalID("proj-b"), types.PermissionFullControl)); err != nil {
		t.Fatal(err)
	}
	wantBody(t, "bob (proj-b)", b, "grants", "doc", "shared")
	got, err := b.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("grants"), Key: aws.String("doc")})
	if err != nil {
		t.Fatalf("bob with FULL_CONTROL reading the ACL: %v", err)
	}
	if g := grantsOf(got.Grants); !slices.Equal(g, []string{userGrant(ProjectCanonicalID("proj-b"), "FULL_CONTROL")}) {
		t.Fatalf("grants = %q", g)
	}
	// The owner project keeps its rights though the ACL names it no more.
	wantBody(t, "alice", a, "grants", "doc", "shared")
	// Bucket grants: WRITE lets bob write, READ lets him list.
	if _, err := a.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("grants"),
		GrantWrite: aws.String(`id="` + bobID + `"`), GrantRead: aws.String(`id="` + bobID + `"`)}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, b, "grants", "from-bob", "x", "")
	if out, err := b.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("grants")}); err != nil || len(out.Contents) != 2 {
		t.Fatalf("bob listing with READ = %v", err)
	}
	if _, err := b.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("grants")}); apiCode(err) != CodeAccessDenied {
		t.Fatalf("bob reading the bucket ACL = %v", err)
	}
	// Grants never reach what only the owner may do.
	if _, err := b.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("grants"), Policy: aws.String(publicReadPolicy("grants"))}); apiCode(err) != CodeAccessDenied {
		t.Fatalf("bob putting a policy = %v", err)
	}
	if _, err := b.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("grants")}); apiCode(err) != CodeAccessDenied {
		t.Fatalf("bob deleting the bucket = %v", err)
	}
}

// publicReadPolicy lets everyone read the objects of bucket.
func publicReadPolicy(bucket string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"pub","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::%s/*"}]}`, bucket)
}

func TestPolicyDenyOverridesGrant(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	a, b, anon := sdkClient(e, alice), sdkClient(e, bob), anonymousSDK(e)
	mustCreate(t, a, "denied", "")
	mustPut(t, a, "denied", "pub", "public", types.ObjectCannedACLPublicRead)
	wantBody(t, "bob", b, "denied", "pub", "public")
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Deny","Principal":{"CanonicalUser":"%s"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::denied/*"},
		{"Effect":"Deny","Principal":{"AWS":["%s"]},"Action":"s3:Get*","Resource":"arn:aws:s3:::denied/pub"}]}`,
		UserCanonicalID("bob"), UserCanonicalID("carol"))
	if _, err := a.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("denied"), Policy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	wantDenied(t, "bob", b, "denied", "pub", CodeAccessDenied)
	// A member of the owner project is denied too: a Deny beats the owner's rights.
	wantDenied(t, "carol", sdkClient(e, carol), "denied", "pub", CodeAccessDenied)
	wantBody(t, "alice", a, "denied", "pub", "public")
	wantBody(t, "anonymous", anon, "denied", "pub", "public")
	// The owner can still manage the policy, whatever it says.
	got, err := a.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("denied")})
	if err != nil || aws.ToString(got.Policy) != policy {
		t.Fatalf("GetBucketPolicy = %v, %v", got, err)
	}
	if _, err := a.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("denied")}); err != nil {
		t.Fatal(err)
	}
	wantBody(t, "bob", b, "denied", "pub", "public")
	if _, err := a.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("denied")}); apiCode(err) != CodeNoSuchBucketPolicy {
		t.Fatalf("GetBucketPolicy after delete = %v", err)
	}
	// A policy allow opens what the ACL keeps private; an allow to a project covers its members.
	mustPut(t, a, "denied", "priv", "private", "")
	projAllow := fmt.Sprintf(`{"Statement":{"Effect":"Allow","Principal":{"AWS":"%s"},"Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::denied","arn:aws:s3:::denied/*"]}}`, ProjectCanonicalID("proj-b"))
	if _, err := a.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("denied"), Policy: aws.String(projAllow)}); err != nil {
		t.Fatal(err)
	}
	wantBody(t, "bob", b, "denied", "priv", "private")
	wantDenied(t, "bob", b, "denied", "missing", CodeNoSuchKey) // he may list, so he learns it is missing
	wantDenied(t, "anonymous", anon, "denied", "priv", CodeAccessDenied)
}

func TestPolicyConditions(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	a, anon := sdkClient(e, alice), anonymousSDK(e)
	mustCreate(t, a, "conds", "")
	mustPut(t, a, "conds", "pub/a", "a", "")
	mustPut(t, a, "conds", "priv/b", "b", "")
	putPolicy := func(p string) {
		t.Helper()
		if _, err := a.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("conds"), Policy: aws.String(p)}); err != nil {
			t.Fatalf("PutBucketPolicy %s: %v", p, err)
		}
	}
	ipPolicy := `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::conds/*","Condition":{"IpAddress":{"aws:SourceIp":"%s"}}}]}`
	putPolicy(fmt.Sprintf(ipPolicy, "127.0.0.0/8"))
	wantBody(t, "anonymous from loopback", anon, "conds", "pub/a", "a")
	putPolicy(fmt.Sprintf(ipPolicy, "10.0.0.0/8"))
	wantDenied(t, "anonymous from loopback", anon, "conds", "pub/a", CodeAccessDenied)
	putPolicy(`{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::conds/*","Condition":{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.0.2.1"]}}}]}`)
	wantDenied(t, "alice from loopback", a, "conds", "pub/a", CodeAccessDenied)
	// aws:SecureTransport, written as a JSON boolean: this store is reached over plain HTTP here.
	putPolicy(`{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::conds/priv/*","Condition":{"Bool":{"aws:SecureTransport":false}}}]}`)
	wantDenied(t, "alice over HTTP", a, "conds", "priv/b", CodeAccessDenied)
	wantBody(t, "alice over HTTP", a, "conds", "pub/a", "a")
	// s3:prefix: listing allowed under pub/ only.
	putPolicy(`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::conds","Condition":{"StringLike":{"s3:prefix":"pub/*"}}}]}`)
	out, err := anon.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("conds"), Prefix: aws.String("pub/")})
	if err != nil || len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != "pub/a" {
		t.Fatalf("anonymous listing pub/ = %v", err)
	}
	for _, prefix := range []string{"", "priv/"} {
		if _, err := anon.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("conds"), Prefix: aws.String(prefix)}); apiCode(err) != CodeAccessDenied {
			t.Fatalf("anonymous listing prefix %q = %v", prefix, err)
		}
	}
}

func TestACLAndPolicyRefusals(t *testing.T) {
	e := newTestEnv(t)
	a := sdkClient(e, alice)
	mustCreate(t, a, "refuse", "")
	mustPut(t, a, "refuse", "k", "v", "")
	before := e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/refuse", query: url.Values{"acl": {""}}}).body
	objBefore := e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/refuse/k", query: url.Values{"acl": {""}}}).body
	acl := func(grants string) []byte {
		return []byte(`<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><AccessControlList>` + grants + `</AccessControlList></AccessControlPolicy>`)
	}
	grantee := func(attrs, inner, perm string) string {
		return `<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ` + attrs + `>` + inner + `</Grantee><Permission>` + perm + `</Permission></Grant>`
	}
	aclQ := url.Values{"acl": {""}}
	cases := []struct {
		name   string
		rr     rawRequest
		status int
		code   string
	}{
		{"unknown canned ACL", rawRequest{header: hdr("x-amz-acl", "public")}, 400, CodeInvalidArgument},
		{"canned and grant headers", rawRequest{header: hdr("x-amz-acl", "private", "x-amz-grant-read", `uri="`+groupAllUsers+`"`)}, 400, CodeInvalidRequest},
		{"grant header without quotes", rawRequest{header: hdr("x-amz-grant-read", "id=abc")}, 400, CodeInvalidArgument},
		{"grant header bad id", rawRequest{header: hdr("x-amz-grant-read", `id="abc"`)}, 400, CodeInvalidArgument},
		{"grant header unknown group", rawRequest{header: hdr("x-amz-grant-read", `uri="http://acs.amazonaws.com/groups/s3/LogDelivery"`)}, 400, CodeInvalidArgument},
		{"grant header email", rawRequest{header: hdr("x-amz-grant-read", `emailAddress="a@example.com"`)}, 400, CodeUnresolvableGrantByEmailAddress},
		{"no ACL at all", rawRequest{}, 400, CodeMalformedACLError},
		{"not XML", rawRequest{body: []byte("<AccessControlPolicy")}, 400, CodeMalformedACLError},
		{"wrong root", rawRequest{body: []byte("<Policy/>")}, 400, CodeMalformedACLError},
		{"bad permission", rawRequest{body: acl(grantee(`xsi:type="Group"`, "<URI>"+groupAllUsers+"</URI>", "EVERYTHING"))}, 400, CodeMalformedACLError},
		{"no grantee type", rawRequest{body: acl(grantee("", "<ID>"+UserCanonicalID("bob")+"</ID>", "READ"))}, 400, CodeMalformedACLError},
		{"bad canonical id", rawRequest{body: acl(grantee(`xsi:type="CanonicalUser"`, "<ID>bob</ID>", "READ"))}, 400, CodeInvalidArgument},
		{"email grantee", rawRequest{body: acl(grantee(`xsi:type="AmazonCustomerByEmail"`, "<EmailAddress>a@example.com</EmailAddress>", "READ"))}, 400, CodeUnresolvableGrantByEmailAddress},
		{"other owner", rawRequest{body: []byte(`<AccessControlPolicy><Owner><ID>` + ProjectCanonicalID("proj-b") + `</ID></Owner><AccessControlList/></AccessControlPolicy>`)}, 403, CodeAccessDenied},
		{"header and body", rawRequest{header: hdr("x-amz-acl", "public-read"), body: acl("")}, 400, CodeUnexpectedContent},
		{"too many grants", rawRequest{body: acl(strings.Repeat(grantee(`xsi:type="Group"`, "<URI>"+groupAllUsers+"</URI>", "READ"), 101))}, 400, CodeMalformedACLError},
	}
	for _, tc := range cases {
		for _, path := range []string{"/refuse", "/refuse/k"} {
			rr := tc.rr
			rr.method, rr.path, rr.query = http.MethodPut, path, aclQ
			expectError(t, e.do(t, alice, rr), http.MethodPut, tc.status, tc.code)
		}
	}
	// Nothing changed, and what a failed write asked for made nothing.
	if after := e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/refuse", query: aclQ}).body; string(after) != string(before) {
		t.Fatalf("bucket ACL changed by refused requests:\n%s\n%s", before, after)
	}
	if after := e.mustOK(t, alice, rawRequest{method: http.MethodGet, path: "/refuse/k", query: aclQ}).body; string(after) != string(objBefore) {
		t.Fatalf("object ACL changed by refused requests:\n%s\n%s", objBefore, after)
	}
	expectError(t, e.do(t, alice, rawRequest{method: http.MethodPut, path: "/refuse/bad", body: []byte("x"), header: hdr("x-amz-acl", "world")}), http.MethodPut, 400, CodeInvalidArgument)
	expectError(t, e.do(t, alice, rawRequest{method: http.MethodHead, path: "/refuse/bad"}), http.MethodHead, 404, CodeNoSuchKey)
	expectError(t, e.do(t, alice, rawRequest{method: http.MethodPut, path: "/refuse-bad", header: hdr("x-amz-acl", "world")}), http.MethodPut, 400, CodeInvalidArgument)
	expectError(t, e.do(t, alice, rawRequest{method: http.MethodHead, path: "/refuse-bad"}), http.MethodHead, 404, CodeNoSuchBucket)
	expectError(t, e.do(t, alice, rawRequest{method: http.MethodGet, path: "/refuse/missing", query: aclQ}), http.MethodGet, 404, CodeNoSuchKey)

	// Policies.
	policyQ := url.Values{"policy": {""}}
	expectError(t, e.do(t, alice, rawRequest{method: http.MethodGet, path: "/refuse", query: policyQ}), http.MethodGet, 404, CodeNoSuchBucketPolicy)
	stmt := func(s string) []byte { return []byte(`{"Version":"2012-10-17","Statement":[` + s + `]}`) }
	for name, body := range map[string][]byte{
		"empty":              nil,
		"not JSON":           []byte("Allow everything"),
		"array":              []byte(`[{"Effect":"Allow"}]`),
		"truncated":          []byte(`{"Statement":[`),
		"trailing data":      []byte(`{"Statement":[]} {}`),
		"unknown field":      []byte(`{"Statement":[],"Extra":1}`),
		"bad version":        []byte(`{"Version":"2020-01-01","Statement":[]}`),
		"no statement":       []byte(`{"Version":"2012-10-17"}`),
		"empty statement":    stmt(""),
		"bad effect":         stmt(`{"Effect":"Maybe","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::refuse/*"}`),
		"no principal":       stmt(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::refuse/*"}`),
		"bad principal":      stmt(`{"Effect":"Allow","Principal":"bob","Action":"s3:GetObject","Resource":"arn:aws:s3:::refuse/*"}`),
		"service principal":  stmt(`{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::refuse/*"}`),
		"no action":          stmt(`{"Effect":"Allow","Principal":"*","Resource":"arn:aws:s3:::refuse/*"}`),
		"unknown action":     stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:StealObject","Resource":"arn:aws:s3:::refuse/*"}`),
		"other service":      stmt(`{"Effect":"Allow","Principal":"*","Action":"ec2:RunInstances","Resource":"arn:aws:s3:::refuse/*"}`),
		"other bucket":       stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::another/*"}`),
		"not an ARN":         stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"refuse/*"}`),
		"both forms":         stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","NotAction":"s3:PutObject","Resource":"arn:aws:s3:::refuse/*"}`),
		"unknown key":        stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::refuse/*","Condition":{"StringEquals":{"aws:Weather":"sunny"}}}`),
		"unknown operator":   stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::refuse/*","Condition":{"Perhaps":{"s3:prefix":"a"}}}`),
		"bad CIDR":           stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::refuse/*","Condition":{"IpAddress":{"aws:SourceIp":"300.1.1.1/8"}}}`),
		"IP op on string":    stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::refuse/*","Condition":{"IpAddress":{"s3:prefix":"10.0.0.0/8"}}}`),
		"too large":          []byte(`{"Id":"` + strings.Repeat("x", maxPolicySize) + `","Statement":[]}`),
		"empty action list":  stmt(`{"Effect":"Allow","Principal":"*","Action":[],"Resource":"arn:aws:s3:::refuse/*"}`),
		"number as resource": stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":7}`),
	} {
		res := e.do(t, alice, rawRequest{method: http.MethodPut, path: "/refuse", query: policyQ, body: body})
		if res.status != 400 || !strings.Contains(string(res.body), CodeMalformedPolicy) {
			t.Fatalf("policy %s: %d %s", name, res.status, res.body)
		}
		expectError(t, res, http.MethodPut, 400, CodeMalformedPolicy)
	}
	expectError(t, e.do(t, alice, rawRequest{method: http.MethodGet, path: "/refuse", query: policyQ}), http.MethodGet, 404, CodeNoSuchBucketPolicy)
	// Only the owner project manages policies, ACL notwithstanding.
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		res := e.do(t, bob, rawRequest{method: m, path: "/refuse", query: policyQ, body: []byte(publicReadPolicy("refuse"))})
		expectError(t, res, m, 403, CodeAccessDenied)
	}
	// Public access block.
	pabQ := url.Values{"publicAccessBlock": {""}}
	expectError(t, e.do(t, alice, rawRequest{method: http.MethodGet, path: "/refuse", query: pabQ}), http.MethodGet, 404, CodeNoSuchPublicAccessBlock)
	for _, body := range []string{"", "<PublicAccessBlockConfiguration><BlockPublicAcls>maybe</BlockPublicAcls></PublicAccessBlockConfiguration>", "<Other/>"} {
		expectError(t, e.do(t, alice, rawRequest{method: http.MethodPut, path: "/refuse", query: pabQ, body: []byte(body)}), http.MethodPut, 400, CodeMalformedXML)
	}
	expectError(t, e.do(t, alice, rawRequest{method: http.MethodGet, path: "/refuse", query: pabQ}), http.MethodGet, 404, CodeNoSuchPublicAccessBlock)
	expectError(t, e.do(t, bob, rawRequest{method: http.MethodGet, path: "/refuse", query: pabQ}), http.MethodGet, 403, CodeAccessDenied)
	expectError(t, e.do(t, nobody, rawRequest{method: http.MethodGet, path: "/refuse", query: pabQ, unsigned: true}), http.MethodGet, 403, CodeAccessDenied)
}

func TestDeleteObjectsJudgedPerKey(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	a, b := sdkClient(e, alice), sdkClient(e, bob)
	mustCreate(t, a, "per-key", "")
	for _, k := range []string{"keep/a", "tmp/b", "tmp/c"} {
		mustPut(t, a, "per-key", k, k, "")
	}
	policy := fmt.Sprintf(`{"Statement":[
		{"Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::per-key/keep/*"},
		{"Effect":"Allow","Principal":{"AWS":"%s"},"Action":"s3:DeleteObject","Resource":"arn:aws:s3:::per-key/tmp/b"}]}`, UserCanonicalID("bob"))
	if _, err := a.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("per-key"), Policy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	del := func(c *s3.Client, keys ...string) (deleted, refused []string) {
		t.Helper()
		var ids []types.ObjectIdentifier
		for _, k := range keys {
			ids = append(ids, types.ObjectIdentifier{Key: aws.String(k)})
		}
		out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("per-key"), Delete: &types.Delete{Objects: ids}})
		if err != nil {
			t.Fatalf("DeleteObjects: %v", err)
		}
		for _, d := range out.Deleted {
			deleted = append(deleted, aws.ToString(d.Key))
		}
		for _, e := range out.Errors {
			if aws.ToString(e.Code) != CodeAccessDenied {
				t.Fatalf("error %s for %s", aws.ToString(e.Code), aws.ToString(e.Key))
			}
			refused = append(refused, aws.ToString(e.Key))
		}
		return deleted, refused
	}
	if d, r := del(b, "tmp/b", "tmp/c", "keep/a"); !slices.Equal(d, []string{"tmp/b"}) || !slices.Equal(r, []string{"tmp/c", "keep/a"}) {
		t.Fatalf("bob deleted %q, was refused %q", d, r)
	}
	if d, r := del(a, "keep/a", "tmp/c"); !slices.Equal(d, []string{"tmp/c"}) || !slices.Equal(r, []string{"keep/a"}) {
		t.Fatalf("alice deleted %q, was refused %q", d, r)
	}
	wantBody(t, "alice", a, "per-key", "keep/a", "keep/a")
	if _, err := a.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("per-key"), Key: aws.String("tmp/b")}); apiCode(err) != "NotFound" {
		t.Fatalf("tmp/b after bob's delete: %v", err)
	}
}

func TestDeniedReadsRevealNothing(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	a := sdkClient(e, alice)
	mustCreate(t, a, "secretive", "")
	if _, err := a.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("secretive"), VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, a, "secretive", "gone", "x", "")
	del, err := a.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("secretive"), Key: aws.String("gone")})
	if err != nil {
		t.Fatal(err)
	}
	here := mustPut(t, a, "secretive", "here", "y", "")
	mustCreate(t, sdkClient(e, bob), "bobs", "")
	upload, err := sdkClient(e, bob).CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bobs"), Key: aws.String("part")})
	if err != nil {
		t.Fatal(err)
	}
	copyFrom := func(src string) http.Header { return http.Header{"X-Amz-Copy-Source": {src}} }
	partCopy := url.Values{"partNumber": {"1"}, "uploadId": {aws.ToString(upload.UploadId)}}
	for _, rr := range []rawRequest{
		{method: http.MethodGet, path: "/secretive/gone"},
		{method: http.MethodHead, path: "/secretive/gone"},
		{method: http.MethodGet, path: "/secretive/gone", query: url.Values{"versionId": {aws.ToString(del.VersionId)}}},
		{method: http.MethodGet, path: "/secretive/gone", query: url.Values{"acl": {""}}},
		// A key that is there, and its version, tell no more than one that is not.
		{method: http.MethodGet, path: "/secretive/here"},
		{method: http.MethodHead, path: "/secretive/here"},
		{method: http.MethodHead, path: "/secretive/here", query: url.Values{"versionId": {aws.ToString(here.VersionId)}}},
		{method: http.MethodGet, path: "/secretive/here", query: url.Values{"attributes": {""}}, header: http.Header{"X-Amz-Object-Attributes": {"ETag"}}},
		// Nor does a copy from them, whatever the source: present, missing, a delete marker.
		{method: http.MethodPut, path: "/bobs/copy", header: copyFrom("/secretive/here")},
		{method: http.MethodPut, path: "/bobs/copy", header: copyFrom("/secretive/nothing")},
		{method: http.MethodPut, path: "/bobs/copy", header: copyFrom("/secretive/gone")},
		{method: http.MethodPut, path: "/bobs/copy", header: copyFrom("/secretive/gone?versionId=" + aws.ToString(del.VersionId))},
		{method: http.MethodPut, path: "/bobs/part", query: partCopy, header: copyFrom("/secretive/here")},
		{method: http.MethodPut, path: "/bobs/part", query: partCopy, header: copyFrom("/secretive/nothing")},
	} {
		if rr.path[1:5] == "bobs" {
			res := e.do(t, bob, rr)
			expectError(t, res, rr.method, http.StatusForbidden, CodeAccessDenied)
			continue
		}
		for _, u := range []testUser{bob, nobody} {
			rr.unsigned = u == nobody
			res := e.do(t, u, rr)
			expectError(t, res, rr.method, http.StatusForbidden, CodeAccessDenied)
			for _, h := range []string{headerDeleteMarker, headerVersionID, "Last-Modified", headerCopySourceVersionID} {
				if res.header.Get(h) != "" {
					t.Fatalf("%s %s?%s by %q answered %s: %s", rr.method, rr.path, rr.query.Encode(), u.p.User, h, res.header.Get(h))
				}
			}
		}
	}
	// The bucket's own members, who may list it, are told what is there.
	for src, code := range map[string]string{
		"/secretive/nothing": CodeNoSuchKey,
		"/secretive/gone?versionId=" + aws.ToString(del.VersionId): CodeInvalidRequest,
	} {
		res := e.do(t, alice, rawRequest{method: http.MethodPut, path: "/secretive/copy", header: copyFrom(src)})
		status := http.StatusNotFound
		if code == CodeInvalidRequest {
			status = http.StatusBadRequest
		}
		expectError(t, res, http.MethodPut, status, code)
	}
}

// A copy's default tagging directive (COPY) reads the source's tags: reading the object is not
// enough, as in S3.
func TestCopyNeedsTheSourcesTagsReadable(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	a, b := sdkClient(e, alice), sdkClient(e, bob)
	mustCreate(t, a, "shared", "")
	mustCreate(t, b, "bobs", "")
	if _, err := a.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("tagged"), Body: strings.NewReader("x"),
		ACL: types.ObjectCannedACLAuthenticatedRead, Tagging: aws.String("customer=acme")}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, a, "shared", "plain", "x", types.ObjectCannedACLAuthenticatedRead)
	if _, err := b.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("shared"), Key: aws.String("tagged")}); apiCode(err) != CodeAccessDenied {
		t.Fatalf("bob reading the tags: %v", err)
	}
	copyObj := func(key, src string, directive types.TaggingDirective) error {
		_, err := b.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bobs"), Key: aws.String(key),
			CopySource: aws.String(src), TaggingDirective: directive})
		return err
	}
	if err := copyObj("leak", "shared/tagged", ""); apiCode(err) != CodeAccessDenied {
		t.Fatalf("bob copying the tagged object with its tags: %v, want AccessDenied", err)
	}
	if _, err := b.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bobs"), Key: aws.String("leak")}); apiCode(err) != "NotFound" {
		t.Fatalf("the refused copy left an object: %v", err)
	}
	// Without the tags, or from an object without any, the copy is bob's to make.
	if err := copyObj("replaced", "shared/tagged", types.TaggingDirectiveReplace); err != nil {
		t.Fatal(err)
	}
	if err := copyObj("plain", "shared/plain", ""); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"replaced", "plain"} {
		tags, err := b.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("bobs"), Key: aws.String(key)})
		if err != nil || len(tags.TagSet) != 0 {
			t.Fatalf("bob's %s has tags %+v (%v)", key, tags, err)
		}
	}
	// The owner's copy keeps them.
	if _, err := a.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("shared"), Key: aws.String("again"), CopySource: aws.String("shared/tagged")}); err != nil {
		t.Fatal(err)
	}
	if tags, err := a.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("shared"), Key: aws.String("again")}); err != nil || len(tags.TagSet) != 1 {
		t.Fatalf("alice's copy has tags %+v (%v)", tags, err)
	}
}
