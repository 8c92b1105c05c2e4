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

// Package objectstore is PiNet's S3-compatible object store: path-style S3 over HTTP, requests
// signed with PiNet's access keys (or unsigned, as anonymous), buckets owned by a project
// (versioned when their owners enable S3 versioning), objects and their versions kept by
// package fsstore in a directory. A bucket is private to its project until its owners open it
// with S3 ACLs (canned or granted to canonical ids and groups) or a bucket policy, within its
// Block Public Access configuration; see access.go for how a request is decided.
// Buckets also carry tags, CORS rules (answered to browsers' preflights, cors.go), lifecycle
// rules (applied by LifecycleRunner, lifecycle_runner.go) and a default encryption; objects
// carry tags and may be encrypted with customer keys or the store's (sse.go).
//
// The manager mounts it as a controller-runtime Runnable that listens on Config.Address:
//
//	srv, err := objectstore.New(objectstore.Config{
//		DataDir: dataDir,
//		Address: "127.0.0.1:3333",
//		Auth: objectstore.VerifierAuthenticator{Verifier: &awsauth.Verifier{
//			Store: credentials, Service: awsauth.ServiceS3}},
//		Authz:  authorizer, // SubjectAccessReviews; objectstore.ProjectAuthorizer without RBAC
//		Logger: log,
//	})
//	err = mgr.Add(srv) // Start serves until the manager stops; every replica serves
//
// Serve it with its own http.Server (Start and Serve do), not behind an http.ServeMux: the mux
// cleans paths, and object keys may contain "//", "." and "..". PiNet's own components reach
// it like any client, with a credential whose Principal.Admin is true.
package objectstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"pinet.io/pinet/internal/awsauth"
	"pinet.io/pinet/internal/metrics"
	"pinet.io/pinet/objectstore/fsstore"
)

// Config configures a Server.
type Config struct {
	// DataDir holds the buckets and objects; with S3, only files being written.
	DataDir string
	// S3, when set, is the S3-compatible backend (Ceph RGW, AWS S3, MinIO, ...) that keeps the
	// buckets and objects instead of DataDir; store replicas sharing it see each other's
	// objects. The store still decides users, ownership and authorization itself. Its TempDir
	// defaults to DataDir/tmp.
	S3 *fsstore.S3Config
	// Auth verifies request signatures.
	Auth Authenticator
	// Authz decides what callers may do with the buckets of a project.
	Authz Authorizer
	// Region is the store's only region, reported for every bucket; "us-east-1" by default.
	Region string
	// MaxObjectSize bounds an object's size; 5 TiB by default. A single PUT (and a part) is
	// further bounded by S3's 5 GiB.
	MaxObjectSize int64
	// Address is where Start listens, such as "127.0.0.1:3333".
	Address string
	// Domain, when set, is the store's host name: requests addressed to a name under it
	// (virtual-hosted style, "bucket.Domain") are refused, since only path-style is served.
	Domain string
	// Logger receives the server's logs.
	Logger logr.Logger
	// Metrics counts requests by operation and status and the bytes they carried; nil records
	// nothing.
	Metrics *metrics.S3
	// Now is the clock; time.Now by default.
	Now func() time.Time
	// Grants, when set, answers alone for the users it covers (node agents' per-node users):
	// each of their requests must be a GetObject, HeadObject or single PutObject it allows, and the
	// Authorizer is not asked about them.
	Grants ObjectGrants
	// ReadTimeout bounds reading a request's headers, and its body until the request is
	// authenticated; DefaultReadTimeout by default.
	ReadTimeout time.Duration
	// CompleteKeepAlive is how long CompleteMultipartUpload may assemble an object before it
	// answers 200 and sends a space every CompleteKeepAlive until the result (or an error
	// document) follows in the body, as S3 does; DefaultCompleteKeepAlive by default.
	CompleteKeepAlive time.Duration
	// BodyProgressTimeout bounds how long an authenticated request's body may stall: each read
	// of it has this long, so an upload of any size streams as long as it keeps moving;
	// DefaultBodyProgressTimeout by default.
	BodyProgressTimeout time.Duration
	// SSEMasterKey is the 32-byte key that seals the data keys of objects encrypted with the
	// store's keys (SSE-S3); nil refuses SSE-S3 (customer keys, SSE-C, still work).
	SSEMasterKey []byte
	// SystemProject is the project PiNet's own components act in (the system namespace). The
	// system buckets' names are reserved to it: a bucket of another project by one of those
	// names would receive every project's images or snapshots. Empty reserves them to no one.
	SystemProject string
}

