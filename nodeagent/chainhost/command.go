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

package chainhost

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"pinet.io/pinet/internal/metrics"
)

// Dir is where the Host of an agent with that state directory keeps its sockets.
func Dir(stateDir string) string { return filepath.Join(stateDir, "nbd") }

// RunCommand is `nodeagent volume-chains`: a Host in a process of its own, serving until ctx
// ends (its chains then end too). args are the command's flags.
func RunCommand(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("volume-chains", flag.ContinueOnError)
	stateDir := fs.String("state-dir", "/var/lib/pinet", "The node agent's --state-dir: the sockets live in its nbd directory.")
	var cfg Config
	fs.StringVar(&cfg.Iface, "storage-interface", "", "Network interface of the storage network, where volumes are reached over AoE.")
	fs.StringVar(&cfg.NetNS, "storage-netns", "", "Network namespace (under /run/netns) of the storage interface; empty: this process's own.")
	fs.StringVar(&cfg.QEMUUser, "qemu-user", "libvirt-qemu", "User QEMU runs as; it alone may connect to the volumes' NBD sockets.")
	fs.DurationVar(&cfg.DialTimeout, "attach-timeout", 10*time.Second, "How long reaching a volume's AoE target may take.")
	metricsAddr := fs.String("metrics-bind-address", "0", "Address of the Prometheus metrics endpoint /metrics (the initiators' AoE I/O), e.g. 127.0.0.1:8090 (0 disables).")
	opts := zap.Options{}
	opts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("volume-chains takes no arguments, got %q", fs.Args())
	}
	cfg.Dir = Dir(*stateDir)
	cfg.Log = zap.New(zap.UseFlagOptions(&opts)).WithName("volume-chains")
	if *metricsAddr != "" && *metricsAddr != "0" {
		reg := prometheus.NewRegistry()
		m, err := metrics.NewNodeAgent(reg)
		if err != nil {
			return err
		}
		cfg.Observer = m
		ln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			return fmt.Errorf("serving metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				cfg.Log.Error(err, "Serving metrics")
			}
		}()
		defer func() { _ = srv.Close() }()
	}
	return New(cfg).Run(ctx)
}
