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

// Package metrics holds PiNet's own Prometheus metrics. Each component builds its set from the
// registerer it is given (the manager passes controller-runtime's registry, which its metrics
// endpoint serves; tests pass a registry of their own). A nil set records nothing, so a
// component built without metrics needs no checks.
package metrics

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Namespace prefixes every PiNet metric.
const Namespace = "pinet"

// latencyBuckets cover API calls: a millisecond to a minute.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// slowBuckets cover work measured in seconds to many minutes: scheduling, image imports.
var slowBuckets = []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800}

// register registers every collector, accepting one registered already (a component built twice
// on one registry shares the first one's).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

// EC2 counts the EC2 API's calls.
type EC2 struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewEC2 registers the EC2 API's metrics on reg.
func NewEC2(reg prometheus.Registerer) (*EC2, error) {
	requests, err := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "ec2", Name: "requests_total",
		Help: "EC2 API calls by action and answer code (Success, or the EC2 error code).",
	}, []string{"action", "code"}))
	if err != nil {
		return nil, err
	}
	latency, err := register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "ec2", Name: "request_duration_seconds",
		Help: "Time from receiving an EC2 API call to its answer, by action.", Buckets: latencyBuckets,
	}, []string{"action"}))
	if err != nil {
		return nil, err
	}
	return &EC2{requests: requests, latency: latency}, nil
}

// Observe records one call. action is "" when the request named none it serves.
func (m *EC2) Observe(action, code string, d time.Duration) {
	if m == nil {
		return
	}
	if action == "" {
		action = "unknown"
	}
	m.requests.WithLabelValues(action, code).Inc()
	m.latency.WithLabelValues(action).Observe(d.Seconds())
}

// S3 counts the object store's requests and the bytes they carried.
type S3 struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	bytesIn  *prometheus.CounterVec
	bytesOut *prometheus.CounterVec
}

// NewS3 registers the object store's metrics on reg.
func NewS3(reg prometheus.Registerer) (*S3, error) {
	m := &S3{}
	var err error
	if m.requests, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "s3", Name: "requests_total",
		Help: "S3 requests by operation and HTTP status.",
	}, []string{"operation", "status"})); err != nil {
		return nil, err
	}
	if m.latency, err = register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "s3", Name: "request_duration_seconds",
		Help: "Time from receiving an S3 request to the end of its answer, by operation.", Buckets: latencyBuckets,
	}, []string{"operation"})); err != nil {
		return nil, err
	}
	if m.bytesIn, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "s3", Name: "received_bytes_total",
		Help: "Request body bytes the object store read, by operation.",
	}, []string{"operation"})); err != nil {
		return nil, err
	}
	if m.bytesOut, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "s3", Name: "sent_bytes_total",
		Help: "Response body bytes the object store wrote, by operation.",
	}, []string{"operation"})); err != nil {
		return nil, err
	}
	return m, nil
}

// Observe records one request. operation is "" when the request was refused before it was
// routed.
func (m *S3) Observe(operation string, status int, in, out int64, d time.Duration) {
	if m == nil {
		return
	}
	if operation == "" {
		operation = "unknown"
	}
	m.requests.WithLabelValues(operation, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(operation).Observe(d.Seconds())
	m.bytesIn.WithLabelValues(operation).Add(float64(in))
	m.bytesOut.WithLabelValues(operation).Add(float64(out))
}
