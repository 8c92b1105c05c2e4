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
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// s3SubResources are the query parameters S3's SigV2 canonical resource includes.
func isS3SubResource(name string) bool {
	switch name {
	case "accelerate", "acl", "analytics", "cors", "delete", "encryption", "intelligent-tiering",
		"inventory", "legal-hold", "lifecycle", "location", "logging", "metrics", "notification",
		"object-lock", "ownershipControls", "partNumber", "policy", "publicAccessBlock",
		"replication", "requestPayment", "restore", "retention", "select", "select-type",
		"tagging", "torrent", "uploadId", "uploads", "versionId", "versioning", "versions", "website",
		"response-cache-control", "response-content-disposition", "response-content-encoding",
		"response-content-language", "response-content-type", "response-expires":
		return true
	}
	return false
}

// ec2V2 holds the parsed SigV2 parameters of an EC2 Query request.
type ec2V2 struct {
	accessKey string
	signature []byte
	mac       func() hash.Hash
}

// parseEC2V2 parses and time-checks the SigV2 parameters of an EC2 Query request.
func (v *Verifier) parseEC2V2(params queryParams) (*ec2V2, error) {
	values := map[string]string{}
	for _, name := range []string{"AWSAccessKeyId", "Signature", "SignatureVersion", "SignatureMethod"} {
		var err error
		if values[name], err = params.require(name); err != nil {
			return nil, err
		}
	}
	if values["SignatureVersion"] != "2" {
		return nil, fmt.Errorf("%w: SignatureVersion %s is not supported; use 2, or Signature Version 4", ErrMalformed, quoted(values["SignatureVersion"]))
	}
	p := &ec2V2{accessKey: values["AWSAccessKeyId"]}
	switch values["SignatureMethod"] {
	case "HmacSHA256":
		p.mac = sha256.New
	case "HmacSHA1":
		p.mac = sha1.New
	default:
		return nil, fmt.Errorf("%w: SignatureMethod %s is not supported; use HmacSHA256 or HmacSHA1", ErrMalformed, quoted(values["SignatureMethod"]))
	}
	sig, err := decodeSignatureV2(values["Signature"], p.mac().Size())
	if err != nil {
		return nil, err
	}
	p.signature = sig
	return p, v.checkEC2V2Time(params)
}

// checkEC2V2Time checks the Timestamp (within the skew) or Expires (not passed, at most a week
// ahead) of a request.
func (v *Verifier) checkEC2V2Time(params queryParams) error {
	timestamp, hasTimestamp, err := params.get("Timestamp")
	if err != nil {
		return err
	}
	expires, hasExpires, err := params.get("Expires")
	if err != nil {
		return err
	}
	switch {
	case hasTimestamp && hasExpires:
		return fmt.Errorf("%w: the request has both Timestamp and Expires; send one", ErrMalformed)
	case hasTimestamp:
		t, err := parseISO8601(timestamp, "Timestamp")
		if err != nil {
			return err
		}
		return v.checkSkew(t)
	case hasExpires:
		t, err := parseISO8601(expires, "Expires")
		if err != nil {
			return err
		}
		return v.checkExpiryV2(t)
	}
	return fmt.Errorf("%w: the request has neither Timestamp nor Expires", ErrMalformed)
}

// parseISO8601 reads the timestamps EC2 clients send: RFC 3339 with or without fractional
// seconds, or without a zone (UTC).
func parseISO8601(s, what string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", amzDateLayout} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: %s %s is not an ISO 8601 time such as 2006-01-02T15:04:05Z", ErrMalformed, what, quoted(s))
}

// decodeSignatureV2 decodes a base64 signature of the given size. A '+' a client left
// unencoded in a query arrives as a space; it is taken back.
func decodeSignatureV2(s string, size int) ([]byte, error) {
	sig, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(s, " ", "+"))
	if err != nil || len(sig) != size {
		return nil, fmt.Errorf("%w: the signature is not a base64 HMAC of %d bytes", ErrMalformed, size)
	}
	return sig, nil
}

