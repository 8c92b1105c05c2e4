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

// Package capture lays out, in the object store, the copy of an instance's root disk that its
// node makes for an image (EC2's CreateImage): the flattened disk in parts of PartBytes under the
// image's prefix, then a result record, written last, that the image controller waits for. The
// node writes there only (its grant covers the prefix of an image being made on it); the image
// controller reads the parts, checks the disk as it checks any registered image, and stores it.
package capture

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/minio/minio-go/v7"
	"k8s.io/apimachinery/pkg/types"
)

// PartBytes is the size of every part but the last.
const PartBytes = 64 << 20

// maxFailure bounds the node's words on a failed copy (the image's state reason holds 512).
const maxFailure = 400

// MaxParts bounds a copy: 16 TiB of disk.
const MaxParts = 1 << 18

// Prefix is where the copy for the image with id and uid is kept.
func Prefix(id string, uid types.UID) string { return "captures/" + id + "." + string(uid) + "/" }

// PartKey is the key of part n (from 0) under prefix.
func PartKey(prefix string, n int) string { return fmt.Sprintf("%spart-%06d", prefix, n) }

// ResultKey is the key of the result record under prefix.
func ResultKey(prefix string) string { return prefix + "result" }

// Names reports whether key is a part or the result record under prefix: what a node making the
// copy may write and read back.
func Names(prefix, key string) bool {
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return false
	}
	if rest == "result" {
		return true
	}
	n, ok := strings.CutPrefix(rest, "part-")
	if !ok || len(n) != 6 {
		return false
	}
	for _, c := range n {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Result is the node's record of a copy: how many parts and bytes it wrote, or why it could not.
type Result struct {
	Parts     int    `json:"parts"`
	SizeBytes int64  `json:"sizeBytes"`
	Failed    string `json:"failed,omitempty"`
}

// check refuses a record that does not describe a copy: its parts must hold its bytes.
func (r Result) check() error {
	if r.Failed != "" {
		return nil
	}
	switch {
	case r.SizeBytes <= 0 || r.Parts <= 0 || r.Parts > MaxParts:
		return fmt.Errorf("a copy of %d bytes in %d parts", r.SizeBytes, r.Parts)
	case int64(r.Parts) != (r.SizeBytes+PartBytes-1)/PartBytes:
		return fmt.Errorf("%d bytes do not make %d parts of %d", r.SizeBytes, r.Parts, PartBytes)
	}
	return nil
}

// ErrNoResult is returned by ReadResult while the node has not finished.
var ErrNoResult = errors.New("the node has not finished the copy")

// ErrBadResult is returned by ReadResult for a record that does not describe a copy.
var ErrBadResult = errors.New("the copy's result record is not valid")

// ReadResult reads the record under prefix.
func ReadResult(ctx context.Context, mc *minio.Client, bucket, prefix string) (Result, error) {
	obj, err := mc.GetObject(ctx, bucket, ResultKey(prefix), minio.GetObjectOptions{})
	var data []byte
	if err == nil {
		data, err = io.ReadAll(io.LimitReader(obj, 4096))
		obj.Close()
	}
	if err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return Result{}, ErrNoResult
		}
		return Result{}, fmt.Errorf("reading the copy's result: %w", err)
	}
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrBadResult, err)
	}
	if len(r.Failed) > maxFailure {
		r.Failed = r.Failed[:maxFailure]
	}
	if err := r.check(); err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrBadResult, err)
	}
	return r, nil
}

func writeResult(ctx context.Context, mc *minio.Client, bucket, prefix string, r Result) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = mc.PutObject(ctx, bucket, ResultKey(prefix), bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "application/json", DisableMultipart: true})
	if err != nil {
		return fmt.Errorf("writing the copy's result: %w", err)
	}
	return nil
}

