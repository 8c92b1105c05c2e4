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
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const refusalForm = "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-0123456789abcdef0"

// signedPost is the server side of an EC2 form post the SDK's signer signed.
func signedPost(t *testing.T, at time.Time, key, secret, service string) *http.Request {
	t.Helper()
	r, _ := http.NewRequest(http.MethodPost, "http://ec2.pinet.test:8773/", strings.NewReader(refusalForm))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sdkSignAs(t, r, hexSHA256Bytes([]byte(refusalForm)), service, at, key, secret)
	return overTheWire(t, r)
}

// signedGet is the server side of an EC2 query request with a signed custom header.
func signedGet(t *testing.T, at time.Time) *http.Request {
	t.Helper()
	r, _ := http.NewRequest(http.MethodGet, "http://ec2.pinet.test:8773/?"+refusalForm, nil)
	r.Header.Set("X-Pinet-Trace", "abc")
	sdkSign(t, r, emptySHA256, ServiceEC2, at, testSecret)
	return overTheWire(t, r)
}

// signedPut is the server side of an S3 put the SDK's signer signed with a hex payload hash.
func signedPut(t *testing.T, at time.Time, data []byte, change func(*http.Request)) *http.Request {
	t.Helper()
	r, _ := http.NewRequest(http.MethodPut, "http://s3.pinet.test:3333/bucket/key", bytes.NewReader(data))
	r.Header.Set("X-Amz-Content-Sha256", hexSHA256Bytes(data))
	r.Header.Set("X-Amz-Meta-Owner", "alice")
	if change != nil {
		change(r)
	}
	sdkSign(t, r, r.Header.Get("X-Amz-Content-Sha256"), ServiceS3, at, testSecret)
	return overTheWire(t, r)
}

// presigned is the server side of a presigned GET for a service.
func presigned(t *testing.T, service string, at time.Time, expires time.Duration) *http.Request {
	t.Helper()
	r, _ := http.NewRequest(http.MethodGet, "http://pinet.test/bucket/key?Action=DescribeRegions", nil)
	hash := UnsignedPayload
	if service != ServiceS3 {
		hash = emptySHA256
	}
	return overTheWire(t, sdkPresign(t, r, hash, service, at, expires))
}

// withAuth replaces the Authorization header of a signed request.
func withAuth(r *http.Request, auth string) *http.Request {
	r.Header.Set("Authorization", auth)
	return r
}

// withQuery rewrites the query of a request.
func withQuery(r *http.Request, change func(url.Values)) *http.Request {
	q := r.URL.Query()
	change(q)
	r.URL.RawQuery = q.Encode()
	r.RequestURI = r.URL.RequestURI()
	return r
}

type refusal struct {
	name    string
	service string
	build   func(t *testing.T) *http.Request
	kind    error
	// mention is what the message must name for the user to act on it.
	mention string
}

// TestRefusals checks every way Verify refuses a request, the kind of each error and that its
// message says what is wrong without revealing secrets.
func TestRefusals(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	cred := "Credential=" + testKey + "/" + now.Format(scopeDateLayout) + "/us-east-1/ec2/aws4_request"
	sig := "Signature=" + strings.Repeat("ab", 32)
	var cases []refusal
	cases = append(cases, tamperings(now)...)
	cases = append(cases, timeRefusals(now)...)
	cases = append(cases, shapeRefusals(now, cred, sig)...)
	cases = append(cases, s3Refusals(now)...)
	cases = append(cases, malformedAuthorizations(now, cred, sig)...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.service == "" {
				tc.service = ServiceEC2
			}
			v := &Verifier{Store: testStore(), Service: tc.service, Now: func() time.Time { return now }}
			r := tc.build(t)
			id, err := v.Verify(r)
			if err == nil {
				t.Fatalf("accepted as %+v", id)
			}
			assertKind(t, err, tc.kind, expectedSignatures(t, v, r)...)
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("message %q does not mention %q", err, tc.mention)
			}
		})
	}
}