// verifyEC2V2 checks an EC2 Query request signed with Signature Version 2: its parameters
// come from the query and, for a form post, the body.
func (v *Verifier) verifyEC2V2(r *http.Request, query queryParams, payload []byte) (*Identity, error) {
	params := query
	if isFormPost(r) {
		form, err := parseQuery(string(payload))
		if err != nil {
			return nil, err
		}
		params = append(append(queryParams{}, query...), form...)
	}
	if !params.has("Signature") && !params.has("AWSAccessKeyId") && !params.has("SignatureVersion") {
		return nil, fmt.Errorf("%w: the request has no Authorization header and no signature in its parameters", ErrMissingAuth)
	}
	p, err := v.parseEC2V2(params)
	if err != nil {
		return nil, err
	}
	stringToSign := stringToSignEC2V2(r, params)
	cred, err := v.lookup(r, p.accessKey)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(p.mac, []byte(cred.SecretAccessKey))
	mac.Write([]byte(stringToSign))
	if !hmac.Equal(mac.Sum(nil), p.signature) {
		return nil, fmt.Errorf("%w: the SigV2 signature does not match the request; check the secret key and that the request was not changed after signing", ErrSignatureMismatch)
	}
	return &Identity{AccessKeyID: p.accessKey, Principal: cred.Principal, Method: MethodSigV2Query}, nil
}

// stringToSignEC2V2 is METHOD\nhost\npath\nsorted-encoded-parameters (Signature left out).
func stringToSignEC2V2(r *http.Request, params queryParams) string {
	return r.Method + "\n" + strings.ToLower(r.Host) + "\n" + requestPath(r) + "\n" + canonicalQuery(params, "Signature")
}

func isFormPost(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	media, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && media == "application/x-www-form-urlencoded"
}

// verifyS3V2Header checks "Authorization: AWS ACCESSKEY:SIGNATURE".
func (v *Verifier) verifyS3V2Header(r *http.Request, auth string, query queryParams) (*Identity, error) {
	if v.Service != ServiceS3 {
		return nil, fmt.Errorf("%w: the AWS Authorization scheme (S3 Signature Version 2) is not accepted by %s; sign with %s", ErrMalformed, v.Service, algorithmV4)
	}
	credential := strings.TrimSpace(strings.TrimPrefix(auth, "AWS "))
	i := strings.LastIndexByte(credential, ':')
	if i <= 0 || i == len(credential)-1 {
		return nil, fmt.Errorf("%w: the Authorization header is not \"AWS ACCESSKEY:SIGNATURE\"", ErrMalformed)
	}
	accessKey := credential[:i]
	sig, err := decodeSignatureV2(credential[i+1:], sha1.Size)
	if err != nil {
		return nil, err
	}
	// With x-amz-date present, the Date line of the string to sign is empty.
	dateLine := ""
	date := r.Header.Get("X-Amz-Date")
	if date == "" {
		date = r.Header.Get("Date")
		dateLine = date
	}
	if date == "" {
		return nil, fmt.Errorf("%w: the request has neither an X-Amz-Date nor a Date header", ErrMalformed)
	}
	t, err := http.ParseTime(date)
	if err != nil {
		if t, err = time.Parse(amzDateLayout, date); err != nil {
			return nil, fmt.Errorf("%w: the date %s is not an HTTP date", ErrMalformed, quoted(date))
		}
	}
	if err := v.checkSkew(t); err != nil {
		return nil, err
	}
	return v.checkS3V2(r, accessKey, sig, func(resource string) string { return stringToSignS3V2(r, dateLine, resource, query) }, MethodSigV2Header)
}

