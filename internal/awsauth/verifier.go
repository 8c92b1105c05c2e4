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

package awsauth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Verifier authenticates the requests of one service against a CredentialStore.
// It is safe for concurrent use once configured.
type Verifier struct {
	// Store finds the secret of an access key. Required.
	Store CredentialStore
	// Service is the SigV4 service the credential scope must name: ServiceEC2 or ServiceS3.
	// It also selects the service's rules: S3 signs the path as sent and declares its payload
	// hash in x-amz-content-sha256; other services normalise and re-encode the path, and their
	// body is hashed by Verify.
	Service string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxSkew is how far a request's date may be from Now, either way; 0 means DefaultMaxSkew.
	MaxSkew time.Duration
	// MaxBody is the largest body Verify reads to hash (EC2 form posts); 0 means DefaultMaxBody.
	// S3 bodies are never read by Verify: Identity.Body checks them while the handler reads.
	MaxBody int64
}

// Identity is who signed a request and how.
type Identity struct {
	// AccessKeyID is the access key exactly as the request named it.
	AccessKeyID string
	// Principal is the user and project the key stands for.
	Principal Principal
	// Method is one of MethodSigV4Header, MethodSigV4Query, MethodSigV2Header, MethodSigV2Query.
	Method string
	// Region is the region of the SigV4 credential scope; empty for SigV2.
	Region string
	// PayloadHash is the payload hash the signature covers: for S3 the declared
	// x-amz-content-sha256 (a hex SHA-256, UnsignedPayload, or one of the streaming forms;
	// UnsignedPayload for presigned requests that declare none); for other services the hex
	// SHA-256 of the body Verify read. Empty for SigV2, which signs no payload hash.
	PayloadHash string

	// chunks holds what the chunk signatures of a signed streaming upload are checked with.
	chunks *chunkKey
}

// chunkKey is the signing key and seed of a SigV4 request, which its aws-chunked payload's
// chunk and trailer signatures chain from.
type chunkKey struct {
	key     []byte
	seed    string // hex signature of the request itself
	amzDate string
	scope   string
}

// Verify authenticates r: it finds the signature (SigV4 in the Authorization header or the
// query, SigV2 in the query, form body or S3's Authorization header), checks its date,
// looks up the access key and compares the signature in constant time.
//
// Every error wraps exactly one of the Err kinds, except a CredentialStore failure that wraps
// neither ErrUnknownKey nor ErrRetiredKey: that is returned wrapped as it is, so the caller can
// answer it as an internal error rather than an authentication failure.
//
// For services other than S3, Verify reads the body (up to MaxBody) to hash it and puts it
// back on r.Body, so the handler still reads the whole body. For S3 it leaves the body alone:
// read it through Identity.Body, which checks it against the declared payload hash.
//
// The region of the credential scope is reported, not checked. A session token
// (X-Amz-Security-Token) is covered by the signature like any other header or parameter but
// is not checked: PiNet's keys are long-term.
func (v *Verifier) Verify(r *http.Request) (*Identity, error) {
	if v.Store == nil {
		return nil, errors.New("awsauth: verifier has no credential store")
	}
	var payload []byte
	if v.Service != ServiceS3 {
		var err error
		if payload, err = v.capturePayload(r); err != nil {
			return nil, err
		}
	}
	query, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, err
	}
	auth, hasAuth, err := authorizationHeader(r)
	if err != nil {
		return nil, err
	}
	v4Query := query.has("X-Amz-Algorithm") || query.has("X-Amz-Credential") || query.has("X-Amz-Signature")
	v2Query := query.has("Signature") || query.has("AWSAccessKeyId")
	switch {
	case hasAuth && (v4Query || v2Query):
		return nil, fmt.Errorf("%w: the request carries both an Authorization header and a query signature; use one", ErrMalformed)
	case hasAuth:
		return v.verifyAuthorization(r, auth, query, payload)
	case v4Query:
		p, err := v.parseV4Query(query)
		if err != nil {
			return nil, err
		}
		return v.verifyV4(r, p, query, payload)
	case v.Service == ServiceS3 && v2Query:
		return v.verifyS3V2Query(r, query)
	case v.Service != ServiceS3:
		return v.verifyEC2V2(r, query, payload)
	}
	return nil, fmt.Errorf("%w: the request has no Authorization header and no signature in its query", ErrMissingAuth)
}

