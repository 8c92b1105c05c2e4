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

package user

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"time"

	"pinet.io/pinet/internal/credentials"
)

const (
	keyIDAlphabet  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// newAccessKey makes an access key id (AKIA and 16 characters, 20 in all, upper case) and a
// 40-character secret from crypto/rand.
func newAccessKey(now time.Time) (credentials.StoredKey, error) {
	id, err := randomString(keyIDAlphabet, 16)
	if err != nil {
		return credentials.StoredKey{}, err
	}
	secret, err := randomString(secretAlphabet, 40)
	if err != nil {
		return credentials.StoredKey{}, err
	}
	return credentials.StoredKey{AccessKeyID: "AKIA" + id, SecretAccessKey: secret, State: "Active", Created: now.UTC().Truncate(time.Second)}, nil
}

func randomString(alphabet string, n int) (string, error) {
	out := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range out {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("reading random bytes: %w", err)
		}
		out[i] = alphabet[v.Int64()]
	}
	return string(out), nil
}
