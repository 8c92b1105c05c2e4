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

package ec2shim

import (
	"context"
	"crypto/rand"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// pageKeySecret holds the key NextTokens are signed with, shared by every replica and kept across
// restarts so a client's token stays good.
const pageKeySecret = "pinet-ec2-page-key"

// PageKey returns the page token key from its Secret, creating it on first use. It reads and
// writes through c directly (no cache), so it can run before the manager starts.
func PageKey(ctx context.Context, c client.Client, namespace string) ([]byte, error) {
	sec := &corev1.Secret{}
	err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: pageKeySecret}, sec)
	if err == nil && len(sec.Data["key"]) >= 32 {
		return sec.Data["key"], nil
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reading the page token key: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	sec = &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: pageKeySecret,
			Labels: map[string]string{cloudv1.LabelManagedBy: cloudv1.ManagedByPiNet}},
		Data: map[string][]byte{"key": key},
	}
	if err := c.Create(ctx, sec); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("storing the page token key: %w", err)
		}
		if err := c.Get(ctx, client.ObjectKeyFromObject(sec), sec); err != nil {
			return nil, err
		}
		return sec.Data["key"], nil
	}
	return key, nil
}
