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

// Command manager runs PiNet's control plane: the controllers (under leader election when asked),
// and on every replica the front doors: the EC2 API, the S3 store and the dashboard.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"k8s.io/utils/ptr"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/controllers"
	"pinet.io/pinet/controllers/instance"
	"pinet.io/pinet/internal/frontends"
	"pinet.io/pinet/internal/ipam"
	"pinet.io/pinet/internal/nodeauthz"
	"pinet.io/pinet/internal/version"
	"pinet.io/pinet/objectstore/fsstore"
)

// flags are the manager's command line.
type flags struct {
	metricsAddr, probeAddr string
	pprofAddr              string
	leaderElect, seedTypes bool
	leaderNamespace        string
	leaseDuration          time.Duration
	renewDeadline          time.Duration
	retryPeriod            time.Duration
	opts                   controllers.Options
	s3Addr, s3DataDir      string
	ec2Addr, ec2Endpoint   string
	dashAddr               string
	consoleSA              string
	authzTTL, s3Lifecycle  time.Duration
	zopts                  zap.Options
	objectStore            objectStoreFlags
	s3Backend              *fsstore.S3Config
	nodeAuthz              nodeAuthzFlags
}

// nodeAuthzFlags configure the node authorizer (internal/nodeauthz), the API server's webhook
// that keeps node agents' reads to their node.
type nodeAuthzFlags struct {
	addr, certDir, clientCA string
}

