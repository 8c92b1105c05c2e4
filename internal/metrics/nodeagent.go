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
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// NodeAgent are the metrics a node agent records: image downloads into its cache and the AoE
// I/O of the volumes it serves (target) and attaches (initiator).
type NodeAgent struct {
	downloads     *prometheus.HistogramVec
	downloadBytes *prometheus.CounterVec
	aoeRequests   *prometheus.CounterVec
	aoeBytes      *prometheus.CounterVec
}

// NewNodeAgent registers a node agent's metrics on reg.
func NewNodeAgent(reg prometheus.Registerer) (*NodeAgent, error) {
	m := &NodeAgent{}
	var err error
	if m.downloads, err = register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "image", Name: "download_duration_seconds",
		Help: "Time a node agent took to download and verify an image into its cache, by result.", Buckets: slowBuckets,
	}, []string{"result"})); err != nil {
		return nil, err
	}
	if m.downloadBytes, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "image", Name: "downloaded_bytes_total",
		Help: "Bytes of images a node agent downloaded into its cache, by result.",
	}, []string{"result"})); err != nil {
		return nil, err
	}
	if m.aoeRequests, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "aoe", Name: "requests_total",
		Help: "AoE read and write commands, by role (target: volumes this node serves; initiator: volumes it attaches), operation and result.",
	}, []string{"role", "operation", "result"})); err != nil {
		return nil, err
	}
	if m.aoeBytes, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "aoe", Name: "bytes_total",
		Help: "Bytes moved by successful AoE read and write commands, by role and operation.",
	}, []string{"role", "operation"})); err != nil {
		return nil, err
	}
	return m, nil
}

// ObserveDownload records one image download of bytes that took d and ended with err.
func (m *NodeAgent) ObserveDownload(bytes int64, d time.Duration, err error) {
	if m == nil {
		return
	}
	result := resultOf(err)
	m.downloads.WithLabelValues(result).Observe(d.Seconds())
	m.downloadBytes.WithLabelValues(result).Add(float64(bytes))
}

// ObserveIO records one AoE read or write command of bytes (aoe.IOObserver).
func (m *NodeAgent) ObserveIO(role string, write bool, bytes int, err error) {
	if m == nil {
		return
	}
	op := "read"
	if write {
		op = "write"
	}
	m.aoeRequests.WithLabelValues(role, op, resultOf(err)).Inc()
	if err == nil {
		m.aoeBytes.WithLabelValues(role, op).Add(float64(bytes))
	}
}

func resultOf(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}
