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
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// maxTrailer bounds what may follow the image in the tar stream: the end-of-archive blocks and
// the padding to a record (10 KiB for GNU tar and Python's tarfile).
const maxTrailer = 1 << 20

// Unbundle streams the parts of m, each opened in order through open, checks each part's SHA-1,
// decrypts them with key and iv, gunzips, checks the tar stream's SHA-1 against the image
// digest, and writes the one file in the tar stream to out. It returns the image's size and
// its MD5 in hex.
//
// open is given a part's file name from the manifest; when the part does not exist it must
// return an error that wraps fs.ErrNotExist (or ErrMissingPart). Other open or read errors are
// returned wrapped but not classified, so the caller can retry them.
//
// Unbundle writes to out as it reads, before the digests at the end are known, so out holds
// garbage whenever it returns an error: callers write to a temporary file and keep it only
// when Unbundle returns nil. A nil error means every part's digest, the cipher padding, the
// gzip checksum, the tar stream's digest and both sizes matched the manifest.
//
// When decryption, gzip or tar fails, Unbundle reads the remaining parts before it answers,
// so that a damaged part is reported as ErrPartDigest or ErrMissingPart rather than ErrCorrupt.
//
// The signed manifest bounds the work: Unbundle writes at most m.Size bytes and reads at most
// m.BundledSize+1 bytes of parts, so callers check those two against their limits first.
func Unbundle(m *Manifest, key, iv []byte, open func(filename string) (io.ReadCloser, error), out io.Writer) (size int64, md5hex string, err error) {
	if m == nil || len(m.Parts) == 0 {
		return 0, "", fmt.Errorf("%w: manifest lists no parts", ErrBadManifest)
	}
	if len(key) != keySize || len(iv) != keySize {
		return 0, "", fmt.Errorf("bundle key and IV must be %d bytes", keySize)
	}
	parts := &partReader{parts: m.Parts, limit: m.BundledSize, open: open}
	defer parts.close()
	sink := &sinkWriter{w: out}
	size, sum, err := unpack(m, key, iv, parts, sink)
	switch {
	case err == nil:
		return size, hex.EncodeToString(sum), nil
	case sink.err != nil:
		return 0, "", fmt.Errorf("writing image: %w", sink.err)
	case parts.err != nil:
		return 0, "", parts.err
	}
	if _, derr := io.Copy(io.Discard, parts); derr != nil {
		return 0, "", derr
	}
	return 0, "", err
}

// UnbundleFile unbundles into the file at path. It writes a temporary file beside path and
// renames it into place only when Unbundle succeeds, so path never holds an unchecked image.
func UnbundleFile(m *Manifest, key, iv []byte, open func(filename string) (io.ReadCloser, error), path string) (size int64, md5hex string, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".partial-*")
	if err != nil {
		return 0, "", fmt.Errorf("creating image file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if size, md5hex, err = Unbundle(m, key, iv, open, tmp); err != nil {
		return 0, "", err
	}
	if err = tmp.Sync(); err == nil {
		err = tmp.Close()
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return 0, "", fmt.Errorf("writing image file: %w", err)
	}
	return size, md5hex, nil
}

// unpack decrypts, decompresses and untars the part stream into out and checks the result
// against the manifest. It returns the image's size and MD5.
func unpack(m *Manifest, key, iv []byte, parts io.Reader, out io.Writer) (int64, []byte, error) {
	plain, err := newCBCReader(parts, key, iv)
	if err != nil {
		return 0, nil, err
	}
	zr, err := gzip.NewReader(plain)
	if err != nil {
		return 0, nil, corrupt("reading gzip header", err)
	}
	tarSum := sha1.New()
	stream := io.TeeReader(zr, tarSum)
	tr := tar.NewReader(stream)
	hdr, err := tr.Next()
	if err != nil {
		return 0, nil, corrupt("reading tar header", err)
	}
	if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeGNUSparse {
		return 0, nil, fmt.Errorf("%w: tar member %q is not a regular file (type %q)", ErrCorrupt, hdr.Name, hdr.Typeflag)
	}
	// The manifest is signed, so its size bounds what a hostile stream can make us write.
	if hdr.Size != m.Size {
		return 0, nil, fmt.Errorf("%w: tar member is %d bytes, the manifest says %d", ErrCorrupt, hdr.Size, m.Size)
	}
	imageSum := md5.New()
	n, err := io.Copy(io.MultiWriter(out, imageSum), tr)
	if err != nil {
		return 0, nil, corrupt("reading the image from the tar stream", err)
	}
	if _, err := tr.Next(); !errors.Is(err, io.EOF) {
		if err == nil {
			return 0, nil, fmt.Errorf("%w: the tar stream holds more than one file", ErrCorrupt)
		}
		return 0, nil, corrupt("reading the end of the tar stream", err)
	}
	trailer, err := io.Copy(io.Discard, io.LimitReader(stream, maxTrailer+1))
	if err != nil {
		return 0, nil, corrupt("reading the end of the stream", err)
	}
	if trailer > maxTrailer {
		return 0, nil, fmt.Errorf("%w: more than %d bytes follow the image", ErrCorrupt, maxTrailer)
	}
	if plain.err != io.EOF { // the reader sets io.EOF itself once the padding checked out
		return 0, nil, fmt.Errorf("%w: data follows the gzip stream", ErrCorrupt)
	}
	if got := tarSum.Sum(nil); !bytes.Equal(got, m.Digest) {
		return 0, nil, fmt.Errorf("%w: tar stream has SHA-1 %x, the manifest says %x", ErrImageDigest, got, m.Digest)
	}
	return n, imageSum.Sum(nil), nil
}