func parseFlags() flags {
	var f flags
	var aoeShelves string
	flag.StringVar(&f.metricsAddr, "metrics-bind-address", "0",
		"Address of the Prometheus metrics endpoint /metrics (controller-runtime's and PiNet's pinet_* metrics), e.g. 127.0.0.1:8088 (0 disables).")
	flag.StringVar(&f.probeAddr, "health-probe-bind-address", ":8081",
		"Address of /healthz (the process lives) and /readyz (the caches are synced and the EC2 API, S3 store and dashboard serve).")
	flag.StringVar(&f.pprofAddr, "pprof-bind-address", "",
		"Address of Go's profiles /debug/pprof/ (heap, CPU, goroutines), e.g. 127.0.0.1:6060 (empty disables it; never expose it beyond the node).")
	flag.BoolVar(&f.leaderElect, "leader-elect", false,
		"Run the controllers only while holding the leader Lease, so that of several replicas one acts; the front doors serve on every replica.")
	flag.StringVar(&f.leaderNamespace, "leader-elect-namespace", "", "Namespace of the leader Lease (default: the system namespace).")
	flag.DurationVar(&f.leaseDuration, "leader-elect-lease-duration", 15*time.Second,
		"How long replicas wait after the leader's last renewal before taking over (a killed leader's controllers stop for about this long).")
	flag.DurationVar(&f.renewDeadline, "leader-elect-renew-deadline", 10*time.Second, "How long the leader keeps trying to renew before it steps down.")
	flag.DurationVar(&f.retryPeriod, "leader-elect-retry-period", 2*time.Second, "How often replicas try to acquire or renew the Lease.")
	flag.BoolVar(&f.seedTypes, "seed-instance-types", true, "Create the m1.* instance types in a cloud that has none.")
	flag.DurationVar(&f.opts.TerminatedRetention, "terminated-retention", time.Hour, "How long terminated instances stay visible.")
	flag.StringVar(&f.opts.SystemNamespace, "system-namespace", cloudv1.DefaultSystemNamespace, "Namespace of the cloud CA and the users' credentials.")
	flag.DurationVar(&f.opts.HeartbeatTimeout, "heartbeat-timeout", 150*time.Second, "How long a node agent may stay silent.")
	flag.DurationVar(&f.opts.NodeLostTimeout, "node-lost-timeout", 24*time.Hour,
		"How long a node may stay not ready before the domains of instances being deleted from it are given up.")
	flag.DurationVar(&f.opts.CaptureNodeTimeout, "capture-node-timeout", 10*time.Minute,
		"How long an image's copy waits for its node once the node is not ready before the image fails.")
	flag.DurationVar(&f.opts.ImageProtectionCooldown, "image-protection-cooldown", 24*time.Hour,
		"How long an image stays protected after its deregistration protection with a cooldown is turned off.")
	flag.StringVar(&f.s3Addr, "s3-bind-address", "127.0.0.1:3333", "Address of the S3 object store, e.g. :3333 for every interface (empty disables it).")
	flag.StringVar(&f.s3DataDir, "s3-data-dir", "/var/lib/pinet/objects", "Directory of the object store's buckets.")
	f.objectStore.bind(flag.CommandLine)
	flag.DurationVar(&f.s3Lifecycle, "s3-lifecycle-interval", time.Hour, "How often the leader applies the buckets' S3 lifecycle rules.")
	flag.StringVar(&f.opts.ObjectStoreURL, "s3-url", "", "URL PiNet's components reach the object store at (default: this replica's store).")
	flag.StringVar(&f.opts.Region, "region", "pinet", "The cloud's region name.")
	flag.IntVar(&f.opts.InstanceWorkers, "instance-workers", instance.DefaultWorkers, "How many instances the instance controller reconciles at once.")
	flag.StringVar(&f.opts.SegmentRange, "segment-range", controllers.DefaultSegmentRange,
		"Segment ids (VXLAN VNIs, or VLAN ids: keep within 1-4094 for vlan-mode nodes) projects get, FIRST-LAST.")
	flag.StringVar(&f.opts.TenantSupernet, "tenant-supernet", controllers.DefaultTenantSupernet, "IPv4 range projects' subnets are carved from.")
	flag.IntVar(&f.opts.TenantSubnetPrefix, "tenant-subnet-prefix", controllers.DefaultTenantSubnetPrefix, "Prefix length of a project's subnet (18 to 30).")
	flag.StringVar(&f.ec2Addr, "ec2-bind-address", "127.0.0.1:8773", "Address of the EC2 API, e.g. :8773 for every interface (empty disables it).")
	flag.StringVar(&f.dashAddr, "dashboard-bind-address", "127.0.0.1:8080", "Address of the web dashboard, e.g. :8080 for every interface (empty disables it).")
	flag.StringVar(&f.ec2Endpoint, "ec2-endpoint", "", "URL clients reach the EC2 API at (default: http://<ec2-bind-address>).")
	flag.StringVar(&f.consoleSA, "console-service-account", "pinet-manager", "Service account (in the system namespace) the EC2 API reads consoles from node agents as.")
	flag.DurationVar(&f.authzTTL, "authz-cache-ttl", 5*time.Second, "How long an access decision is reused.")
	flag.StringVar(&aoeShelves, "aoe-shelves", "1-100", "AoE shelves volumes are given addresses on (FIRST-LAST; slots 0-254 of each).")
	flag.StringVar(&f.nodeAuthz.addr, "node-authorizer-bind-address", "",
		"Address the API server's node authorizer webhook is served at (HTTPS, path /authorize; empty disables it).")
	flag.StringVar(&f.nodeAuthz.certDir, "node-authorizer-cert-dir", "", "Directory of the node authorizer's tls.crt and tls.key.")
	flag.StringVar(&f.nodeAuthz.clientCA, "node-authorizer-client-ca", "",
		"CA of the client certificate the API server presents to the node authorizer (empty: any client is answered).")
	f.zopts.BindFlags(flag.CommandLine)
	flag.Parse()
	f.opts.SeedInstanceTypes = f.seedTypes
	shelves, err := ipam.ParseAoEShelves(aoeShelves)
	if err != nil {
		fmt.Fprintln(os.Stderr, "--aoe-shelves:", err)
		os.Exit(2)
	}
	f.opts.AoEShelves = shelves
	if f.nodeAuthz.addr != "" && f.nodeAuthz.certDir == "" {
		fmt.Fprintln(os.Stderr, "--node-authorizer-bind-address needs --node-authorizer-cert-dir")
		os.Exit(2)
	}
	if f.s3Backend, err = f.objectStore.s3Config(os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if f.leaderNamespace == "" {
		f.leaderNamespace = f.opts.SystemNamespace
	}
	if f.opts.ObjectStoreURL == "" && f.s3Addr != "" {
		f.opts.ObjectStoreURL = localURL(f.s3Addr)
	}
	if f.ec2Endpoint == "" && f.ec2Addr != "" {
		f.ec2Endpoint = localURL(f.ec2Addr)
	}
	return f
}

// localURL is the http URL this process reaches a server bound to addr at: an unspecified host
// (":3333", "0.0.0.0:3333", "[::]:3333") is reached on loopback.
func localURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func main() {
	f := parseFlags()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&f.zopts)))
	if err := run(f); err != nil {
		ctrl.Log.WithName("setup").Error(err, "Manager stopped")
		os.Exit(1)
	}
}

