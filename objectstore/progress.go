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

package objectstore

import (
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// progressBody is a request body read under the server's whole-request ReadTimeout until the
// request is authenticated; once armed, every read moves the connection's read deadline to
// idle from now, so an authenticated upload of any size streams as long as it keeps moving,
// and one that stalls is cut off. Network deadlines are wall-clock times, hence time.Now.
type progressBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	idle  time.Duration
	armed atomic.Bool
	// read counts the bytes read.
	read atomic.Int64
}

// arm is called once the request is authenticated. A request without a body has been read in
// full: its read deadline is lifted, since the server's background read of an idle connection
// would otherwise hit it during a long response and cancel the request's context.
func (b *progressBody) arm(hasBody bool) {
	b.armed.Store(true)
	if !hasBody {
		// An error means the connection has no deadlines (not a net.Conn).
		_ = b.rc.SetReadDeadline(time.Time{})
	}
}

func (b *progressBody) Read(p []byte) (int, error) {
	armed := b.armed.Load()
	if armed {
		_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	}
	n, err := b.ReadCloser.Read(p)
	b.read.Add(int64(n))
	if armed && err == io.EOF {
		// Read in full: lift the deadline, as for a request without a body.
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
