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

package bundle

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Manifest is a bundle manifest, as ParseManifest reads it or Create writes it.
type Manifest struct {
	// Version is the manifest format version, always ManifestVersion.
	Version string
	// Bundler names the tool that made the bundle (informational).
	Bundler Bundler

	// Arch is the image's architecture (i386, x86_64, …).
	Arch string
	// KernelID and RamdiskID are the default kernel and ramdisk of a machine image, if any.
	// Eucalyptus also marks kernel and ramdisk images with the value "true".
	KernelID, RamdiskID string
	// BlockDeviceMappings maps virtual names (ami, root, ephemeral0, swap) to devices.
	BlockDeviceMappings []BlockDeviceMapping
	// ProductCodes are read and kept but not written by Create.
	ProductCodes []string

	// Name is the image name, the bundle's prefix.
	Name string
	// User is the owning account.
	User string
	// Type is TypeMachine, TypeKernel or TypeRamdisk.
	Type string
	// Digest is the SHA-1 of the tar stream that holds the image.
	Digest []byte
	// Size is the image's size in bytes.
	Size int64
	// BundledSize is the total size of the parts in bytes.
	BundledSize int64

	// EC2EncryptedKey and EC2EncryptedIV are the hex AES key and IV, RSA-encrypted to the cloud.
	EC2EncryptedKey, EC2EncryptedIV []byte
	// UserEncryptedKey and UserEncryptedIV are the same, RSA-encrypted to the bundler's
	// certificate; they may be empty.
	UserEncryptedKey, UserEncryptedIV []byte

	// Parts are the bundle's parts in order.
	Parts []Part
	// Signature is the RSA-SHA1 signature over the signed bytes.
	Signature []byte

	// signed holds the <machine_configuration> and <image> elements as they appear in the
	// manifest file: the bytes the signature covers.
	signed []byte
}

// Bundler identifies the tool that wrote a manifest.
type Bundler struct {
	Name, Version, Release string
}

// BlockDeviceMapping maps a virtual device name to a device in a machine image's manifest.
type BlockDeviceMapping struct {
	Virtual, Device string
}

// Part is one piece of the encrypted image.
type Part struct {
	// Filename is the part's base name, <prefix>.part.NN.
	Filename string
	// Digest is the part's SHA-1.
	Digest []byte
}

// VerifySignature checks the manifest's signature with the certificate of the account that
// bundled it. It fails with ErrBadSignature.
func (m *Manifest) VerifySignature(userCert *x509.Certificate) error {
	if userCert == nil {
		return fmt.Errorf("%w: no certificate to verify with", ErrBadSignature)
	}
	pub, ok := userCert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: certificate %q does not hold an RSA key", ErrBadSignature, userCert.Subject)
	}
	if len(m.signed) == 0 {
		return fmt.Errorf("%w: manifest was not read from a file", ErrBadSignature)
	}
	sum := sha1.Sum(m.signed)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA1, sum[:], m.Signature); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	return nil
}

// DecryptKey recovers the AES key and IV with the cloud's private key. A manifest encrypted to
// another cloud fails with ErrNotForThisCloud.
//
// The outcome tells whether the PKCS#1 v1.5 padding was valid, so callers should verify the
// signature first and not offer this to anonymous requests in bulk.
func (m *Manifest) DecryptKey(cloudKey *rsa.PrivateKey) (key, iv []byte, err error) {
	return decryptKeyPair(cloudKey, m.EC2EncryptedKey, m.EC2EncryptedIV)
}

func decryptKeyPair(priv *rsa.PrivateKey, encKey, encIV []byte) (key, iv []byte, err error) {
	if priv == nil {
		return nil, nil, fmt.Errorf("%w: no private key", ErrNotForThisCloud)
	}
	if key, err = decryptHexSecret(priv, encKey); err != nil {
		return nil, nil, fmt.Errorf("key: %w", err)
	}
	if iv, err = decryptHexSecret(priv, encIV); err != nil {
		return nil, nil, fmt.Errorf("IV: %w", err)
	}
	return key, iv, nil
}

// decryptHexSecret decrypts one RSA-encrypted value, which both reference bundlers make the
// lower-case hex text of 16 bytes.
func decryptHexSecret(priv *rsa.PrivateKey, ciphertext []byte) ([]byte, error) {
	plain, err := rsa.DecryptPKCS1v15(nil, priv, ciphertext)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotForThisCloud, err)
	}
	secret, err := hex.DecodeString(strings.TrimSpace(string(plain)))
	if err != nil || len(secret) != keySize {
		return nil, fmt.Errorf("%w: decrypted value is not %d hex-encoded bytes", ErrNotForThisCloud, keySize)
	}
	return secret, nil
}

// encryptHexSecret RSA-encrypts the hex text of secret to cert, as the reference bundlers do.
func encryptHexSecret(cert *x509.Certificate, secret []byte) ([]byte, error) {
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("certificate %q does not hold an RSA key", cert.Subject)
	}
	return rsa.EncryptPKCS1v15(rand.Reader, pub, []byte(hex.EncodeToString(secret)))
}