// ObjectGrants decides, object by object, for users whose reach is what they use rather than a
// project's: a node's user reads the images its instances boot from and the snapshots its
// volumes are made from or saved to.
type ObjectGrants interface {
	// Covers reports whether user's requests are decided by Allowed alone.
	Covers(user string) bool
	// Allowed reports whether user may read key of bucket (GetObject, HeadObject) or, with put,
	// write it with a single PutObject.
	Allowed(ctx context.Context, user, bucket, key string, put bool) (bool, error)
}

// Connection timeouts.
const (
	DefaultReadTimeout         = time.Minute
	DefaultBodyProgressTimeout = time.Minute
	DefaultCompleteKeepAlive   = 10 * time.Second
	defaultReadHeaderTimeout   = 30 * time.Second
	defaultIdleTimeout         = 2 * time.Minute
)

const (
	defaultRegion        = "us-east-1"
	defaultMaxObjectSize = 5 << 40
	// maxSinglePut is S3's bound on a PUT, a part and a copy source.
	maxSinglePut = 5 << 30
	// maxXMLBody bounds the XML request bodies the server reads (1000 keys of DeleteObjects at
	// 1 KiB each, XML-escaped, fit).
	maxXMLBody = 8 << 20
	// maxUserMetadata is S3's bound on the x-amz-meta-* headers of an object.
	maxUserMetadata = 2 << 10
	shutdownTimeout = 10 * time.Second
	// backendCheckTimeout bounds the check that an S3 backend's bucket is there.
	backendCheckTimeout = 30 * time.Second
)

// Server serves the S3 API.
type Server struct {
	store         *fsstore.Store
	auth          Authenticator
	authz         Authorizer
	region        string
	maxObjectSize int64
	address       string
	domain        string
	log           logr.Logger
	metrics       *metrics.S3
	now           func() time.Time
	readTimeout   time.Duration
	bodyProgress  time.Duration
	keepAlive     time.Duration
	// beforeAssembly, when set, runs before CompleteMultipartUpload assembles an object (tests
	// hold the assembly with it).
	beforeAssembly func()
	ops            map[Operation]func(*request) error
	// grants decides for the users it covers.
	grants ObjectGrants
	// masterKey seals SSE-S3 data keys.
	masterKey []byte
	// systemProject alone may create the system buckets.
	systemProject string
}

// New opens the data directory (removing what crashed writes left there) and returns a server.
func New(cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("objectstore: DataDir is required")
	}
	if cfg.Auth == nil || cfg.Authz == nil {
		return nil, errors.New("objectstore: Auth and Authz are required")
	}
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	if cfg.MaxObjectSize <= 0 {
		cfg.MaxObjectSize = defaultMaxObjectSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.SSEMasterKey != nil && len(cfg.SSEMasterKey) != 32 {
		return nil, errors.New("objectstore: the SSE master key must be 32 bytes")
	}
	if cfg.CompleteKeepAlive <= 0 {
		cfg.CompleteKeepAlive = DefaultCompleteKeepAlive
	}
	if cfg.BodyProgressTimeout <= 0 {
		cfg.BodyProgressTimeout = DefaultBodyProgressTimeout
	}
	store, err := openStore(cfg)
	if err != nil {
		return nil, fmt.Errorf("opening object store: %w", err)
	}
	s := &Server{
		store:         store,
		auth:          cfg.Auth,
		authz:         cfg.Authz,
		region:        cfg.Region,
		maxObjectSize: cfg.MaxObjectSize,
		address:       cfg.Address,
		domain:        strings.ToLower(strings.TrimSuffix(cfg.Domain, ".")),
		log:           cfg.Logger,
		metrics:       cfg.Metrics,
		now:           cfg.Now,
		grants:        cfg.Grants,
		readTimeout:   cfg.ReadTimeout,
		bodyProgress:  cfg.BodyProgressTimeout,
		masterKey:     cfg.SSEMasterKey,
		systemProject: cfg.SystemProject,
		keepAlive:     cfg.CompleteKeepAlive,
	}
	s.ops = s.handlers()
	return s, nil
}

