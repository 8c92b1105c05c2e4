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

// Package cloudca holds the cloud's certificate authority: an RSA key and self-signed certificate
// generated once, on the manager's first start, and kept in a Secret. Image bundles are encrypted to
// its certificate, and it signs the users' certificates (which sign their bundles).
package cloudca

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// SecretName is the Secret in the system namespace that holds the cloud CA.
const SecretName = "pinet-cloud-ca"

const (
	keyBits      = 2048
	caValidity   = 20 * 365 * 24 * time.Hour
	userValidity = 5 * 365 * 24 * time.Hour
)

// CA is the cloud's certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  *rsa.PrivateKey
	// CertPEM is the certificate as stored, for handing to users (EUCALYPTUS_CERT).
	CertPEM []byte
}

// Ensure returns the cloud CA from its Secret, generating and storing it first if the Secret does
// not exist. Concurrent callers converge on whichever Secret was created first; an existing CA is
// never replaced.
func Ensure(ctx context.Context, c client.Client, namespace string) (*CA, error) {
	sec := &corev1.Secret{}
	err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: SecretName}, sec)
	if err == nil {
		return FromSecret(sec)
	}
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reading the cloud CA: %w", err)
	}
	log.FromContext(ctx).Info("Generating the cloud CA")
	certPEM, keyPEM, err := generate(time.Now())
	if err != nil {
		return nil, err
	}
	sec = &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: SecretName,
			Labels: map[string]string{"app.kubernetes.io/part-of": "pinet"}},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM},
	}
	if err := c.Create(ctx, sec); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("storing the cloud CA: %w", err)
		}
		if err := c.Get(ctx, client.ObjectKeyFromObject(sec), sec); err != nil {
			return nil, fmt.Errorf("reading the cloud CA: %w", err)
		}
	}
	return FromSecret(sec)
}

// FromSecret parses a CA Secret.
func FromSecret(sec *corev1.Secret) (*CA, error) {
	cert, err := ParseCertificate(sec.Data[corev1.TLSCertKey])
	if err != nil {
		return nil, fmt.Errorf("cloud CA certificate: %w", err)
	}
	key, err := ParsePrivateKey(sec.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return nil, fmt.Errorf("cloud CA key: %w", err)
	}
	return &CA{Cert: cert, Key: key, CertPEM: sec.Data[corev1.TLSCertKey]}, nil
}

func generate(now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return nil, nil, fmt.Errorf("generating the cloud CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "PiNet cloud CA", Organization: []string{"pinet"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("signing the cloud CA certificate: %w", err)
	}
	return encodeCert(der), encodeKey(key), nil
}

// IssueUser makes an RSA key and a certificate for a user (CN = the user name), signed by the CA.
// Users sign image bundles with it.
func (ca *CA) IssueUser(user string, now time.Time) (certPEM, keyPEM []byte, cert *x509.Certificate, err error) {
	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("generating a key for user %s: %w", user, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: user, Organization: []string{"pinet"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(userValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("signing the certificate of user %s: %w", user, err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	return encodeCert(der), encodeKey(key), cert, nil
}

// Verify checks that cert was issued by the CA.
func (ca *CA) Verify(cert *x509.Certificate) error {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	_, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}

// ParseCertificate decodes one PEM certificate.
func ParseCertificate(data []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(b.Bytes)
}

// ParsePrivateKey decodes one PEM RSA private key (PKCS#1 or PKCS#8).
func ParsePrivateKey(data []byte) (*rsa.PrivateKey, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("no PEM key")
	}
	if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an RSA key")
	}
	return rk, nil
}

func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func encodeKey(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		panic(fmt.Sprintf("reading random bytes: %v", err))
	}
	return n
}