// verifyS3V2Query checks a presigned S3 URL of Signature Version 2
// (AWSAccessKeyId, Expires, Signature).
func (v *Verifier) verifyS3V2Query(r *http.Request, query queryParams) (*Identity, error) {
	values := map[string]string{}
	for _, name := range []string{"AWSAccessKeyId", "Signature", "Expires"} {
		var err error
		if values[name], err = query.require(name); err != nil {
			return nil, err
		}
	}
	sig, err := decodeSignatureV2(values["Signature"], sha1.Size)
	if err != nil {
		return nil, err
	}
	expires, err := strconv.ParseInt(values["Expires"], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: Expires %s is not a Unix time in seconds", ErrMalformed, quoted(values["Expires"]))
	}
	if err := v.checkExpiryV2(time.Unix(expires, 0)); err != nil {
		return nil, err
	}
	return v.checkS3V2(r, values["AWSAccessKeyId"], sig, func(resource string) string {
		return stringToSignS3V2(r, values["Expires"], resource, query)
	}, MethodSigV2Query)
}

// checkS3V2 compares an S3 SigV2 signature (HMAC-SHA1) with the key's, over the string to
// sign of each form the request's resource may have been signed in.
func (v *Verifier) checkS3V2(r *http.Request, accessKey string, sig []byte, stringToSign func(resource string) string, method string) (*Identity, error) {
	cred, err := v.lookup(r, accessKey)
	if err != nil {
		return nil, err
	}
	for _, resource := range s3V2Resources(requestPath(r)) {
		mac := hmac.New(sha1.New, []byte(cred.SecretAccessKey))
		mac.Write([]byte(stringToSign(resource)))
		if hmac.Equal(mac.Sum(nil), sig) {
			return &Identity{AccessKeyID: accessKey, Principal: cred.Principal, Method: method}, nil
		}
	}
	return nil, fmt.Errorf("%w: the SigV2 signature does not match the request; check the secret key and that the request was not changed after signing", ErrSignatureMismatch)
}

// s3V2Resources are the canonical resources a SigV2 client may have signed for a request to
// path: the path as sent and, for a bucket ("/bucket" or "/bucket/"), the other of the two
// spellings, since S3 clients differ (botocore signs "/bucket/" while sending "/bucket").
func s3V2Resources(path string) []string {
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return []string{path}
	}
	bucket, tail, slash := strings.Cut(rest, "/")
	switch {
	case bucket == "" || tail != "":
		return []string{path}
	case slash:
		return []string{path, "/" + bucket}
	}
	return []string{path, path + "/"}
}

// stringToSignS3V2 is S3's SigV2 string to sign: method, Content-MD5, Content-Type, the date
// line (Date, or Expires when presigned), the x-amz-* headers and the canonical resource.
// PiNet's S3 is path-style, so the resource is the path (bucket included) as sent, or as
// s3V2Resources spells it otherwise.
func stringToSignS3V2(r *http.Request, dateLine, resource string, query queryParams) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	b.WriteString(strings.TrimSpace(r.Header.Get("Content-Md5")) + "\n")
	b.WriteString(strings.TrimSpace(r.Header.Get("Content-Type")) + "\n")
	b.WriteString(dateLine + "\n")
	amz := map[string][]string{}
	for name, values := range r.Header {
		lower := strings.ToLower(name)
		if strings.HasPrefix(lower, "x-amz-") {
			amz[lower] = append(amz[lower], values...)
		}
	}
	names := make([]string, 0, len(amz))
	for name := range amz {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		values := amz[name]
		for i := range values {
			values[i] = strings.TrimSpace(values[i])
		}
		b.WriteString(name + ":" + strings.Join(values, ",") + "\n")
	}
	b.WriteString(resource)
	var subs []queryParam
	for _, p := range query {
		if isS3SubResource(p.key) {
			subs = append(subs, p)
		}
	}
	sort.SliceStable(subs, func(i, j int) bool { return subs[i].key < subs[j].key })
	for i, p := range subs {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(p.key)
		if p.value != "" {
			b.WriteString("=" + p.value)
		}
	}
	return b.String()
}
