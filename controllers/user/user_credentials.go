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
	"context"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/cloudca"
	"pinet.io/pinet/internal/credentials"
)

// annotationKeyRotation records, in the Secret, the spec.keyRotation its keys were issued for.
const annotationKeyRotation = "cloud.pinet.io/key-rotation"

// maxStoredKeys bounds the keys kept; the oldest retired ones go first.
const maxStoredKeys = 16

// reconcileCredentials makes sure the user has an active access key and a certificate, and
// rotates the key when spec.keyRotation goes up. The Secret is the keys' source of truth:
// restarting the manager never changes a key.
func (r *Reconciler) reconcileCredentials(ctx context.Context, s *scope) error {
	u := s.user
	sec := &corev1.Secret{}
	key := client.ObjectKey{Namespace: r.SystemNamespace, Name: credentials.SecretName(u.Name)}
	err := r.Client.Get(ctx, key, sec)
	creating := apierrors.IsNotFound(err)
	switch {
	case creating:
		sec = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	case err != nil:
		return fmt.Errorf("reading the credentials of %s: %w", u.Name, err)
	}
	before := sec.DeepCopy()

	keys, err := credentials.ReadKeys(sec)
	if err != nil {
		return err
	}
	rotation, _ := strconv.Atoi(sec.Annotations[annotationKeyRotation])
	keys, changed, err := r.rotate(keys, rotation, u.Spec.KeyRotation)
	if err != nil {
		return err
	}
	if changed {
		if err := credentials.WriteKeys(sec, keys); err != nil {
			return err
		}
	}
	if len(sec.Data[credentials.SecretCertKey]) == 0 || len(sec.Data[credentials.SecretCertKeyKey]) == 0 {
		if err := r.issueCertificate(ctx, u.Name, sec); err != nil {
			return err
		}
	}
	if sec.Labels == nil {
		sec.Labels = map[string]string{}
	}
	sec.Labels[cloudv1.LabelUser] = u.Name
	sec.Labels[cloudv1.LabelManagedBy] = cloudv1.ManagedByPiNet
	if sec.Annotations == nil {
		sec.Annotations = map[string]string{}
	}
	sec.Annotations[annotationKeyRotation] = strconv.Itoa(int(u.Spec.KeyRotation))
	if err := controllerutil.SetOwnerReference(u, sec, r.Client.Scheme()); err != nil {
		return err
	}

	switch {
	case creating:
		log.FromContext(ctx).Info("Issuing credentials")
		if err := r.Client.Create(ctx, sec); err != nil {
			return fmt.Errorf("storing the credentials of %s: %w", u.Name, err)
		}
		r.event(u, "Normal", "CredentialsIssued", "Issue", "Issued access key %s", keys[len(keys)-1].AccessKeyID)
	case !secretEqual(before, sec):
		if err := r.Client.Update(ctx, sec); err != nil {
			return fmt.Errorf("updating the credentials of %s: %w", u.Name, err)
		}
		if changed {
			r.event(u, "Normal", "KeyRotated", "Rotate", "Issued access key %s and retired the previous one", keys[len(keys)-1].AccessKeyID)
		}
	}
	s.keys = keys
	if cert, err := cloudca.ParseCertificate(sec.Data[credentials.SecretCertKey]); err == nil {
		na := metav1.NewTime(cert.NotAfter)
		u.Status.Certificate = &cloudv1.CertificateInfo{SerialNumber: cert.SerialNumber.Text(16), NotAfter: &na}
	}
	return nil
}

// rotate returns the keys with one active key, and with every older key retired if the requested
// rotation is newer than the one the keys were issued for.
func (r *Reconciler) rotate(keys []credentials.StoredKey, issuedFor int, requested int32) ([]credentials.StoredKey, bool, error) {
	active := 0
	for _, k := range keys {
		if k.State == string(cloudv1.AccessKeyActive) {
			active++
		}
	}
	if active > 0 && int(requested) <= issuedFor {
		return keys, false, nil
	}
	for i := range keys {
		keys[i].State = string(cloudv1.AccessKeyRetired)
	}
	k, err := newAccessKey(r.Clock.Now())
	if err != nil {
		return nil, false, err
	}
	keys = append(keys, k)
	for len(keys) > maxStoredKeys {
		keys = keys[1:]
	}
	return keys, true, nil
}

func (r *Reconciler) issueCertificate(ctx context.Context, user string, sec *corev1.Secret) error {
	ca, err := r.CA(ctx)
	if err != nil {
		return err
	}
	certPEM, keyPEM, _, err := ca.IssueUser(user, r.Clock.Now())
	if err != nil {
		return err
	}
	if sec.Data == nil {
		sec.Data = map[string][]byte{}
	}
	sec.Data[credentials.SecretCertKey] = certPEM
	sec.Data[credentials.SecretCertKeyKey] = keyPEM
	return nil
}

func secretEqual(a, b *corev1.Secret) bool {
	if len(a.Data) != len(b.Data) || len(a.Labels) != len(b.Labels) || len(a.Annotations) != len(b.Annotations) ||
		len(a.OwnerReferences) != len(b.OwnerReferences) {
		return false
	}
	for k, v := range b.Data {
		if string(a.Data[k]) != string(v) {
			return false
		}
	}
	for k, v := range b.Labels {
		if a.Labels[k] != v {
			return false
		}
	}
	for k, v := range b.Annotations {
		if a.Annotations[k] != v {
			return false
		}
	}
	return true
}

func (r *Reconciler) event(u *cloudv1.User, typ, reason, action, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(u, nil, typ, reason, action, note, args...)
	}
}
