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

package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// Controllers are the metrics the manager's controllers record.
type Controllers struct {
	scheduling *prometheus.HistogramVec
	imports    *prometheus.HistogramVec
}

// NewControllers registers the controllers' metrics on reg, and a collector that counts the
// Instances reader holds (the manager's cache) by state each time the metrics are scraped.
func NewControllers(reg prometheus.Registerer, reader client.Reader) (*Controllers, error) {
	m := &Controllers{}
	var err error
	if m.scheduling, err = register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "scheduler", Name: "schedule_latency_seconds",
		Help: "Time from an instance's creation to its binding to a hypervisor.", Buckets: slowBuckets,
	}, nil)); err != nil {
		return nil, err
	}
	if m.imports, err = register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "image", Name: "import_duration_seconds",
		Help:    "Time the image controller took to verify a registered bundle and store the plain image, by result.",
		Buckets: slowBuckets,
	}, []string{"result"})); err != nil {
		return nil, err
	}
	if _, err := register(reg, &instanceStates{reader: reader, desc: instanceStatesDesc}); err != nil {
		return nil, err
	}
	return m, nil
}

// ObserveBound records an instance bound to a hypervisor at bound.
func (m *Controllers) ObserveBound(created, bound time.Time) {
	if m == nil || created.IsZero() {
		return
	}
	m.scheduling.WithLabelValues().Observe(bound.Sub(created).Seconds())
}

// ObserveImport records one image import that ended with result ("stored" or "failed").
func (m *Controllers) ObserveImport(result string, d time.Duration) {
	if m == nil {
		return
	}
	m.imports.WithLabelValues(result).Observe(d.Seconds())
}

var instanceStatesDesc = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", "instances"),
	"Instances by EC2 state, counted from the manager's cache when scraped (state \"\" : not yet reported).",
	[]string{"state"}, nil)

// instanceStates counts Instances by status.state at scrape time, so the numbers are always
// what the cache holds, never counters that drift.
type instanceStates struct {
	reader client.Reader
	desc   *prometheus.Desc
}

// scrapeTimeout bounds a scrape's read of the cache (which waits for it to sync at start).
const scrapeTimeout = 5 * time.Second

func (c *instanceStates) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *instanceStates) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	// Only the states are read: the cache's objects are not copied (a deep copy of every
	// instance at each scrape would make the manager's heap, and its resident set, peak with
	// the fleet's size).
	var list cloudv1.InstanceList
	if err := c.reader.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	counts := map[cloudv1.InstanceState]int{}
	for _, s := range []cloudv1.InstanceState{cloudv1.InstanceStatePending, cloudv1.InstanceStateRunning,
		cloudv1.InstanceStateShuttingDown, cloudv1.InstanceStateTerminated, cloudv1.InstanceStateStopping,
		cloudv1.InstanceStateStopped} {
		counts[s] = 0
	}
	for i := range list.Items {
		counts[list.Items[i].Status.State]++
	}
	for s, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), string(s))
	}
}