// tamperings are signed requests with something changed after signing.
func tamperings(now time.Time) []refusal {
	return []refusal{
		{name: "wrong secret", build: func(t *testing.T) *http.Request { return signedPost(t, now, testKey, wrongSecret, ServiceEC2) }, kind: ErrSignatureMismatch, mention: "secret"},
		{name: "tampered body", build: func(t *testing.T) *http.Request {
			r := signedPost(t, now, testKey, testSecret, ServiceEC2)
			r.Body = readCloser(strings.Replace(refusalForm, "abcdef0", "abcdef1", 1))
			return r
		}, kind: ErrSignatureMismatch},
		{name: "tampered query", build: func(t *testing.T) *http.Request {
			return withQuery(signedGet(t, now), func(q url.Values) { q.Set("InstanceId.1", "i-0123456789abcdef1") })
		}, kind: ErrSignatureMismatch},
		{name: "added query parameter", build: func(t *testing.T) *http.Request {
			return withQuery(signedGet(t, now), func(q url.Values) { q.Set("DryRun", "true") })
		}, kind: ErrSignatureMismatch},
		{name: "tampered signed header", build: func(t *testing.T) *http.Request {
			r := signedGet(t, now)
			r.Header.Set("X-Pinet-Trace", "abd")
			return r
		}, kind: ErrSignatureMismatch},
		{name: "signed header removed", build: func(t *testing.T) *http.Request {
			r := signedGet(t, now)
			r.Header.Del("X-Pinet-Trace")
			return r
		}, kind: ErrSignatureMismatch, mention: "x-pinet-trace"},
	}
}

// timeRefusals are requests dated outside their window.
func timeRefusals(now time.Time) []refusal {
	return []refusal{
		{name: "dated 16 minutes ago", build: func(t *testing.T) *http.Request {
			return signedPost(t, now.Add(-16*time.Minute), testKey, testSecret, ServiceEC2)
		}, kind: ErrExpired, mention: "15m0s"},
		{name: "dated 16 minutes ahead", build: func(t *testing.T) *http.Request {
			return signedPost(t, now.Add(16*time.Minute), testKey, testSecret, ServiceEC2)
		}, kind: ErrExpired, mention: "15m0s"},
		{name: "presigned request expired", build: func(t *testing.T) *http.Request {
			return presigned(t, ServiceEC2, now.Add(-10*time.Minute), 5*time.Minute)
		}, kind: ErrExpired, mention: "expired"},
		{name: "presigned request dated ahead", build: func(t *testing.T) *http.Request {
			return presigned(t, ServiceEC2, now.Add(20*time.Minute), 5*time.Minute)
		}, kind: ErrExpired},
		{name: "presigned for more than a week", build: func(t *testing.T) *http.Request {
			return presigned(t, ServiceEC2, now, 8*24*time.Hour)
		}, kind: ErrMalformed, mention: "X-Amz-Expires"},
		{name: "presigned without X-Amz-Expires", build: func(t *testing.T) *http.Request {
			return withQuery(presigned(t, ServiceEC2, now, time.Minute), func(q url.Values) { q.Del("X-Amz-Expires") })
		}, kind: ErrMalformed, mention: "X-Amz-Expires"},
		{name: "presigned with SigV4A", build: func(t *testing.T) *http.Request {
			return withQuery(presigned(t, ServiceEC2, now, time.Minute), func(q url.Values) { q.Set("X-Amz-Algorithm", algorithmV4A) })
		}, kind: ErrMalformed, mention: "4A"},
	}
}

