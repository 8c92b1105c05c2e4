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

package fsstore

import "time"

// CORSRule is one rule of a bucket's CORS configuration; package objectstore gives it meaning.
type CORSRule struct {
	ID             string   `json:"id,omitempty"`
	AllowedOrigins []string `json:"allowedOrigins"`
	AllowedMethods []string `json:"allowedMethods"`
	AllowedHeaders []string `json:"allowedHeaders,omitempty"`
	ExposeHeaders  []string `json:"exposeHeaders,omitempty"`
	// MaxAgeSeconds is nil when the rule names none.
	MaxAgeSeconds *int `json:"maxAgeSeconds,omitempty"`
}

// LifecycleRule is one rule of a bucket's lifecycle configuration; package objectstore gives
// it meaning. Zero numbers are actions the rule does not take.
type LifecycleRule struct {
	ID      string `json:"id,omitempty"`
	Enabled bool   `json:"enabled"`
	// The filter: objects whose key starts with Prefix, that carry every one of Tags, and
	// whose size is within the bounds (0 for none).
	Prefix              string     `json:"prefix,omitempty"`
	Tags                []Tag      `json:"tags,omitempty"`
	SizeGreaterThan     int64      `json:"sizeGreaterThan,omitempty"`
	SizeLessThan        int64      `json:"sizeLessThan,omitempty"`
	LegacyPrefix        bool       `json:"legacyPrefix,omitempty"`
	ExpirationDays      int        `json:"expirationDays,omitempty"`
	ExpirationDate      *time.Time `json:"expirationDate,omitempty"`
	ExpiredDeleteMarker bool       `json:"expiredDeleteMarker,omitempty"`
	NoncurrentDays      int        `json:"noncurrentDays,omitempty"`
	NewerNoncurrent     int        `json:"newerNoncurrent,omitempty"`
	AbortUploadDays     int        `json:"abortUploadDays,omitempty"`
}

// Encryption says how an object's data is encrypted; package objectstore gives it meaning. The
// key that decrypts it is never stored: only the object's data key, sealed by it.
type Encryption struct {
	// Mode is "AES256" (SSE-S3: the data key sealed by the store's master key) or "SSE-C"
	// (sealed by the customer's key).
	Mode string `json:"mode"`
	// KeyMD5 is the base64 MD5 of the customer's key (SSE-C), which S3 reports back.
	KeyMD5 string `json:"keyMD5,omitempty"`
	// WrappedKey is the object's data key sealed by AES-256-GCM: nonce, then ciphertext.
	WrappedKey []byte `json:"wrappedKey"`
}
