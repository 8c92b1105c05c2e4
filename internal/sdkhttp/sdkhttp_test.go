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

// windowTimeout bounds how long a held-back body write waits for the client to read the answer.
const windowTimeout = time.Minute

// slowWriterConn is a client connection whose goroutine writing a request body is held back
// right after the body's bytes are sent, until the response has arrived and the caller reads
// its body (a second read of the connection: the first brought the headers). That is what a
// loaded machine does at random: the server answers while the Transport's writing goroutine
// waits for a CPU before it finishes the request.
type slowWriterConn struct {
	net.Conn
	mu        sync.Mutex
	reads     int
	readAgain chan struct{}
	// opened counts the requests whose answer was read before their body write returned.
	opened *atomic.Int64
}

func (c *slowWriterConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	c.reads++
	if c.reads == 2 && c.readAgain != nil {
		close(c.readAgain)
		c.readAgain = nil
	}
	c.mu.Unlock()
	return c.Conn.Read(p)
}

func (c *slowWriterConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil || bytes.HasSuffix(p, []byte("\r\n\r\n")) {
		// The request's headers: a new exchange starts.
		c.mu.Lock()
		c.reads, c.readAgain = 0, make(chan struct{})
		c.mu.Unlock()
		return n, err
	}
	c.mu.Lock()
	again := c.readAgain
	c.mu.Unlock()
	if again != nil {
		select {
		case <-again:
			c.opened.Add(1)
		case <-time.After(windowTimeout):
		}
	}
	return n, err
}

// slowWriterClient is an HTTP client whose connections are slowWriterConns.
func slowWriterClient(opened *atomic.Int64) *http.Client {
	d := &net.Dialer{}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &slowWriterConn{Conn: conn, opened: opened}, nil
		},
	}}
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

	var opened atomic.Int64
	cl := ec2.New(ec2.Options{
		BaseEndpoint: aws.String(c.EC2URL), Region: testcloud.Region,
		Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
		HTTPClient:  sdkhttp.Wrap(slowWriterClient(&opened)),
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
	if got := opened.Load(); got != calls {
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