// verifyAuthorization dispatches on the scheme of the Authorization header.
func (v *Verifier) verifyAuthorization(r *http.Request, auth string, query queryParams, payload []byte) (*Identity, error) {
	scheme, _, _ := strings.Cut(auth, " ")
	switch scheme {
	case algorithmV4:
		p, err := v.parseV4Header(r, auth)
		if err != nil {
			return nil, err
		}
		return v.verifyV4(r, p, query, payload)
	case algorithmV4A:
		return nil, fmt.Errorf("%w: Signature Version 4A (%s) is not supported; sign with %s", ErrMalformed, algorithmV4A, algorithmV4)
	case "AWS":
		return v.verifyS3V2Header(r, auth, query)
	}
	return nil, fmt.Errorf("%w: Authorization header scheme %s is not supported; sign with %s", ErrMalformed, quoted(scheme), algorithmV4)
}

// authorizationHeader returns the single Authorization header of r, if any.
func authorizationHeader(r *http.Request) (string, bool, error) {
	values := r.Header.Values("Authorization")
	switch {
	case len(values) == 0:
		return "", false, nil
	case len(values) > 1:
		return "", false, fmt.Errorf("%w: the request has %d Authorization headers; send one", ErrMalformed, len(values))
	case strings.TrimSpace(values[0]) == "":
		return "", false, fmt.Errorf("%w: the Authorization header is empty", ErrMalformed)
	}
	return values[0], true, nil
}

// capturePayload reads the body to hash it, up to MaxBody, and puts it back on r.
func (v *Verifier) capturePayload(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	limit := v.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	tooLarge := fmt.Errorf("%w: the request body is larger than %d bytes, the most this endpoint reads to verify a signature", ErrBodyTooLarge, limit)
	if r.ContentLength > limit {
		// Refused before a byte of it is read.
		return nil, tooLarge
	}
	buf, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	r.Body = replayedBody{Reader: io.MultiReader(bytes.NewReader(buf), r.Body), Closer: r.Body}
	var maxBytes *http.MaxBytesError
	switch {
	case errors.As(err, &maxBytes):
		// The server's own bound on the body is lower than the verifier's.
		return nil, fmt.Errorf("%w: the request body is larger than %d bytes", ErrBodyTooLarge, maxBytes.Limit)
	case err != nil:
		return nil, fmt.Errorf("%w: reading the request body: %w", ErrMalformed, err)
	case int64(len(buf)) > limit:
		return nil, tooLarge
	}
	return buf, nil
}

// replayedBody is a request body whose first bytes were already read once.
type replayedBody struct {
	io.Reader
	io.Closer
}

// lookup finds the credential of an access key, keeping the store's error kind.
func (v *Verifier) lookup(r *http.Request, accessKeyID string) (Credential, error) {
	cred, err := v.Store.Lookup(r.Context(), accessKeyID)
	if err != nil {
		return Credential{}, fmt.Errorf("access key %s: %w", quoted(accessKeyID), err)
	}
	return cred, nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return DefaultMaxSkew
}

// checkSkew refuses a request dated too far from the server's clock, either way.
func (v *Verifier) checkSkew(t time.Time) error {
	now := v.now()
	if d := now.Sub(t); d > v.maxSkew() || d < -v.maxSkew() {
		return fmt.Errorf("%w: the request is dated %s, more than %s from the server's time %s",
			ErrExpired, t.UTC().Format(time.RFC3339), v.maxSkew(), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// checkExpiry refuses a request valid only until expiry once that has passed.
func (v *Verifier) checkExpiry(expiry time.Time) error {
	if now := v.now(); now.After(expiry) {
		return fmt.Errorf("%w: the request expired at %s; the server's time is %s",
			ErrExpired, expiry.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// checkExpiryV2 checks the absolute Expires of a SigV2 request: not passed, and no further
// ahead than a presigned SigV4 request may be valid (a week, plus the clock skew allowed).
func (v *Verifier) checkExpiryV2(expiry time.Time) error {
	if ahead := expiry.Sub(v.now()); ahead > MaxPresignExpiry+v.maxSkew() {
		return fmt.Errorf("%w: Expires %s is more than a week (%s) ahead of the server's time; presign for a week at most",
			ErrMalformed, expiry.UTC().Format(time.RFC3339), MaxPresignExpiry)
	}
	return v.checkExpiry(expiry)
}

// quoted quotes a client-supplied value for an error message, cut to a readable length.
func quoted(s string) string {
	const max = 96
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}