func run(f flags) error {
	log := ctrl.Log.WithName("setup")
	scheme := k8sruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return fmt.Errorf("building scheme: %w", err)
	}
	if err := cloudv1.AddToScheme(scheme); err != nil {
		return fmt.Errorf("building scheme: %w", err)
	}
	restCfg := ctrl.GetConfigOrDie()
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: f.metricsAddr},
		HealthProbeBindAddress:  f.probeAddr,
		PprofBindAddress:        f.pprofAddr,
		LeaderElection:          f.leaderElect,
		LeaderElectionID:        "manager.cloud.pinet.io",
		LeaderElectionNamespace: f.leaderNamespace,
		LeaseDuration:           &f.leaseDuration,
		RenewDeadline:           &f.renewDeadline,
		RetryPeriod:             &f.retryPeriod,
		// The process exits right after the manager stops, so a replica that is shut down hands
		// the Lease over at once instead of making the others wait out its duration.
		LeaderElectionReleaseOnCancel: true,
		// Replicas that are not the leader start the controllers' watches too, so one that takes
		// over has its caches synced already.
		Controller: config.Controller{EnableWarmup: ptr.To(true)},
		Cache:      controllers.CacheOptions(f.opts.SystemNamespace),
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	ctx := ctrl.SetupSignalHandler()
	// PiNet's metrics join controller-runtime's in the registry its metrics endpoint serves.
	f.opts.Metrics = crmetrics.Registry
	if err := controllers.Setup(ctx, mgr, f.opts); err != nil {
		return fmt.Errorf("setting up controllers: %w", err)
	}
	if f.nodeAuthz.addr != "" {
		ln, err := net.Listen("tcp", f.nodeAuthz.addr)
		if err != nil {
			return fmt.Errorf("listening for the node authorizer: %w", err)
		}
		if err := mgr.Add(&nodeauthz.Server{
			Authorizer: &nodeauthz.Authorizer{Reader: mgr.GetCache(), SystemNamespace: f.opts.SystemNamespace},
			Listener:   ln, CertDir: f.nodeAuthz.certDir, ClientCA: f.nodeAuthz.clientCA,
			Log: ctrl.Log.WithName("node-authorizer"),
		}); err != nil {
			return fmt.Errorf("adding the node authorizer: %w", err)
		}
	}
	fe, err := f.frontends()
	if err != nil {
		return err
	}
	fe.Logger = ctrl.Log
	fe.Metrics = crmetrics.Registry
	if err := frontends.Add(ctx, mgr, restCfg, fe); err != nil {
		return fmt.Errorf("setting up the EC2 API, the object store and the dashboard: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("adding health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("frontdoors", fe.Readiness.Check); err != nil {
		return fmt.Errorf("adding ready check: %w", err)
	}
	log.Info("Starting manager", "version", version.String(), "leaderElection", f.leaderElect)
	return mgr.Start(ctx)
}

// frontends opens the front doors' listeners: a port that cannot be bound fails the start.
func (f flags) frontends() (frontends.Config, error) {
	fe := frontends.Config{
		SystemNamespace: f.opts.SystemNamespace, Region: f.opts.Region, S3DataDir: f.s3DataDir, S3Backend: f.s3Backend,
		EC2Endpoint: f.ec2Endpoint, AuthzTTL: f.authzTTL, ConsoleServiceAccount: f.consoleSA,
		ObjectStoreURL: f.opts.ObjectStoreURL, Readiness: frontends.NewReadiness(), S3LifecycleInterval: f.s3Lifecycle,
	}
	for _, l := range []struct {
		addr, what string
		ln         *net.Listener
	}{{f.s3Addr, "S3", &fe.S3Listener}, {f.ec2Addr, "EC2", &fe.EC2Listener}, {f.dashAddr, "the dashboard", &fe.DashboardListener}} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return fe, fmt.Errorf("listening for %s: %w", l.what, err)
		}
		*l.ln = ln
	}
	return fe, nil
}
