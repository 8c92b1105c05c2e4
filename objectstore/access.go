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
	"errors"
	"net"
	"net/netip"
	"strings"

	"pinet.io/pinet/objectstore/fsstore"
)

// Access is decided as S3 decides it, for every caller but admins (PiNet's own components,
// who may do everything):
//
//  1. an explicit Deny in the bucket policy refuses;
//  2. members of the owner project may do what the Authorizer lets them do with the project's
//     buckets (the owner's rights: an ACL never narrows them);
//  3. an Allow in the bucket policy, or a grant in the bucket's or the object's ACL, allows;
//  4. nothing else is allowed.
//
// Grantees and policy principals are canonical ids: a user's (that user, acting in any
// project) or a project's (every caller acting in it), and the groups AllUsers (everyone,
// even unsigned requests) and AuthenticatedUsers (every signed request). A bucket's policy,
// ACL and Block Public Access configuration are managed by its owner project alone; the
// owner may always manage them, whatever the policy says, so it cannot lock itself out.
// Objects belong to the bucket's project, whoever wrote them.

// systemBuckets are the cloud's own buckets: only the system project may make them (Config's
// SystemProject), and only PiNet's own components may make them public.
var systemBuckets = []string{"pinet-image-store", "pinet-snapshots"}

// identity is who a request comes from, as grants and policies see it.
type identity struct {
	anonymous bool
	user      string
	project   string
}

// is reports whether canonical id id names the caller (its user, or the project it acts in).
func (c identity) is(id string) bool {
	if c.anonymous {
		return false
	}
	return c.user != "" && id == UserCanonicalID(c.user) || c.project != "" && id == ProjectCanonicalID(c.project)
}

// granted reports whether acl grants perm to the caller. Grants to owner (the owner project's
// id) are skipped: the owner's rights are the Authorizer's to decide. Public grants are
// skipped when ignorePublic.
func (c identity) granted(acl fsstore.ACL, perm, owner string, ignorePublic bool) bool {
	ownerID := ProjectCanonicalID(owner)
	for _, g := range acl.Grants {
		if !implies(g.Permission, perm) || ignorePublic && isPublicGrant(g) {
			continue
		}
		switch {
		case g.Type == granteeGroup && g.URI == groupAllUsers:
			return true
		case g.Type == granteeGroup && g.URI == groupAuthenticated:
			if !c.anonymous {
				return true
			}
		case g.Type == granteeUser && g.ID != ownerID && c.is(g.ID):
			return true
		}
	}
	return false
}

// opAccess is what an operation needs: its policy action, and the ACL permission that
// grants it (on the bucket, or on the object when object is set; "" when no ACL does).
type opAccess struct {
	action string
	perm   string
	object bool
	// ownerOnly operations are the owner's alone: no policy or ACL grants them.
	ownerOnly bool
}