// marshal writes the manifest in the layout both reference bundlers use, signs it with userKey
// and records the signature and signed bytes in m.
func (m *Manifest) marshal(userKey *rsa.PrivateKey) ([]byte, error) {
	return m.encode(func(signed []byte) ([]byte, error) {
		sum := sha1.Sum(signed)
		sig, err := rsa.SignPKCS1v15(nil, userKey, crypto.SHA1, sum[:])
		if err != nil {
			return nil, fmt.Errorf("signing manifest: %w", err)
		}
		return sig, nil
	})
}

// encode writes the manifest with the signature sign makes over the signed bytes.
func (m *Manifest) encode(sign func(signed []byte) ([]byte, error)) ([]byte, error) {
	var w xmlWriter
	w.WriteString("<?xml version='1.0' encoding='UTF-8'?>\n")
	w.open("manifest")
	w.leaf("version", m.Version)
	w.open("bundler")
	w.leaf("name", m.Bundler.Name)
	w.leaf("version", m.Bundler.Version)
	w.leaf("release", m.Bundler.Release)
	w.close("bundler")

	mcStart := w.Len()
	w.open("machine_configuration")
	w.leaf("architecture", m.Arch)
	if len(m.BlockDeviceMappings) > 0 {
		w.open("block_device_mapping")
		for _, bdm := range m.BlockDeviceMappings {
			w.open("mapping")
			w.leaf("virtual", bdm.Virtual)
			w.leaf("device", bdm.Device)
			w.close("mapping")
		}
		w.close("block_device_mapping")
	}
	if len(m.ProductCodes) > 0 {
		w.open("product_codes")
		for _, code := range m.ProductCodes {
			w.leaf("product_code", code)
		}
		w.close("product_codes")
	}
	if m.KernelID != "" {
		w.leaf("kernel_id", m.KernelID)
	}
	if m.RamdiskID != "" {
		w.leaf("ramdisk_id", m.RamdiskID)
	}
	w.close("machine_configuration")

	w.open("image")
	w.leaf("name", m.Name)
	w.leaf("user", m.User)
	w.leaf("type", m.Type) // EC2 wants <type> right after <user>
	w.leaf("digest", hex.EncodeToString(m.Digest), "algorithm", digestAlgorithm)
	w.leaf("size", strconv.FormatInt(m.Size, 10))
	w.leaf("bundled_size", strconv.FormatInt(m.BundledSize, 10))
	w.leaf("ec2_encrypted_key", hex.EncodeToString(m.EC2EncryptedKey), "algorithm", cipherAlgorithm)
	w.leaf("user_encrypted_key", hex.EncodeToString(m.UserEncryptedKey), "algorithm", cipherAlgorithm)
	w.leaf("ec2_encrypted_iv", hex.EncodeToString(m.EC2EncryptedIV))
	w.leaf("user_encrypted_iv", hex.EncodeToString(m.UserEncryptedIV))
	w.open("parts", "count", strconv.Itoa(len(m.Parts)))
	for i, part := range m.Parts {
		w.open("part", "index", strconv.Itoa(i))
		w.leaf("filename", part.Filename)
		w.leaf("digest", hex.EncodeToString(part.Digest), "algorithm", digestAlgorithm)
		w.close("part")
	}
	w.close("parts")
	w.close("image")
	imageEnd := w.Len()

	// <image> follows </machine_configuration> directly, so the signed bytes are one run.
	signed := bytes.Clone(w.Bytes()[mcStart:imageEnd])
	sig, err := sign(signed)
	if err != nil {
		return nil, err
	}
	w.leaf("signature", hex.EncodeToString(sig))
	w.close("manifest")
	m.Signature, m.signed = sig, signed
	return w.Bytes(), nil
}

// xmlWriter writes the manifest's few element shapes without whitespace between them, and
// attributes in single quotes. ec2-ami-tools verifies a signature over its XML library's
// re-serialization of the file, which quotes attributes that way; other verifiers take the
// bytes as they are. Written like this, both see the same bytes.
type xmlWriter struct {
	bytes.Buffer
}

var (
	textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&apos;")
)

// open writes a start tag; attrs are name, value pairs.
func (w *xmlWriter) open(name string, attrs ...string) {
	w.WriteString("<" + name)
	for i := 0; i+1 < len(attrs); i += 2 {
		w.WriteString(" " + attrs[i] + "='" + attrEscaper.Replace(attrs[i+1]) + "'")
	}
	w.WriteString(">")
}

func (w *xmlWriter) close(name string) {
	w.WriteString("</" + name + ">")
}

func (w *xmlWriter) leaf(name, text string, attrs ...string) {
	w.open(name, attrs...)
	w.WriteString(textEscaper.Replace(text))
	w.close(name)
}
