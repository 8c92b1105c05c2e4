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
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"net/http"
	"strings"

	"pinet.io/pinet/objectstore/fsstore"
)

// Canonical ids. S3 names accounts by a 64-digit hex canonical id; PiNet derives one, stably,
// from each project (the owner of buckets and objects) and from each user (whom grants and
// policies may name across projects). A project's members are the callers acting in it.

// ProjectCanonicalID is the canonical id of a PiNet project.
func ProjectCanonicalID(project string) string { return canonicalID("project", project) }

// UserCanonicalID is the canonical id of a PiNet user.
func UserCanonicalID(user string) string { return canonicalID("user", user) }

func canonicalID(kind, name string) string {
	sum := sha256.Sum256([]byte("pinet/" + kind + "/" + name))
	return hex.EncodeToString(sum[:])
}

// validCanonicalID reports whether id has the shape of a canonical id.
func validCanonicalID(id string) bool {
	if len(id) != 64 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

// ACL permissions and grantee groups, as S3 spells them.
const (
	permRead        = "READ"
	permWrite       = "WRITE"
	permReadACP     = "READ_ACP"
	permWriteACP    = "WRITE_ACP"
	permFullControl = "FULL_CONTROL"

	groupAllUsers      = "http://acs.amazonaws.com/groups/global/AllUsers"
	groupAuthenticated = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"

	granteeUser  = "CanonicalUser"
	granteeGroup = "Group"

	xsiNamespace = "http://www.w3.org/2001/XMLSchema-instance"
	// maxGrants is S3's bound on the grants of one ACL.
	maxGrants = 100
)

var permissions = []string{permRead, permWrite, permReadACP, permWriteACP, permFullControl}

// cannedACL builds a canned ACL for a bucket or object owned by owner (a project); bucketOwner
// is the project owning the bucket (for objects). ok is false for an unknown name.
func cannedACL(name, owner, bucketOwner string, forObject bool) (fsstore.ACL, bool) {
	id := ProjectCanonicalID(owner)
	acl := fsstore.ACL{Owner: owner, Grants: []fsstore.Grant{{Type: granteeUser, ID: id, Permission: permFullControl}}}
	group := func(uri, perm string) {
		acl.Grants = append(acl.Grants, fsstore.Grant{Type: granteeGroup, URI: uri, Permission: perm})
	}
	switch name {
	case "", "private":
	case "aws-exec-read":
		// S3 adds a read grant to its EC2 service here; PiNet's EC2 reads images as the system.
		if !forObject {
			return fsstore.ACL{}, false
		}
	case "public-read":
		group(groupAllUsers, permRead)
	case "public-read-write":
		group(groupAllUsers, permRead)
		group(groupAllUsers, permWrite)
	case "authenticated-read":
		group(groupAuthenticated, permRead)
	case "bucket-owner-read", "bucket-owner-full-control":
		// Objects belong to the bucket's project already, so the bucket owner holds FULL_CONTROL
		// as their owner; S3 ignores these on buckets.
		if !forObject {
			break
		}
		if bid := ProjectCanonicalID(bucketOwner); bid != id {
			perm := permRead
			if name == "bucket-owner-full-control" {
				perm = permFullControl
			}
			acl.Grants = append(acl.Grants, fsstore.Grant{Type: granteeUser, ID: bid, Permission: perm})
		}
	default:
		return fsstore.ACL{}, false
	}
	return acl, true
}

// grantHeaders are the x-amz-grant-* request headers and the permission each grants.
var grantHeaders = []struct{ header, perm string }{
	{"x-amz-grant-read", permRead},
	{"x-amz-grant-write", permWrite},
	{"x-amz-grant-read-acp", permReadACP},
	{"x-amz-grant-write-acp", permWriteACP},
	{"x-amz-grant-full-control", permFullControl},
}

// aclFromHeaders reads the ACL a request asks for in its headers: a canned x-amz-acl or
// x-amz-grant-* headers (not both). present is false when it asks for none.
func aclFromHeaders(h http.Header, owner, bucketOwner string, forObject bool) (acl fsstore.ACL, present bool, err error) {
	canned, hasCanned := h.Get("x-amz-acl"), len(h.Values("x-amz-acl")) > 0
	var grants []fsstore.Grant
	for _, g := range grantHeaders {
		for _, v := range h.Values(g.header) {
			gs, err := parseGrantHeader(v, g.perm)
			if err != nil {
				return fsstore.ACL{}, false, err
			}
			grants = append(grants, gs...)
		}
	}
	switch {
	case hasCanned && grants != nil:
		return fsstore.ACL{}, false, s3Error(CodeInvalidRequest, "Specifying both Canned ACLs and Header Grants is not allowed")
	case hasCanned:
		acl, ok := cannedACL(canned, owner, bucketOwner, forObject)
		if !ok {
			return fsstore.ACL{}, false, s3Error(CodeInvalidArgument, "Invalid canned ACL: "+canned)
		}
		return acl, true, nil
	case grants != nil:
		if len(grants) > maxGrants {
			return fsstore.ACL{}, false, s3Error(CodeMalformedACLError, "An ACL may hold at most 100 grants.")
		}
		return fsstore.ACL{Owner: owner, Grants: grants}, true, nil
	}
	return fsstore.ACL{}, false, nil
}

// parseGrantHeader reads one x-amz-grant-* value: grantees as id="...", uri="..." or
// emailAddress="...", separated by commas.
func parseGrantHeader(v, perm string) ([]fsstore.Grant, error) {
	var out []fsstore.Grant
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		kind, val, ok := strings.Cut(part, "=")
		val = strings.TrimSpace(val)
		if !ok || len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
			return nil, s3Error(CodeInvalidArgument, "Invalid grant header value: "+part)
		}
		val = val[1 : len(val)-1]
		g, err := makeGrant(strings.TrimSpace(kind), val, perm)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	if out == nil {
		return nil, s3Error(CodeInvalidArgument, "A grant header names no grantee.")
	}
	return out, nil
}

