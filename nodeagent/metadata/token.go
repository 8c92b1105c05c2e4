// Copyright 2026 The PiNet Authors.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//	http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

package metadata

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"strconv"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/log"
)

// The IMDSv2 headers and bounds (EC2's).
const (
	tokenHeader    = "X-Aws-Ec2-Metadata-Token"
	tokenTTLHeader = "X-Aws-Ec2-Metadata-Token-Ttl-Seconds"
	maxTokenTTL    = 21600
	tokenPath      = "/latest/api/token"
)

var (
	errBadToken     = errors.New("the token is not valid")
	errExpiredToken = errors.New("the token has expired")
	errNoToken      = errors.New("this instance requires a token (IMDSv2)")
)

// A token is base64url(expiry || mac): the expiry as Unix seconds, big-endian, and an
// HMAC-SHA256 over a label, the instance id and the expiry under the server's key. It says
// nothing about the instance it is for; only that instance's own id verifies it.
const tokenBytes = 8 + sha256.Size

func (s *Server) tokenMAC(instanceID string, expiry []byte) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte("pinet-imds-token\x00"))
	h.Write([]byte(instanceID))
	h.Write([]byte{0})
	h.Write(expiry)
	return h.Sum(nil)
}

func (s *Server) mintToken(instanceID string, ttl time.Duration) string {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, tokenBytes), uint64(s.clock.Now().Add(ttl).Unix()))
	b = append(b, s.tokenMAC(instanceID, b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// checkToken verifies a token for the instance. A token of another instance fails its MAC
// like a forged one.
func (s *Server) checkToken(token, instanceID string) error {
	if len(token) != base64.RawURLEncoding.EncodedLen(tokenBytes) {
		return errBadToken
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != tokenBytes {
		return errBadToken
	}
	if !hmac.Equal(b[8:], s.tokenMAC(instanceID, b[:8])) {
		return errBadToken
	}
	if expiry := int64(binary.BigEndian.Uint64(b[:8])); s.clock.Now().Unix() >= expiry {
		return errExpiredToken
	}
	return nil
}

// putToken answers PUT /latest/api/token: a token for the caller, valid for the TTL it asks.
// As on EC2, a request that came through a proxy (X-Forwarded-For) gets none.
func (s *Server) putToken(w http.ResponseWriter, r *http.Request) {
	if _, proxied := r.Header["X-Forwarded-For"]; proxied {
		fail(w, http.StatusForbidden, "tokens are not issued to forwarded requests")
		return
	}
	ttl, ok := parseTTL(r.Header.Values(tokenTTLHeader))
	if !ok {
		fail(w, http.StatusBadRequest, "header "+tokenTTLHeader+" must be one whole number of seconds from 1 to 21600")
		return
	}
	inst, code, err := s.caller(r)
	if err != nil {
		fail(w, code, err.Error())
		return
	}
	if err := limitHops(r, inst.TokenHopLimit); err != nil {
		log.FromContext(r.Context()).Error(err, "Limiting the hops of a token", "instance", inst.InstanceID)
		fail(w, http.StatusInternalServerError, "the token could not be sent")
		return
	}
	w.Header().Set(tokenTTLHeader, strconv.Itoa(ttl))
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(s.mintToken(inst.InstanceID, time.Duration(ttl)*time.Second)))
}

// parseTTL accepts exactly one header value of decimal digits from 1 to 21600.
func parseTTL(values []string) (int, bool) {
	if len(values) != 1 || len(values[0]) == 0 || len(values[0]) > 5 {
		return 0, false
	}
	ttl := 0
	for _, c := range []byte(values[0]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		ttl = ttl*10 + int(c-'0')
	}
	return ttl, ttl >= 1 && ttl <= maxTokenTTL
}