var opAccesses = map[Operation]opAccess{
	OpHeadBucket:              {action: "s3:ListBucket", perm: permRead},
	OpListObjects:             {action: "s3:ListBucket", perm: permRead},
	OpListObjectsV2:           {action: "s3:ListBucket", perm: permRead},
	OpListObjectVersions:      {action: "s3:ListBucketVersions", perm: permRead},
	OpListMultipartUploads:    {action: "s3:ListBucketMultipartUploads", perm: permRead},
	OpGetBucketLocation:       {action: "s3:GetBucketLocation"},
	OpGetBucketVersioning:     {action: "s3:GetBucketVersioning"},
	OpPutBucketVersioning:     {action: "s3:PutBucketVersioning"},
	OpDeleteBucket:            {action: "s3:DeleteBucket"},
	OpDeleteObjects:           {action: "s3:DeleteObject", perm: permWrite},
	OpPutObject:               {action: "s3:PutObject", perm: permWrite},
	OpCopyObject:              {action: "s3:PutObject", perm: permWrite},
	OpCreateMultipartUpload:   {action: "s3:PutObject", perm: permWrite},
	OpUploadPart:              {action: "s3:PutObject", perm: permWrite},
	OpUploadPartCopy:          {action: "s3:PutObject", perm: permWrite},
	OpCompleteMultipartUpload: {action: "s3:PutObject", perm: permWrite},
	OpAbortMultipartUpload:    {action: "s3:AbortMultipartUpload", perm: permWrite},
	OpListParts:               {action: "s3:ListMultipartUploadParts", perm: permWrite},
	OpDeleteObject:            {action: "s3:DeleteObject", perm: permWrite},
	OpGetObject:               {action: "s3:GetObject", perm: permRead, object: true},
	OpHeadObject:              {action: "s3:GetObject", perm: permRead, object: true},
	OpGetObjectAttributes:     {action: "s3:GetObjectAttributes", perm: permRead, object: true},
	OpGetBucketACL:            {action: "s3:GetBucketAcl", perm: permReadACP},
	OpPutBucketACL:            {action: "s3:PutBucketAcl", perm: permWriteACP},
	OpGetObjectACL:            {action: "s3:GetObjectAcl", perm: permReadACP, object: true},
	OpPutObjectACL:            {action: "s3:PutObjectAcl", perm: permWriteACP, object: true},
	OpGetBucketPolicy:         {action: "s3:GetBucketPolicy", ownerOnly: true},
	OpPutBucketPolicy:         {action: "s3:PutBucketPolicy", ownerOnly: true},
	OpDeleteBucketPolicy:      {action: "s3:DeleteBucketPolicy", ownerOnly: true},
	OpGetPublicAccessBlock:    {action: "s3:GetBucketPublicAccessBlock", ownerOnly: true},
	OpPutPublicAccessBlock:    {action: "s3:PutBucketPublicAccessBlock", ownerOnly: true},
	OpDeletePublicAccessBlock: {action: "s3:PutBucketPublicAccessBlock", ownerOnly: true},
	OpGetObjectTagging:        {action: "s3:GetObjectTagging"},
	OpPutObjectTagging:        {action: "s3:PutObjectTagging"},
	OpDeleteObjectTagging:     {action: "s3:DeleteObjectTagging"},
	OpGetBucketTagging:        {action: "s3:GetBucketTagging"},
	OpPutBucketTagging:        {action: "s3:PutBucketTagging"},
	OpDeleteBucketTagging:     {action: "s3:PutBucketTagging"},
	OpGetBucketCors:           {action: "s3:GetBucketCORS"},
	OpPutBucketCors:           {action: "s3:PutBucketCORS"},
	OpDeleteBucketCors:        {action: "s3:PutBucketCORS"},
	OpGetBucketLifecycle:      {action: "s3:GetLifecycleConfiguration"},
	OpPutBucketLifecycle:      {action: "s3:PutLifecycleConfiguration"},
	OpDeleteBucketLifecycle:   {action: "s3:PutLifecycleConfiguration"},
	OpGetBucketEncryption:     {action: "s3:GetEncryptionConfiguration"},
	OpPutBucketEncryption:     {action: "s3:PutEncryptionConfiguration"},
	OpDeleteBucketEncryption:  {action: "s3:PutEncryptionConfiguration"},
}

// versionActions are the actions of operations on a named version.
var versionActions = map[string]string{
	"s3:GetObject":           "s3:GetObjectVersion",
	"s3:GetObjectAttributes": "s3:GetObjectVersionAttributes",
	"s3:DeleteObject":        "s3:DeleteObjectVersion",
	"s3:GetObjectAcl":        "s3:GetObjectVersionAcl",
	"s3:PutObjectAcl":        "s3:PutObjectVersionAcl",
	"s3:GetObjectTagging":    "s3:GetObjectVersionTagging",
	"s3:PutObjectTagging":    "s3:PutObjectVersionTagging",
	"s3:DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
}

// decision is the outcome of the bucket-level check.
type decision int

const (
	denied decision = iota
	granted
	// needObject: only the object's ACL can still allow it.
	needObject
)

// accessCheck is one caller's request to act on a bucket (and a key in it).
type accessCheck struct {
	bucket fsstore.BucketInfo
	key    string
	access opAccess
	verb   string
	// query holds the request's parameters (s3:prefix and kin).
	query map[string][]string
}

// identityOf is the caller's identity.
func (q *request) identity() identity {
	p := q.principal()
	return identity{anonymous: q.caller.Anonymous, user: p.User, project: p.Project}
}

// decide runs steps 1-3 of the evaluation with the bucket's policy and ACL.
func (s *Server) decide(q *request, ac accessCheck) (decision, error) {
	if q.principal().Admin {
		return granted, nil
	}
	id := q.identity()
	ownerOK := func() (bool, error) {
		if id.anonymous {
			return false, nil
		}
		return s.isAllowed(q, ac.verb, ac.bucket.Project)
	}
	if ac.access.ownerOnly {
		ok, err := ownerOK()
		return boolDecision(ok), err
	}
	pol, err := storedPolicy(ac.bucket)
	if err != nil {
		return denied, err
	}
	var req policyRequest
	if pol != nil {
		req = s.policyRequest(q, ac)
		if pol.effect(req, false) {
			return denied, nil
		}
	}
	if ok, err := ownerOK(); err != nil || ok {
		return boolDecision(ok), err
	}
	pab := effectivePAB(ac.bucket, false)
	if pol != nil {
		restricted := pab.RestrictPublicBuckets && pol.isPublic() && id.project != ac.bucket.Project
		if !restricted && pol.effect(req, true) {
			return granted, nil
		}
	}
	if ac.access.perm == "" {
		return denied, nil
	}
	if ac.access.object {
		return needObject, nil
	}
	return boolDecision(id.granted(bucketACL(ac.bucket), ac.access.perm, ac.bucket.Project, pab.IgnorePublicAcls)), nil
}

