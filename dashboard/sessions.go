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

package dashboard

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// A session is one signed-in browser. It is kept only in this process's memory (a restarted
// dashboard signs everyone out); the secret key itself is never kept, only its digest, so a
// session also ends when the key's secret changes.
type session struct {
	id string
	// csrf is the token every form of the session carries.
	csrf string
	// accessKeyID is the key the user signed in with, without a project.
	accessKeyID  string
	secretDigest [sha256.Size]byte
	user         string
	admin        bool
	// project is the project the session acts in; "" until one is picked.
	project  string
	lastSeen time.Time
}

// sessions holds the live sessions by id.
type sessions struct {
	mu    sync.Mutex
	clock clock.PassiveClock
	idle  time.Duration
	byID  map[string]*session
}

func newSessions(clk clock.PassiveClock, idle time.Duration) *sessions {
	return &sessions{clock: clk, idle: idle, byID: map[string]*session{}}
}

// randomToken is 32 random bytes, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on a supported platform
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func digest(secret string) [sha256.Size]byte { return sha256.Sum256([]byte(secret)) }

// start opens a session; its copy is returned.
func (ss *sessions) start(accessKeyID, secret, user string, admin bool, project string) session {
	s := &session{id: randomToken(), csrf: randomToken(), accessKeyID: accessKeyID, secretDigest: digest(secret),
		user: user, admin: admin, project: project, lastSeen: ss.clock.Now()}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.byID[s.id] = s
	return *s
}

// get returns a copy of the live session with id and marks it used; false when there is none or
// it has been idle too long.
func (ss *sessions) get(id string) (session, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.byID[id]
	if !ok {
		return session{}, false
	}
	now := ss.clock.Now()
	if now.Sub(s.lastSeen) > ss.idle {
		delete(ss.byID, id)
		return session{}, false
	}
	s.lastSeen = now
	return *s, true
}

// setProject changes the project a session acts in.
func (ss *sessions) setProject(id, project string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if s, ok := ss.byID[id]; ok {
		s.project = project
	}
}

// end ends a session.
func (ss *sessions) end(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.byID, id)
}

// sweep drops idle sessions every few minutes until ctx ends.
func (ss *sessions) sweep(ctx context.Context) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ss.mu.Lock()
		now := ss.clock.Now()
		for id, s := range ss.byID {
			if now.Sub(s.lastSeen) > ss.idle {
				delete(ss.byID, id)
			}
		}
		ss.mu.Unlock()
	}
}

// sameToken compares two tokens in constant time; an empty token never matches.
func sameToken(got, want string) bool {
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// Sign-in throttling: at most maxFailures failed sign-ins per client address and access key in a
// window. Counting per key and address together keeps one guesser from locking a user out
// everywhere, and answers the same whether or not the key exists.
const (
	maxFailures   = 10
	failureWindow = 10 * time.Minute
)

// failures counts failed sign-ins by client address and key.
type failures struct {
	mu    sync.Mutex
	clock clock.PassiveClock
	by    map[string]failureCount
}

type failureCount struct {
	n     int
	first time.Time
}

func newFailures(clk clock.PassiveClock) *failures {
	return &failures{clock: clk, by: map[string]failureCount{}}
}

// blocked reports whether key has failed too often lately.
func (f *failures) blocked(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.by[key]
	if ok && f.clock.Since(c.first) > failureWindow {
		delete(f.by, key)
		return false
	}
	return c.n >= maxFailures
}

// failed counts one failure of key (and forgets windows that have passed).
func (f *failures) failed(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.clock.Now()
	if len(f.by) > 10000 {
		for k, c := range f.by {
			if now.Sub(c.first) > failureWindow {
				delete(f.by, k)
			}
		}
	}
	c := f.by[key]
	if c.n == 0 || now.Sub(c.first) > failureWindow {
		c = failureCount{first: now}
	}
	c.n++
	f.by[key] = c
}

// succeeded forgets key's failures.
func (f *failures) succeeded(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.by, key)
}
