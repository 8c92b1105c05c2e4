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
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	algorithmV4     = "AWS4-HMAC-SHA256"
	algorithmV4A    = "AWS4-ECDSA-P256-SHA256"
	scopeTerminator = "aws4_request"
	amzDateLayout   = "20060102T150405Z"
	scopeDateLayout = "20060102"
	// emptySHA256 is the hex SHA-256 of nothing.
	emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// v4Request is the parsed SigV4 signature of a request, from its header or its query.
type v4Request struct {
	presigned bool
	accessKey string
	// The credential scope: date (YYYYMMDD), region, service.
	date, region, service string
	// amzDate is the request time in the basic ISO 8601 form the string to sign carries.
	amzDate string
	time    time.Time
	// expires is the validity of a presigned request.
	expires time.Duration
	// signedHeaders is the SignedHeaders list as sent; signedNames its names.
	signedHeaders string
	signedNames   []string
	signature     []byte
}

func (p *v4Request) scope() string {
	return p.date + "/" + p.region + "/" + p.service + "/" + scopeTerminator
}

// authorizationV4 holds the three components of a SigV4 Authorization header, as sent.
type authorizationV4 struct {
	credential, signedHeaders, signature string
}

// parseAuthorizationV4 splits "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…".
func parseAuthorizationV4(value string) (authorizationV4, error) {
	var a authorizationV4
	rest, ok := strings.CutPrefix(value, algorithmV4)
	if !ok || rest != "" && rest[0] != ' ' {
		return a, fmt.Errorf("%w: the Authorization header does not start with %q", ErrMalformed, algorithmV4+" ")
	}
	if strings.TrimSpace(rest) == "" {
		return a, fmt.Errorf("%w: the Authorization header has no Credential, SignedHeaders and Signature", ErrMalformed)
	}
	for _, part := range strings.Split(rest, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, fmt.Errorf("%w: the Authorization header component %s is not Name=Value", ErrMalformed, quoted(part))
		}
		var dest *string
		switch name {
		case "Credential":
			dest = &a.credential
		case "SignedHeaders":
			dest = &a.signedHeaders
		case "Signature":
			dest = &a.signature
		default:
			return a, fmt.Errorf("%w: the Authorization header has an unknown component %s", ErrMalformed, quoted(name))
		}
		if *dest != "" {
			return a, fmt.Errorf("%w: the Authorization header repeats %s", ErrMalformed, name)
		}
		if val == "" {
			return a, fmt.Errorf("%w: the Authorization header's %s is empty", ErrMalformed, name)
		}
		*dest = val
	}
	for _, c := range []struct{ name, value string }{
		{"Credential", a.credential}, {"SignedHeaders", a.signedHeaders}, {"Signature", a.signature},
	} {
		if c.value == "" {
			return a, fmt.Errorf("%w: the Authorization header lacks %s", ErrMalformed, c.name)
		}
	}
	return a, nil
}

// parseV4Header parses a SigV4 Authorization header and the date headers it relies on.
func (v *Verifier) parseV4Header(r *http.Request, auth string) (*v4Request, error) {
	a, err := parseAuthorizationV4(auth)
	if err != nil {
		return nil, err
	}
	p := &v4Request{}
	if err := p.setSignature(a.credential, a.signedHeaders, a.signature); err != nil {
		return nil, err
	}
	if d := r.Header.Get("X-Amz-Date"); d != "" {
		if p.time, err = parseAmzDate(d, "the X-Amz-Date header"); err != nil {
			return nil, err
		}
	} else if d := r.Header.Get("Date"); d != "" {
		if p.time, err = http.ParseTime(d); err != nil {
			return nil, fmt.Errorf("%w: the Date header %s is not an HTTP date", ErrMalformed, quoted(d))
		}
	} else {
		return nil, fmt.Errorf("%w: the request has neither an X-Amz-Date nor a Date header", ErrMalformed)
	}
	p.amzDate = p.time.UTC().Format(amzDateLayout)
	return p, nil
}

