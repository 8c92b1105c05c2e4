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

package image_test

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/bundle"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.Main(m, &env)
}

// storePart is the part size the image controller uploads in (image_store.go); the bound below
// is a multiple of it.
const storePart = 16 << 20

// writeNoise writes size bytes that do not compress to path and returns their MD5.
func writeNoise(t *testing.T, path string, size int64) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := md5.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	src := rand.NewChaCha8([32]byte{'p', 'i', 'n', 'e', 't'})
	if _, err := io.CopyN(w, src, size); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// heapSampler records the most heap in use (after a collection, so garbage does not count)
// until stopped.
type heapSampler struct {
	stop chan struct{}
	done sync.WaitGroup
	peak uint64
}

func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

func sampleHeap() *heapSampler {
	s := &heapSampler{stop: make(chan struct{})}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			s.peak = max(s.peak, liveHeap())
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *heapSampler) Stop() uint64 {
	close(s.stop)
	s.done.Wait()
	return s.peak
}

// TestImportHoldsOnePartAtATime imports a bundle of a large image through the whole cloud in
// this process and samples the heap meanwhile: decrypting, decompressing and storing stream, so
// what the import holds stays within a few upload parts, far below the image's size.
func TestImportHoldsOnePartAtATime(t *testing.T) {
	size := int64(160 << 20)
	if testing.Short() {
		size = 80 << 20
	}
	c, err := testcloud.Start(env, testcloud.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.AddProject(t, "imgmem")
	creds := c.AddUser(t, "imgmem-user", true, "imgmem")
	imgPath := filepath.Join(t.TempDir(), "big.img")
	sum := writeNoise(t, imgPath, size)
	b := c.UploadBundleFile(t, creds, "imgmem-user", "imgmem", "imgmem-bundles", imgPath, bundle.TypeMachine, 10<<20)

	ctx := context.Background()
	cl := c.EC2(creds)
	base := liveHeap()
	sampler := sampleHeap()
	reg, err := cl.RegisterImage(ctx, &ec2.RegisterImageInput{Name: aws.String("big"), ImageLocation: aws.String(b.Location)})
	if err != nil {
		sampler.Stop()
		t.Fatal(err)
	}
	id := aws.ToString(reg.ImageId)
	testenv.Eventually(t, 5*time.Minute, fmt.Sprintf("image %s to be available", id), func() error {
		out, err := cl.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
		if err != nil {
			return err
		}
		if len(out.Images) != 1 {
			return fmt.Errorf("%d images", len(out.Images))
		}
		if st := out.Images[0].State; st != types.ImageStateAvailable {
			return fmt.Errorf("state %s (%+v)", st, out.Images[0].StateReason)
		}
		return nil
	})
	peak := sampler.Stop()
	grew := int64(peak) - int64(base)
	t.Logf("image %d MiB: heap in use %d MiB before, at most %d MiB during the import (+%d MiB)",
		size>>20, base>>20, peak>>20, grew>>20)

	imgs := &cloudv1.ImageList{}
	if err := env.Client.List(ctx, imgs, client.InNamespace("imgmem")); err != nil {
		t.Fatal(err)
	}
	var stored *cloudv1.StoredImage
	for _, img := range imgs.Items {
		if img.Status.ImageID == id {
			stored = img.Status.Stored
		}
	}
	if stored == nil || stored.MD5 != sum || stored.SizeBytes != size {
		t.Fatalf("stored image %+v, want MD5 %s and %d bytes", stored, sum, size)
	}
	if bound := int64(4 * storePart); grew > bound {
		t.Fatalf("the import held %d MiB more heap, over the bound of %d MiB (4 upload parts) for a %d MiB image",
			grew>>20, bound>>20, size>>20)
	}
}
