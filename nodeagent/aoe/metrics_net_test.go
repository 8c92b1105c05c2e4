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

package aoe_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"pinet.io/pinet/internal/metrics"
	"pinet.io/pinet/nodeagent/aoe"
	"pinet.io/pinet/nodeagent/aoe/aoetest"
)

// TestIOIsCounted writes and reads a volume over AoE with the node agent's metrics observing the
// target and the initiator, and reads the counts back from a metrics endpoint over HTTP.
func TestIOIsCounted(t *testing.T) {
	p := aoetest.NewPair(t, "pt-aoe-met", 1500)
	reg := prometheus.NewRegistry()
	m, err := metrics.NewNodeAgent(reg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)

	const size = 1 << 20
	serve(t, p, &aoe.Target{Shelf: 6, Slot: 3, Backing: sparseFile(t, size), Size: size, Observer: m})
	d := dial(t, p, aoe.Dialer{Observer: m}, 6, 3)
	data := pattern(64<<10, 7)
	ctx := context.Background()
	if err := d.WriteSectors(ctx, 8, data); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(data))
	if err := d.ReadSectors(ctx, 8, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("read back other bytes than were written")
	}
	// A read past the end fails at the target and counts as an error on both sides.
	if err := d.ReadSectors(ctx, size/aoe.SectorSize, make([]byte, aoe.SectorSize)); err == nil {
		t.Fatal("a read past the end succeeded")
	}

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	sample := func(series string) float64 {
		t.Helper()
		re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
		mt := re.FindSubmatch(body)
		if mt == nil {
			t.Fatalf("no sample %s in:\n%s", series, body)
		}
		v, err := strconv.ParseFloat(string(mt[1]), 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, role := range []string{"initiator", "target"} {
		for _, op := range []string{"read", "write"} {
			if v := sample(`pinet_aoe_bytes_total{operation="` + op + `",role="` + role + `"}`); v != float64(len(data)) {
				t.Errorf("%s %s bytes = %v, want %d", role, op, v, len(data))
			}
			if v := sample(`pinet_aoe_requests_total{operation="` + op + `",result="ok",role="` + role + `"}`); v < 1 {
				t.Errorf("%s %s requests = %v", role, op, v)
			}
		}
	}
	if v := sample(`pinet_aoe_requests_total{operation="read",result="error",role="initiator"}`); v != 1 {
		t.Errorf("failed initiator reads = %v, want 1", v)
	}
}