func corrupt(what string, err error) error {
	if errors.Is(err, ErrCorrupt) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%w: %s: %v", ErrCorrupt, what, err)
}

// partReader reads the parts one after another, checking each one's SHA-1 at its end. Its
// first error sticks, so Unbundle can tell a part's failure from what it caused downstream.
type partReader struct {
	parts []Part
	limit int64 // the manifest's bundled size
	open  func(string) (io.ReadCloser, error)

	next  int // index of the next part to open
	cur   io.ReadCloser
	sum   hash.Hash
	total int64
	err   error
}

func (p *partReader) Read(b []byte) (int, error) {
	for p.err == nil {
		if p.cur == nil {
			if p.next == len(p.parts) {
				return 0, io.EOF
			}
			p.openNext()
			continue
		}
		// Read at most one byte past the bundled size, enough to know the parts are too long.
		if room := p.limit - p.total + 1; int64(len(b)) > room {
			b = b[:room]
		}
		n, err := p.cur.Read(b)
		p.sum.Write(b[:n])
		p.total += int64(n)
		switch {
		case p.total > p.limit:
			p.err = fmt.Errorf("%w: the parts hold more than the manifest's %d bytes", ErrCorrupt, p.limit)
			return 0, p.err
		case errors.Is(err, io.EOF):
			p.endPart()
		case err != nil:
			p.err = fmt.Errorf("reading part %s: %w", p.parts[p.next-1].Filename, err)
		}
		if n > 0 {
			return n, nil
		}
	}
	return 0, p.err
}

func (p *partReader) openNext() {
	name := p.parts[p.next].Filename
	rc, err := p.open(name)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, ErrMissingPart):
		p.err = fmt.Errorf("%w: %s: %v", ErrMissingPart, name, err)
	case err != nil:
		p.err = fmt.Errorf("opening part %s: %w", name, err)
	default:
		p.cur, p.sum = rc, sha1.New()
		p.next++
	}
}

// endPart closes the current part and checks its digest.
func (p *partReader) endPart() {
	part := p.parts[p.next-1]
	err := p.cur.Close()
	p.cur = nil
	if got := p.sum.Sum(nil); !bytes.Equal(got, part.Digest) {
		p.err = fmt.Errorf("%w: %s has SHA-1 %x, the manifest says %x", ErrPartDigest, part.Filename, got, part.Digest)
		return
	}
	if err != nil {
		p.err = fmt.Errorf("closing part %s: %w", part.Filename, err)
		return
	}
	if p.next == len(p.parts) && p.total != p.limit {
		p.err = fmt.Errorf("%w: the parts hold %d bytes, the manifest says %d", ErrCorrupt, p.total, p.limit)
	}
}

func (p *partReader) close() {
	if p.cur != nil {
		_ = p.cur.Close()
		p.cur = nil
	}
}

// sinkWriter remembers the destination's error, which must not be taken for a corrupt bundle.
type sinkWriter struct {
	w   io.Writer
	err error
}

func (s *sinkWriter) Write(b []byte) (int, error) {
	n, err := s.w.Write(b)
	if err != nil && s.err == nil {
		s.err = err
	}
	return n, err
}
