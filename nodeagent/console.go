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

package nodeagent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/consoleclient"
	"pinet.io/pinet/internal/index"
)

// maxConsoleBytes is how much of a console the server returns (EC2 returns the last 64 KiB).
const maxConsoleBytes = 64 << 10

// consoleServer serves instance consoles over HTTPS to callers Kubernetes says may read them:
// a bearer token is checked with a TokenReview for the console audience (consoleclient.Audience:
// a token meant for the API server or anything else is refused), a client certificate against
// the cluster CA, and either identity with a SubjectAccessReview for get on instances/console.
type consoleServer struct {
	client   client.Client
	cfg      Config
	ln       net.Listener
	tlsCert  tls.Certificate
	certPEM  []byte
	clientCA *x509.CertPool
	log      logr.Logger
}

// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// newConsoleServer listens and loads (or makes) the server's certificate.
func newConsoleServer(c client.Client, cfg Config, log logr.Logger) (*consoleServer, error) {
	ln, err := net.Listen("tcp", cfg.ConsoleAddr)
	if err != nil {
		return nil, fmt.Errorf("listening for consoles on %s: %w", cfg.ConsoleAddr, err)
	}
	s := &consoleServer{client: c, cfg: cfg, ln: ln, log: log}
	if s.certPEM, s.tlsCert, err = servingCert(filepath.Join(cfg.StateDir, "console-tls"), cfg.NodeName, ln.Addr()); err != nil {
		ln.Close()
		return nil, err
	}
	if cfg.ClientCAFile != "" {
		data, err := os.ReadFile(cfg.ClientCAFile)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("reading the client CA: %w", err)
		}
		s.clientCA = x509.NewCertPool()
		if !s.clientCA.AppendCertsFromPEM(data) {
			ln.Close()
			return nil, errors.New("the client CA file holds no certificate")
		}
	}
	return s, nil
}

// endpoint is what the agent advertises in its Hypervisor.
func (s *consoleServer) endpoint() *cloudv1.ConsoleEndpoint {
	host := s.cfg.ConsoleAdvertiseHost
	_, port, _ := net.SplitHostPort(s.ln.Addr().String())
	if host == "" {
		host, _, _ = net.SplitHostPort(s.ln.Addr().String())
		if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
			host = "127.0.0.1"
		}
	}
	return &cloudv1.ConsoleEndpoint{URL: "https://" + net.JoinHostPort(host, port), CABundle: s.certPEM}
}

// Start serves until ctx ends.
func (s *consoleServer) Start(ctx context.Context) error {
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{s.tlsCert}, MinVersion: tls.VersionTLS12}
	if s.clientCA != nil {
		tlsCfg.ClientCAs, tlsCfg.ClientAuth = s.clientCA, tls.VerifyClientCertIfGiven
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/consoles/{instanceID}", s.serveConsole)
	// Console reads carry no body: the whole request must arrive within ReadTimeout.
	srv := &http.Server{
		Handler: mux, TLSConfig: tlsCfg, MaxHeaderBytes: 64 << 10,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute,
	}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ServeTLS(s.ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// NeedLeaderElection is false: every agent serves its node.
func (s *consoleServer) NeedLeaderElection() bool { return false }

func (s *consoleServer) serveConsole(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("instanceID")
	user, groups, err := s.authenticate(ctx, r)
	if err != nil {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	list := &cloudv1.InstanceList{}
	if err := s.client.List(ctx, list, client.MatchingFields{index.InstanceID: id}); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if len(list.Items) != 1 {
		http.Error(w, "no such instance on this node", http.StatusNotFound)
		return
	}
	inst := &list.Items[0]
	if ok, err := s.allowed(ctx, user, groups, inst); err != nil || !ok {
		// Not saying whether the instance exists to someone who may not read it.
		http.Error(w, "no such instance on this node", http.StatusNotFound)
		return
	}
	dir := filepath.Join(s.cfg.StateDir, "instances", id)
	if ok, err := ownedBy(dir, inst.UID); err != nil || !ok {
		// The files of that name are another object's: this instance has no console yet.
		http.Error(w, "no such instance on this node", http.StatusNotFound)
		return
	}
	data, at, err := tail(filepath.Join(dir, "console.log"), maxConsoleBytes)
	if err != nil && !os.IsNotExist(err) {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if !at.IsZero() {
		w.Header().Set("Last-Modified", at.UTC().Format(http.TimeFormat))
		w.Header().Set("X-Console-Time", at.UTC().Format(time.RFC3339Nano))
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	_, _ = w.Write(data)
}

// authenticate returns the caller's Kubernetes user and groups.
func (s *consoleServer) authenticate(ctx context.Context, r *http.Request) (string, []string, error) {
	if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		tr := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{
			Token: token, Audiences: []string{consoleclient.Audience},
		}}
		if err := s.client.Create(ctx, tr); err != nil {
			return "", nil, err
		}
		if !tr.Status.Authenticated || !slices.Contains(tr.Status.Audiences, consoleclient.Audience) {
			return "", nil, errors.New("token not authenticated for the console audience")
		}
		return tr.Status.User.Username, tr.Status.User.Groups, nil
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		cert := r.TLS.VerifiedChains[0][0]
		return cert.Subject.CommonName, append(cert.Subject.Organization, "system:authenticated"), nil
	}
	return "", nil, errors.New("no credentials")
}

func (s *consoleServer) allowed(ctx context.Context, user string, groups []string, inst *cloudv1.Instance) (bool, error) {
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user, Groups: groups,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: inst.Namespace, Verb: "get", Group: cloudv1.GroupVersion.Group,
			Resource: "instances", Subresource: "console", Name: inst.Name,
		},
	}}
	if err := s.client.Create(ctx, sar); err != nil {
		return false, err
	}
	return sar.Status.Allowed && !sar.Status.Denied, nil
}

// tail reads the last n bytes of a file and its modification time.
func tail(path string, n int64) ([]byte, time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, time.Time{}, err
	}
	off := max(st.Size()-n, 0)
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, time.Time{}, err
	}
	data, err := io.ReadAll(io.LimitReader(f, n))
	return data, st.ModTime(), err
}

// servingCert loads the console server's self-signed certificate from dir, making it on first
// start; clients pin it through the Hypervisor's status.
func servingCert(dir, nodeName string, addr net.Addr) ([]byte, tls.Certificate, error) {
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if certPEM, err := os.ReadFile(certFile); err == nil {
		if pair, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil {
			return certPEM, pair, nil
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, tls.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	hostname, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: nodeName, Organization: []string{"pinet node agent"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{nodeName, hostname, "localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	for _, a := range hostAddresses() {
		if ip := net.ParseIP(a); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		}
	}
	if host, _, err := net.SplitHostPort(addr.String()); err == nil {
		if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return nil, tls.Certificate{}, err
	}
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		return nil, tls.Certificate{}, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	return certPEM, pair, err
}
