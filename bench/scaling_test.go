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
	"context"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

var (
	scalingRounds = flag.Int("bench.scaling-rounds", 0, "rounds of BenchmarkLaunchScaling (0: skip it); each launches and terminates every size of -bench.scaling-sizes in turn")
	scalingSizes  = flag.String("bench.scaling-sizes", "1000,5000", "BenchmarkLaunchScaling's launch sizes, smallest first")
)

// BenchmarkLaunchScaling measures how the time to running grows with the size of a launch: each
// round launches every size of -bench.scaling-sizes in turn (RunInstances, 100 a call, over the
// four nodes of BenchmarkLaunch) until all are running, terminates them and waits until they
// are gone, then makes the baseline's bare writes of the same number. It reports, for each larger
// size, the median over the rounds of its time divided by the smallest size's time in the same
// round, beside the same ratio of the bare writes. Sizes measured in one process, one after the
// other, are exposed to the same machine: single runs on different days moved by 30 % with
// no change of code.
func BenchmarkLaunchScaling(b *testing.B) {
	if *scalingRounds <= 0 {
		b.Skip("-bench.scaling-rounds is 0")
	}
	sizes, err := parseSizes(*scalingSizes)
	if err != nil {
		b.Fatal(err)
	}
	f := setup(b)
	prepareLaunchOnce(b, f)
	base := startBaselineControlPlane(b)
	baseCPU, err := newCPUMeter(base)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		// took[r][i] and bare[r][i]: round r's seconds to running at sizes[i], and its baseline's.
		took := make([][]float64, *scalingRounds)
		bare := make([][]float64, *scalingRounds)
		for r := range *scalingRounds {
			for _, n := range sizes {
				start := time.Now()
				ids := launchAll(b, f, n)
				waitState(b, f, launchProject, n, cloudv1.InstanceStateRunning)
				running := time.Since(start)
				terminateAll(b, f, ids)
				waitState(b, f, launchProject, n, cloudv1.InstanceStateTerminated)
				waitGone(b, f.cloud.Env.Client, launchProject)
				baseTook, _, _ := baselineLaunch(b, base, baseCPU, n)
				waitGone(b, base.Client, launchBaseline)
				took[r] = append(took[r], running.Seconds())
				bare[r] = append(bare[r], baseTook.Seconds())
				b.Logf("round %d, %d instances: running after %.1f s (baseline %.2f s)", r+1, n, running.Seconds(), baseTook.Seconds())
			}
		}
		for i, n := range sizes {
			med := median(column(took, i))
			b.ReportMetric(med, fmt.Sprintf("s-to-running-%d", n))
			if i == 0 {
				continue
			}
			each, bareEach := ratios(took, i), ratios(bare, i)
			ratio, bareRatio := median(each), median(bareEach)
			b.ReportMetric(ratio, fmt.Sprintf("ratio-%d/%d", n, sizes[0]))
			b.ReportMetric(bareRatio, fmt.Sprintf("baseline-ratio-%d/%d", n, sizes[0]))
			b.Logf("%d against %d instances: median %.2fx over %d rounds (each %v), bare writes %.2fx (each %v)",
				n, sizes[0], ratio, *scalingRounds, roundTo(each), bareRatio, roundTo(bareEach))
		}
	}
}

// largestScalingSize is the largest launch BenchmarkLaunchScaling will make (0 when it is off).
func largestScalingSize() int {
	if *scalingRounds <= 0 {
		return 0
	}
	sizes, err := parseSizes(*scalingSizes)
	if err != nil {
		return 0
	}
	return slices.Max(sizes)
}

// parseSizes reads a comma-separated list of at least two launch sizes, smallest first.
func parseSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-bench.scaling-sizes %q: %q is not a positive number of instances", s, f)
		}
		sizes = append(sizes, n)
	}
	if len(sizes) < 2 || !slices.IsSorted(sizes) {
		return nil, fmt.Errorf("-bench.scaling-sizes %q: want two sizes or more, smallest first", s)
	}
	return sizes, nil
}

// waitGone waits until no instance of ns is left (the launch's terminated instances are deleted
// after their retention), so that every round starts from the same number of objects.
func waitGone(b *testing.B, c client.Client, ns string) {
	b.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 2*time.Second, 10*time.Minute, true, func(ctx context.Context) (bool, error) {
		var left metav1.PartialObjectMetadataList
		left.SetGroupVersionKind(cloudv1.GroupVersion.WithKind("InstanceList"))
		if err := c.List(ctx, &left, client.InNamespace(ns), client.Limit(1)); err != nil {
			return false, nil
		}
		return len(left.Items) == 0, nil
	})
	if err != nil {
		b.Fatalf("instances of %s still there: %v", ns, err)
	}
}

func column(m [][]float64, i int) []float64 {
	out := make([]float64, len(m))
	for r := range m {
		out[r] = m[r][i]
	}
	return out
}

// ratios is, for each round, size i's figure divided by the smallest size's.
func ratios(m [][]float64, i int) []float64 {
	out := make([]float64, len(m))
	for r := range m {
		out[r] = m[r][i] / m[r][0]
	}
	return out
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func roundTo(v []float64) []string {
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = strconv.FormatFloat(x, 'f', 2, 64)
	}
	return out
}

func TestScalingHelpers(t *testing.T) {
	if got := median([]float64{5, 1, 3}); got != 3 {
		t.Errorf("median of 5,1,3 = %v", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median of 4,1,3,2 = %v", got)
	}
	if got := ratios([][]float64{{2, 10}, {4, 22}}, 1); !slices.Equal(got, []float64{5, 5.5}) {
		t.Errorf("ratios = %v", got)
	}
	if got, err := parseSizes("1000, 5000"); err != nil || !slices.Equal(got, []int{1000, 5000}) {
		t.Errorf("parseSizes = %v, %v", got, err)
	}
	for _, bad := range []string{"1000", "5000,1000", "1000,x", "0,10", ""} {
		if _, err := parseSizes(bad); err == nil {
			t.Errorf("parseSizes(%q): no error", bad)
		}
	}
}