// makeGrant checks a grantee (kind "id", "uri" or "emailAddress") and makes its grant.
func makeGrant(kind, val, perm string) (fsstore.Grant, error) {
	switch strings.ToLower(kind) {
	case "id":
		if !validCanonicalID(val) {
			return fsstore.Grant{}, s3Error(CodeInvalidArgument, "Invalid id")
		}
		return fsstore.Grant{Type: granteeUser, ID: val, Permission: perm}, nil
	case "uri":
		if val != groupAllUsers && val != groupAuthenticated {
			return fsstore.Grant{}, s3Error(CodeInvalidArgument, "Invalid group uri")
		}
		return fsstore.Grant{Type: granteeGroup, URI: val, Permission: perm}, nil
	case "emailaddress":
		return fsstore.Grant{}, s3Error(CodeUnresolvableGrantByEmailAddress)
	}
	return fsstore.Grant{}, s3Error(CodeInvalidArgument, "Invalid grantee type "+kind)
}

// accessControlPolicy is the XML of an ACL (GetBucketAcl's answer, PutBucketAcl's body).
type accessControlPolicy struct {
	XMLName xml.Name   `xml:"AccessControlPolicy"`
	Xmlns   string     `xml:"xmlns,attr,omitempty"`
	Owner   *owner     `xml:"Owner"`
	Grants  []xmlGrant `xml:"AccessControlList>Grant"`
}

type xmlGrant struct {
	Grantee    *xmlGrantee `xml:"Grantee"`
	Permission string      `xml:"Permission"`
}

type xmlGrantee struct {
	XmlnsXSI     string     `xml:"xmlns:xsi,attr,omitempty"`
	Type         string     `xml:"xsi:type,attr,omitempty"`
	Attrs        []xml.Attr `xml:",any,attr"`
	ID           string     `xml:"ID,omitempty"`
	DisplayName  string     `xml:"DisplayName,omitempty"`
	URI          string     `xml:"URI,omitempty"`
	EmailAddress string     `xml:"EmailAddress,omitempty"`
}

