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
	"net/http"

	"pinet.io/pinet/internal/awsauth"
)

// VerifierAuthenticator authenticates requests with awsauth's SigV4/SigV2 verifier, whose
// Service must be awsauth.ServiceS3.
type VerifierAuthenticator struct {
	Verifier *awsauth.Verifier
}

// Authenticate implements Authenticator.
func (a VerifierAuthenticator) Authenticate(r *http.Request) (*Caller, error) {
	id, err := a.Verifier.Verify(r)
	if err != nil {
		return nil, err
	}
	// The verifier's payload reader would also check Content-MD5 and x-amz-checksum-* headers,
	// but it reports every mismatch alike; S3 answers those with BadDigest and InvalidDigest, so
	// the store checks them itself (see payload) and hides them from the verifier. The
	// signature was already checked against the original headers.
	body, err := id.Body(withoutDigestHeaders(r))
	if err != nil {
		return nil, err
	}
	return &Caller{AccessKeyID: id.AccessKeyID, Principal: id.Principal, Body: body}, nil
}

// withoutDigestHeaders returns a copy of r, sharing its body, without the digest headers the
// store checks itself.
func withoutDigestHeaders(r *http.Request) *http.Request {
	c := r.Clone(r.Context())
	c.Header.Del("Content-MD5")
	for _, h := range awsauth.ChecksumHeaders() {
		c.Header.Del(h)
	}
	return c
}
