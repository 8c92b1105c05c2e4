/*
Copyright 2026 The PiNet Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package consoleclient reads an instance's console from its node agent's console server, whose
// address and certificate the agent publishes in its Hypervisor's status. The caller
// authenticates with Kubernetes credentials: a bearer token or a client certificate.
package consoleclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// ErrNoConsole means the instance's node publishes no console server.
var ErrNoConsole = errors.New("the node serves no console")

// Credentials authenticate the caller to the node agent.
type Credentials struct {
	// Token is a Kubernetes bearer token; empty uses the client certificate.
	Token func(context.Context) (string, error)
	// Certificate is a client certificate signed by the cluster CA.
	Certificate *tls.Certificate
}

// Read returns the last 64 KiB of the instance's console and when it last changed.
func Read(ctx context.Context, r client.Reader, inst *cloudv1.Instance, creds Credentials) ([]byte, time.Time, error) {
	hv := &cloudv1.Hypervisor{}
	if err := r.Get(ctx, client.ObjectKey{Name: inst.Status.Hypervisor}, hv); err != nil {
		return nil, time.Time{}, fmt.Errorf("reading hypervisor %s: %w", inst.Status.Hypervisor, err)
	}
	ep := hv.Status.Console
	if ep == nil || ep.URL == "" {
		return nil, time.Time{}, ErrNoConsole
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ep.CABundle) {
		return nil, time.Time{}, errors.New("the node's console certificate is not valid PEM")
	}
	u, err := url.Parse(ep.URL)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("console URL %q: %w", ep.URL, err)
	}
	// The certificate is pinned: it is the one the agent published, whatever name it carries.
	tlsCfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, ServerName: hv.Name}
	if creds.Certificate != nil {
		tlsCfg.Certificates = []tls.Certificate{*creds.Certificate}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.JoinPath("v1", "consoles", inst.Status.InstanceID).String(), nil)
	if err != nil {
		return nil, time.Time{}, err
	}
	if creds.Token != nil {
		token, err := creds.Token(ctx)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("getting a token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}, Timeout: 15 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("reaching the console of %s: %w", inst.Status.InstanceID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, time.Time{}, fmt.Errorf("the node answered %s for the console of %s", resp.Status, inst.Status.InstanceID)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, time.Time{}, err
	}
	at, _ := time.Parse(time.RFC3339Nano, resp.Header.Get("X-Console-Time"))
	return data, at, nil
}