// openStore opens the store's files on the backend cfg names.
func openStore(cfg Config) (*fsstore.Store, error) {
	opts := fsstore.Options{Now: cfg.Now, MaxObjectSize: cfg.MaxObjectSize}
	if cfg.S3 == nil {
		return fsstore.Open(cfg.DataDir, opts)
	}
	s3 := *cfg.S3
	if s3.TempDir == "" {
		s3.TempDir = filepath.Join(cfg.DataDir, "tmp")
	}
	ctx, cancel := context.WithTimeout(context.Background(), backendCheckTimeout)
	defer cancel()
	return fsstore.OpenS3(ctx, s3, opts)
}

// Start serves on Config.Address until ctx ends, then shuts down gracefully. It makes the
// server a controller-runtime Runnable.
func (s *Server) Start(ctx context.Context) error {
	if s.address == "" {
		return errors.New("objectstore: no Address to listen on")
	}
	ln, err := net.Listen("tcp", s.address)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.address, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: min(defaultReadHeaderTimeout, s.readTimeout),
		// Until authenticated, a request has ReadTimeout in all; after, its body streams under
		// per-read deadlines (progressBody).
		ReadTimeout: s.readTimeout,
		IdleTimeout: defaultIdleTimeout,
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("Serving S3", "address", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serving S3: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down S3: %w", err)
	}
	return nil
}

// NeedLeaderElection says every replica serves (controller-runtime's LeaderElectionRunnable).
func (s *Server) NeedLeaderElection() bool { return false }

// request is one request in flight.
type request struct {
	r      *http.Request
	w      *responseWriter
	id     string
	route  target
	caller *Caller
	// objectGrant is set when the Grants allowed the caller's request.
	objectGrant bool
	// check and decision are the access check of the request's bucket and its outcome.
	check    accessCheck
	decision decision
	// authorized remembers the Authorizer's answers ("verb/project") for this request.
	authorized map[string]bool
	// body is the request body as the server reads it (it counts the bytes read).
	body *progressBody
}

func (q *request) ctx() context.Context { return q.r.Context() }

// principal is the caller's principal.
func (q *request) principal() awsauth.Principal { return q.caller.Principal }

// responseWriter remembers whether the response has begun, so a late failure is not written
// into the middle of a body.
type responseWriter struct {
	http.ResponseWriter
	status int
	// written counts the body bytes sent.
	written int64
}

func (w *responseWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.written += int64(n)
	return n, err
}

// ReadFrom sends r's bytes as the body through the underlying writer's ReadFrom when it has one,
// so that a file (see fsstore's sections) goes to the socket with sendfile(2).
func (w *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
	}
	w.written += n
	return n, err
}

// ServeHTTP serves one S3 request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := &request{r: r, w: &responseWriter{ResponseWriter: w}, id: newRequestID()}
	h := q.w.Header()
	h.Set("x-amz-request-id", q.id)
	h.Set("Server", "PiNet")
	start := s.now()
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error(fmt.Errorf("panic: %v", v), "Handler panicked", "requestID", q.id, "operation", q.route.Op)
			if q.w.status == 0 {
				// Drop what the handler had set for the answer it never sent.
				for name := range h {
					if name != "X-Amz-Request-Id" && name != "Server" {
						h.Del(name)
					}
				}
				s.writeError(q, s3Error(CodeInternalError))
			}
		}
		s.logRequest(q, start)
	}()
	if err := s.serve(q); err != nil {
		s.fail(q, err)
	}
}

