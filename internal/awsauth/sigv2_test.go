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
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/signer"
)

// minioSignV2 is the server side of an S3 request minio-go signs with Signature Version 2.
func minioSignV2(t *testing.T, target string, change func(*http.Request)) *http.Request {
	t.Helper()
	r, _ := http.NewRequest(http.MethodPut, target, strings.NewReader("v2 body"))
	r.Header.Set("Content-Type", "text/plain")
	r.Header.Set("X-Amz-Meta-Color", "blue")
	if change != nil {
		change(r)
	}
	return overTheWire(t, signer.SignV2(*r, testKey, testSecret, false))
}

// minioPresignV2 is the server side of a GET through a presigned SigV2 URL from minio-go.
func minioPresignV2(t *testing.T, target string) *http.Request {
	t.Helper()
	r, _ := http.NewRequest(http.MethodGet, target, nil)
	r = signer.PreSignV2(*r, testKey, testSecret, 600, false)
	out, _ := http.NewRequest(http.MethodGet, r.URL.String(), nil)
	return overTheWire(t, out)
}

// s3V2Case is an S3 SigV2 request and what Verify must make of it.
type s3V2Case struct {
	name    string
	at      time.Time // the verifier's clock
	build   func(t *testing.T) *http.Request
	kind    error // nil: accepted
	method  string
	mention string
}

// TestS3SigV2 checks S3's Signature Version 2 header and presigned forms, as minio-go signs them.
func TestS3SigV2(t *testing.T) {
	for _, tc := range s3V2Cases(time.Now()) {
		t.Run(tc.name, func(t *testing.T) {
			v := &Verifier{Store: testStore(), Service: ServiceS3}
			if !tc.at.IsZero() {
				v.Now = func() time.Time { return tc.at }
			}
			id, err := v.Verify(tc.build(t))
			if tc.kind != nil {
				assertKind(t, err, tc.kind)
				if !strings.Contains(err.Error(), tc.mention) {
					t.Errorf("message %q does not mention %q", err, tc.mention)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id.Method != tc.method || id.AccessKeyID != testKey || id.Region != "" || id.PayloadHash != "" {
				t.Errorf("identity %+v", id)
			}
		})
	}
}

// s3V2Cases are requests minio-go signs with SigV2, some changed after signing.
func s3V2Cases(now time.Time) []s3V2Case {
	const target = "http://s3.pinet.test:3333/bucket/dir/key%20one?acl&versionId=v1"
	return []s3V2Case{
		{name: "header", method: MethodSigV2Header, build: func(t *testing.T) *http.Request { return minioSignV2(t, target, nil) }},
		{name: "header, unsigned query parameter added", method: MethodSigV2Header, build: func(t *testing.T) *http.Request {
			// SigV2 signs only S3's sub-resources: other parameters are not covered.
			return withQuery(minioSignV2(t, target, nil), func(q url.Values) { q.Set("x-id", "PutObject") })
		}},
		{name: "presigned", method: MethodSigV2Query, build: func(t *testing.T) *http.Request { return minioPresignV2(t, target) }},
		{name: "header, wrong secret", kind: ErrSignatureMismatch, build: func(t *testing.T) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, target, nil)
			return overTheWire(t, signer.SignV2(*r, testKey, wrongSecret, false))
		}},
		{name: "header, content type changed", kind: ErrSignatureMismatch, build: func(t *testing.T) *http.Request {
			r := minioSignV2(t, target, nil)
			r.Header.Set("Content-Type", "text/html")
			return r
		}},
		{name: "header, x-amz header added", kind: ErrSignatureMismatch, build: func(t *testing.T) *http.Request {
			r := minioSignV2(t, target, nil)
			r.Header.Set("X-Amz-Acl", "public-read")
			return r
		}},
		{name: "header, sub-resource changed", kind: ErrSignatureMismatch, build: func(t *testing.T) *http.Request {
			return withQuery(minioSignV2(t, target, nil), func(q url.Values) { q.Set("versionId", "v2") })
		}},
		{name: "header, path changed", kind: ErrSignatureMismatch, build: func(t *testing.T) *http.Request {
			r := minioSignV2(t, target, nil)
			r.RequestURI = strings.Replace(r.RequestURI, "key%20one", "key%20two", 1)
			return r
		}},
		{name: "header, dated 20 minutes ago", kind: ErrExpired, mention: "15m0s", build: func(t *testing.T) *http.Request {
			return minioSignV2(t, target, func(r *http.Request) { r.Header.Set("Date", now.Add(-20*time.Minute).UTC().Format(http.TimeFormat)) })
		}},
		{name: "header, no date", kind: ErrMalformed, mention: "Date", build: func(t *testing.T) *http.Request {
			r := minioSignV2(t, target, nil)
			r.Header.Del("Date")
			return r
		}},
		{name: "header, unknown key", kind: ErrUnknownKey, build: func(t *testing.T) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, target, nil)
			return overTheWire(t, signer.SignV2(*r, "AKIANOSUCHKEYEXAMPLE", testSecret, false))
		}},
		{name: "presigned, expired", at: now.Add(time.Hour), kind: ErrExpired, mention: "expired", build: func(t *testing.T) *http.Request { return minioPresignV2(t, target) }},
		{name: "presigned, valid for more than a week", at: now.Add(-8 * 24 * time.Hour), kind: ErrMalformed, mention: "a week",
			build: func(t *testing.T) *http.Request { return minioPresignV2(t, target) }},
		{name: "presigned, Expires far in the future", kind: ErrMalformed, mention: "a week", build: func(t *testing.T) *http.Request {
			return withQuery(minioPresignV2(t, target), func(q url.Values) { q.Set("Expires", "4102444800") })
		}},
		{name: "presigned, Expires not a time", kind: ErrMalformed, mention: "Expires", build: func(t *testing.T) *http.Request {
			return withQuery(minioPresignV2(t, target), func(q url.Values) { q.Set("Expires", "soon") })
		}},
		{name: "presigned, no signature", kind: ErrMalformed, mention: "Signature", build: func(t *testing.T) *http.Request {
			return withQuery(minioPresignV2(t, target), func(q url.Values) { q.Del("Signature") })
		}},
		{name: "presigned, sub-resource changed", kind: ErrSignatureMismatch, build: func(t *testing.T) *http.Request {
			return withQuery(minioPresignV2(t, target), func(q url.Values) { q.Set("versionId", "v2") })
		}},
	}
}