// parseV4Query parses the X-Amz-* parameters of a presigned request.
func (v *Verifier) parseV4Query(q queryParams) (*v4Request, error) {
	algorithm, err := q.require("X-Amz-Algorithm")
	if err != nil {
		return nil, err
	}
	switch algorithm {
	case algorithmV4:
	case algorithmV4A:
		return nil, fmt.Errorf("%w: Signature Version 4A (%s) is not supported; sign with %s", ErrMalformed, algorithmV4A, algorithmV4)
	default:
		return nil, fmt.Errorf("%w: X-Amz-Algorithm %s is not supported; sign with %s", ErrMalformed, quoted(algorithm), algorithmV4)
	}
	values := map[string]string{}
	for _, name := range []string{"X-Amz-Credential", "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Date", "X-Amz-Expires"} {
		if values[name], err = q.require(name); err != nil {
			return nil, err
		}
	}
	p := &v4Request{presigned: true}
	if err := p.setSignature(values["X-Amz-Credential"], values["X-Amz-SignedHeaders"], values["X-Amz-Signature"]); err != nil {
		return nil, err
	}
	if p.time, err = parseAmzDate(values["X-Amz-Date"], "X-Amz-Date"); err != nil {
		return nil, err
	}
	p.amzDate = values["X-Amz-Date"]
	seconds, err := strconv.ParseInt(values["X-Amz-Expires"], 10, 64)
	if err != nil || seconds < 0 {
		return nil, fmt.Errorf("%w: X-Amz-Expires %s is not a number of seconds", ErrMalformed, quoted(values["X-Amz-Expires"]))
	}
	if seconds > int64(MaxPresignExpiry/time.Second) {
		return nil, fmt.Errorf("%w: X-Amz-Expires %d is longer than a week (%d seconds)", ErrMalformed, seconds, int64(MaxPresignExpiry/time.Second))
	}
	p.expires = time.Duration(seconds) * time.Second
	return p, nil
}

// setSignature parses the credential, signed headers and signature, wherever they were sent.
func (p *v4Request) setSignature(credential, signedHeaders, signature string) error {
	parts := strings.Split(credential, "/")
	n := len(parts)
	if n < 5 || parts[n-1] != scopeTerminator || slices.Contains(parts[n-4:n-1], "") {
		return fmt.Errorf("%w: Credential %s is not ACCESSKEY/YYYYMMDD/REGION/SERVICE/%s", ErrMalformed, quoted(credential), scopeTerminator)
	}
	p.accessKey = strings.Join(parts[:n-4], "/")
	p.date, p.region, p.service = parts[n-4], parts[n-3], parts[n-2]
	if p.accessKey == "" {
		return fmt.Errorf("%w: Credential %s names no access key", ErrMalformed, quoted(credential))
	}
	if _, err := time.Parse(scopeDateLayout, p.date); err != nil || len(p.date) != len(scopeDateLayout) {
		return fmt.Errorf("%w: the Credential date %s is not YYYYMMDD", ErrMalformed, quoted(p.date))
	}
	names := strings.Split(signedHeaders, ";")
	for _, name := range names {
		if !isLowerToken(name) {
			return fmt.Errorf("%w: SignedHeaders %s must be lower-case header names separated by ';'", ErrMalformed, quoted(signedHeaders))
		}
	}
	if !slices.Contains(names, "host") {
		return fmt.Errorf("%w: SignedHeaders %s must include host", ErrMalformed, quoted(signedHeaders))
	}
	p.signedHeaders, p.signedNames = signedHeaders, names
	sig, err := hex.DecodeString(signature)
	if err != nil || len(sig) != sha256.Size {
		return fmt.Errorf("%w: the signature is not 64 hexadecimal digits", ErrMalformed)
	}
	p.signature = sig
	return nil
}

