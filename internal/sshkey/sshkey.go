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

// Package sshkey parses SSH public keys and computes the fingerprints EC2 shows for key pairs:
// an imported RSA key's is the MD5 of its DER public key, an RSA key EC2 generated is the SHA-1 of
// its PKCS#8 private key (both colon-separated hex), and an ed25519 key's is the base64 SHA-256 of
// the key, as ssh-keygen prints it.
package sshkey

import (
	"crypto/ed25519"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Types of key.
const (
	RSA     = "rsa"
	ED25519 = "ed25519"
)

// ErrUnsupported: the key is not an RSA (2048 bits or more) or ed25519 key.
var ErrUnsupported = errors.New("unsupported key type")

// Key is a parsed public key.
type Key struct {
	Type string
	// Public is the key in authorized_keys form ("ssh-rsa AAAA… comment").
	Public string
	key    ssh.PublicKey
}

// Parse reads a public key in OpenSSH authorized_keys form (as ImportKeyPair takes it, after
// base64 decoding).
func Parse(data []byte) (*Key, error) {
	pk, comment, _, rest, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return nil, fmt.Errorf("parsing the public key: %w", err)
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return nil, errors.New("parsing the public key: more than one key given")
	}
	var typ string
	switch pk.Type() {
	case ssh.KeyAlgoRSA:
		cpk, ok := pk.(ssh.CryptoPublicKey)
		if !ok {
			return nil, ErrUnsupported
		}
		rk, ok := cpk.CryptoPublicKey().(*rsa.PublicKey)
		if !ok || rk.N.BitLen() < 2048 {
			return nil, fmt.Errorf("%w: RSA keys must have at least 2048 bits", ErrUnsupported)
		}
		typ = RSA
	case ssh.KeyAlgoED25519:
		typ = ED25519
	default:
		return nil, fmt.Errorf("%w: %s", ErrUnsupported, pk.Type())
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))
	if comment != "" {
		line += " " + comment
	}
	return &Key{Type: typ, Public: line, key: pk}, nil
}

// ImportedFingerprint is the fingerprint EC2 shows for an imported key.
func (k *Key) ImportedFingerprint() (string, error) {
	if k.Type == ED25519 {
		return ed25519Fingerprint(k.key), nil
	}
	cpk := k.key.(ssh.CryptoPublicKey)
	der, err := x509.MarshalPKIXPublicKey(cpk.CryptoPublicKey())
	if err != nil {
		return "", fmt.Errorf("encoding the public key: %w", err)
	}
	sum := md5.Sum(der)
	return colonHex(sum[:]), nil
}

func ed25519Fingerprint(pk ssh.PublicKey) string {
	sum := sha256.Sum256(pk.Marshal())
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Generated is a key pair made for CreateKeyPair: the private key is handed to the caller once and
// kept nowhere.
type Generated struct {
	// PrivateKeyPEM is what EC2 returns as KeyMaterial.
	PrivateKeyPEM string
	// Public is the public key in authorized_keys form.
	Public string
	// Fingerprint is EC2's fingerprint of a generated key.
	Fingerprint string
}

// Generate makes a key pair of the type ("rsa": 2048-bit, or "ed25519").
func Generate(typ, comment string) (*Generated, error) {
	switch typ {
	case RSA, "":
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("generating an RSA key: %w", err)
		}
		pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		sum := sha1.Sum(pkcs8)
		pub, err := ssh.NewPublicKey(&key.PublicKey)
		if err != nil {
			return nil, err
		}
		return &Generated{
			PrivateKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
			Public:        authorizedLine(pub, comment),
			Fingerprint:   colonHex(sum[:]),
		}, nil
	case ED25519:
		pubRaw, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generating an ed25519 key: %w", err)
		}
		block, err := ssh.MarshalPrivateKey(priv, comment)
		if err != nil {
			return nil, err
		}
		pub, err := ssh.NewPublicKey(pubRaw)
		if err != nil {
			return nil, err
		}
		return &Generated{
			PrivateKeyPEM: string(pem.EncodeToMemory(block)),
			Public:        authorizedLine(pub, comment),
			Fingerprint:   ed25519Fingerprint(pub),
		}, nil
	default:
		return nil, fmt.Errorf("%w: %s", ErrUnsupported, typ)
	}
}

func authorizedLine(pk ssh.PublicKey, comment string) string {
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))
	if comment != "" {
		line += " " + comment
	}
	return line
}

func colonHex(b []byte) string {
	h := hex.EncodeToString(b)
	var sb strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(h[i : i+2])
	}
	return sb.String()
}
