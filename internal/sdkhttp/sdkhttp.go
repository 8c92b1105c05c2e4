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

// Package sdkhttp is the HTTP client PiNet's own aws-sdk-go-v2 clients (tests, benchmarks,
// pinetctl) send their calls through, instead of the SDK's default one.
//
// It closes a race between the SDK and net/http's Transport that cuts off responses the
// server sent in full. The Transport writes a request body on a goroutine of its own and,
// after the body's last byte, reads the body once more to check that it is exhausted. The SDK
// closes the request body as soon as the response headers arrive, and its body's WriteTo
// returns io.EOF once closed; io.Copy passes that on as an error, the Transport takes it for a
// failed write and closes the connection under the response body the caller is reading
// ("read tcp …: use of closed network connection", with status 200). It takes a server that
// answers while the writing goroutine waits for a CPU between those two reads, so a loaded
// machine and a large answer (DescribeInstances of a fleet) make it show, often on the
// SDK's retries too.
//
// Client hands the Transport the request body without its WriteTo: read after its close, it
// says io.EOF, which ends a copy without an error.
package sdkhttp

import (
	"io"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// Doer is what the SDK sends requests with (aws.HTTPClient).
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Client is an aws.HTTPClient (ec2.Options.HTTPClient, s3.Options.HTTPClient) over another.
type Client struct {
	next Doer
}

// New returns a Client over the SDK's own default HTTP client.
func New() *Client { return Wrap(awshttp.NewBuildableClient()) }

// Wrap returns a Client over next.
func Wrap(next Doer) *Client { return &Client{next: next} }

// Do sends req through the client it wraps, with the body stripped of everything but Read and
// Close.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = readCloser{req.Body}
	}
	return c.next.Do(req)
}

// readCloser hides every method of a body but Read and Close (WriteTo above all).
type readCloser struct{ rc io.ReadCloser }

func (b readCloser) Read(p []byte) (int, error) { return b.rc.Read(p) }

func (b readCloser) Close() error { return b.rc.Close() }
