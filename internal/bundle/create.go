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
	"archive/tar"
	"compress/gzip"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"pinet.io/pinet/internal/version"
)

// Params says what to bundle and for whom.
type Params struct {
	// ImagePath is the image file to bundle.
	ImagePath string
	// Prefix names the parts and manifest; the default is the image file's name.
	Prefix string
	// Type is TypeMachine (the default), TypeKernel or TypeRamdisk.
	Type string
	// Arch is the image's architecture; the default is DefaultArch.
	Arch string
	// KernelID and RamdiskID are optional defaults for a machine image.
	KernelID, RamdiskID string
	// BlockDeviceMappings are optional, for machine images only.
	BlockDeviceMappings []BlockDeviceMapping
	// AccountID is the owning account, the manifest's <user>.
	AccountID string
	// UserCert and UserKey are the bundler's RSA certificate and key: the key signs the
	// manifest, and the certificate can decrypt the bundle again.
	UserCert *x509.Certificate
	UserKey  *rsa.PrivateKey
	// CloudCert is the certificate of the cloud that will register the image.
	CloudCert *x509.Certificate
	// PartSize is the size of each part but the last; the default is DefaultPartSize.
	PartSize int64
	// Progress, if set, is called as the image is read, with the bytes read so far and the
	// image's size.
	Progress func(done, total int64)
}

// progressStep is how often Progress hears of the bundling.
const progressStep = 1 << 20

// Create bundles p.ImagePath into outDir: it writes the parts <prefix>.part.NN and the manifest
// <prefix>.manifest.xml and returns their paths. The image is streamed, never held in memory.
// On error it removes what it wrote.
func Create(p Params, outDir string) (manifestPath string, parts []string, err error) {
	if err := p.complete(); err != nil {
		return "", nil, err
	}
	img, err := os.Open(p.ImagePath)
	if err != nil {
		return "", nil, fmt.Errorf("opening image: %w", err)
	}
	defer img.Close()
	info, err := img.Stat()
	if err != nil {
		return "", nil, fmt.Errorf("reading image: %w", err)
	}
	if !info.Mode().IsRegular() {
		return "", nil, fmt.Errorf("image %s is not a regular file", p.ImagePath)
	}

	key, iv := make([]byte, keySize), make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return "", nil, fmt.Errorf("making bundle key: %w", err)
	}
	if _, err := rand.Read(iv); err != nil {
		return "", nil, fmt.Errorf("making bundle IV: %w", err)
	}

	pw := &partWriter{dir: outDir, prefix: p.Prefix, size: p.PartSize}
	defer func() {
		if err != nil {
			pw.remove()
		}
	}()
	digest, err := writeBundleStream(pw, img, info, key, iv, &p)
	if err != nil {
		return "", nil, err
	}

	m := &Manifest{
		Version:             ManifestVersion,
		Bundler:             Bundler{Name: bundlerName, Version: version.String(), Release: "0"},
		Arch:                p.Arch,
		KernelID:            p.KernelID,
		RamdiskID:           p.RamdiskID,
		BlockDeviceMappings: p.BlockDeviceMappings,
		Name:                p.Prefix,
		User:                p.AccountID,
		Type:                p.Type,
		Digest:              digest,
		Size:                info.Size(),
		BundledSize:         pw.total,
		Parts:               pw.parts,
	}
	for _, enc := range []struct {
		dst    *[]byte
		cert   *x509.Certificate
		secret []byte
	}{
		{&m.EC2EncryptedKey, p.CloudCert, key}, {&m.EC2EncryptedIV, p.CloudCert, iv},
		{&m.UserEncryptedKey, p.UserCert, key}, {&m.UserEncryptedIV, p.UserCert, iv},
	} {
		if *enc.dst, err = encryptHexSecret(enc.cert, enc.secret); err != nil {
			return "", nil, fmt.Errorf("encrypting bundle key: %w", err)
		}
	}
	data, err := m.marshal(p.UserKey)
	if err != nil {
		return "", nil, err
	}
	manifestPath = filepath.Join(outDir, p.Prefix+manifestSuffix)
	if err := os.WriteFile(manifestPath, data, 0o644); err != nil {
		_ = os.Remove(manifestPath)
		return "", nil, fmt.Errorf("writing manifest: %w", err)
	}
	return manifestPath, pw.paths, nil
}

