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

package credentials

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// A user's credentials Secret, in the system namespace, is written by the user controller and
// read by everything that needs a user's keys or certificate. These are its name and layout.

// Keys in a user's credentials Secret.
const (
	// SecretKeysKey holds the user's access keys as JSON (see StoredKey).
	SecretKeysKey = "keys.json"
	// SecretCertKey and SecretCertKeyKey hold the user's certificate and RSA key (PEM).
	SecretCertKey    = "tls.crt"
	SecretCertKeyKey = "tls.key"
)

// StoredKey is an access key as kept in the credentials Secret, the keys' source of truth.
type StoredKey struct {
	AccessKeyID     string    `json:"accessKeyId"`
	SecretAccessKey string    `json:"secretAccessKey"`
	State           string    `json:"state"`
	Created         time.Time `json:"created"`
}

// SecretName is the name of a user's credentials Secret in the system namespace.
func SecretName(user string) string { return "pinet-user-" + user }

// ReadKeys decodes the access keys stored in a credentials Secret, oldest first.
func ReadKeys(sec *corev1.Secret) ([]StoredKey, error) {
	data, ok := sec.Data[SecretKeysKey]
	if !ok {
		return nil, nil
	}
	var keys []StoredKey
	if err := json.Unmarshal(data, &keys); err != nil {
		return nil, fmt.Errorf("decoding the access keys of %s: %w", sec.Name, err)
	}
	sort.SliceStable(keys, func(i, j int) bool { return keys[i].Created.Before(keys[j].Created) })
	return keys, nil
}

// WriteKeys stores keys in a credentials Secret, replacing the ones it held.
func WriteKeys(sec *corev1.Secret, keys []StoredKey) error {
	data, err := json.Marshal(keys)
	if err != nil {
		return fmt.Errorf("encoding access keys: %w", err)
	}
	if sec.Data == nil {
		sec.Data = map[string][]byte{}
	}
	sec.Data[SecretKeysKey] = data
	return nil
}
