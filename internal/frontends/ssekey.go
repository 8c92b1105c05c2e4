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

package frontends

import (
	"context"
	"crypto/rand"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// SSEKeySecretName is the Secret in the system namespace holding the object store's master key,
// which seals the data keys of objects encrypted with the store's keys (SSE-S3), under
// SSEKeySecretKey. It is made on the manager's first start and never replaced: objects written
// under it can only be read with it.
const (
	SSEKeySecretName = "pinet-s3-master-key"
	SSEKeySecretKey  = "master.key"
	sseMasterKeyLen  = 32
)

// EnsureSSEMasterKey returns the object store's master key from its Secret, generating and
// storing it first if the Secret does not exist. Concurrent callers converge on whichever
// Secret was created first.
func EnsureSSEMasterKey(ctx context.Context, c client.Client, namespace string) ([]byte, error) {
	sec := &corev1.Secret{}
	err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: SSEKeySecretName}, sec)
	if apierrors.IsNotFound(err) {
		log.FromContext(ctx).Info("Generating the object store's master key")
		key := make([]byte, sseMasterKeyLen)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("generating the object store's master key: %w", err)
		}
		sec = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: SSEKeySecretName,
				Labels: map[string]string{"app.kubernetes.io/part-of": "pinet"}},
			Type: corev1.SecretTypeOpaque,
			Data: map[string][]byte{SSEKeySecretKey: key},
		}
		err = c.Create(ctx, sec)
		if apierrors.IsAlreadyExists(err) {
			err = c.Get(ctx, client.ObjectKeyFromObject(sec), sec)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("reading the object store's master key: %w", err)
	}
	key := sec.Data[SSEKeySecretKey]
	if len(key) != sseMasterKeyLen {
		return nil, fmt.Errorf("the object store's master key in Secret %s/%s is %d bytes, want %d", namespace, SSEKeySecretName, len(key), sseMasterKeyLen)
	}
	return key, nil
}