// complete fills in defaults and checks the parameters.
func (p *Params) complete() error {
	if p.ImagePath == "" {
		return errors.New("bundle: no image path")
	}
	if p.Prefix == "" {
		p.Prefix = filepath.Base(p.ImagePath)
	}
	if p.Type == "" {
		p.Type = TypeMachine
	}
	if p.Arch == "" {
		p.Arch = DefaultArch
	}
	if p.PartSize == 0 {
		p.PartSize = DefaultPartSize
	}
	switch {
	// The prefix is written into the manifest and becomes S3 keys: keep it plain ASCII.
	case !validFileName(p.Prefix) || !validToken(strings.ReplaceAll(p.Prefix, " ", "_")) ||
		len(p.Prefix)+len(manifestSuffix) > maxNameLen:
		return fmt.Errorf("bundle: prefix %q is not a short plain ASCII file name", p.Prefix)
	case p.Type != TypeMachine && p.Type != TypeKernel && p.Type != TypeRamdisk:
		return fmt.Errorf("bundle: image type %q is not machine, kernel or ramdisk", p.Type)
	case !validToken(p.Arch):
		return fmt.Errorf("bundle: architecture %q is not a valid token", p.Arch)
	case p.KernelID != "" && !validToken(p.KernelID), p.RamdiskID != "" && !validToken(p.RamdiskID):
		return fmt.Errorf("bundle: kernel %q or ramdisk %q is not a valid id", p.KernelID, p.RamdiskID)
	case !validToken(p.AccountID):
		return fmt.Errorf("bundle: account id %q is not a valid token", p.AccountID)
	case p.PartSize < 0:
		return fmt.Errorf("bundle: part size %d is negative", p.PartSize)
	case len(p.BlockDeviceMappings) > 0 && p.Type != TypeMachine:
		return errors.New("bundle: block device mappings are for machine images only")
	}
	if err := p.checkMappings(); err != nil {
		return err
	}
	// Verifiers that re-serialize the manifest before checking its signature (ec2-ami-tools)
	// may escape these differently; keeping them out keeps the signed bytes unambiguous.
	values := []string{p.Prefix, p.Arch, p.KernelID, p.RamdiskID, p.AccountID}
	for _, bdm := range p.BlockDeviceMappings {
		values = append(values, bdm.Virtual, bdm.Device)
	}
	for _, v := range values {
		if strings.ContainsAny(v, `&<>"'`) {
			return fmt.Errorf("bundle: %q holds one of the XML special characters &<>\"'", v)
		}
	}
	return p.checkKeys()
}

func (p *Params) checkMappings() error {
	if len(p.BlockDeviceMappings) > maxMappings {
		return fmt.Errorf("bundle: more than %d block device mappings", maxMappings)
	}
	// euca2ools writes the mappings sorted by virtual name; so does this.
	p.BlockDeviceMappings = slices.Clone(p.BlockDeviceMappings)
	slices.SortFunc(p.BlockDeviceMappings, func(a, b BlockDeviceMapping) int {
		return strings.Compare(a.Virtual, b.Virtual)
	})
	for i, bdm := range p.BlockDeviceMappings {
		if !validToken(bdm.Virtual) || !validToken(bdm.Device) {
			return fmt.Errorf("bundle: block device mapping %q=%q is not two valid tokens", bdm.Virtual, bdm.Device)
		}
		if i > 0 && p.BlockDeviceMappings[i-1].Virtual == bdm.Virtual {
			return fmt.Errorf("bundle: block device %q is mapped twice", bdm.Virtual)
		}
	}
	return nil
}

func (p *Params) checkKeys() error {
	if p.UserCert == nil || p.UserKey == nil || p.CloudCert == nil {
		return errors.New("bundle: the user certificate and key and the cloud certificate are required")
	}
	userPub, ok := p.UserCert.PublicKey.(*rsa.PublicKey)
	if !ok || !userPub.Equal(&p.UserKey.PublicKey) {
		return errors.New("bundle: the user key does not belong to the user certificate")
	}
	if _, ok := p.CloudCert.PublicKey.(*rsa.PublicKey); !ok {
		return errors.New("bundle: the cloud certificate does not hold an RSA key")
	}
	return nil
}