// granteeType is the xsi:type of a parsed grantee, whatever prefix the client bound.
func (g *xmlGrantee) granteeType() string {
	if g.Type != "" {
		return g.Type
	}
	for _, a := range g.Attrs {
		if a.Name.Local == "type" && (a.Name.Space == xsiNamespace || a.Name.Space == "xsi") {
			return a.Value
		}
	}
	return ""
}

// parseACL reads an AccessControlPolicy body for a bucket or object owned by owner.
func parseACL(body []byte, owner string) (fsstore.ACL, error) {
	var doc accessControlPolicy
	if len(bytes.TrimSpace(body)) == 0 || xml.Unmarshal(body, &doc) != nil {
		return fsstore.ACL{}, s3Error(CodeMalformedACLError)
	}
	if doc.Owner != nil && doc.Owner.ID != "" && doc.Owner.ID != ProjectCanonicalID(owner) {
		return fsstore.ACL{}, s3Error(CodeAccessDenied, "The owner in the ACL is not the owner of the resource.")
	}
	if len(doc.Grants) > maxGrants {
		return fsstore.ACL{}, s3Error(CodeMalformedACLError, "An ACL may hold at most 100 grants.")
	}
	acl := fsstore.ACL{Owner: owner, Grants: []fsstore.Grant{}}
	for _, g := range doc.Grants {
		if g.Grantee == nil || !validPermission(g.Permission) {
			return fsstore.ACL{}, s3Error(CodeMalformedACLError)
		}
		var (
			grant fsstore.Grant
			err   error
		)
		switch g.Grantee.granteeType() {
		case granteeUser:
			grant, err = makeGrant("id", g.Grantee.ID, g.Permission)
		case granteeGroup:
			grant, err = makeGrant("uri", g.Grantee.URI, g.Permission)
		case "AmazonCustomerByEmail":
			err = s3Error(CodeUnresolvableGrantByEmailAddress)
		default:
			err = s3Error(CodeMalformedACLError)
		}
		if err != nil {
			return fsstore.ACL{}, err
		}
		acl.Grants = append(acl.Grants, grant)
	}
	return acl, nil
}

func validPermission(p string) bool {
	for _, v := range permissions {
		if p == v {
			return true
		}
	}
	return false
}

// aclDocument renders an ACL as S3 answers GetBucketAcl and GetObjectAcl.
func aclDocument(acl fsstore.ACL) accessControlPolicy {
	doc := accessControlPolicy{Xmlns: s3Namespace, Owner: projectOwner(acl.Owner), Grants: []xmlGrant{}}
	for _, g := range acl.Grants {
		ge := &xmlGrantee{XmlnsXSI: xsiNamespace, Type: g.Type, ID: g.ID, URI: g.URI}
		if g.Type == granteeUser && g.ID == ProjectCanonicalID(acl.Owner) {
			ge.DisplayName = acl.Owner
		}
		doc.Grants = append(doc.Grants, xmlGrant{Grantee: ge, Permission: g.Permission})
	}
	return doc
}

// projectOwner is how S3 documents name a project as an owner.
func projectOwner(project string) *owner {
	return &owner{ID: ProjectCanonicalID(project), DisplayName: project}
}

// isPublicGrant reports whether a grant is to everyone or to every signed caller.
func isPublicGrant(g fsstore.Grant) bool {
	return g.Type == granteeGroup && (g.URI == groupAllUsers || g.URI == groupAuthenticated)
}

// aclIsPublic reports whether an ACL grants anything to the public groups.
func aclIsPublic(acl fsstore.ACL) bool {
	for _, g := range acl.Grants {
		if isPublicGrant(g) {
			return true
		}
	}
	return false
}

// implies reports whether holding permission have grants want.
func implies(have, want string) bool {
	return have == want || have == permFullControl
}
