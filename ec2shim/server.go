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

// Package ec2shim is PiNet's EC2 Query API (version 2016-11-15): it authenticates a call with the
// caller's access key, checks it against Kubernetes RBAC for the caller's project, and turns it
// into reads of the informer cache and writes of PiNet's custom resources. It never talks to
// libvirt or a node directly, except to read a console through the node agent's authenticated
// endpoint.
package ec2shim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"sort"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/uuid"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/authz"
	"pinet.io/pinet/internal/awsauth"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/metrics"
	"pinet.io/pinet/internal/requestid"
)

// DefaultMaxBody bounds a request body (EC2's own limit is larger, but PiNet's calls are small).
const DefaultMaxBody = 1 << 20

// Connection timeouts. A call's body is at most DefaultMaxBody and is read before the call is
// authenticated, so the whole request must arrive within the read timeout.
const (
	DefaultReadHeaderTimeout = 30 * time.Second
	DefaultReadTimeout       = time.Minute
	DefaultIdleTimeout       = 2 * time.Minute
)

// Versions the API accepts: the current one and the older ones clients still send.
var supportedVersions = map[string]bool{
	"2016-11-15": true, "2016-09-15": true, "2016-04-01": true, "2015-10-01": true,
	"2014-10-01": true, "2013-10-15": true, "2012-12-01": true, "2010-08-31": true,
	"2009-11-30": true, "2009-04-04": true,
}

// Config is what the API needs.
type Config struct {
	// Client writes objects and reads them through the manager's informer cache.
	Client client.Client
	// APIReader reads straight from the API server, where a cached read could be stale.
	APIReader client.Reader
	// Verifier authenticates requests (service "ec2").
	Verifier *awsauth.Verifier
	// Authz reviews each action against RBAC.
	Authz *authz.Authorizer
	// Credentials finds the caller's secret when the API acts for the caller in the object store.
	Credentials awsauth.CredentialStore
	// ObjectStoreURL is the S3 endpoint image manifests are read from.
	ObjectStoreURL string
	// Console reads an instance's console from its node.
	Console ConsoleReader
	// InstanceOrder is the index paged DescribeInstances are built from
	// (cloud.RegisterInstanceOrder on the Client's cache); optional.
	InstanceOrder *index.Sorted
	// Region is the cloud's only region; Endpoint the URL clients reach this API at.
	Region, Endpoint string
	// Tokens makes NextToken values.
	Tokens *query.PageTokens
	// MaxBody bounds request bodies; 0 is DefaultMaxBody.
	MaxBody int64
	// ReadTimeout bounds reading a request, headers and body; 0 is DefaultReadTimeout.
	ReadTimeout time.Duration
	// IdleTimeout bounds how long a kept-alive connection waits for its next request; 0 is
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	// WaitForCache bounds how long a call waits for the cache to show what it wrote.
	WaitForCache time.Duration
	Clock        clock.PassiveClock
	Logger       logr.Logger
	// Metrics counts calls by action and code, with their latency; nil records nothing.
	Metrics *metrics.EC2
}

// Server serves the EC2 API.
type Server struct {
	cfg     Config
	svc     *cloud.Service
	actions map[string]action
}

// action handles one call; its result is the response body (a struct with xml tags).
type action func(ctx context.Context, c *call) (any, error)

// call is one authenticated request.
type call struct {
	srv       *Server
	req       *query.Request
	identity  *awsauth.Identity
	principal awsauth.Principal
	// project is the namespace the call acts in.
	project   string
	requestID string
}

