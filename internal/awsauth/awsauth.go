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

// Package awsauth authenticates AWS-signed HTTP requests (Signature Version 4 in the
// Authorization header or in a presigned query, and Signature Version 2) against PiNet's access
// keys. The EC2 API and the S3 store share it; each maps its errors to its own error codes.
package awsauth

import (
	"context"
	"errors"
	"time"
)

// Principal is who a request acts as: a user working in one project.
type Principal struct {
	// User is the PiNet user name.
	User string
	// Project is the project (EC2 account, Kubernetes namespace) the request acts in.
	Project string
	// Admin users may act on every project.
	Admin bool
}

// Credential is an access key's secret and the principal it stands for.
type Credential struct {
	AccessKeyID     string
	SecretAccessKey string
	Principal       Principal
}

// CredentialStore finds the credential of an access key id, as it appears in the request.
// It returns an error wrapping ErrUnknownKey when there is no such key, and ErrRetiredKey when
// the key exists but was retired.
type CredentialStore interface {
	Lookup(ctx context.Context, accessKeyID string) (Credential, error)
}

// Kinds of authentication failure. Errors returned by the verifier wrap exactly one of them.
var (
	// ErrMissingAuth: the request carries no signature at all.
	ErrMissingAuth = errors.New("missing authentication")
	// ErrMalformed: the signature's parameters are incomplete or unparsable.
	ErrMalformed = errors.New("malformed authentication")
	// ErrUnknownKey: no such access key.
	ErrUnknownKey = errors.New("unknown access key")
	// ErrRetiredKey: the access key was retired.
	ErrRetiredKey = errors.New("retired access key")
	// ErrSignatureMismatch: the signature does not match the request.
	ErrSignatureMismatch = errors.New("signature does not match")
	// ErrExpired: the request's date is outside the allowed clock skew, or a presigned request
	// has expired.
	ErrExpired = errors.New("request expired")
	// ErrPayloadMismatch: the payload does not match the hash or chunk signatures it was signed with.
	ErrPayloadMismatch = errors.New("payload does not match its signature")
	// ErrBodyTooLarge: the body is larger than the verifier reads to hash it.
	ErrBodyTooLarge = errors.New("request body too large")
)

// Methods of authentication, as reported in Identity.Method.
const (
	MethodSigV4Header = "sigv4-header"
	MethodSigV4Query  = "sigv4-query"
	MethodSigV2Header = "sigv2-header"
	MethodSigV2Query  = "sigv2-query"
)

// Payload hashes an S3 request may declare in x-amz-content-sha256 instead of a hex SHA-256.
const (
	// UnsignedPayload: the signature does not cover the payload.
	UnsignedPayload = "UNSIGNED-PAYLOAD"
	// StreamingPayload: aws-chunked, every chunk signed.
	StreamingPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	// StreamingPayloadTrailer: aws-chunked, every chunk and the trailer signed.
	StreamingPayloadTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	// StreamingUnsignedPayloadTrailer: aws-chunked without signatures, with a checksum trailer.
	StreamingUnsignedPayloadTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
)

// Services a Verifier may serve: the service name the SigV4 credential scope must carry.
const (
	ServiceEC2 = "ec2"
	ServiceS3  = "s3"
)

// Defaults and limits of verification.
const (
	// DefaultMaxSkew is how far a request's date may be from the server's clock.
	DefaultMaxSkew = 15 * time.Minute
	// DefaultMaxBody is the largest body Verify reads to hash for services other than S3.
	DefaultMaxBody int64 = 1 << 20
	// MaxPresignExpiry is the longest validity a presigned SigV4 request may ask for.
	MaxPresignExpiry = 7 * 24 * time.Hour
)