// shapeRefusals are requests whose keys, scope or shape are wrong.
func shapeRefusals(now time.Time, cred, sig string) []refusal {
	return []refusal{
		{name: "unknown key", build: func(t *testing.T) *http.Request {
			return signedPost(t, now, "AKIANOSUCHKEYEXAMPLE", testSecret, ServiceEC2)
		}, kind: ErrUnknownKey, mention: "AKIANOSUCHKEYEXAMPLE"},
		{name: "retired key", build: func(t *testing.T) *http.Request {
			return signedPost(t, now, retiredKey, retiredSec, ServiceEC2)
		}, kind: ErrRetiredKey, mention: retiredKey},
		{name: "no signature", build: func(t *testing.T) *http.Request {
			r, _ := http.NewRequest(http.MethodPost, "http://ec2.pinet.test/", strings.NewReader(refusalForm))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return overTheWire(t, r)
		}, kind: ErrMissingAuth},
		{name: "no signature on s3", service: ServiceS3, build: func(t *testing.T) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, "http://s3.pinet.test/bucket/key?acl", nil)
			return overTheWire(t, r)
		}, kind: ErrMissingAuth},
		{name: "wrong service in scope", build: func(t *testing.T) *http.Request {
			return signedPost(t, now, testKey, testSecret, "sts")
		}, kind: ErrMalformed, mention: `"sts"`},
		{name: "ec2 scope on s3", service: ServiceS3, build: func(t *testing.T) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, "http://s3.pinet.test/bucket/key", nil)
			r.Header.Set("X-Amz-Content-Sha256", emptySHA256)
			sdkSign(t, r, emptySHA256, ServiceEC2, now, testSecret)
			return overTheWire(t, r)
		}, kind: ErrMalformed, mention: `"ec2"`},
		{name: "scope date is not the request date", build: func(t *testing.T) *http.Request {
			r := signedPost(t, now, testKey, testSecret, ServiceEC2)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), now.Format(scopeDateLayout), now.AddDate(0, 0, -1).Format(scopeDateLayout), 1))
			return r
		}, kind: ErrMalformed, mention: "date"},
		{name: "no date", build: func(t *testing.T) *http.Request {
			r := signedPost(t, now, testKey, testSecret, ServiceEC2)
			r.Header.Del("X-Amz-Date")
			return r
		}, kind: ErrMalformed, mention: "X-Amz-Date"},
		{name: "bad X-Amz-Date", build: func(t *testing.T) *http.Request {
			r := signedPost(t, now, testKey, testSecret, ServiceEC2)
			r.Header.Set("X-Amz-Date", now.Format(time.RFC3339))
			return r
		}, kind: ErrMalformed, mention: "X-Amz-Date"},
		{name: "body larger than MaxBody", build: func(t *testing.T) *http.Request {
			r := signedPost(t, now, testKey, testSecret, ServiceEC2)
			r.Body = readCloser(refusalForm + strings.Repeat("&A=B", 1<<18))
			return r
		}, kind: ErrBodyTooLarge, mention: "1048576"},
		{name: "declared length larger than MaxBody", build: func(t *testing.T) *http.Request {
			r := signedPost(t, now, testKey, testSecret, ServiceEC2)
			r.ContentLength = 2 << 20
			r.Body = readCloser("")
			return r
		}, kind: ErrBodyTooLarge, mention: "1048576"},
		{name: "header and query signatures", build: func(t *testing.T) *http.Request {
			r := presigned(t, ServiceEC2, now, time.Minute)
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 "+cred+", SignedHeaders=host, "+sig)
			return r
		}, kind: ErrMalformed, mention: "both"},
		{name: "two Authorization headers", build: func(t *testing.T) *http.Request {
			r := signedPost(t, now, testKey, testSecret, ServiceEC2)
			r.Header.Add("Authorization", r.Header.Get("Authorization"))
			return r
		}, kind: ErrMalformed, mention: "Authorization"},
	}
}

// s3Refusals are refusals particular to S3.
func s3Refusals(now time.Time) []refusal {
	return []refusal{
		{name: "s3 without x-amz-content-sha256", service: ServiceS3, build: func(t *testing.T) *http.Request {
			r := signedPut(t, now, []byte("data"), nil)
			r.Header.Del("X-Amz-Content-Sha256")
			return r
		}, kind: ErrMalformed, mention: "x-amz-content-sha256"},
		{name: "s3 with a bad x-amz-content-sha256", service: ServiceS3, build: func(t *testing.T) *http.Request {
			return signedPut(t, now, []byte("data"), func(r *http.Request) {
				r.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD")
			})
		}, kind: ErrMalformed, mention: "x-amz-content-sha256"},
		{name: "s3 tampered signed header", service: ServiceS3, build: func(t *testing.T) *http.Request {
			r := signedPut(t, now, []byte("data"), nil)
			r.Header.Set("X-Amz-Meta-Owner", "mallory")
			return r
		}, kind: ErrSignatureMismatch},
		{name: "s3 unsigned x-amz header", service: ServiceS3, build: func(t *testing.T) *http.Request {
			r := signedPut(t, now, []byte("data"), nil)
			r.Header.Set("X-Amz-Acl", "public-read")
			return r
		}, kind: ErrSignatureMismatch, mention: "x-amz-acl"},
		{name: "s3 presigned expired", service: ServiceS3, build: func(t *testing.T) *http.Request {
			return presigned(t, ServiceS3, now.Add(-2*time.Hour), time.Hour)
		}, kind: ErrExpired},
		{name: "s3 presigned tampered path", service: ServiceS3, build: func(t *testing.T) *http.Request {
			r := presigned(t, ServiceS3, now, time.Hour)
			r.RequestURI = strings.Replace(r.RequestURI, "/bucket/key", "/bucket/kez", 1)
			return r
		}, kind: ErrSignatureMismatch},
		{name: "s3 presigned streaming payload", service: ServiceS3, build: func(t *testing.T) *http.Request {
			return withQuery(presigned(t, ServiceS3, now, time.Minute), func(q url.Values) { q.Set("X-Amz-Content-Sha256", StreamingPayload) })
		}, kind: ErrMalformed, mention: "X-Amz-Content-Sha256"},
	}
}

