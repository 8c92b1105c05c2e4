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

package awsauth

import (
	"bufio"
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strconv"
	"strings"
)

const (
	// maxLine bounds a chunk header or trailer line; real ones are under 200 bytes.
	maxLine = 4096
	// maxTrailerLines bounds the lines after the final chunk.
	maxTrailerLines       = 32
	chunkSignaturePrefix  = "chunk-signature="
	trailerSignatureName  = "x-amz-trailer-signature"
	chunkStringToSignHead = "AWS4-HMAC-SHA256-PAYLOAD"
	trailerStringToSign   = "AWS4-HMAC-SHA256-TRAILER"
)

// chunkedReader decodes an aws-chunked payload:
//
//	SIZE-HEX[;chunk-signature=SIG]\r\n DATA \r\n ... 0[;chunk-signature=SIG]\r\n
//
// followed by "\r\n" or, for the trailer forms, "name:value" trailer lines, the
// x-amz-trailer-signature line when signed, and an empty line. Signed chunks chain: each
// signature covers the previous one, starting from the request's seed signature.
type chunkedReader struct {
	src *lineReader
	// key checks chunk signatures; nil for unsigned chunks.
	key     *chunkKey
	prevSig string
	// trailer: the final chunk is followed by trailer lines naming trailerNames.
	trailer       bool
	signedTrailer bool
	trailerNames  []string
	// digests run over the decoded payload; trailer checksums get their value at the end.
	digests       digestSet
	decodedLength int64 // -1 when not declared
	total         int64
	chunks        int
	// left is what remains of the current chunk's data; chunkSig its declared signature.
	left      int64
	chunkSig  []byte
	chunkHash hash.Hash
	done      bool
	err       error
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.done {
		return 0, io.EOF
	}
	for c.left == 0 {
		last, err := c.nextChunk()
		if err != nil {
			return 0, c.fail(err)
		}
		if last {
			if err := c.finish(); err != nil {
				return 0, c.fail(err)
			}
			c.done = true
			return 0, io.EOF
		}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.src.Read(p)
	c.left -= int64(n)
	c.total += int64(n)
	c.chunkHash.Write(p[:n])
	c.digests.write(p[:n])
	switch {
	case c.decodedLength >= 0 && c.total > c.decodedLength:
		return n, c.fail(fmt.Errorf("the payload is longer than its x-amz-decoded-content-length %d", c.decodedLength))
	case err == io.EOF && c.left > 0:
		return n, c.fail(fmt.Errorf("the stream ends inside chunk %d", c.chunks))
	case err != nil && err != io.EOF:
		return n, c.fail(err)
	case c.left == 0:
		if err := c.endChunk(); err != nil {
			return n, c.fail(err)
		}
	}
	return n, nil
}

// fail makes err the reader's lasting error, as a payload mismatch.
func (c *chunkedReader) fail(err error) error {
	if !errors.Is(err, ErrPayloadMismatch) {
		err = fmt.Errorf("%w: aws-chunked payload: %w", ErrPayloadMismatch, err)
	}
	c.err = err
	return err
}

// nextChunk reads a chunk header; it reports whether this is the final, empty chunk.
func (c *chunkedReader) nextChunk() (bool, error) {
	c.chunks++
	line, err := c.src.line()
	if err != nil {
		return false, fmt.Errorf("reading the header of chunk %d: %w", c.chunks, eofIsTruncation(err))
	}
	sizeHex, ext, hasExt := strings.Cut(line, ";")
	if sizeHex == "" || len(sizeHex) > 15 || strings.Trim(sizeHex, "0123456789abcdefABCDEF") != "" {
		return false, fmt.Errorf("chunk %d: the size %s is not hexadecimal", c.chunks, quoted(sizeHex))
	}
	size, _ := strconv.ParseInt(sizeHex, 16, 64)
	c.chunkHash.Reset()
	c.left = size
	switch {
	case c.key == nil && hasExt:
		return false, fmt.Errorf("chunk %d: unexpected extension %s in an unsigned stream", c.chunks, quoted(ext))
	case c.key != nil:
		sig, ok := strings.CutPrefix(ext, chunkSignaturePrefix)
		if c.chunkSig, err = hex.DecodeString(sig); !ok || err != nil || len(c.chunkSig) != 32 {
			return false, fmt.Errorf("chunk %d: the header has no chunk-signature of 64 hexadecimal digits", c.chunks)
		}
	}
	if size > 0 {
		return false, nil
	}
	return true, c.verifyChunk()
}

// endChunk reads the CRLF after a chunk's data and checks the chunk's signature.
func (c *chunkedReader) endChunk() error {
	line, err := c.src.line()
	if err != nil {
		return fmt.Errorf("after the data of chunk %d: %w", c.chunks, eofIsTruncation(err))
	}
	if line != "" {
		return fmt.Errorf("chunk %d is longer than its declared size", c.chunks)
	}
	return c.verifyChunk()
}

// verifyChunk checks the current chunk's signature, chaining from the previous one.
func (c *chunkedReader) verifyChunk() error {
	if c.key == nil {
		return nil
	}
	stringToSign := strings.Join([]string{chunkStringToSignHead, c.key.amzDate, c.key.scope, c.prevSig,
		emptySHA256, hex.EncodeToString(c.chunkHash.Sum(nil))}, "\n")
	sig := hmacSHA256(c.key.key, stringToSign)
	if !hmac.Equal(sig, c.chunkSig) {
		return fmt.Errorf("%w: the signature of chunk %d does not match its data", ErrPayloadMismatch, c.chunks)
	}
	c.prevSig = hex.EncodeToString(sig)
	return nil
}

// finish reads what follows the final chunk, checks the trailer and every digest.
func (c *chunkedReader) finish() error {
	fields, sig, err := c.readTrailer()
	if err != nil {
		return err
	}
	if !c.trailer && len(fields) > 0 {
		return fmt.Errorf("unexpected trailer %s after the final chunk", quoted(fields[0].key))
	}
	if c.trailer {
		if err := c.checkTrailer(fields, sig); err != nil {
			return err
		}
	}
	if c.decodedLength >= 0 && c.total != c.decodedLength {
		return fmt.Errorf("the payload has %d bytes, not its x-amz-decoded-content-length %d", c.total, c.decodedLength)
	}
	return c.digests.verify()
}

// readTrailer reads the lines after the final chunk up to the end of the stream: trailer
// fields and the trailer signature, then at least one empty line. Empty lines between them
// are allowed, as some clients end each field with "\n" and then write "\r\n".
func (c *chunkedReader) readTrailer() (fields []queryParam, sig string, err error) {
	endsEmpty := false
	for i := 0; ; i++ {
		if i == maxTrailerLines {
			return nil, "", fmt.Errorf("more than %d lines after the final chunk", maxTrailerLines)
		}
		line, err := c.src.line()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, "", fmt.Errorf("after the final chunk: %w", err)
		}
		if endsEmpty = line == ""; endsEmpty {
			continue
		}
		if sig != "" {
			return nil, "", errors.New("trailer lines after the trailer signature")
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, "", fmt.Errorf("trailer line %s is not name:value", quoted(line))
		}
		name, value = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)
		if name == trailerSignatureName {
			sig = value
			continue
		}
		fields = append(fields, queryParam{key: name, value: value})
	}
	if !endsEmpty {
		return nil, "", errors.New("the stream is truncated: it does not end with an empty line")
	}
	return fields, sig, nil
}