func (s *Server) serve(q *request) error {
	body := &progressBody{ReadCloser: q.r.Body, rc: http.NewResponseController(q.w.ResponseWriter), idle: s.bodyProgress}
	q.body = body
	hasBody := q.r.Body != nil && q.r.Body != http.NoBody
	if hasBody {
		q.r.Body = body
	}
	caller, err := s.auth.Authenticate(q.r)
	if errors.Is(err, awsauth.ErrMissingAuth) {
		// Unsigned: anonymous, decided by ACLs and policies like any other caller.
		caller, err = &Caller{Anonymous: true, Body: q.r.Body}, nil
	}
	if err == nil {
		body.arm(hasBody)
	}
	if err != nil {
		if ae := authError(err, isPresigned(q.r)); ae != nil {
			return ae
		}
		return fmt.Errorf("authenticating: %w", err)
	}
	if err := s.actAs(q.r, caller); err != nil {
		return err
	}
	q.caller = caller
	if s.virtualHosted(q.r.Host) {
		return s3Error(CodeInvalidRequest, "Virtual-hosted-style requests are not supported; address buckets path-style, as http://"+s.domain+"/bucket/key.")
	}
	route, err := routeRequest(q.r.Method, q.r.URL.Path, q.r.URL.Query(), q.r.Header.Get("x-amz-copy-source") != "")
	if err != nil {
		return err
	}
	q.route = route
	s.applyCORS(q)
	if s.covered(caller.Principal.User) {
		if err := s.objectGranted(q); err != nil {
			return err
		}
		q.objectGrant = true
	}
	return s.ops[route.Op](q)
}

// covered reports whether user's requests are the Grants' alone to decide.
func (s *Server) covered(user string) bool {
	return s.grants != nil && user != "" && s.grants.Covers(user)
}

// objectGranted checks a covered caller's request against the Grants: only a read of an object,
// or a single PUT of one, that they allow.
func (s *Server) objectGranted(q *request) error {
	op := q.route.Op
	if op != OpGetObject && op != OpHeadObject && op != OpPutObject {
		return s3Error(CodeAccessDenied)
	}
	ok, err := s.grants.Allowed(q.ctx(), q.caller.Principal.User, q.route.Bucket, q.route.Key, op == OpPutObject)
	if err != nil {
		return fmt.Errorf("deciding %s's access to %s/%s: %w", q.caller.Principal.User, q.route.Bucket, q.route.Key, err)
	}
	if !ok {
		return s3Error(CodeAccessDenied)
	}
	return nil
}