// isLowerToken reports whether s is a non-empty lower-case HTTP header name.
func isLowerToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func parseAmzDate(s, what string) (time.Time, error) {
	t, err := time.Parse(amzDateLayout, s)
	if err != nil || len(s) != len(amzDateLayout) {
		return time.Time{}, fmt.Errorf("%w: %s %s is not in the form YYYYMMDDTHHMMSSZ", ErrMalformed, what, quoted(s))
	}
	return t, nil
}

// checkV4 checks the credential scope against this endpoint and the request's date.
func (v *Verifier) checkV4(p *v4Request) error {
	if p.service != v.Service {
		return fmt.Errorf("%w: the credential scope names service %s, but this endpoint is %s", ErrMalformed, quoted(p.service), quoted(v.Service))
	}
	if p.date != p.amzDate[:len(scopeDateLayout)] {
		return fmt.Errorf("%w: the credential scope date %s is not the date of the request (%s)", ErrMalformed, p.date, p.amzDate)
	}
	if !p.presigned {
		return v.checkSkew(p.time)
	}
	if p.time.After(v.now().Add(v.maxSkew())) {
		return fmt.Errorf("%w: the presigned request is dated %s, more than %s after the server's time %s",
			ErrExpired, p.time.Format(time.RFC3339), v.maxSkew(), v.now().UTC().Format(time.RFC3339))
	}
	return v.checkExpiry(p.time.Add(p.expires))
}

// payloadHashV4 is the payload hash the canonical request ends with.
func (v *Verifier) payloadHashV4(r *http.Request, p *v4Request, q queryParams, payload []byte) (string, error) {
	if v.Service != ServiceS3 {
		sum := sha256.Sum256(payload)
		return hex.EncodeToString(sum[:]), nil
	}
	if p.presigned {
		declared, found, err := q.get("X-Amz-Content-Sha256")
		switch {
		case err != nil:
			return "", err
		case !found:
			return UnsignedPayload, nil
		case declared != UnsignedPayload && !isHexSHA256(declared):
			return "", fmt.Errorf("%w: X-Amz-Content-Sha256 %s of a presigned request must be a hex SHA-256 or %s", ErrMalformed, quoted(declared), UnsignedPayload)
		}
		return declared, nil
	}
	declared := r.Header.Get("X-Amz-Content-Sha256")
	switch declared {
	case "":
		return "", fmt.Errorf("%w: the x-amz-content-sha256 header is missing; S3 requests signed with %s must declare their payload hash", ErrMalformed, algorithmV4)
	case UnsignedPayload, StreamingPayload, StreamingPayloadTrailer, StreamingUnsignedPayloadTrailer:
		return declared, nil
	}
	if !isHexSHA256(declared) {
		return "", fmt.Errorf("%w: x-amz-content-sha256 %s is neither a hex SHA-256 nor a supported payload form", ErrMalformed, quoted(declared))
	}
	return declared, nil
}

func isHexSHA256(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == sha256.Size
}

// canonicalRequestV4 builds the canonical request of r under the given path rules.
func canonicalRequestV4(r *http.Request, p *v4Request, q queryParams, payloadHash string, rules pathRules) (string, error) {
	headers, err := canonicalHeaders(r, p.signedNames)
	if err != nil {
		return "", err
	}
	exclude := ""
	if p.presigned {
		exclude = "X-Amz-Signature"
	}
	return strings.Join([]string{
		r.Method,
		canonicalURI(requestPath(r), rules),
		canonicalQuery(q, exclude),
		headers,
		p.signedHeaders,
		payloadHash,
	}, "\n"), nil
}

// signV4 signs a canonical request with a secret, returning the signature and signing key.
func signV4(secret string, p *v4Request, canonicalRequest string) (signature, key []byte) {
	stringToSign := algorithmV4 + "\n" + p.amzDate + "\n" + p.scope() + "\n" + hexSHA256(canonicalRequest)
	key = hmacSHA256([]byte("AWS4"+secret), p.date)
	for _, part := range []string{p.region, p.service, scopeTerminator} {
		key = hmacSHA256(key, part)
	}
	return hmacSHA256(key, stringToSign), key
}

func hexSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func hmacSHA256(key []byte, data string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(data))
	return mac.Sum(nil)
}

// verifyV4 checks a parsed SigV4 signature against the request and the key's secret.
func (v *Verifier) verifyV4(r *http.Request, p *v4Request, q queryParams, payload []byte) (*Identity, error) {
	if err := v.checkV4(p); err != nil {
		return nil, err
	}
	payloadHash, err := v.payloadHashV4(r, p, q, payload)
	if err != nil {
		return nil, err
	}
	canonical, err := canonicalRequestV4(r, p, q, payloadHash, v.pathRules())
	if err != nil {
		return nil, err
	}
	if v.Service == ServiceS3 {
		if err := checkAmzHeadersSigned(r, p.signedNames); err != nil {
			return nil, err
		}
	}
	cred, err := v.lookup(r, p.accessKey)
	if err != nil {
		return nil, err
	}
	signature, key := signV4(cred.SecretAccessKey, p, canonical)
	if !hmac.Equal(signature, p.signature) {
		return nil, fmt.Errorf("%w: the SigV4 signature does not match the request; check the secret key and that the request was not changed after signing (signed headers %s)",
			ErrSignatureMismatch, p.signedHeaders)
	}
	id := &Identity{
		AccessKeyID: p.accessKey,
		Principal:   cred.Principal,
		Method:      MethodSigV4Header,
		Region:      p.region,
		PayloadHash: payloadHash,
	}
	if p.presigned {
		id.Method = MethodSigV4Query
	}
	if payloadHash == StreamingPayload || payloadHash == StreamingPayloadTrailer {
		id.chunks = &chunkKey{key: key, seed: hex.EncodeToString(signature), amzDate: p.amzDate, scope: p.scope()}
	}
	return id, nil
}

// checkAmzHeadersSigned refuses S3 requests carrying x-amz-* headers the signature does not
// cover: S3 gives them meaning (ACLs, copy sources, checksums), so they must not be added
// after signing.
func checkAmzHeadersSigned(r *http.Request, signed []string) error {
	var unsigned []string
	for name := range r.Header {
		lower := strings.ToLower(name)
		if strings.HasPrefix(lower, "x-amz-") && !slices.Contains(signed, lower) {
			unsigned = append(unsigned, lower)
		}
	}
	if len(unsigned) == 0 {
		return nil
	}
	sort.Strings(unsigned)
	return fmt.Errorf("%w: the request carries headers the signature does not cover: %s", ErrSignatureMismatch, strings.Join(unsigned, ", "))
}

// explainV4 parses the SigV4 signature of r and computes its canonical request and the
// signature the secret gives it under the given path rules, without checking dates or the
// store. Tests compare both with published test vectors.
func (v *Verifier) explainV4(r *http.Request, secret string, rules pathRules) (canonical, signature string, err error) {
	var payload []byte
	if v.Service != ServiceS3 {
		if payload, err = v.capturePayload(r); err != nil {
			return "", "", err
		}
	}
	q, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return "", "", err
	}
	var p *v4Request
	if auth := r.Header.Get("Authorization"); auth != "" {
		p, err = v.parseV4Header(r, auth)
	} else {
		p, err = v.parseV4Query(q)
	}
	if err != nil {
		return "", "", err
	}
	payloadHash, err := v.payloadHashV4(r, p, q, payload)
	if err != nil {
		return "", "", err
	}
	if canonical, err = canonicalRequestV4(r, p, q, payloadHash, rules); err != nil {
		return "", "", err
	}
	sig, _ := signV4(secret, p, canonical)
	return canonical, hex.EncodeToString(sig), nil
}
