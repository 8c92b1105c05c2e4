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

package imagecache

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

// memSource serves fixed objects, counts downloads, and can corrupt the first few.
type memSource struct {
	objects  map[string][]byte
	opens    atomic.Int32
	corruptN atomic.Int32
	delay    time.Duration
}

func (m *memSource) Open(_ context.Context, _, key string) (io.ReadCloser, error) {
	m.opens.Add(1)
	time.Sleep(m.delay)
	data, ok := m.objects[key]
	if !ok {
		return nil, errors.New("no such object")
	}
	if m.corruptN.Add(-1) >= 0 {
		data = append([]byte{data[0] ^ 0xff}, data[1:]...)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func newImage(t *testing.T, id string, size int) (Image, []byte) {
	t.Helper()
	data := make([]byte, size)
	_, _ = rand.Read(data)
	sum := md5.Sum(data)
	return Image{ID: id, Bucket: "store", Key: id, MD5: hex.EncodeToString(sum[:]), Size: int64(size)}, data
}

func TestConcurrentGetsDownloadOnce(t *testing.T) {
	img, data := newImage(t, "ami-1", 1<<20)
	src := &memSource{objects: map[string][]byte{"ami-1": data}, delay: 200 * time.Millisecond}
	c := &Cache{Dir: t.TempDir(), Source: src, Log: logr.Discard()}
	var wg sync.WaitGroup
	paths := make([]string, 3)
	errs := make([]error, 3)
	for i := range paths {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			paths[i], errs[i] = c.Get(context.Background(), img)
		}(i)
	}
	wg.Wait()
	for i := range paths {
		if errs[i] != nil || paths[i] != c.Path("ami-1") {
			t.Fatalf("get %d: %q %v", i, paths[i], errs[i])
		}
	}
	if n := src.opens.Load(); n != 1 {
		t.Fatalf("downloaded %d times, want once", n)
	}
	got, _ := os.ReadFile(paths[0])
	if !bytes.Equal(got, data) {
		t.Fatal("cached bytes differ")
	}
	// QEMU (an unprivileged user) may pass through the image's directory, only root reads the
	// image until libvirt hands it over.
	for path, want := range map[string]os.FileMode{filepath.Dir(paths[0]): 0o711, paths[0]: 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Fatalf("%s: mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
}

func TestCorruptDownloadIsRetriedNeverServed(t *testing.T) {
	img, data := newImage(t, "ami-2", 4096)
	src := &memSource{objects: map[string][]byte{"ami-2": data}}
	src.corruptN.Store(2)
	c := &Cache{Dir: t.TempDir(), Source: src, Log: logr.Discard()}
	if _, err := c.Get(context.Background(), img); err != nil {
		t.Fatalf("third attempt should have succeeded: %v", err)
	}
	if n := src.opens.Load(); n != 3 {
		t.Fatalf("%d downloads, want 3", n)
	}

	src2 := &memSource{objects: map[string][]byte{"ami-3": data}}
	src2.corruptN.Store(10)
	img3 := img
	img3.ID, img3.Key = "ami-3", "ami-3"
	c2 := &Cache{Dir: t.TempDir(), Source: src2, Attempts: 2, Log: logr.Discard()}
	if _, err := c2.Get(context.Background(), img3); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("always-corrupt download: %v, want ErrCorrupt", err)
	}
	if _, err := os.Stat(c2.Path("ami-3")); !os.IsNotExist(err) {
		t.Fatal("a corrupt download was left where it could be used")
	}
}

func TestCorruptedCacheIsFetchedAgain(t *testing.T) {
	img, data := newImage(t, "ami-4", 8192)
	src := &memSource{objects: map[string][]byte{"ami-4": data}}
	c := &Cache{Dir: t.TempDir(), Source: src, Log: logr.Discard()}
	path, err := c.Get(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	// A hit with the file untouched does not download.
	if _, err := c.Get(context.Background(), img); err != nil || src.opens.Load() != 1 {
		t.Fatalf("cache hit: %v, %d downloads", err, src.opens.Load())
	}
	// Flip a byte in place.
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	_, _ = f.WriteAt([]byte{data[100] ^ 1}, 100)
	f.Close()
	if _, err := c.Get(context.Background(), img); err != nil {
		t.Fatal(err)
	}
	if n := src.opens.Load(); n != 2 {
		t.Fatalf("%d downloads after corruption, want 2", n)
	}
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, data) {
		t.Fatal("the corrupted copy is still served")
	}
	// A new cache on the same directory (an agent restart) verifies before trusting.
	c2 := &Cache{Dir: c.Dir, Source: src, Log: logr.Discard()}
	if _, err := c2.Get(context.Background(), img); err != nil || src.opens.Load() != 2 {
		t.Fatalf("restart: %v, %d downloads", err, src.opens.Load())
	}
}

func TestEvictLeastRecentlyUsedUnusedImages(t *testing.T) {
	src := &memSource{objects: map[string][]byte{}}
	c := &Cache{Dir: t.TempDir(), Source: src, Limit: 2500, Log: logr.Discard()}
	var imgs []Image
	for _, id := range []string{"a", "b", "c"} {
		img, data := newImage(t, id, 1000)
		src.objects[id] = data
		imgs = append(imgs, img)
		if _, err := c.Get(context.Background(), img); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// "a" is oldest but in use; "b" goes.
	removed, err := c.Evict(func(id string) bool { return id == "a" })
	if err != nil || len(removed) != 1 || removed[0] != "b" {
		t.Fatalf("evicted %v (%v), want [b]", removed, err)
	}
	if _, err := os.Stat(c.Path("a")); err != nil {
		t.Fatal("an image in use was evicted")
	}
	if removed, _ := c.Evict(func(string) bool { return false }); len(removed) != 0 {
		t.Fatalf("evicted %v under the limit", removed)
	}
}

// An image id names a file in the cache, but a launch gets the bytes of the image it launches:
// a cached copy verified for another image of the same id (another object, other bytes) is no hit.
func TestSameIDOtherImageIsNotAHit(t *testing.T) {
	first, firstData := newImage(t, "ami-5", 4096)
	second, secondData := newImage(t, "ami-5", 4096)
	second.Key = "other-object"
	src := &memSource{objects: map[string][]byte{"ami-5": firstData, "other-object": secondData}}
	c := &Cache{Dir: t.TempDir(), Source: src, Log: logr.Discard()}
	if _, err := c.Get(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	path, err := c.Get(context.Background(), second)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, secondData) {
		t.Fatal("the launch of the second image got the first image's bytes")
	}
	if n := src.opens.Load(); n != 2 {
		t.Fatalf("%d downloads, want 2 (one per image)", n)
	}
}
