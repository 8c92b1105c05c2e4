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

// Package cloud is PiNet's typed cloud service: the operations every front door offers (the EC2
// Query API today, the dashboard next), with plain Go inputs and outputs. An operation authorizes
// its caller with a SubjectAccessReview in the caller's project, validates, resolves references
// with the caller's visibility, writes custom resources, waits until the manager's cache shows
// the write, and converts what it wrote back into EC2's terms. Front doors own only their wire
// format: they decode a request, call one operation and encode its result or error.
//
// Failures are *query.Error values carrying the EC2 error code and HTTP status (the ec2shim/query
// package holds that vocabulary, with EC2's filters and page tokens, which any front door shares);
// anything else is an internal error.
package cloud

import (
	"context"
	"errors"
	"net/http"
	"time"

	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/authz"
	"pinet.io/pinet/internal/awsauth"
	"pinet.io/pinet/internal/index"
)

// Config is what the service needs.
type Config struct {
	// Client writes objects and reads them through the manager's informer cache.
	Client client.Client
	// APIReader reads straight from the API server, where a cached read could be stale.
	APIReader client.Reader
	// Authz reviews each operation against RBAC.
	Authz *authz.Authorizer
	// Tokens makes and checks the NextToken values of paged Describes.
	Tokens *query.PageTokens
	// Region is the cloud's only region (also its only network border group), "pinet" if unset;
	// Endpoint the URL its EC2 API is reached at.
	Region, Endpoint string
	// Credentials finds the caller's secret when the service acts for the caller in the object
	// store; ObjectStoreURL is the S3 endpoint image manifests are read from. Without them,
	// RegisterImage answers UnsupportedOperation.
	Credentials    awsauth.CredentialStore
	ObjectStoreURL string
	// Console reads an instance's console from its node; without it, GetConsoleOutput answers
	// with no output.
	Console ConsoleReader
	// InstanceOrder, when set, is the index of instances in listing order
	// (RegisterInstanceOrder) that paged Describes of instances are built from; without it they
	// list the whole project for every page.
	InstanceOrder *index.Sorted
	// WaitForCache bounds how long an operation waits for the cache to show what it wrote.
	WaitForCache time.Duration
	Clock        clock.PassiveClock
}

// Service runs the operations.
type Service struct {
	cfg        Config
	admissions *admissions
	// afterDeleteMark, set by tests only, runs in DeleteSecurityGroup between marking the group
	// (its id given) and checking its use.
	afterDeleteMark func(groupID string)
}

// New builds the service.
func New(cfg Config) (*Service, error) {
	if cfg.Client == nil || cfg.Authz == nil || cfg.Tokens == nil {
		return nil, errors.New("cloud: Client, Authz and Tokens are required")
	}
	if cfg.APIReader == nil {
		cfg.APIReader = cfg.Client
	}
	if cfg.WaitForCache == 0 {
		cfg.WaitForCache = 10 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Region == "" {
		cfg.Region = "pinet"
	}
	return &Service{cfg: cfg, admissions: newAdmissions()}, nil
}

// Config is the service's configuration with its defaults filled in.
func (s *Service) Config() Config { return s.cfg }

// Caller is who calls an operation: an authenticated principal acting in one project.
type Caller struct {
	Principal awsauth.Principal
	// AccessKeyID is the key the caller signed with: the service acts as the caller in the object
	// store with its secret (RegisterImage reads the manifest so).
	AccessKeyID string
}

// Project is the namespace the caller acts in.
func (c Caller) Project() string { return c.Principal.Project }

// authorize checks the caller may do verb on resource in its project. With dryRun, an allowed
// operation ends here with DryRunOperation, as EC2's do.
func (s *Service) authorize(ctx context.Context, c Caller, verb, resource string, dryRun bool) error {
	if err := needsProject(c); err != nil {
		return err
	}
	ok, err := s.cfg.Authz.Allowed(ctx, c.Principal, verb, resource, c.Project())
	if err != nil {
		return err
	}
	if !ok {
		return query.Errorf(CodeUnauthorized, http.StatusForbidden, "You are not authorized to perform this operation.")
	}
	if dryRun {
		return query.Errorf(CodeDryRun, http.StatusPreconditionFailed, "Request would have succeeded, but DryRun flag is set.")
	}
	return nil
}

// needsProject refuses a caller that names no project: every operation acts in one, and asked
// with no namespace, RBAC and the listings would answer for the whole cluster.
func needsProject(c Caller) error {
	if c.Project() == "" {
		return query.Errorf(CodeAuthFailure, http.StatusUnauthorized, "The access key does not name a project to act in")
	}
	return nil
}

// startCreate is how an operation that makes an object starts: the caller may create the kind
// (DryRun ends here), validate accepts the request, and the tags asked for the new object (of
// EC2's resourceType) are valid; it returns them.
func (s *Service) startCreate(ctx context.Context, c Caller, resource string, dryRun bool, validate func() error,
	specs []TagSpecification, resourceType string) (map[string]string, error) {
	if err := s.authorize(ctx, c, "create", resource, dryRun); err != nil {
		return nil, err
	}
	if err := validate(); err != nil {
		return nil, err
	}
	return SpecTags(specs, resourceType)
}
