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

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/awsauth"
)

// Caller is an authenticated request's sender and its verified payload.
type Caller struct {
	// Anonymous is set for a request that carries no signature at all; its Principal is empty
	// and only ACLs and policies open to everyone let it through.
	Anonymous   bool
	AccessKeyID string
	Principal   awsauth.Principal
	// Body yields the request's payload (decoded from aws-chunked framing when it was sent so),
	// checking it against the signature as it is read: a payload that does not match makes a
	// Read fail with an error wrapping awsauth.ErrPayloadMismatch instead of returning io.EOF.
	Body io.Reader
}

// Authenticator verifies who signed a request.
type Authenticator interface {
	// Authenticate verifies r's signature. Errors wrap one of awsauth's error kinds; any other
	// error is the server's own failure.
	Authenticate(r *http.Request) (*Caller, error)
}

// Authorization verbs, as the Authorizer receives them.
const (
	VerbGet    = "get"
	VerbList   = "list"
	VerbCreate = "create"
	VerbDelete = "delete"
	VerbUpdate = "update"
)

// Authorizer decides what principals may do with the buckets of a project (the members' rights
// as the buckets' owner).
//
// The verbs the operations need on the owner project's buckets: HeadBucket,
// GetBucketLocation, GetBucketVersioning, GetObject and HeadObject (of any version, and the
// source of a copy) need "get"; ListBuckets (per project listed), ListObjects(V2),
// ListObjectVersions, ListMultipartUploads and ListParts need "list"; CreateBucket needs
// "create" in the caller's project; DeleteBucket needs "delete"; GetBucketAcl, GetObjectAcl,
// GetBucketPolicy and GetPublicAccessBlock need "get"; PutBucketVersioning, the Put and Delete
// of ACLs, policies and Block Public Access, and everything that writes or deletes objects,
// versions or uploads need "update". These are the owner project's rights; ACLs and bucket
// policies may let others in too (see access.go), and a policy's Deny holds against the owner.
//
// Admin principals (Principal.Admin) may act on every project; the server does not ask the
// Authorizer about them.
type Authorizer interface {
	// Allowed reports whether p may do verb ("get","list","create","delete","update") on buckets
	// in project (a Kubernetes namespace).
	Allowed(ctx context.Context, p awsauth.Principal, verb, project string) (bool, error)
}

// ProjectAuthorizer lets a principal do everything with the buckets of its own project and
// nothing with others'. It suits a store without Kubernetes RBAC behind it.
type ProjectAuthorizer struct{}

// Allowed implements Authorizer.
func (ProjectAuthorizer) Allowed(_ context.Context, p awsauth.Principal, _, project string) (bool, error) {
	return p.Admin || (p.Project != "" && p.Project == project), nil
}

// actAs narrows an admin caller to the project the request names (cloudv1.HeaderActAsProject),
// and to one of its users when it names one too (cloudv1.HeaderActAsUser): it is then judged as
// the project itself (a principal with no user), or as that user acting in the project, by the
// same Authorizer. Others may not use it, nor may anyone act as a user the Grants cover:
// those are PiNet's own and their grants are not a project's to use.
func (s *Server) actAs(r *http.Request, c *Caller) error {
	project, user := r.Header.Get(cloudv1.HeaderActAsProject), r.Header.Get(cloudv1.HeaderActAsUser)
	if project == "" && user == "" {
		return nil
	}
	if !c.Principal.Admin {
		return s3Error(CodeAccessDenied, "Only PiNet's own components may act as a project.")
	}
	if project == "" {
		return s3Error(CodeInvalidRequest, cloudv1.HeaderActAsUser+" needs "+cloudv1.HeaderActAsProject+".")
	}
	if s.covered(user) {
		return s3Error(CodeAccessDenied, "No request may act as one of PiNet's system users.")
	}
	c.Principal = awsauth.Principal{Project: project, User: user}
	return nil
}

// allowed asks the Authorizer, answering for admins itself.
func (s *Server) allowed(ctx context.Context, p awsauth.Principal, verb, project string) error {
	if p.Admin {
		return nil
	}
	ok, err := s.authz.Allowed(ctx, p, verb, project)
	if err != nil {
		return fmt.Errorf("authorizing %s on buckets of project %q: %w", verb, project, err)
	}
	if !ok {
		return s3Error(CodeAccessDenied)
	}
	return nil
}