func boolDecision(ok bool) decision {
	if ok {
		return granted
	}
	return denied
}

// isAllowed asks the Authorizer whether the caller may do verb with project's buckets,
// once per request.
func (s *Server) isAllowed(q *request, verb, project string) (bool, error) {
	memo := verb + "/" + project
	if ok, seen := q.authorized[memo]; seen {
		return ok, nil
	}
	err := s.allowed(q.ctx(), q.principal(), verb, project)
	var ae *apiError
	if err != nil && !(errors.As(err, &ae) && ae.code == CodeAccessDenied) {
		return false, err
	}
	ok := err == nil
	if q.authorized == nil {
		q.authorized = map[string]bool{}
	}
	q.authorized[memo] = ok
	return ok, nil
}

// objectGranted finishes a needObject decision with the object's ACL.
func (q *request) objectGranted(ac accessCheck, acl *fsstore.ACL) bool {
	a := privateACL(ac.bucket.Project)
	if acl != nil {
		a = *acl
	}
	return q.identity().granted(a, ac.access.perm, ac.bucket.Project, effectivePAB(ac.bucket, false).IgnorePublicAcls)
}

// policyRequest describes the request to the bucket policy.
func (s *Server) policyRequest(q *request, ac accessCheck) policyRequest {
	id := q.identity()
	resource := "arn:aws:s3:::" + ac.bucket.Name
	if ac.key != "" {
		resource += "/" + ac.key
	}
	action := ac.access.action
	if v, ok := versionActions[action]; ok && len(ac.query["versionId"]) > 0 {
		action = v
	}
	ctx := map[string]string{"aws:securetransport": "false"}
	if q.r.TLS != nil {
		ctx["aws:securetransport"] = "true"
	}
	if !id.anonymous && id.user != "" {
		ctx["aws:username"], ctx["aws:userid"] = id.user, UserCanonicalID(id.user)
	}
	if strings.HasPrefix(action, "s3:List") {
		for param, key := range map[string]string{"prefix": "s3:prefix", "delimiter": "s3:delimiter", "max-keys": "s3:max-keys"} {
			if v := ac.query[param]; len(v) > 0 {
				ctx[key] = v[0]
			}
		}
		if _, ok := ctx["s3:prefix"]; !ok {
			ctx["s3:prefix"] = ""
		}
	}
	if v := q.r.Header.Get("x-amz-acl"); v != "" {
		ctx["s3:x-amz-acl"] = v
	}
	if v := ac.query["versionId"]; len(v) > 0 {
		ctx["s3:versionid"] = v[0]
	}
	return policyRequest{caller: id, action: action, resource: resource, context: ctx, ip: remoteIP(q.r.RemoteAddr)}
}

// remoteIP is the address a request came from (the connection's peer; forwarding headers
// are not trusted).
func remoteIP(addr string) netip.Addr {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// storedPolicy parses a bucket's policy; nil when it has none.
func storedPolicy(b fsstore.BucketInfo) (*bucketPolicy, error) {
	if b.Policy == "" {
		return nil, nil
	}
	return parsePolicy([]byte(b.Policy), b.Name)
}

// bucketACL is a bucket's ACL; private when it was made without one.
func bucketACL(b fsstore.BucketInfo) fsstore.ACL {
	if b.ACL != nil {
		return *b.ACL
	}
	return privateACL(b.Project)
}

// privateACL is the ACL of what was made without one: its owner project has FULL_CONTROL.
func privateACL(owner string) fsstore.ACL {
	acl, _ := cannedACL("private", owner, owner, false)
	return acl
}

// isSystemBucket reports whether name is one of the cloud's own buckets.
func isSystemBucket(name string) bool { return contains(systemBuckets, name) }

// effectivePAB is the Block Public Access configuration that applies to a bucket. For a
// system bucket and a caller that is not an admin, blocking new public ACLs and policies is
// always on.
func effectivePAB(b fsstore.BucketInfo, forNonAdminChange bool) fsstore.PublicAccessBlock {
	var pab fsstore.PublicAccessBlock
	if b.PublicAccessBlock != nil {
		pab = *b.PublicAccessBlock
	}
	if forNonAdminChange && isSystemBucket(b.Name) {
		pab.BlockPublicAcls, pab.BlockPublicPolicy = true, true
	}
	return pab
}

// refusePublicACL refuses to set a public ACL where Block Public Access (or the system
// bucket rule) forbids it.
func refusePublicACL(q *request, b fsstore.BucketInfo, acl fsstore.ACL) error {
	if !aclIsPublic(acl) {
		return nil
	}
	if effectivePAB(b, !q.principal().Admin).BlockPublicAcls {
		return s3Error(CodeAccessDenied, "Access Denied: public ACLs are blocked on this bucket.")
	}
	return nil
}