// Upload writes the size bytes of disk as parts under prefix, then the result record.
func Upload(ctx context.Context, mc *minio.Client, bucket, prefix string, disk io.ReaderAt, size int64) (Result, error) {
	r := Result{SizeBytes: size, Parts: int((size + PartBytes - 1) / PartBytes)}
	if err := r.check(); err != nil {
		return Result{}, err
	}
	for n := 0; n < r.Parts; n++ {
		off := int64(n) * PartBytes
		length := min(PartBytes, size-off)
		// One PUT a part: a node's grant allows no multipart upload.
		if _, err := mc.PutObject(ctx, bucket, PartKey(prefix, n), io.NewSectionReader(disk, off, length), length,
			minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true}); err != nil {
			return Result{}, fmt.Errorf("writing part %d of the copy: %w", n, err)
		}
	}
	return r, writeResult(ctx, mc, bucket, prefix, r)
}

// Fail records why the node could not make the copy.
func Fail(ctx context.Context, mc *minio.Client, bucket, prefix, why string) error {
	if len(why) > maxFailure {
		why = why[:maxFailure]
	}
	return writeResult(ctx, mc, bucket, prefix, Result{Failed: why})
}

// Open reads the copy's parts in order as one stream of r.SizeBytes bytes. A part missing, or of
// another size than the record says, ends the stream with an error that Bad also returns.
func Open(ctx context.Context, mc *minio.Client, bucket, prefix string, r Result) *Parts {
	return &Parts{ctx: ctx, mc: mc, bucket: bucket, prefix: prefix, res: r}
}

// Parts is the stream of a copy's parts.
type Parts struct {
	ctx            context.Context
	mc             *minio.Client
	bucket, prefix string
	res            Result
	next           int
	cur            io.ReadCloser
	left           int64
	bad            error
}

// Bad is the error, if any, that says the parts are not the copy their record describes (as
// opposed to the store failing to serve them).
func (p *Parts) Bad() error { return p.bad }

func (p *Parts) fail(format string, args ...any) error {
	p.bad = fmt.Errorf("%w: "+format, append([]any{ErrBadResult}, args...)...)
	return p.bad
}

func (p *Parts) Read(b []byte) (int, error) {
	for {
		if p.cur != nil {
			n, err := p.cur.Read(b)
			p.left -= int64(n)
			switch {
			case err != nil && err != io.EOF && minio.ToErrorResponse(err).Code == "NoSuchKey":
				return n, p.fail("part %d of the copy is missing", p.next-1)
			case p.left < 0:
				return n, p.fail("part %d of the copy is longer than its record says", p.next-1)
			case err == io.EOF && p.left > 0:
				return n, p.fail("part %d of the copy is shorter than its record says", p.next-1)
			case err == io.EOF:
				p.cur.Close()
				p.cur = nil
				if n > 0 {
					return n, nil
				}
				continue
			}
			return n, err
		}
		if p.next >= p.res.Parts {
			return 0, io.EOF
		}
		obj, err := p.mc.GetObject(p.ctx, p.bucket, PartKey(p.prefix, p.next), minio.GetObjectOptions{})
		if err != nil {
			return 0, fmt.Errorf("reading part %d of the copy: %w", p.next, err)
		}
		off := int64(p.next) * PartBytes
		p.cur, p.left = obj, min(PartBytes, p.res.SizeBytes-off)
		p.next++
	}
}

// Close closes the part being read.
func (p *Parts) Close() error {
	if p.cur != nil {
		return p.cur.Close()
	}
	return nil
}

// Remove deletes everything under prefix.
func Remove(ctx context.Context, mc *minio.Client, bucket, prefix string) error {
	for obj := range mc.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			if minio.ToErrorResponse(obj.Err).Code == "NoSuchBucket" {
				return nil
			}
			return fmt.Errorf("listing the copy under %s: %w", prefix, obj.Err)
		}
		if err := mc.RemoveObject(ctx, bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil &&
			minio.ToErrorResponse(err).Code != "NoSuchKey" {
			return fmt.Errorf("removing %s: %w", obj.Key, err)
		}
	}
	return nil
}