// writeBundleStream runs the image through tar, gzip and AES-CBC into the part writer and returns
// the tar stream's SHA-1.
func writeBundleStream(pw *partWriter, img io.Reader, info os.FileInfo, key, iv []byte, p *Params) ([]byte, error) {
	enc, err := newCBCWriter(pw, key, iv)
	if err != nil {
		return nil, err
	}
	gz := gzip.NewWriter(enc)
	tarSum := sha1.New()
	tw := tar.NewWriter(io.MultiWriter(gz, tarSum))
	// The member is named after the prefix, as euca2ools names it.
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     p.Prefix,
		Size:     info.Size(),
		Mode:     0o644,
		ModTime:  info.ModTime(),
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, fmt.Errorf("writing tar header: %w", err)
	}
	src := img
	if p.Progress != nil {
		src = &progressReader{r: img, total: info.Size(), report: p.Progress}
	}
	if _, err := io.CopyN(tw, src, info.Size()); err != nil {
		return nil, pw.errOr(fmt.Errorf("bundling image: %w", err))
	}
	if n, _ := img.Read(make([]byte, 1)); n > 0 {
		return nil, fmt.Errorf("image %s grew while it was bundled", p.ImagePath)
	}
	for _, c := range []io.Closer{tw, gz, enc, pw} {
		if err := c.Close(); err != nil {
			return nil, pw.errOr(fmt.Errorf("finishing bundle: %w", err))
		}
	}
	return tarSum.Sum(nil), nil
}

// partWriter cuts the ciphertext into part files and records their digests.
type partWriter struct {
	dir, prefix string
	size        int64

	err   error // the first failure, reported as is rather than through gzip and tar
	f     *os.File
	n     int64 // bytes in the current part
	sum   hash.Hash
	total int64
	parts []Part
	paths []string
}

func (w *partWriter) Write(p []byte) (int, error) {
	n, err := w.write(p)
	if err != nil && w.err == nil {
		w.err = err
	}
	return n, err
}

// errOr returns the part writer's own error if it failed, else err.
func (w *partWriter) errOr(err error) error {
	if w.err != nil {
		return w.err
	}
	return err
}

func (w *partWriter) write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if w.f == nil || w.n == w.size {
			if err := w.next(); err != nil {
				return written, err
			}
		}
		chunk := p[:min(int64(len(p)), w.size-w.n)]
		n, err := w.f.Write(chunk)
		w.sum.Write(chunk[:n])
		w.n += int64(n)
		w.total += int64(n)
		written += n
		if err != nil {
			return written, fmt.Errorf("writing part: %w", err)
		}
		p = p[n:]
	}
	return written, nil
}

// next finishes the current part and starts the next.
func (w *partWriter) next() error {
	if err := w.finish(); err != nil {
		return err
	}
	if len(w.parts) == MaxParts {
		return fmt.Errorf("bundle: the image needs more than %d parts of %d bytes", MaxParts, w.size)
	}
	path := filepath.Join(w.dir, fmt.Sprintf("%s%s%02d", w.prefix, partSuffix, len(w.parts)))
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating part: %w", err)
	}
	w.f, w.n, w.sum = f, 0, sha1.New()
	w.paths = append(w.paths, path)
	return nil
}

func (w *partWriter) finish() error {
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return fmt.Errorf("closing part: %w", err)
	}
	w.parts = append(w.parts, Part{Filename: filepath.Base(w.paths[len(w.paths)-1]), Digest: w.sum.Sum(nil)})
	return nil
}

func (w *partWriter) Close() error { return w.finish() }

// remove deletes the parts written so far.
func (w *partWriter) remove() {
	if w.f != nil {
		_ = w.f.Close()
	}
	for _, path := range w.paths {
		_ = os.Remove(path)
	}
}

// progressReader reports reads to a Progress callback every progressStep bytes and at the end.
type progressReader struct {
	r              io.Reader
	done, reported int64
	total          int64
	report         func(done, total int64)
}

func (r *progressReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.done += int64(n)
	if r.done-r.reported >= progressStep || (r.done == r.total && r.done != r.reported) {
		r.reported = r.done
		r.report(r.done, r.total)
	}
	return n, err
}
