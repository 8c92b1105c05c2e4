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

// Package consoleclient reads an instance's console from its node agent's console server, whose
// address and certificate the agent publishes in its Hypervisor's status (an admission policy
// lets only that node's agent write them). The caller authenticates with Kubernetes credentials:
// a bearer token for the console audience, or a client certificate.
package consoleclient

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// Audience is the audience of the tokens node agents accept on their console servers: a token
// for the API server (or any other audience) is refused there.
const Audience = "pinet-console"

// ErrNoConsole means the instance's node publishes no console server, or the instance is on no
// node.
var ErrNoConsole = errors.New("the node serves no console")

// Credentials authenticate the caller to the node agent.
type Credentials struct {
	// Token returns a Kubernetes bearer token whose audience is Audience; nil uses the client
	// certificate.
	Token func(context.Context) (string, error)
	// Certificate is a client certificate signed by the cluster CA.
	Certificate *tls.Certificate
}

// Client reads consoles, keeping one HTTP transport (and its few idle connections) per node.
type Client struct {
	reader client.Reader
	creds  Credentials

	mu    sync.Mutex
	nodes map[string]*nodeTransport
}

// nodeTransport is the transport to one node's console server, valid while the node publishes
// the endpoint it was made for.
type nodeTransport struct {
	endpoint  [32]byte
	transport *http.Transport
}

// Transport limits: a node's console server is one host, read now and then.
const (
	maxIdleConnsPerNode = 2
	maxConnsPerNode     = 16
	idleConnTimeout     = 30 * time.Second
	requestTimeout      = 15 * time.Second
)

// New returns a client that looks up Hypervisors with r and authenticates with creds.
func New(r client.Reader, creds Credentials) *Client {
	return &Client{reader: r, creds: creds, nodes: map[string]*nodeTransport{}}
}

// Read returns the last 64 KiB of the instance's console and when it last changed, with a client
// used for this call only.
func Read(ctx context.Context, r client.Reader, inst *cloudv1.Instance, creds Credentials) ([]byte, time.Time, error) {
	c := New(r, creds)
	defer c.CloseIdleConnections()
	return c.Read(ctx, inst)
}

// Read returns the last 64 KiB of the instance's console and when it last changed. It asks only
// the node the instance is bound to, at the endpoint that node reported.
func (c *Client) Read(ctx context.Context, inst *cloudv1.Instance) ([]byte, time.Time, error) {
	node := inst.Labels[cloudv1.LabelHypervisor]
	if node == "" || inst.Status.Hypervisor == "" {
		return nil, time.Time{}, ErrNoConsole
	}
	if node != inst.Status.Hypervisor {
		return nil, time.Time{}, fmt.Errorf("instance %s is bound to %s but placed on %s: not reading its console",
			inst.Status.InstanceID, node, inst.Status.Hypervisor)
	}
	hv := &cloudv1.Hypervisor{}
	if err := c.reader.Get(ctx, client.ObjectKey{Name: node}, hv); err != nil {
		if apierrors.IsNotFound(err) {
			c.forget(node)
		}
		return nil, time.Time{}, fmt.Errorf("reading hypervisor %s: %w", node, err)
	}
	base, transport, err := c.transport(hv)
	if err != nil {
		return nil, time.Time{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base.JoinPath("v1", "consoles", inst.Status.InstanceID).String(), nil)
	if err != nil {
		return nil, time.Time{}, err
	}
	if c.creds.Token != nil {
		token, err := c.creds.Token(ctx)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("getting a token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := &http.Client{Transport: transport, Timeout: requestTimeout,
		// The node answers itself; a redirect would carry the token elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("reaching the console of %s: %w", inst.Status.InstanceID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, time.Time{}, fmt.Errorf("the node answered %s for the console of %s", resp.Status, inst.Status.InstanceID)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, time.Time{}, err
	}
	at, _ := time.Parse(time.RFC3339Nano, resp.Header.Get("X-Console-Time"))
	return data, at, nil
}

// transport returns the node's console URL and the transport for it, making the transport when
// the node is new or published another endpoint since.
func (c *Client) transport(hv *cloudv1.Hypervisor) (*url.URL, *http.Transport, error) {
	ep := hv.Status.Console
	if ep == nil || ep.URL == "" {
		return nil, nil, fmt.Errorf("hypervisor %s: %w", hv.Name, ErrNoConsole)
	}
	u, err := url.Parse(ep.URL)
	if err != nil {
		return nil, nil, fmt.Errorf("hypervisor %s reported console URL %q: %w", hv.Name, ep.URL, err)
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, nil, fmt.Errorf("hypervisor %s reported console URL %q: not a plain https URL", hv.Name, ep.URL)
	}
	if len(ep.CABundle) == 0 {
		return nil, nil, fmt.Errorf("hypervisor %s reported no console certificate", hv.Name)
	}
	sum := sha256.Sum256(append([]byte(ep.URL+"\n"), ep.CABundle...))
	c.mu.Lock()
	defer c.mu.Unlock()
	if nt, ok := c.nodes[hv.Name]; ok {
		if nt.endpoint == sum {
			return u, nt.transport, nil
		}
		nt.transport.CloseIdleConnections()
		delete(c.nodes, hv.Name)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ep.CABundle) {
		return nil, nil, fmt.Errorf("hypervisor %s reported a console certificate that is not valid PEM", hv.Name)
	}
	// The certificate is pinned: it is the one the agent published, whatever name it carries.
	tlsCfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, ServerName: hv.Name}
	if c.creds.Certificate != nil {
		tlsCfg.Certificates = []tls.Certificate{*c.creds.Certificate}
	}
	t := &http.Transport{
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: requestTimeout,
		MaxIdleConns:          maxIdleConnsPerNode,
		MaxIdleConnsPerHost:   maxIdleConnsPerNode,
		MaxConnsPerHost:       maxConnsPerNode,
		IdleConnTimeout:       idleConnTimeout,
	}
	c.nodes[hv.Name] = &nodeTransport{endpoint: sum, transport: t}
	return u, t, nil
}

// forget drops the transport of a node that is gone.
func (c *Client) forget(node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if nt, ok := c.nodes[node]; ok {
		nt.transport.CloseIdleConnections()
		delete(c.nodes, node)
	}
}

// CloseIdleConnections closes the idle connections to every node.
func (c *Client) CloseIdleConnections() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, nt := range c.nodes {
		nt.transport.CloseIdleConnections()
	}
}
