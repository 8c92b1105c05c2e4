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

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// defaultMetadataURL is the EC2 instance metadata service, reached through the instance's gateway.
const defaultMetadataURL = "http://169.254.169.254/latest/"

// Size limits: EC2 caps user data at 16 KiB; meta-data values are short.
const (
	maxUserData      = 16 << 10
	maxMetadataValue = 64 << 10
)

// metadataKeys returns the meta-data entries the guest reports, in the order it prints them.
func metadataKeys() []string {
	return []string{"instance-id", "local-ipv4", "public-ipv4", "hostname", "public-keys/0/openssh-key"}
}

// errNotFound is a 404 from the metadata service: the entry does not exist for this instance.
var errNotFound = errors.New("not found")

// metadataClient reads the metadata service with short timeouts and a few retries, because the
// guest asks right after DHCP, when the service or the path to it may still be settling.
type metadataClient struct {
	baseURL  string
	http     *http.Client
	attempts int
	backoff  time.Duration
}

// newMetadataClient returns a client for baseURL that never uses a proxy and gives each request
// timeout to finish.
func newMetadataClient(baseURL string, timeout time.Duration, attempts int, backoff time.Duration) *metadataClient {
	transport := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	return &metadataClient{
		baseURL:  strings.TrimSuffix(baseURL, "/") + "/",
		http:     &http.Client{Transport: transport, Timeout: timeout},
		attempts: attempts,
		backoff:  backoff,
	}
}

// get returns the body of baseURL+path. A 404 is errNotFound at once; transport errors and 5xx
// are retried; any other status is an error at once.
func (c *metadataClient) get(ctx context.Context, path string, limit int64) ([]byte, error) {
	var lastErr error
	for attempt := 0; attempt < c.attempts; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("GET %s: %w", path, ctx.Err())
			case <-time.After(c.backoff):
			}
		}
		body, retry, err := c.getOnce(ctx, path, limit)
		if err == nil {
			return body, nil
		}
		if !retry {
			return nil, err
		}
		lastErr = err
	}
	return nil, fmt.Errorf("GET %s: giving up after %d attempts: %w", path, c.attempts, lastErr)
}

func (c *metadataClient) getOnce(ctx context.Context, path string, limit int64) (body []byte, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+path, nil)
	if err != nil {
		return nil, false, fmt.Errorf("GET %s: %w", path, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, true, err
	}
	defer func() { _ = resp.Body.Close() }()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, false, fmt.Errorf("GET %s: %w", path, errNotFound)
	case resp.StatusCode >= 500:
		return nil, true, fmt.Errorf("GET %s: status %s", path, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, false, fmt.Errorf("GET %s: unexpected status %s", path, resp.Status)
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, true, fmt.Errorf("GET %s: reading body: %w", path, err)
	}
	if int64(len(body)) > limit {
		return nil, false, fmt.Errorf("GET %s: response larger than %d bytes", path, limit)
	}
	return body, false, nil
}

// metadata is what the guest learned from the metadata service or the meta-data disk.
type metadata struct {
	// source names where it came from, for the console: "metadata service" or "meta-data disk".
	source string
	// values holds the meta-data entries that exist, keyed by their path under meta-data/.
	values map[string]string
	// userData is the raw user data; nil when the instance has none.
	userData []byte
	// userDataUnreadable says the user data could not be read (not that there is none).
	userDataUnreadable bool
	// warnings are entries that could not be read for reasons other than not existing.
	warnings []string
	// unreadable holds the keys of those entries: whether they exist is unknown.
	unreadable map[string]bool
}

// fetchMetadata reads every metadataKeys entry and the user data. When the first entry cannot be
// read at all the service is taken to be unreachable and the error returned, so a guest without
// one does not spend its boot retrying each key.
func (c *metadataClient) fetchMetadata(ctx context.Context) (*metadata, error) {
	md := &metadata{source: "metadata service", values: map[string]string{}, unreadable: map[string]bool{}}
	for i, key := range metadataKeys() {
		body, err := c.get(ctx, "meta-data/"+key, maxMetadataValue)
		switch {
		case err == nil:
			md.values[key] = strings.TrimSpace(string(body))
		case errors.Is(err, errNotFound):
		case i == 0:
			return nil, fmt.Errorf("metadata service unreachable: %w", err)
		default:
			md.warnings = append(md.warnings, err.Error())
			md.unreadable[key] = true
		}
	}
	body, err := c.get(ctx, "user-data", maxUserData)
	switch {
	case err == nil:
		md.userData = body
	case errors.Is(err, errNotFound):
	default:
		md.warnings = append(md.warnings, err.Error())
		md.userDataUnreadable = true
	}
	return md, nil
}

// formatValue makes a meta-data value printable on one console line: values with control
// characters (a key with a trailing newline, say) are quoted.
func formatValue(v string) string {
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return fmt.Sprintf("%q", v)
		}
	}
	return v
}