func (s *Server) handlers() map[Operation]func(*request) error {
	return map[Operation]func(*request) error{
		OpListBuckets:             s.listBuckets,
		OpCreateBucket:            s.createBucket,
		OpDeleteBucket:            s.deleteBucket,
		OpHeadBucket:              s.headBucket,
		OpGetBucketLocation:       s.getBucketLocation,
		OpListObjects:             s.listObjects,
		OpListObjectsV2:           s.listObjectsV2,
		OpListMultipartUploads:    s.listUploads,
		OpDeleteObjects:           s.deleteObjects,
		OpPutObject:               s.putObject,
		OpCopyObject:              s.copyObject,
		OpGetObject:               s.getObject,
		OpHeadObject:              s.getObject,
		OpDeleteObject:            s.deleteObject,
		OpCreateMultipartUpload:   s.createUpload,
		OpUploadPart:              s.uploadPart,
		OpUploadPartCopy:          s.uploadPartCopy,
		OpCompleteMultipartUpload: s.completeUpload,
		OpAbortMultipartUpload:    s.abortUpload,
		OpListParts:               s.listParts,
		OpGetBucketVersioning:     s.getBucketVersioning,
		OpPutBucketVersioning:     s.putBucketVersioning,
		OpListObjectVersions:      s.listObjectVersions,
		OpGetBucketACL:            s.getBucketACL,
		OpPutBucketACL:            s.putBucketACL,
		OpGetObjectACL:            s.getObjectACL,
		OpPutObjectACL:            s.putObjectACL,
		OpGetBucketPolicy:         s.getBucketPolicy,
		OpPutBucketPolicy:         s.putBucketPolicy,
		OpDeleteBucketPolicy:      s.deleteBucketPolicy,
		OpGetPublicAccessBlock:    s.getPublicAccessBlock,
		OpPutPublicAccessBlock:    s.putPublicAccessBlock,
		OpDeletePublicAccessBlock: s.deletePublicAccessBlock,
		OpGetObjectAttributes:     s.getObjectAttributes,
		OpGetObjectTagging:        s.getObjectTagging,
		OpPutObjectTagging:        s.putObjectTagging,
		OpDeleteObjectTagging:     s.deleteObjectTagging,
		OpGetBucketTagging:        s.getBucketTagging,
		OpPutBucketTagging:        s.putBucketTagging,
		OpDeleteBucketTagging:     s.deleteBucketTagging,
		OpGetBucketCors:           s.getBucketCors,
		OpPutBucketCors:           s.putBucketCors,
		OpDeleteBucketCors:        s.deleteBucketCors,
		OpPreflight:               s.preflight,
		OpGetBucketLifecycle:      s.getBucketLifecycle,
		OpPutBucketLifecycle:      s.putBucketLifecycle,
		OpDeleteBucketLifecycle:   s.deleteBucketLifecycle,
		OpGetBucketEncryption:     s.getBucketEncryption,
		OpPutBucketEncryption:     s.putBucketEncryption,
		OpDeleteBucketEncryption:  s.deleteBucketEncryption,
	}
}

// virtualHosted reports whether host names a bucket under the store's domain.
func (s *Server) virtualHosted(host string) bool {
	if s.domain == "" {
		return false
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.HasSuffix(strings.ToLower(strings.TrimSuffix(host, ".")), "."+s.domain)
}

// isPresigned reports whether r carries its signature in the query.
func isPresigned(r *http.Request) bool {
	q := r.URL.Query()
	return q.Has("X-Amz-Signature") || q.Has("Signature")
}

// fail answers a handler's error, unless the response has already begun.
func (s *Server) fail(q *request, err error) {
	ae, internal := toAPIError(err)
	if internal {
		s.log.Error(err, "Request failed", "requestID", q.id, "operation", q.route.Op, "bucket", q.route.Bucket, "key", q.route.Key)
	}
	if q.w.status != 0 {
		return
	}
	s.writeError(q, ae)
}

func (s *Server) writeError(q *request, ae *apiError) {
	if q.r.Method == http.MethodHead {
		q.w.WriteHeader(ae.status())
		return
	}
	s.writeXML(q, ae.status(), errorResponse{
		Code:      ae.code,
		Message:   ae.message,
		Resource:  q.r.URL.Path,
		RequestID: q.id,
	})
}

// writeXML sends an XML document.
func (s *Server) writeXML(q *request, status int, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		s.log.Error(err, "Encoding response", "requestID", q.id)
		status = http.StatusInternalServerError
		body, _ = xml.Marshal(errorResponse{Code: CodeInternalError, Message: codes[CodeInternalError].message, RequestID: q.id})
	}
	h := q.w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", fmt.Sprint(len(xml.Header)+len(body)))
	q.w.WriteHeader(status)
	_, _ = q.w.Write([]byte(xml.Header))
	_, _ = q.w.Write(body)
}

// newRequestID makes a request id like S3's: 16 upper-case hex digits.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}
