/*
Copyright 2026 The PiNet Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Command manager runs PiNet's control plane: the controllers (and, as later parts land, the EC2
// API and the S3 store).
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/controllers"
	"pinet.io/pinet/internal/frontends"
	"pinet.io/pinet/internal/ipam"
	"pinet.io/pinet/internal/version"
)

func main() {
	var (
		metricsAddr, probeAddr string
		leaderElect, seedTypes bool
		opts                   controllers.Options
		s3Addr, s3DataDir      string
		ec2Addr, ec2Endpoint   string
		dashAddr               string
		consoleSA              string
		authzTTL               time.Duration
		aoeShelves             string
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0", "Address of the metrics endpoint (0 disables).")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of /healthz and /readyz.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader so only one manager acts at a time.")
	flag.BoolVar(&seedTypes, "seed-instance-types", true, "Create the m1.* instance types in a cloud that has none.")
	flag.DurationVar(&opts.TerminatedRetention, "terminated-retention", time.Hour, "How long terminated instances stay visible.")
	flag.StringVar(&opts.SystemNamespace, "system-namespace", cloudv1.DefaultSystemNamespace, "Namespace of the cloud CA and the users' credentials.")
	flag.DurationVar(&opts.HeartbeatTimeout, "heartbeat-timeout", 150*time.Second, "How long a node agent may stay silent.")
	flag.DurationVar(&opts.NodeLostTimeout, "node-lost-timeout", 24*time.Hour,
		"How long a node may stay not ready before the domains of instances being deleted from it are given up.")
	flag.StringVar(&s3Addr, "s3-bind-address", "127.0.0.1:3333", "Address of the S3 object store (empty disables it).")
	flag.StringVar(&s3DataDir, "s3-data-dir", "/var/lib/pinet/objects", "Directory of the object store's buckets.")
	var objectStore objectStoreFlags
	objectStore.bind(flag.CommandLine)
	flag.StringVar(&opts.ObjectStoreURL, "s3-url", "", "URL PiNet's components reach the object store at (default: the local store).")
	flag.StringVar(&opts.Region, "region", "pinet", "The cloud's region name.")
	flag.StringVar(&opts.SegmentRange, "segment-range", controllers.DefaultSegmentRange,
		"Segment ids (VXLAN VNIs, or VLAN ids: keep within 1-4094 for vlan-mode nodes) projects get, FIRST-LAST.")
	flag.StringVar(&opts.TenantSupernet, "tenant-supernet", controllers.DefaultTenantSupernet, "IPv4 range projects' subnets are carved from.")
	flag.IntVar(&opts.TenantSubnetPrefix, "tenant-subnet-prefix", controllers.DefaultTenantSubnetPrefix, "Prefix length of a project's subnet (at most 30).")
	flag.StringVar(&ec2Addr, "ec2-bind-address", "127.0.0.1:8773", "Address of the EC2 API (empty disables it).")
	flag.StringVar(&dashAddr, "dashboard-bind-address", "127.0.0.1:8080", "Address of the web dashboard (empty disables it).")
	flag.StringVar(&ec2Endpoint, "ec2-endpoint", "", "URL clients reach the EC2 API at (default: http://<ec2-bind-address>).")
	flag.StringVar(&consoleSA, "console-service-account", "pinet-manager", "Service account (in the system namespace) the EC2 API reads consoles from node agents as.")
	flag.DurationVar(&authzTTL, "authz-cache-ttl", 5*time.Second, "How long an access decision is reused.")
	zopts := zap.Options{}
	flag.StringVar(&aoeShelves, "aoe-shelves", "1-100", "AoE shelves volumes are given addresses on (FIRST-LAST; slots 0-254 of each).")
	zopts.BindFlags(flag.CommandLine)
	flag.Parse()
	opts.SeedInstanceTypes = seedTypes
	shelves, err := ipam.ParseAoEShelves(aoeShelves)
	if err != nil {
		fmt.Fprintln(os.Stderr, "--aoe-shelves:", err)
		os.Exit(2)
	}
	opts.AoEShelves = shelves
	s3Backend, err := objectStore.s3Config(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zopts)))
	log := ctrl.Log.WithName("setup")

	scheme := k8sruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		log.Error(err, "Building scheme")
		os.Exit(1)
	}
	if err := cloudv1.AddToScheme(scheme); err != nil {
		log.Error(err, "Building scheme")
		os.Exit(1)
	}
	restCfg := ctrl.GetConfigOrDie()
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress:  probeAddr,
		LeaderElection:          leaderElect,
		LeaderElectionID:        "manager.cloud.pinet.io",
		LeaderElectionNamespace: opts.SystemNamespace,
		Cache:                   controllers.CacheOptions(opts.SystemNamespace),
	})
	if err != nil {
		log.Error(err, "Creating manager")
		os.Exit(1)
	}
	ctx := ctrl.SetupSignalHandler()
	if opts.ObjectStoreURL == "" && s3Addr != "" {
		opts.ObjectStoreURL = "http://" + s3Addr
	}
	if err := controllers.Setup(ctx, mgr, opts); err != nil {
		log.Error(err, "Setting up controllers")
		os.Exit(1)
	}
	fe := frontends.Config{
		SystemNamespace: opts.SystemNamespace, Region: opts.Region, S3DataDir: s3DataDir, S3Backend: s3Backend,
		EC2Endpoint: ec2Endpoint, AuthzTTL: authzTTL, Logger: ctrl.Log,
		ConsoleServiceAccount: consoleSA,
	}
	if s3Addr != "" {
		if fe.S3Listener, err = net.Listen("tcp", s3Addr); err != nil {
			log.Error(err, "Listening for S3")
			os.Exit(1)
		}
	}
	if ec2Addr != "" {
		if fe.EC2Listener, err = net.Listen("tcp", ec2Addr); err != nil {
			log.Error(err, "Listening for EC2")
			os.Exit(1)
		}
		if fe.EC2Endpoint == "" {
			fe.EC2Endpoint = "http://" + ec2Addr
		}
	}
	if dashAddr != "" {
		if fe.DashboardListener, err = net.Listen("tcp", dashAddr); err != nil {
			log.Error(err, "Listening for the dashboard")
			os.Exit(1)
		}
	}
	fe.ObjectStoreURL = opts.ObjectStoreURL
	if err := frontends.Add(ctx, mgr, restCfg, fe); err != nil {
		log.Error(err, "Setting up the EC2 API, the object store and the dashboard")
		os.Exit(1)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		log.Error(err, "Adding health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		log.Error(err, "Adding ready check")
		os.Exit(1)
	}
	log.Info("Starting manager", "version", version.String())
	if err := mgr.Start(ctx); err != nil {
		log.Error(err, "Manager stopped")
		os.Exit(1)
	}
}
