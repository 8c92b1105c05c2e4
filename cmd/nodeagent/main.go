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

// Command nodeagent runs PiNet's agent on a hypervisor.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"pinet.io/pinet/internal/version"
	"pinet.io/pinet/nodeagent"
	"pinet.io/pinet/nodeagent/chainhost"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "volume-chains" {
		// The chains of the volumes attached on this node, in a process that outlives the agent's.
		if err := chainhost.RunCommand(ctrl.SetupSignalHandler(), os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "volume-chains:", err)
			os.Exit(1)
		}
		return
	}
	var cfg nodeagent.Config
	hostname, _ := os.Hostname()
	flag.StringVar(&cfg.NodeName, "node-name", hostname, "Name of this node's Hypervisor object.")
	flag.StringVar(&cfg.LibvirtURI, "libvirt-uri", "qemu:///system", "libvirt connection URI (test:///default simulates a node).")
	flag.StringVar(&cfg.Zone, "zone", "pinet-1a", "Availability zone recorded when the node registers.")
	var maxInstances int
	flag.IntVar(&maxInstances, "max-instances", 64, "Instance quota recorded when the node registers.")
	var vcpus int
	flag.IntVar(&vcpus, "vcpus", 0, "Override the number of CPUs offered to guests (0: what libvirt reports).")
	flag.Int64Var(&cfg.MemoryMiB, "memory-mib", 0, "Override the memory offered to guests in MiB (0: what libvirt reports).")
	flag.StringVar(&cfg.DomainType, "domain-type", "", "Force the libvirt domain type (kvm or qemu); empty detects it.")
	flag.StringVar(&cfg.StateDir, "state-dir", "/var/lib/pinet", "Directory for per-instance files.")
	flag.DurationVar(&cfg.HeartbeatInterval, "heartbeat-interval", time.Minute, "Longest time between two status reports.")
	flag.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", time.Minute, "How long a stopping guest may take to power off.")
	flag.StringVar(&cfg.ObjectStoreURL, "s3-url", "http://127.0.0.1:3333", "The object store images are downloaded from.")
	flag.StringVar(&cfg.Region, "region", "pinet", "The cloud's region name.")
	flag.StringVar(&cfg.SystemNamespace, "system-namespace", "pinet-system", "Namespace of PiNet's secrets.")
	flag.Int64Var(&cfg.ImageCacheBytes, "image-cache-bytes", 20<<30, "Most bytes of cached images no instance uses.")
	flag.StringVar(&cfg.ConsoleAddr, "console-bind-address", ":8443", "Address of the console server (empty disables it).")
	flag.StringVar(&cfg.ConsoleAdvertiseHost, "console-advertise-host", "", "Host clients reach the console server at.")
	flag.StringVar(&cfg.ClientCAFile, "client-ca-file", "", "CA of client certificates accepted by the console server.")
	flag.StringVar(&cfg.HealthProbeAddr, "health-probe-bind-address", ":8082", "Address of /healthz and /readyz (0 disables).")
	flag.StringVar(&cfg.MetricsAddr, "metrics-bind-address", "0",
		"Address of the Prometheus metrics endpoint /metrics (image downloads, AoE I/O, controller-runtime's), e.g. 127.0.0.1:8089 (0 disables).")
	flag.StringVar(&cfg.PprofAddr, "pprof-bind-address", "",
		"Address of Go's profiles /debug/pprof/ (heap, CPU, goroutines), e.g. 127.0.0.1:6061 (empty disables it; never expose it beyond the node).")
	var networkMode string
	flag.StringVar(&networkMode, "network-mode", "none", "How guests get a network: none (no NIC), vxlan or vlan.")
	flag.StringVar(&cfg.Network.DatapathNetNS, "datapath-netns", "", "Path of the network namespace of the tenant datapath (empty: the agent's own).")
	flag.StringVar(&cfg.Network.LibvirtNetNS, "libvirt-netns", "", "Path of the network namespace libvirtd makes guests' taps in (empty: the agent's own).")
	flag.StringVar(&cfg.Network.UnderlayInterface, "underlay-interface", "", "Interface that carries tenant segments between nodes.")
	flag.StringVar(&cfg.Network.UnderlayIP, "underlay-ip", "", "This node's IPv4 address on the underlay (required in vxlan mode).")
	flag.StringVar(&cfg.Network.PublicInterface, "public-interface", "", "Interface facing the world, where elastic IPs arrive (empty: no elastic IPs).")
	flag.IntVar(&cfg.Network.MetadataPort, "metadata-port", nodeagent.DefaultMetadataPort, "Port of the metadata server in the datapath's namespace.")
	opts := zap.Options{}
	flag.StringVar(&cfg.StorageDir, "storage-dir", "", "Directory of the backing files of the volumes this node stores (default <state-dir>/volumes).")
	flag.Int64Var(&cfg.StorageCapacityGiB, "storage-capacity-gib", 0, "GiB of volumes this node may store (0: not a storage node).")
	flag.StringVar(&cfg.StorageInterface, "storage-interface", "", "Network interface of the storage network: volumes are served (storage nodes) and attached over AoE there.")
	flag.StringVar(&cfg.StorageNetNS, "storage-netns", "", "Network namespace (under /run/netns) of the storage interface, where volumes are served and attached; empty: the agent's own.")
	flag.BoolVar(&cfg.ExternalVolumeChains, "external-volume-chains", false,
		"The attached volumes' chains are served by `nodeagent volume-chains` (another process, given the same --state-dir, --storage-interface, --storage-netns and --qemu-user), so that guests keep their volumes through the agent's restarts; otherwise the agent serves them, and they end with it.")
	flag.StringVar(&cfg.QEMUUser, "qemu-user", "libvirt-qemu", "User QEMU runs as; it alone may connect to the volumes' NBD sockets.")
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	cfg.MaxInstances = int32(maxInstances)
	cfg.VCPUs = int32(vcpus)
	cfg.Version = version.String()
	cfg.Network.Mode = nodeagent.NetworkMode(networkMode)
	// The agent's metrics join controller-runtime's in the registry its metrics endpoint serves.
	cfg.Metrics = crmetrics.Registry

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	log := ctrl.Log.WithName("setup")
	log.Info("Starting node agent", "node", cfg.NodeName, "libvirt", cfg.LibvirtURI, "version", cfg.Version)
	if err := nodeagent.Run(ctrl.SetupSignalHandler(), cfg, ctrl.GetConfigOrDie()); err != nil {
		log.Error(err, "Node agent failed")
		os.Exit(1)
	}
}
