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

// Package dashboard is PiNet's web dashboard: a browser front door beside the EC2 API and the S3
// store. Every page calls the typed cloud service (package cloud) as the signed-in user, acting
// in one of the user's projects, exactly as the EC2 API does for a signed request: the
// dashboard owns only its HTML, its forms and its sessions.
//
// A user signs in with an access key and its secret, checked against the same credential store
// the EC2 API uses; the session lives on the server (a random id in an HttpOnly, SameSite=Strict
// cookie), ends after a while idle, and ends at once when the key is retired or rotated or the
// user is deleted, because every request looks the key up again. Every form carries the
// session's CSRF token.
package dashboard

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"pinet.io/pinet/cloud"
	"pinet.io/pinet/internal/authz"
	"pinet.io/pinet/internal/awsauth"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// DefaultSessionIdle is how long a session lasts without a request.
const DefaultSessionIdle = 12 * time.Hour

// maxForm bounds a form's body (user data is at most 16 KiB, a public key a few).
const maxForm = 256 << 10

// Config is what the dashboard needs.
type Config struct {
	// Service runs every operation, as the signed-in user.
	Service *cloud.Service
	// Credentials finds access keys, as for a signed API request.
	Credentials awsauth.CredentialStore
	// Client reads (through the manager's cache) the user's projects for the project picker and
	// the node an instance runs on, which the service does not show.
	Client client.Reader
	// Writer, Authz and SystemNamespace serve the admin pages (users, projects, hypervisors),
	// which act on kinds the service has no operations for, after reviewing each request against
	// the signed-in user's RBAC; without Writer or Authz there are no admin pages.
	Writer          client.Client
	Authz           *authz.Authorizer
	SystemNamespace string
	// SessionIdle ends a session this long after its last request; 0 is DefaultSessionIdle.
	SessionIdle time.Duration
	// EC2Endpoint is shown to users so they can reach the same cloud from the AWS CLI.
	EC2Endpoint string
	Clock       clock.PassiveClock
	Logger      logr.Logger
}

// Server serves the dashboard.
type Server struct {
	cfg      Config
	sessions *sessions
	failures *failures
	pages    map[string]*template.Template
	mux      *http.ServeMux
}

// New builds the dashboard.
func New(cfg Config) (*Server, error) {
	if cfg.Service == nil || cfg.Credentials == nil || cfg.Client == nil {
		return nil, errors.New("dashboard: Service, Credentials and Client are required")
	}
	if cfg.SessionIdle == 0 {
		cfg.SessionIdle = DefaultSessionIdle
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, sessions: newSessions(cfg.Clock, cfg.SessionIdle), failures: newFailures(cfg.Clock),
		pages: pages, mux: http.NewServeMux()}
	s.routes()
	return s, nil
}

// routes registers every page; each page group's file adds its own.
func (s *Server) routes() {
	static, _ := fs.Sub(staticFiles, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	s.mux.HandleFunc("GET /static/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		files.ServeHTTP(w, r)
	})
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/instances", http.StatusSeeOther)
	})
	s.signInRoutes()
	s.instanceRoutes()
	s.keyPairRoutes()
	s.imageRoutes()
	s.volumeRoutes()
	s.snapshotRoutes()
	s.addressRoutes()
	s.groupRoutes()
	s.adminRoutes()
}

// ServeHTTP answers one request with the security headers every answer carries.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: under no-referrer browsers send "Origin: null" with the
	// dashboard's own forms, which crossSite refuses.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Logger.Error(fmt.Errorf("panic: %v", p), "Dashboard handler panicked", "path", r.URL.Path, "stack", string(debug.Stack()))
			http.Error(w, "An internal error has occurred", http.StatusInternalServerError)
		}
	}()
	s.mux.ServeHTTP(w, r)
}

// Serve answers on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
	}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	go s.sessions.sweep(ctx)
	s.cfg.Logger.Info("Serving the dashboard", "address", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
