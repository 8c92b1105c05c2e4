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

// Package bundle reads and writes EC2 image bundles, the format euca-bundle-image and
// ec2-bundle-image produce and RegisterImage consumes.
//
// A bundle is an image file put in a one-member tar stream (whose SHA-1 is the image digest),
// gzipped, encrypted with AES-128-CBC (PKCS#7 padding) under a random key and IV, and cut into
// parts named <prefix>.part.NN. The manifest <prefix>.manifest.xml lists the parts with their
// SHA-1 digests and carries the key and IV, as lower-case hex text, encrypted with RSA PKCS#1 v1.5
// to the cloud's certificate and to the bundler's own. The bundler signs the manifest with
// RSA-SHA1 over its <machine_configuration> element followed by its <image> element. Eucalyptus
// and this package take those elements' bytes from the file as they are; ec2-ami-tools takes
// them from its XML library's re-serialization, which quotes attributes with '. Create writes
// manifests on which both readings agree, and ParseManifest insists that each signed element
// occurs once, so no verifier can be shown different signed bytes than this package checks.
package bundle

import (
	"errors"
)

// Errors callers tell apart with errors.Is; each is returned wrapped with detail.
var (
	// ErrBadManifest: the manifest is not a well-formed 2007-10-10 bundle manifest.
	ErrBadManifest = errors.New("bad bundle manifest")
	// ErrBadSignature: the manifest's signature does not verify with the given certificate.
	ErrBadSignature = errors.New("bad manifest signature")
	// ErrNotForThisCloud: the bundle's key was not encrypted to this cloud's certificate.
	ErrNotForThisCloud = errors.New("bundle is not encrypted for this cloud")
	// ErrMissingPart: a part listed in the manifest does not exist.
	ErrMissingPart = errors.New("bundle part missing")
	// ErrPartDigest: a part's SHA-1 differs from the manifest's; the message names the part.
	ErrPartDigest = errors.New("bundle part digest mismatch")
	// ErrImageDigest: the decrypted tar stream's SHA-1 differs from the manifest's image digest.
	ErrImageDigest = errors.New("image digest mismatch")
	// ErrCorrupt: the parts do not decrypt, decompress or untar to one image as the manifest says
	// (bad padding, gzip or tar errors, sizes that disagree).
	ErrCorrupt = errors.New("corrupt bundle")
)

// Image types a manifest's <type> may hold.
const (
	TypeMachine = "machine"
	TypeKernel  = "kernel"
	TypeRamdisk = "ramdisk"
)

const (
	// ManifestVersion is the only manifest version this package reads and writes.
	ManifestVersion = "2007-10-10"
	// DefaultPartSize is the part size both reference bundlers use.
	DefaultPartSize = 10 << 20
	// DefaultArch is the architecture of a bundle when none is given.
	DefaultArch = "x86_64"

	// MaxManifestSize bounds the manifest ParseManifest accepts.
	MaxManifestSize = 4 << 20
	// MaxParts bounds a manifest's part count: 10 GiB (EC2's bundle limit) in 1 MiB parts.
	MaxParts = 10240

	digestAlgorithm = "SHA1"
	cipherAlgorithm = "AES-128-CBC"
	keySize         = 16
	partSuffix      = ".part."
	manifestSuffix  = ".manifest.xml"
	bundlerName     = "pinet"
)
