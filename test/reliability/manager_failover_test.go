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

package reliability

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"pinet.io/pinet/internal/proccloud"
	"pinet.io/pinet/internal/sdkhttp"
	"pinet.io/pinet/internal/testcloud"
)

// replicaClients are an EC2 client (aws-sdk-go-v2 with its standard retryer, through sdkhttp)
// and an S3 client (minio-go) of one replica's own front doors, bypassing the Service.
func replicaClients(t *testing.T, r *proccloud.Replica, creds testcloud.Credentials) (*ec2.Client, *minio.Client) {
	t.Helper()
	ec2c := ec2.New(ec2.Options{
		BaseEndpoint: aws.String(r.EC2URL),
		Region:       testcloud.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
		HTTPClient:   sdkhttp.New(),
	})
	s3c, err := minio.New(r.S3URL[len("http://"):], &minio.Options{
		Creds: miniocreds.NewStaticV4(creds.AccessKeyID, creds.SecretAccessKey, ""), Region: testcloud.Region,
	})
	if err != nil {
		t.Fatal(err)
	}
	return ec2c, s3c
}

// frontDoorProbe calls the EC2 API and the S3 store of one replica over and over until stopped,
// counting the calls and keeping every failure.
type frontDoorProbe struct {
	ec2    *ec2.Client
	s3     *minio.Client
	bucket string
	calls  atomic.Int64
	mu     sync.Mutex
	errs   []error
}

func (p *frontDoorProbe) run(ctx context.Context) {
	for i := 0; ctx.Err() == nil; i++ {
		p.round(ctx, i)
		p.calls.Add(1)
	}
}

// round is one DescribeInstances and one object written, read back and listed.
func (p *frontDoorProbe) round(ctx context.Context, i int) {
	fail := func(what string, err error) {
		if ctx.Err() != nil {
			return // stopped mid-call
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		p.errs = append(p.errs, fmt.Errorf("%s (round %d, %s): %w", what, i, time.Now().Format(time.TimeOnly), err))
	}
	if _, err := p.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		fail("DescribeInstances", err)
	}
	key := fmt.Sprintf("probe-%d", i)
	body := []byte("probe object " + key)
	if _, err := p.s3.PutObject(ctx, p.bucket, key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		fail("PutObject", err)
		return
	}
	obj, err := p.s3.GetObject(ctx, p.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		fail("GetObject", err)
		return
	}
	got, err := io.ReadAll(obj)
	_ = obj.Close()
	if err != nil || !bytes.Equal(got, body) {
		fail("GetObject", fmt.Errorf("read %q, %v", got, err))
	}
}

func (p *frontDoorProbe) failures() []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]error(nil), p.errs...)
}

// Two manager replicas; the leader is killed with SIGKILL in the middle of a burst of 50
// RunInstances calls to the other replica's EC2 API (aws-sdk-go-v2, standard retryer, the SDK's
// own ClientTokens). The other replica takes the lead; every call succeeds, all 50 instances
// run, each exactly once; and the EC2 API and the S3 store of the surviving replica answer every
// call made meanwhile.
func TestManagerLeaderKilledDuringLaunchBurst(t *testing.T) {
	const instances = 50
	w := startManagerWorld(t, 2, instances)
	c := w.cloud
	ctx := c.Env.Ctx
	leader := c.Leader()
	if leader == nil {
		t.Fatal("no leader")
	}
	var survivor *proccloud.Replica
	for _, r := range c.Replicas {
		if r != leader {
			survivor = r
		}
	}
	// The replica that does not lead serves all the same: it is ready.
	if survivor.Leading() || !survivor.Ready() {
		t.Fatalf("replica %s: leading %v, ready %v", survivor.Name, survivor.Leading(), survivor.Ready())
	}
	ec2c, _ := replicaClients(t, survivor, w.creds)
	// The probe has clients (and connections) of its own: the burst's calls, cancelled or
	// retried as the leader dies, never share a connection with it. The survivor is never
	// killed, so its EC2 client makes one attempt a call: any failure, a response cut off
	// included, is the survivor's and fails the test.
	probeEC2, s3c := replicaClients(t, survivor, w.creds)
	probeEC2 = ec2.New(probeEC2.Options(), func(o *ec2.Options) { o.Retryer = retry.AddWithMaxAttempts(retry.NewStandard(), 1) })
	if err := s3c.MakeBucket(ctx, "ha-probe", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	probe := &frontDoorProbe{ec2: probeEC2, s3: s3c, bucket: "ha-probe"}
	probeCtx, stopProbe := context.WithCancel(ctx)
	probeDone := make(chan struct{})
	go func() { defer close(probeDone); probe.run(probeCtx) }()
	// The probe's verdict, also when the test stops early (a convergence that times out must
	// not hide a call the survivor failed).
	var judged sync.Once
	judgeProbe := func() {
		judged.Do(func() {
			stopProbe()
			<-probeDone
			for _, err := range probe.failures() {
				t.Errorf("call to the surviving replica failed: %v", err)
			}
			if probe.calls.Load() < 2 {
				t.Errorf("only %d rounds of calls to the surviving replica", probe.calls.Load())
			}
			t.Logf("%d rounds of EC2 and S3 calls to %s", probe.calls.Load(), survivor.Name)
		})
	}
	defer judgeProbe()

	ids := launched{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var done atomic.Int64
	errs := make(chan error, instances)
	callCtx, cancel := context.WithTimeout(ctx, managerCallTimeout)
	defer cancel()
	for i := range instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := ec2c.RunInstances(callCtx, &ec2.RunInstancesInput{ImageId: aws.String(w.image),
				InstanceType: "m1.tiny", MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
			if err != nil {
				errs <- fmt.Errorf("RunInstances %d: %w", i, err)
				return
			}
			mu.Lock()
			for _, inst := range out.Instances {
				ids[aws.ToString(inst.InstanceId)]++
			}
			mu.Unlock()
			done.Add(1)
		}()
		// A burst, paced a little so the kill lands among calls at every stage.
		time.Sleep(100 * time.Millisecond)
		if i == instances/3 {
			// A third of the calls are under way: the leader dies.
			if err := leader.Kill(); err != nil {
				t.Fatal(err)
			}
			t.Logf("killed the leader %s after %d of %d calls answered", leader.Name, done.Load(), instances)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, err := c.WaitLeader(ctx, managerConvergeTimeout); err != nil {
		t.Fatal(err)
	}
	if !survivor.Leading() {
		t.Errorf("the surviving replica %s does not lead", survivor.Name)
	}
	w.converge(t, instances, ids)
	judgeProbe()

	// The killed replica comes back as a follower and serves too.
	if err := c.Restart(ctx, leader); err != nil {
		t.Fatal(err)
	}
	if leader.Leading() {
		t.Errorf("the restarted replica %s took the lead from %s", leader.Name, survivor.Name)
	}
	again, _ := replicaClients(t, leader, w.creds)
	out, err := again.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range out.Reservations {
		n += len(r.Instances)
	}
	if n != instances {
		t.Errorf("the restarted replica describes %d instances, want %d", n, instances)
	}
}
