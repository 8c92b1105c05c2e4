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
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// crashPlan is how many instances a crash test launches, in calls of how many, and how often the
// manager is killed meanwhile.
type crashPlan struct {
	instances, perCall, workers, kills int
}

// The manager (one replica, leader-elected as deployed) is killed with SIGKILL at random moments
// while 200 instances are launched through its EC2 API, and started again each time: 5 times in
// the long form (-reliability.long), twice over 50 instances in the short one. The launches are
// RunInstances calls with ClientTokens, repeated after a failure as a client does until one is
// answered. Afterwards the project has exactly the instances the calls returned, all running,
// one domain each, distinct private addresses, and no claim without its holder.
func TestManagerKilledDuringLaunch(t *testing.T) {
	plan := crashPlan{instances: 50, perCall: 5, workers: 3, kills: 2}
	if managerLongForm() {
		plan = crashPlan{instances: 200, perCall: 10, workers: 4, kills: 5}
	}
	w := startManagerWorld(t, 1, plan.instances)
	c := w.cloud
	ctx := c.Env.Ctx
	seed := time.Now().UnixNano()
	t.Logf("plan %+v, seed %d", plan, seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))

	ids := launched{}
	var mu sync.Mutex
	calls := make(chan int, plan.instances/plan.perCall)
	for i := range plan.instances / plan.perCall {
		calls <- i
	}
	close(calls)
	callCtx, cancel := context.WithTimeout(ctx, managerConvergeTimeout)
	defer cancel()
	cl := c.EC2(w.creds)
	var wg sync.WaitGroup
	errs := make(chan error, plan.workers)
	for range plan.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				got, err := launchUntilAnswered(callCtx, cl, w.image, fmt.Sprintf("crash-launch-%d", i), plan.perCall)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, id := range got {
					ids[id]++
				}
				mu.Unlock()
			}
		}()
	}
	launchesDone := make(chan struct{})
	go func() { wg.Wait(); close(launchesDone) }()

	r := c.Replicas[0]
	for k := range plan.kills {
		// Random moments after the previous start: the first ones while the calls run, the later
		// ones while the instances converge.
		time.Sleep(time.Duration(200+rng.IntN(6000)) * time.Millisecond)
		mu.Lock()
		answered := len(ids)
		mu.Unlock()
		running := w.running(t)
		if err := r.Kill(); err != nil {
			t.Fatal(err)
		}
		t.Logf("kill %d: %d of %d instances returned, %d running", k+1, answered, plan.instances, running)
		if err := c.Restart(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	<-launchesDone
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	w.converge(t, plan.instances, ids)
}

// launchUntilAnswered calls RunInstances with a ClientToken until a call is answered (the SDK's
// retryer gives up on a manager that is down for a while; a client then repeats the call with
// the same token) and returns the instance ids. A refusal (HTTP 4xx) ends it.
func launchUntilAnswered(ctx context.Context, cl *ec2.Client, image, token string, count int) ([]string, error) {
	var last error
	for ctx.Err() == nil {
		out, err := cl.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(image), InstanceType: "m1.tiny",
			MinCount: aws.Int32(int32(count)), MaxCount: aws.Int32(int32(count)), ClientToken: aws.String(token)})
		if err == nil {
			ids := make([]string, 0, len(out.Instances))
			for _, inst := range out.Instances {
				ids = append(ids, aws.ToString(inst.InstanceId))
			}
			if len(ids) != count {
				return nil, fmt.Errorf("launch %s returned %d instances, want %d", token, len(ids), count)
			}
			return ids, nil
		}
		var resp *smithyhttp.ResponseError
		if errors.As(err, &resp) && resp.HTTPStatusCode() >= 400 && resp.HTTPStatusCode() < 500 {
			return nil, fmt.Errorf("launch %s refused: %w", token, err)
		}
		last = err
		time.Sleep(500 * time.Millisecond)
	}
	return nil, fmt.Errorf("launch %s never answered: %w", token, last)
}
