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

package nodeauthz

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	authorizationv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
)

// Path is where the API server posts its SubjectAccessReviews.
const Path = "/authorize"

// maxReview bounds a review's body; the API server's are a few hundred bytes.
const maxReview = 1 << 20

// Handler answers the API server's SubjectAccessReviews (authorization.k8s.io/v1).
func (a *Authorizer) Handler(log logr.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+Path, func(w http.ResponseWriter, r *http.Request) {
		var review authorizationv1.SubjectAccessReview
		body, err := io.ReadAll(io.LimitReader(r.Body, maxReview+1))
		if err == nil && len(body) > maxReview {
			err = errors.New("review too large")
		}
		if err == nil {
			err = json.Unmarshal(body, &review)
		}
		if err != nil {
			http.Error(w, fmt.Sprintf("reading the SubjectAccessReview: %v", err), http.StatusBadRequest)
			return
		}
		decision, reason, err := a.Decide(r.Context(), review.Spec)
		status := authorizationv1.SubjectAccessReviewStatus{Denied: decision == Deny, Reason: reason}
		if err != nil {
			// The request is denied, not left to RBAC: a node is not let read what the
			// authorizer could not check.
			status.EvaluationError = err.Error()
			log.Error(err, "Deciding a node agent's read", "user", review.Spec.User)
		}
		if decision == Deny {
			log.V(1).Info("Node agent's read", "decision", decision.String(), "user", review.Spec.User,
				"attributes", review.Spec.ResourceAttributes)
		}
		resp := authorizationv1.SubjectAccessReview{TypeMeta: review.TypeMeta, Status: status}
		if resp.APIVersion == "" {
			resp.APIVersion, resp.Kind = authorizationv1.SchemeGroupVersion.String(), "SubjectAccessReview"
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	})
	return mux
}

// Server serves the authorizer over TLS: its certificate (tls.crt, tls.key in CertDir, reloaded
// when they change) and, when ClientCA is set, only to clients with a certificate of that CA
// (the API server's, from the webhook's kubeconfig): the answers say which node holds which
// object.
type Server struct {
	Authorizer *Authorizer
	Listener   net.Listener
	CertDir    string
	ClientCA   string
	Log        logr.Logger
}

// NeedLeaderElection is false: every replica answers, from its own cache.
func (s *Server) NeedLeaderElection() bool { return false }

// Start serves until ctx ends.
func (s *Server) Start(ctx context.Context) error {
	watcher, err := certwatcher.New(filepath.Join(s.CertDir, "tls.crt"), filepath.Join(s.CertDir, "tls.key"))
	if err != nil {
		return fmt.Errorf("loading the node authorizer's certificate: %w", err)
	}
	go func() {
		if err := watcher.Start(ctx); err != nil {
			s.Log.Error(err, "Watching the node authorizer's certificate")
		}
	}()
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: watcher.GetCertificate}
	if s.ClientCA != "" {
		pem, err := os.ReadFile(s.ClientCA)
		if err != nil {
			return fmt.Errorf("reading the node authorizer's client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("no certificate in %s", s.ClientCA)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	srv := &http.Server{Handler: s.Authorizer.Handler(s.Log), TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(s.Listener, "", "") }()
	select {
	case err := <-done:
		return fmt.Errorf("serving the node authorizer: %w", err)
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	}
}
