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

// Package imagecache keeps a node's copies of images. An image is downloaded once however many
// launches ask for it at the same time, checked against its MD5 before anyone uses it, checked
// again whenever the cached file changed since, and evicted least-recently-used when the cache
// is over its size limit and no instance on the node uses it.
package imagecache

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"pinet.io/pinet/internal/metrics"
	"pinet.io/pinet/nodeagent/filestamp"
)

// ErrCorrupt means the downloaded bytes never matched the image's MD5.
var ErrCorrupt = errors.New("image does not match its MD5")

// Image says what to fetch and what it must hash to.
type Image struct {
	ID     string
	Bucket string
	Key    string
	MD5    string // hex
	Size   int64
}

// Source streams objects from the object store.
type Source interface {
	Open(ctx context.Context, bucket, key string) (io.ReadCloser, error)
}

// Cache is a directory of verified images.
type Cache struct {
	Dir string
	// Limit is the most bytes the cache keeps of images no instance uses; 0 means no limit.
	Limit  int64
	Source Source
	// Attempts is how many downloads of one image are tried before giving up (default 3).
	Attempts int
	Log      logr.Logger
	// Metrics records each download's time and bytes; nil records nothing.
	Metrics *metrics.NodeAgent

	mu       sync.Mutex
	inflight map[string]*fetch
	// verified records, per image id, the file it checked and the MD5 it checked it against.
	verified map[string]verifiedCopy
}

type fetch struct {
	done chan struct{}
	err  error
}

// Path is where an image's verified copy lives.
func (c *Cache) Path(id string) string { return filepath.Join(c.Dir, id, "image") }

// Get returns the path of a verified copy of img, downloading it if needed. Concurrent calls for
// one image share one download.
func (c *Cache) Get(ctx context.Context, img Image) (string, error) {
	for {
		c.mu.Lock()
		if c.inflight == nil {
			c.inflight = map[string]*fetch{}
			c.verified = map[string]verifiedCopy{}
		}
		if f, ok := c.inflight[img.ID]; ok {
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return "", ctx.Err()
			}
			if f.err != nil {
				return "", f.err
			}
			continue // verify the result like any cache hit
		}
		f := &fetch{done: make(chan struct{})}
		c.inflight[img.ID] = f
		c.mu.Unlock()

		f.err = c.ensure(ctx, img)
		c.mu.Lock()
		delete(c.inflight, img.ID)
		c.mu.Unlock()
		close(f.done)
		if f.err != nil {
			return "", f.err
		}
		c.touch(img.ID)
		return c.Path(img.ID), nil
	}
}

// ensure makes sure the cached copy exists and matches the MD5.
func (c *Cache) ensure(ctx context.Context, img Image) error {
	path := c.Path(img.ID)
	if fi, err := os.Stat(path); err == nil {
		c.mu.Lock()
		v, ok := c.verified[img.ID]
		c.mu.Unlock()
		// A hit is the file checked against this very image's MD5: an id alone says nothing of
		// which bytes the image being launched has.
		if ok && v.stamp == filestamp.Of(fi) && v.md5 == img.MD5 {
			return nil
		}
		sum, err := fileMD5(path)
		if err == nil && sum == img.MD5 && fi.Size() == img.Size {
			c.remember(img, fi)
			return nil
		}
		c.Log.Info("Cached image is corrupt; fetching it again", "image", img.ID, "md5", sum, "want", img.MD5)
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("removing corrupt image %s: %w", img.ID, err)
		}
	}
	attempts := c.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	var err error
	for i := 0; i < attempts; i++ {
		began := time.Now()
		var n int64
		n, err = c.download(ctx, img)
		c.Metrics.ObserveDownload(n, time.Since(began), err)
		if err == nil || ctx.Err() != nil {
			return err
		}
		c.Log.Info("Image download failed", "image", img.ID, "attempt", i+1, "error", err.Error())
	}
	return err
}

// download streams the object into a temporary file, hashing as it goes, and moves it into place
// only when the MD5 and size match.
func (c *Cache) download(ctx context.Context, img Image) (int64, error) {
	dir := filepath.Join(c.Dir, img.ID)
	// QEMU, running as libvirt's unprivileged qemu user, passes through to the image (a root
	// disk's backing file, a kernel); the image itself is 0600 until libvirt hands it over.
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return 0, err
	}
	rc, err := c.Source.Open(ctx, img.Bucket, img.Key)
	if err != nil {
		return 0, fmt.Errorf("opening %s/%s: %w", img.Bucket, img.Key, err)
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(dir, "image.part-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), rc)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("downloading %s: %w", img.ID, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != img.MD5 || n != img.Size {
		return n, fmt.Errorf("%s: got %d bytes with MD5 %s, want %d bytes with MD5 %s: %w", img.ID, n, sum, img.Size, img.MD5, ErrCorrupt)
	}
	if err := os.Rename(tmp.Name(), c.Path(img.ID)); err != nil {
		return n, err
	}
	if fi, err := os.Stat(c.Path(img.ID)); err == nil {
		c.remember(img, fi)
	}
	c.Log.Info("Downloaded image", "image", img.ID, "bytes", n)
	return n, nil
}

// verifiedCopy is a cached file that matched an MD5.
type verifiedCopy struct {
	stamp filestamp.Stamp
	md5   string
}

func (c *Cache) remember(img Image, fi os.FileInfo) {
	c.mu.Lock()
	c.verified[img.ID] = verifiedCopy{stamp: filestamp.Of(fi), md5: img.MD5}
	c.mu.Unlock()
}

// touch records a use; eviction goes by it.
func (c *Cache) touch(id string) {
	marker := filepath.Join(c.Dir, id, "last-used")
	now := time.Now()
	if err := os.Chtimes(marker, now, now); err != nil {
		_ = os.WriteFile(marker, nil, 0o640)
	}
}

// Evict removes least-recently-used images that inUse reports unused until the cache's images
// take at most Limit bytes. It returns the ids removed.
func (c *Cache) Evict(inUse func(id string) bool) ([]string, error) {
	if c.Limit <= 0 {
		return nil, nil
	}
	entries, err := os.ReadDir(c.Dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	type cached struct {
		id   string
		size int64
		used time.Time
	}
	var all []cached
	var total int64
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		fi, err := os.Stat(c.Path(e.Name()))
		if err != nil {
			continue
		}
		used := fi.ModTime()
		if m, err := os.Stat(filepath.Join(c.Dir, e.Name(), "last-used")); err == nil {
			used = m.ModTime()
		}
		all = append(all, cached{e.Name(), fi.Size(), used})
		total += fi.Size()
	}
	sort.Slice(all, func(i, j int) bool { return all[i].used.Before(all[j].used) })
	var removed []string
	for _, img := range all {
		if total <= c.Limit {
			break
		}
		if inUse(img.id) || c.busy(img.id) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(c.Dir, img.id)); err != nil {
			return removed, err
		}
		c.mu.Lock()
		delete(c.verified, img.id)
		c.mu.Unlock()
		total -= img.size
		removed = append(removed, img.id)
		c.Log.Info("Evicted image", "image", img.id, "bytes", img.size)
	}
	return removed, nil
}

func (c *Cache) busy(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.inflight[id]
	return ok
}

func fileMD5(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
