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

package query

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"net/http"
)

const (
	// MinPageTokenKey is the shortest key NewPageTokens accepts.
	MinPageTokenKey = 16
	// maxTokenLength bounds a NextToken before it is decoded; a Cursor's After key must stay
	// well under it (2 KiB is safe).
	maxTokenLength = 4096
	tokenVersion   = 1
	tokenMACSize   = 16
)

// Paging holds the parameters every paginated Describe action takes; embed it in an input shape.
type Paging struct {
	MaxResults *int32 `ec2:"MaxResults"`
	NextToken  string `ec2:"NextToken"`
}

// PageSize checks MaxResults against the action's limits (they differ per action) and returns
// the page size: fallback when the client gave none (0 can mean "everything"), else the value.
// A value outside [min, max] is InvalidParameterValue.
func PageSize(maxResults *int32, min, max, fallback int32) (int, error) {
	if maxResults == nil {
		return int(fallback), nil
	}
	if v := *maxResults; v < min || v > max {
		return 0, Errorf(CodeInvalidParameterValue, http.StatusBadRequest,
			"Value (%d) for parameter MaxResults is invalid. Expecting a value from %d to %d.",
			v, min, max)
	}
	return int(*maxResults), nil
}

// Page returns the page of items that starts at offset and holds at most size items (all the
// rest when size ≤ 0), the offset of the following page, and whether there is one.
func Page[T any](items []T, offset, size int) (page []T, next int, more bool) {
	offset = min(max(offset, 0), len(items))
	end := len(items)
	if size > 0 && size < end-offset {
		end = offset + size
	}
	return items[offset:end], end, end < len(items)
}

// Cursor is where the next page starts: an offset into a stable ordering, or the key of the last
// item returned for listings ordered by key (which stay correct while items come and go).
type Cursor struct {
	// Offset is never negative; Encode treats a negative one as 0.
	Offset int
	// After is the last key returned, empty for none.
	After string
}

// PageTokens makes and checks NextToken values. A token is opaque to clients, authenticated with
// HMAC-SHA256 under the key, and bound to a scope (Request.PageScope, plus the caller's
// identity), so a client can neither forge one nor replay it against another query. It is safe
// for concurrent use.
type PageTokens struct {
	key []byte
}

// NewPageTokens returns a token codec with the key, which must hold at least MinPageTokenKey
// bytes. Tokens stay valid as long as the key does, across restarts if the key is kept.
func NewPageTokens(key []byte) (*PageTokens, error) {
	if len(key) < MinPageTokenKey {
		return nil, fmt.Errorf("page token key has %d bytes, need at least %d", len(key),
			MinPageTokenKey)
	}
	return &PageTokens{key: append([]byte(nil), key...)}, nil
}

// Encode returns the NextToken for the cursor within scope.
func (p *PageTokens) Encode(scope string, c Cursor) string {
	payload := []byte{tokenVersion}
	payload = binary.AppendUvarint(payload, uint64(max(c.Offset, 0)))
	payload = binary.AppendUvarint(payload, uint64(len(c.After)))
	payload = append(payload, c.After...)
	return base64.RawURLEncoding.EncodeToString(append(payload, p.mac(scope, payload)...))
}

// Decode checks a NextToken from the client and returns its cursor; an empty token is the first
// page. A token that was not made by Encode with this key and scope is InvalidParameterValue
// "Invalid value for NextToken".
func (p *PageTokens) Decode(scope, token string) (Cursor, error) {
	if token == "" {
		return Cursor{}, nil
	}
	invalid := Errorf(CodeInvalidParameterValue, http.StatusBadRequest, "Invalid value for NextToken")
	if len(token) > maxTokenLength {
		return Cursor{}, invalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < 1+tokenMACSize {
		return Cursor{}, invalid
	}
	payload, sum := raw[:len(raw)-tokenMACSize], raw[len(raw)-tokenMACSize:]
	if !hmac.Equal(sum, p.mac(scope, payload)) || payload[0] != tokenVersion {
		return Cursor{}, invalid
	}
	rest := payload[1:]
	offset, n := binary.Uvarint(rest)
	if n <= 0 || offset > math.MaxInt32 {
		return Cursor{}, invalid
	}
	rest = rest[n:]
	size, n := binary.Uvarint(rest)
	if n <= 0 || size != uint64(len(rest)-n) {
		return Cursor{}, invalid
	}
	return Cursor{Offset: int(offset), After: string(rest[n:])}, nil
}

// mac authenticates the payload together with the scope; the scope's length comes first so the
// boundary between the two cannot shift.
func (p *PageTokens) mac(scope string, payload []byte) []byte {
	h := hmac.New(sha256.New, p.key)
	h.Write(binary.AppendUvarint(nil, uint64(len(scope))))
	h.Write([]byte(scope))
	h.Write(payload)
	return h.Sum(nil)[:tokenMACSize]
}
