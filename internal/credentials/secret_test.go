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
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestKeysRoundTripOldestFirst(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	keys := []StoredKey{
		{AccessKeyID: "AKIANEWER", SecretAccessKey: "s2", State: "Active", Created: t0.Add(time.Hour)},
		{AccessKeyID: "AKIAOLDER", SecretAccessKey: "s1", State: "Retired", Created: t0},
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: SecretName("alice")}}
	if err := WriteKeys(sec, keys); err != nil {
		t.Fatal(err)
	}
	if sec.Name != "pinet-user-alice" || len(sec.Data[SecretKeysKey]) == 0 {
		t.Fatalf("secret %s holds %q", sec.Name, sec.Data)
	}
	got, err := ReadKeys(sec)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != keys[1] || got[1] != keys[0] {
		t.Fatalf("read %+v, want the older key first of %+v", got, keys)
	}
}

func TestReadKeysOfSecretWithoutKeys(t *testing.T) {
	got, err := ReadKeys(&corev1.Secret{Data: map[string][]byte{SecretCertKey: []byte("pem")}})
	if err != nil || len(got) != 0 {
		t.Fatalf("ReadKeys = %v, %v; want no keys and no error", got, err)
	}
}

func TestReadKeysRejectsMalformedData(t *testing.T) {
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pinet-user-bob"},
		Data: map[string][]byte{SecretKeysKey: []byte(`{"accessKeyId":`)}}
	got, err := ReadKeys(sec)
	if err == nil || !strings.Contains(err.Error(), "decoding the access keys of pinet-user-bob") {
		t.Fatalf("ReadKeys = %v, %v; want a decoding error naming the secret", got, err)
	}
	if got != nil {
		t.Fatalf("ReadKeys returned keys %v with its error", got)
	}
}
