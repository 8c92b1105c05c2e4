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

package sdkhttp_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"k8s.io/utils/ptr"

	cloudv1 "pinet.io/pinet/api/v1alpha1"

	"pinet.io/pinet/internal/sdkhttp"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// windowTimeout bounds how long a held-back body write waits for the caller to read the answer.
const windowTimeout = time.Minute

// heldWriter holds back the Transport's goroutine writing a request body, right after the
// body's bytes are sent, until the caller starts reading the response body. That is what a
// loaded machine does at random: the server answers while the writing goroutine waits for a
// CPU before it finishes the request. By the time the caller reads the response body the SDK
// has closed the request body (smithy-go closes it as soon as Do returns), so every call
// through it meets the race; the caller's first read then waits until the connection is
// closed (or a grace period passes), so that a connection closed by the race is closed before
// the rest of the answer is read from it.
type heldWriter struct {
	client *http.Client
	mu     sync.Mutex
	cur    *exchange
	// opened counts the requests whose answer was read before their body write returned.
	opened atomic.Int64
}

// exchange is one call's signals.
type exchange struct {
	read      chan struct{} // closed at the first read of the response body
	closed    chan struct{} // closed when the call's connection is closed
	closeOnce sync.Once
}

// closeGrace is how long a first read of an answer waits for its connection to be closed.
const closeGrace = 500 * time.Millisecond

func newHeldWriter() *heldWriter {
	h := &heldWriter{}
	d := &net.Dialer{}
	h.client = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &heldConn{Conn: conn, h: h}, nil
		},
	}}
	return h
}

// Do sends one call (calls go one at a time) and marks when its response body is first read.
func (h *heldWriter) Do(req *http.Request) (*http.Response, error) {
	x := &exchange{read: make(chan struct{}), closed: make(chan struct{})}
	h.mu.Lock()
	h.cur = x
	h.mu.Unlock()
	resp, err := h.client.Do(req)
	if resp != nil && resp.Body != nil {
		resp.Body = &firstRead{ReadCloser: resp.Body, x: x}
	}
	return resp, err
}

// firstRead signals the first read of its body and lets a closing connection close first.
type firstRead struct {
	io.ReadCloser
	x    *exchange
	once sync.Once
}

func (b *firstRead) Read(p []byte) (int, error) {
	b.once.Do(func() {
		close(b.x.read)
		select {
		case <-b.x.closed:
		case <-time.After(closeGrace):
		}
	})
	return b.ReadCloser.Read(p)
}

// heldConn is a client connection whose writes of request bodies are held back.
type heldConn struct {
	net.Conn
	h *heldWriter
	x atomic.Pointer[exchange]
}

func (c *heldConn) Write(p []byte) (int, error) {
	c.h.mu.Lock()
	x := c.h.cur
	c.h.mu.Unlock()
	c.x.Store(x)
	n, err := c.Conn.Write(p)
	if err != nil || bytes.HasSuffix(p, []byte("\r\n\r\n")) {
		// The request's headers (the Transport flushes them before a body it does not know).
		return n, err
	}
	select {
	case <-x.read:
		c.h.opened.Add(1)
	case <-time.After(windowTimeout):
	}
	return n, err
}

func (c *heldConn) Close() error {
	if x := c.x.Load(); x != nil {
		x.closeOnce.Do(func() { close(x.closed) })
	}
	return c.Conn.Close()
}

// An answer that arrives while the Transport still writes the request is read in full: the
// SDK's early close of the request body does not close the connection under the response.
// Every DescribeInstances here is answered before its body write returns; the SDK makes one
// attempt, so a cut-off answer fails the call.
func TestAnswerBeforeTheBodyWriteEndsIsReadInFull(t *testing.T) {
	ctx := context.Background()
	c, err := testcloud.Start(env, testcloud.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.AddProjectWithQuota(t, "early", cloudv1.ProjectQuota{Instances: ptr.To(int32(32)), VCPUs: ptr.To(int32(32)), MemoryMiB: ptr.To(int64(1 << 16))})
	creds := c.AddUser(t, "early-user", false, "early")
	ami := c.RegisterRawImage(t, creds, "early", "img", []byte("an image no guest boots\n"), false)
	c.AddNode(t, "early-node", "early-zone", 64, 1<<16)
	const instances = 16
	if _, err := c.EC2(creds).RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), InstanceType: "m1.tiny",
		MinCount: aws.Int32(instances), MaxCount: aws.Int32(instances),
		Placement: &types.Placement{AvailabilityZone: aws.String("early-zone")}}); err != nil {
		t.Fatal(err)
	}

	held := newHeldWriter()
	cl := ec2.New(ec2.Options{
		BaseEndpoint: aws.String(c.EC2URL), Region: testcloud.Region,
		Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
		HTTPClient:  sdkhttp.Wrap(held),
		Retryer:     retry.AddWithMaxAttempts(retry.NewStandard(), 1),
	})
	const calls = 5
	for i := range calls {
		out, err := cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		n := 0
		for _, r := range out.Reservations {
			n += len(r.Instances)
		}
		if n != instances {
			t.Fatalf("call %d described %d instances, want %d", i, n, instances)
		}
	}
	// Each call was answered while its body write was held back (else this test tested nothing).
	if got := held.opened.Load(); got != calls {
		t.Fatalf("%d of %d answers arrived while the body write was held back", got, calls)
	}
}

// doerFunc is a Doer that records what it was given.
type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(req *http.Request) (*http.Response, error) { return f(req) }

// A body reaches the wrapped client with its bytes and its Close, and without WriteTo; a
// request without a body is passed on as it is.
func TestBodyKeepsReadAndCloseOnly(t *testing.T) {
	var got *http.Request
	c := sdkhttp.Wrap(doerFunc(func(req *http.Request) (*http.Response, error) { got = req; return nil, nil }))

	closed := false
	body := closeRecorder{Reader: bytes.NewReader([]byte("Action=DescribeRegions")), closed: &closed}
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:1/", body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(req); err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Body.(io.WriterTo); ok {
		t.Error("the body passed on still has WriteTo")
	}
	if data, err := io.ReadAll(got.Body); err != nil || string(data) != "Action=DescribeRegions" {
		t.Errorf("the body passed on reads %q, %v", data, err)
	}
	if err := got.Body.Close(); err != nil || !closed {
		t.Errorf("closing the body passed on: %v, closed %v", err, closed)
	}

	for _, b := range []io.ReadCloser{nil, http.NoBody} {
		req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Body = b
		if _, err := c.Do(req); err != nil {
			t.Fatal(err)
		}
		if got.Body != b {
			t.Errorf("a request with body %v was passed on with %T", b, got.Body)
		}
	}
}

// closeRecorder is a body with WriteTo (as the SDK's is) that records its Close.
type closeRecorder struct {
	*bytes.Reader
	closed *bool
}

func (r closeRecorder) Close() error { *r.closed = true; return nil }