// TestEC2SigV2Refusals covers the EC2 SigV2 parameters Verify refuses before any signature is
// computed (botocore's signatures are checked in TestBotocore).
func TestEC2SigV2Refusals(t *testing.T) {
	now := time.Now().UTC()
	base := url.Values{
		"Action": {"DescribeRegions"}, "Version": {"2016-11-15"}, "AWSAccessKeyId": {testKey},
		"SignatureVersion": {"2"}, "SignatureMethod": {"HmacSHA256"}, "Timestamp": {now.Format(time.RFC3339)},
		"Signature": {"c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmE="},
	}
	for _, tc := range []struct {
		name    string
		change  func(url.Values)
		kind    error
		mention string
	}{
		{name: "signature version 1", change: func(q url.Values) { q.Set("SignatureVersion", "1") }, kind: ErrMalformed, mention: "SignatureVersion"},
		{name: "no signature version", change: func(q url.Values) { q.Del("SignatureVersion") }, kind: ErrMalformed, mention: "SignatureVersion"},
		{name: "HmacMD5", change: func(q url.Values) { q.Set("SignatureMethod", "HmacMD5") }, kind: ErrMalformed, mention: "HmacMD5"},
		{name: "no access key", change: func(q url.Values) { q.Del("AWSAccessKeyId") }, kind: ErrMalformed, mention: "AWSAccessKeyId"},
		{name: "two signatures", change: func(q url.Values) { q.Add("Signature", "AAAA") }, kind: ErrMalformed, mention: "more than once"},
		{name: "signature of the wrong size", change: func(q url.Values) { q.Set("Signature", "AAAA") }, kind: ErrMalformed, mention: "32 bytes"},
		{name: "no timestamp", change: func(q url.Values) { q.Del("Timestamp") }, kind: ErrMalformed, mention: "Timestamp"},
		{name: "timestamp and expires", change: func(q url.Values) { q.Set("Expires", now.Format(time.RFC3339)) }, kind: ErrMalformed, mention: "both"},
		{name: "bad timestamp", change: func(q url.Values) { q.Set("Timestamp", "yesterday") }, kind: ErrMalformed, mention: "Timestamp"},
		{name: "old timestamp", change: func(q url.Values) { q.Set("Timestamp", now.Add(-time.Hour).Format(time.RFC3339)) }, kind: ErrExpired, mention: "15m0s"},
		{name: "future timestamp", change: func(q url.Values) { q.Set("Timestamp", now.Add(time.Hour).Format("2006-01-02T15:04:05.000Z")) }, kind: ErrExpired, mention: "15m0s"},
		{name: "expired", change: func(q url.Values) {
			q.Del("Timestamp")
			q.Set("Expires", now.Add(-time.Minute).Format("2006-01-02T15:04:05"))
		}, kind: ErrExpired, mention: "expired"},
		{name: "expires in a year", change: func(q url.Values) {
			q.Del("Timestamp")
			q.Set("Expires", now.AddDate(1, 0, 0).Format(time.RFC3339))
		}, kind: ErrMalformed, mention: "a week"},
		{name: "expires in six days", change: func(q url.Values) {
			q.Del("Timestamp")
			q.Set("Expires", now.Add(6*24*time.Hour).Format(time.RFC3339))
		}, kind: ErrSignatureMismatch},
		{name: "bad signature", change: func(q url.Values) {}, kind: ErrSignatureMismatch},
		{name: "no signature", change: func(q url.Values) { q.Del("Signature") }, kind: ErrMalformed, mention: "Signature"},
		{name: "nothing", change: func(q url.Values) {
			for k := range q {
				if k != "Action" && k != "Version" {
					q.Del(k)
				}
			}
		}, kind: ErrMissingAuth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{}
			for k, v := range base {
				q[k] = append([]string(nil), v...)
			}
			tc.change(q)
			r, _ := http.NewRequest(http.MethodPost, "http://ec2.pinet.test/", strings.NewReader(q.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			v := &Verifier{Store: testStore(), Service: ServiceEC2}
			_, err := v.Verify(overTheWire(t, r))
			assertKind(t, err, tc.kind)
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("message %q does not mention %q", err, tc.mention)
			}
		})
	}
}
