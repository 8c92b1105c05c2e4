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

package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/minio/minio-go/v7"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/testcloud"
)

const (
	project   = "bench"
	instances = 20
	objectLen = 1 << 20
)

// fixture is a cloud with one project, one user and instances running on a simulated node.
type fixture struct {
	cloud *testcloud.Cloud
	creds testcloud.Credentials
	// requests counts the requests of the manager (its controllers and the EC2 API's service),
	// the front ends' own clients and the node agents.
	requests *testcloud.RequestCounter
}

var (
	fixtureOnce sync.Once
	theFixture  *fixture
	fixtureErr  error
)

func setup(b *testing.B) *fixture {
	b.Helper()
	fixtureOnce.Do(func() {
		requests := &testcloud.RequestCounter{}
		// A /18 gives each project 16,382 addresses: the 5,000 fit.
		c, err := testcloud.Start(env, testcloud.Options{TenantSubnetPrefix: 18, Requests: requests, InstanceWorkers: *instanceWorkers})
		if err != nil {
			fixtureErr = err
			return
		}
		c.AddProjectWithQuota(b, project, testcloud.NoQuota())
		creds := c.AddUser(b, "bencher", false, project)
		c.AddNode(shared{b}, "bench-node", "", 64, 256*1024)
		image := c.RegisterRawImage(b, creds, project, "bench-image", bytes.Repeat([]byte{0}, 1<<16), false)
		cl := c.EC2(creds)
		ctx := context.Background()
		out, err := cl.RunInstances(ctx, &ec2.RunInstancesInput{
			ImageId: aws.String(image), InstanceType: types.InstanceType("m1.tiny"),
			MinCount: aws.Int32(instances), MaxCount: aws.Int32(instances),
		})
		if err != nil {
			fixtureErr = fmt.Errorf("RunInstances: %w", err)
			return
		}
		ids := make([]string, 0, len(out.Instances))
		for _, i := range out.Instances {
			ids = append(ids, aws.ToString(i.InstanceId))
		}
		fixtureErr = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
			d, err := cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
			if err != nil {
				return false, nil
			}
			running := 0
			for _, r := range d.Reservations {
				for _, i := range r.Instances {
					if i.State.Name == types.InstanceStateNameRunning {
						running++
					}
				}
			}
			return running == instances, nil
		})
		theFixture = &fixture{cloud: c, creds: creds, requests: requests}
	})
	if fixtureErr != nil {
		b.Fatalf("setting up the cloud: %v", fixtureErr)
	}
	return theFixture
}

// BenchmarkDescribeInstances lists a project's running instances through the EC2 API (signature
// check, authorization, cache read, EC2 XML) against listing the same Instance objects straight
// from the API server with a controller-runtime client.
func BenchmarkDescribeInstances(b *testing.B) {
	f := setup(b)
	ctx := context.Background()
	b.Run("ec2-api", func(b *testing.B) {
		cl := f.cloud.EC2(f.creds)
		for b.Loop() {
			out, err := cl.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
			if err != nil {
				b.Fatal(err)
			}
			if n := countInstances(out); n != instances {
				b.Fatalf("DescribeInstances returned %d instances, want %d", n, instances)
			}
		}
	})
	b.Run("baseline-apiserver-list", func(b *testing.B) {
		for b.Loop() {
			var list cloudv1.InstanceList
			if err := f.cloud.Env.Client.List(ctx, &list, client.InNamespace(project)); err != nil {
				b.Fatal(err)
			}
			if len(list.Items) != instances {
				b.Fatalf("listed %d instances, want %d", len(list.Items), instances)
			}
		}
	})
}

func countInstances(out *ec2.DescribeInstancesOutput) int {
	n := 0
	for _, r := range out.Reservations {
		n += len(r.Instances)
	}
	return n
}

// BenchmarkObjectPutGet stores and reads back a 1 MiB object through the S3 API (SigV4, bucket
// policy, content hash, durable rename) against writing and reading the same bytes as a local
// file with fsync, which is what the store does underneath.
func BenchmarkObjectPutGet(b *testing.B) {
	f := setup(b)
	ctx := context.Background()
	data := make([]byte, objectLen)
	if _, err := rand.Read(data); err != nil {
		b.Fatal(err)
	}
	b.Run("s3-api", func(b *testing.B) {
		mc := f.cloud.S3(b, f.creds)
		bucket := "bench-objects"
		if ok, _ := mc.BucketExists(ctx, bucket); !ok {
			if err := mc.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(objectLen)
		for b.Loop() {
			if _, err := mc.PutObject(ctx, bucket, "object", bytes.NewReader(data), objectLen, minio.PutObjectOptions{}); err != nil {
				b.Fatal(err)
			}
			obj, err := mc.GetObject(ctx, bucket, "object", minio.GetObjectOptions{})
			if err != nil {
				b.Fatal(err)
			}
			var got bytes.Buffer
			if _, err := got.ReadFrom(obj); err != nil {
				b.Fatal(err)
			}
			obj.Close()
			if got.Len() != objectLen {
				b.Fatalf("read back %d bytes, want %d", got.Len(), objectLen)
			}
		}
	})
	b.Run("baseline-local-file", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "object")
		b.SetBytes(objectLen)
		for b.Loop() {
			if err := writeSynced(path, data); err != nil {
				b.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				b.Fatal(err)
			}
			if len(got) != objectLen {
				b.Fatalf("read back %d bytes, want %d", len(got), objectLen)
			}
		}
	})
}

func writeSynced(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