// New builds the server.
func New(cfg Config) (*Server, error) {
	if cfg.Client == nil || cfg.Verifier == nil || cfg.Authz == nil || cfg.Tokens == nil {
		return nil, errors.New("ec2shim: Client, Verifier, Authz and Tokens are required")
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	// Objects the service writes carry the id of the call that wrote them.
	svc, err := cloud.New(cloud.Config{Client: requestid.Stamping(cfg.Client), APIReader: cfg.APIReader, Authz: cfg.Authz,
		Tokens: cfg.Tokens, Region: cfg.Region, Endpoint: cfg.Endpoint, WaitForCache: cfg.WaitForCache, Clock: cfg.Clock,
		Credentials: cfg.Credentials, ObjectStoreURL: cfg.ObjectStoreURL, Console: cfg.Console,
		InstanceOrder: cfg.InstanceOrder})
	if err != nil {
		return nil, err
	}
	// The API shares the service's defaults (cache reader, cache wait, clock, region).
	def := svc.Config()
	cfg.APIReader, cfg.WaitForCache, cfg.Clock, cfg.Region = def.APIReader, def.WaitForCache, def.Clock, def.Region
	s := &Server{cfg: cfg, svc: svc}
	s.actions = s.routes()
	return s, nil
}

// Actions lists the actions the API serves, sorted.
func (s *Server) Actions() []string {
	names := make([]string, 0, len(s.actions))
	for name := range s.actions {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// ServeHTTP answers one EC2 call. Every failure is an EC2 error body; a panic is a 500
// InternalError, never a dropped connection.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := uuid.NewString()
	logger := s.cfg.Logger.WithValues("requestID", requestID)
	start := s.cfg.Clock.Now()
	// The one place every call ends: its action and answer code go to the metrics and the log.
	action, code := "", "Success"
	fail := func(e *query.Error) {
		code = e.Code
		query.WriteError(w, e, requestID)
	}
	defer func() {
		if p := recover(); p != nil {
			logger.Error(fmt.Errorf("panic: %v", p), "EC2 handler panicked", "stack", string(debug.Stack()))
			fail(query.Errorf(query.CodeInternalError, http.StatusInternalServerError, "An internal error has occurred"))
		}
		d := s.cfg.Clock.Since(start)
		s.cfg.Metrics.Observe(action, code, d)
		// The logger names the action once it is known.
		logger.V(1).Info("Served EC2 call", "code", code, "duration", d)
	}()
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBody)

	ident, err := s.cfg.Verifier.Verify(r)
	if err != nil {
		apiErr := authError(err)
		if apiErr.Status >= 500 {
			logger.Error(err, "Authenticating a request")
		}
		fail(apiErr)
		return
	}
	req, err := query.Parse(r, s.cfg.MaxBody)
	if err != nil {
		fail(query.ErrorFrom(err))
		return
	}
	// The request is read in full: lift its read deadline, which the server's background read
	// of the idle connection would otherwise hit during a long call and cancel its context.
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	if req.Version != "" && !supportedVersions[req.Version] {
		fail(query.Errorf("InvalidParameterValue", http.StatusBadRequest,
			"Version %q is not supported; use 2016-11-15", req.Version))
		return
	}
	act, ok := s.actions[req.Action]
	if !ok {
		fail(query.Errorf(query.CodeInvalidAction, http.StatusBadRequest,
			"The action %s is not valid for this web service.", req.Action))
		return
	}
	action = req.Action
	c := &call{srv: s, req: req, identity: ident, principal: ident.Principal, project: ident.Principal.Project, requestID: requestID}
	logger = logger.WithValues("action", req.Action, "user", ident.Principal.User, "project", c.project)
	ctx := requestid.With(logr.NewContext(r.Context(), logger), requestID)
	if c.project == "" {
		fail(query.Errorf("AuthFailure", http.StatusUnauthorized, "The access key does not name a project to act in"))
		return
	}
	body, err := act(ctx, c)
	if err != nil {
		apiErr := query.ErrorFrom(err)
		if apiErr.Status >= 500 {
			logger.Error(err, "EC2 action failed")
		}
		fail(apiErr)
		return
	}
	if err := query.WriteResponse(w, req.Action, requestID, body); err != nil {
		logger.Error(err, "Writing the response")
		fail(query.Errorf(query.CodeInternalError, http.StatusInternalServerError, "An internal error has occurred"))
	}
}

// Serve answers on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: min(DefaultReadHeaderTimeout, s.cfg.ReadTimeout),
		ReadTimeout:       s.cfg.ReadTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
	}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	s.cfg.Logger.Info("Serving the EC2 API", "address", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// decode fills an input shape from the request.
func (c *call) decode(v any) error { return c.req.Decode(v) }

// caller is the call's caller as the cloud service knows it.
func (c *call) caller() cloud.Caller {
	return cloud.Caller{Principal: c.principal, AccessKeyID: c.identity.AccessKeyID}
}