// checkTrailer checks the trailer signature and takes the trailing checksums' values.
func (c *chunkedReader) checkTrailer(fields []queryParam, sig string) error {
	if c.signedTrailer {
		if err := c.verifyTrailerSignature(fields, sig); err != nil {
			return err
		}
	} else if sig != "" {
		return errors.New("a trailer signature in an unsigned stream")
	}
	for _, f := range fields {
		if !slices.Contains(c.trailerNames, f.key) {
			return fmt.Errorf("trailer %s was not declared in x-amz-trailer", quoted(f.key))
		}
		for _, d := range c.digests {
			if d.name != f.key || d.want != nil {
				continue
			}
			want, err := base64.StdEncoding.DecodeString(f.value)
			if err != nil || len(want) != d.h.Size() {
				return fmt.Errorf("trailer %s %s is not a base64 checksum of %d bytes", f.key, quoted(f.value), d.h.Size())
			}
			d.want = want
		}
	}
	return nil
}

// verifyTrailerSignature checks the signature over the trailer fields, each "name:value\n".
func (c *chunkedReader) verifyTrailerSignature(fields []queryParam, sig string) error {
	declared, err := hex.DecodeString(sig)
	if err != nil || len(declared) != 32 {
		return errors.New("the trailer has no x-amz-trailer-signature of 64 hexadecimal digits")
	}
	var canonical strings.Builder
	for _, f := range fields {
		canonical.WriteString(f.key + ":" + f.value + "\n")
	}
	stringToSign := strings.Join([]string{trailerStringToSign, c.key.amzDate, c.key.scope, c.prevSig,
		hexSHA256(canonical.String())}, "\n")
	if !hmac.Equal(hmacSHA256(c.key.key, stringToSign), declared) {
		return fmt.Errorf("%w: the trailer signature does not match the trailer", ErrPayloadMismatch)
	}
	return nil
}

// eofIsTruncation turns an end of stream where more was due into io.ErrUnexpectedEOF.
func eofIsTruncation(err error) error {
	if err == io.EOF {
		return fmt.Errorf("the stream is truncated: %w", io.ErrUnexpectedEOF)
	}
	return err
}

// lineReader reads bounded lines and raw data from one buffered stream.
type lineReader struct {
	r *bufio.Reader
}

func newLineReader(src io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(src, 64<<10)}
}

func (l *lineReader) Read(p []byte) (int, error) {
	return l.r.Read(p)
}

// line reads up to "\n", dropping it and a "\r" before it. It returns io.EOF only at the end of
// the stream before any byte, io.ErrUnexpectedEOF when the stream ends inside a line.
func (l *lineReader) line() (string, error) {
	var b []byte
	for {
		c, err := l.r.ReadByte()
		switch {
		case err == io.EOF && len(b) == 0:
			return "", io.EOF
		case err == io.EOF:
			return "", fmt.Errorf("the stream is truncated inside a line: %w", io.ErrUnexpectedEOF)
		case err != nil:
			return "", err
		case c == '\n':
			return strings.TrimSuffix(string(b), "\r"), nil
		case len(b) == maxLine:
			return "", errLineTooLong
		}
		b = append(b, c)
	}
}

// errLineTooLong is returned for a chunk header or trailer line longer than maxLine.
var errLineTooLong = fmt.Errorf("a line is longer than %d bytes", maxLine)