// malformedAuthorizations are Authorization headers Verify cannot parse.
func malformedAuthorizations(now time.Time, cred, sig string) []refusal {
	signedPostAt := func(auth string) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			return withAuth(signedPost(t, now, testKey, testSecret, ServiceEC2), auth)
		}
	}
	sh := "SignedHeaders=host;x-amz-date"
	out := []refusal{}
	for _, tc := range []struct{ name, auth, mention string }{
		{"only the algorithm", "AWS4-HMAC-SHA256", "Credential"},
		{"no Signature", "AWS4-HMAC-SHA256 " + cred + ", " + sh, "Signature"},
		{"no SignedHeaders", "AWS4-HMAC-SHA256 " + cred + ", " + sig, "SignedHeaders"},
		{"no Credential", "AWS4-HMAC-SHA256 " + sh + ", " + sig, "Credential"},
		{"component without value", "AWS4-HMAC-SHA256 Credential, " + sh + ", " + sig, "Name=Value"},
		{"empty component", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=, " + sig, "SignedHeaders"},
		{"unknown component", "AWS4-HMAC-SHA256 " + cred + ", " + sh + ", " + sig + ", Foo=bar", "Foo"},
		{"repeated component", "AWS4-HMAC-SHA256 " + cred + ", " + sh + ", " + sig + ", " + sig, "repeats"},
		{"short credential", "AWS4-HMAC-SHA256 Credential=KEY/us-east-1/ec2/aws4_request, " + sh + ", " + sig, "Credential"},
		{"bad credential date", "AWS4-HMAC-SHA256 Credential=KEY/2026-01-01/us-east-1/ec2/aws4_request, " + sh + ", " + sig, "YYYYMMDD"},
		{"bad terminator", "AWS4-HMAC-SHA256 " + strings.Replace(cred, "aws4_request", "aws5_request", 1) + ", " + sh + ", " + sig, "aws4_request"},
		{"no access key", "AWS4-HMAC-SHA256 Credential=/20260101/us-east-1/ec2/aws4_request, " + sh + ", " + sig, "access key"},
		{"signature not hex", "AWS4-HMAC-SHA256 " + cred + ", " + sh + ", Signature=zz", "hexadecimal"},
		{"signature too short", "AWS4-HMAC-SHA256 " + cred + ", " + sh + ", Signature=abcd", "hexadecimal"},
		{"host not signed", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=x-amz-date, " + sig, "host"},
		{"upper-case signed headers", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=Host;X-Amz-Date, " + sig, "lower-case"},
		{"SigV4A", "AWS4-ECDSA-P256-SHA256 " + cred + ", " + sh + ", " + sig, "4A"},
		{"unknown scheme", "Bearer abc.def", "Bearer"},
		{"empty", " ", "empty"},
		{"S3 SigV2 scheme on EC2", "AWS " + testKey + ":c2lnbmF0dXJlc2lnbmF0dXJlMTI=", "S3 Signature Version 2"},
	} {
		out = append(out, refusal{name: "malformed Authorization: " + tc.name, build: signedPostAt(tc.auth), kind: ErrMalformed, mention: tc.mention})
	}
	for _, tc := range []struct{ name, auth, mention string }{
		{"no colon", "AWS AKIAEXAMPLENOCOLON", "ACCESSKEY:SIGNATURE"},
		{"empty signature", "AWS " + testKey + ":", "ACCESSKEY:SIGNATURE"},
		{"signature not base64", "AWS " + testKey + ":not base64!", "base64"},
	} {
		out = append(out, refusal{name: "malformed S3 SigV2 Authorization: " + tc.name, service: ServiceS3, build: func(t *testing.T) *http.Request {
			return withAuth(signedPut(t, now, []byte("x"), nil), tc.auth)
		}, kind: ErrMalformed, mention: tc.mention})
	}
	return out
}

// expectedSignatures is the signature the verifier expects for r, when it can compute one:
// it must not appear in an error message.
func expectedSignatures(t *testing.T, v *Verifier, r *http.Request) []string {
	t.Helper()
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, algorithmV4+" ") && r.URL.Query().Get("X-Amz-Signature") == "" {
		return nil
	}
	for _, secret := range []string{testSecret, retiredSec} {
		c := r.Clone(r.Context())
		if _, sig, err := v.explainV4(c, secret, v.pathRules()); err == nil {
			return []string{sig}
		}
	}
	return nil
}

func readCloser(s string) *replayedBody {
	r := strings.NewReader(s)
	return &replayedBody{Reader: r, Closer: nopCloser{}}
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
