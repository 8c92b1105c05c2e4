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

// Package nodeagent is the per-hypervisor agent. It registers its node as a Hypervisor, reports
// the node's capacity and a heartbeat, and realises the Instances bound to the node as libvirt
// domains: it defines, starts, stops and removes them and reports what libvirt says.
package nodeagent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/metrics"
	"pinet.io/pinet/internal/s3client"
	"pinet.io/pinet/nodeagent/aoe"
	"pinet.io/pinet/nodeagent/disks"
	"pinet.io/pinet/nodeagent/imagecache"
	"pinet.io/pinet/nodeagent/libvirt"
)

// Config is how one agent is set up.
type Config struct {
	// NodeName names the Hypervisor object.
	NodeName string
	// LibvirtURI is the libvirt connection (test:///default, qemu:///system).
	LibvirtURI string
	// Zone and MaxInstances fill in the Hypervisor's spec when the agent registers it.
	Zone         string
	MaxInstances int32
	// VCPUs and MemoryMiB override the capacity libvirt reports (simulated nodes); 0 keeps it.
	VCPUs     int32
	MemoryMiB int64
	// DomainType forces kvm or qemu; empty detects it.
	DomainType string
	// StateDir holds per-instance files (console logs, later disks).
	StateDir string
	// HeartbeatInterval is the longest the agent stays silent; MinReportInterval the shortest gap
	// between two reports; FactsInterval how often it looks at the host for changes.
	HeartbeatInterval time.Duration
	MinReportInterval time.Duration
	FactsInterval     time.Duration
	// ResyncInterval is how often every domain is compared with the Instances.
	ResyncInterval time.Duration
	// ShutdownGrace is how long a guest gets to power off before it is destroyed.
	ShutdownGrace time.Duration
	// ObjectStoreURL is where images are downloaded from; Region its region.
	ObjectStoreURL, Region string
	// SystemNamespace holds the credentials of the node's own object store user, whom the agent
	// downloads images and copies snapshots as.
	SystemNamespace string
	// ImageCacheBytes bounds the images the node keeps that no instance uses (0: no bound).
	ImageCacheBytes int64
	// ConsoleAddr is where instance consoles are served (HTTPS); empty disables it.
	// ConsoleAdvertiseHost is the host clients reach it at (default: its address, or 127.0.0.1).
	ConsoleAddr, ConsoleAdvertiseHost string
	// ClientCAFile verifies client certificates presented to the console server (the cluster CA);
	// without it only bearer tokens are accepted.
	ClientCAFile string
	// HealthProbeAddr serves /healthz and /readyz; empty or "0" disables it.
	HealthProbeAddr string
	// MetricsAddr serves Prometheus metrics at /metrics (controller-runtime's registry, where
	// cmd/nodeagent registers the agent's own); empty or "0" disables it.
	MetricsAddr string
	// PprofAddr serves Go's profiles at /debug/pprof/; empty disables it.
	PprofAddr string
	// Metrics is where the agent's metrics (image downloads, AoE I/O) are registered; nil
	// records none.
	Metrics prometheus.Registerer
	// metrics is the set built on Metrics when the agent starts.
	metrics *metrics.NodeAgent
	// StorageCapacityGiB makes the node a storage node holding volumes of that many GiB in
	// all (0: not a storage node); their backing files live in StorageDir (default
	// <StateDir>/volumes) and are served over AoE on StorageInterface.
	StorageCapacityGiB int64
	StorageDir         string
	StorageInterface   string
	// ListenAoE opens the AoE socket of a target (default aoe.Listen); tests listen inside a
	// network namespace.
	ListenAoE func(iface string) (*aoe.Conn, error)
	// Version is reported in the Hypervisor's status.
	Version string
	// StorageNetNS is the network namespace (a name under /run/netns) StorageInterface is in,
	// where volumes are served and attached; empty for the agent's own (ListenAoE, when set, is
	// used instead).
	StorageNetNS string
	// QEMUUser is the user QEMU runs as (libvirt-qemu); it alone may connect to the volumes' NBD
	// sockets. Empty, or a user the node does not have, leaves them to root.
	QEMUUser string
	// ExternalVolumeChains: the chains of the volumes attached on this node are served by
	// another process (`nodeagent volume-chains` with the same state directory, storage
	// interface and QEMU user), so that running guests keep their volumes through the agent's
	// restarts. Otherwise the agent serves them itself, and they end with it.
	ExternalVolumeChains bool
	// AttachTimeout bounds reaching a volume's AoE target; DetachTimeout how long the guest gets
	// to release an unplugged volume within one attempt.
	AttachTimeout, DetachTimeout time.Duration
	// Network is how guests are given a network (none by default).
	Network NetworkConfig
}

// The agent reads its node's object store user's credentials (s3client.NodeUser), and no other
// Secret: the manager names every node's in Role pinet-nodeagent-store-keys (controllers/nodestore),
// and the node authorizer refuses a node another node's.

func (c *Config) defaults() {
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = time.Minute
	}
	if c.MinReportInterval == 0 {
		c.MinReportInterval = time.Second
	}
	if c.FactsInterval == 0 {
		c.FactsInterval = 5 * time.Second
	}
	if c.ResyncInterval == 0 {
		c.ResyncInterval = 30 * time.Second
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = time.Minute
	}
	if c.AttachTimeout == 0 {
		c.AttachTimeout = 10 * time.Second
	}
	if c.DetachTimeout == 0 {
		c.DetachTimeout = 20 * time.Second
	}
	if c.MaxInstances == 0 {
		c.MaxInstances = 64
	}
	if c.Zone == "" {
		c.Zone = "pinet-1a"
	}
	if c.SystemNamespace == "" {
		c.SystemNamespace = "pinet-system"
	}
	if c.Region == "" {
		c.Region = "pinet"
	}
	if c.StorageDir == "" {
		c.StorageDir = defaultStorageDir(c.StateDir)
	}
}

// virt is the libvirt side the agent drives; *libvirt.Conn implements it.
type virt interface {
	URI() string
	Host() (libvirt.Host, error)
	Lookup(name string) (libvirt.Domain, error)
	List() ([]libvirt.Domain, error)
	Define(xml string) error
	Start(name string) error
	Reboot(name string) error
	Shutdown(name string) error
	Destroy(name string) error
	Suspend(name string) error
	Resume(name string) error
	Undefine(name string) error
	AttachDevice(name, deviceXML string) error
	DetachDevice(name, deviceXML string) error
	Events() <-chan string
}

// Run connects to libvirt and the API server and runs the agent until ctx ends.
func Run(ctx context.Context, cfg Config, restCfg *rest.Config) error {
	cfg.defaults()
	if cfg.NodeName == "" {
		return fmt.Errorf("the node name is required")
	}
	if err := cfg.Network.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(cfg.StateDir, "instances"), disks.DirMode); err != nil {
		return fmt.Errorf("creating state dir: %w", err)
	}
	conn, err := libvirt.Open(ctx, cfg.LibvirtURI)
	if err != nil {
		return err
	}
	defer conn.Close()
	return RunWith(ctx, cfg, restCfg, conn)
}

// RunWith runs the agent on an open libvirt connection, which outlives it: a restarted agent
// finds the domains where it left them, as with a real libvirtd.
func RunWith(ctx context.Context, cfg Config, restCfg *rest.Config, conn *libvirt.Conn) error {
	return run(ctx, cfg, restCfg, conn)
}

func run(ctx context.Context, cfg Config, restCfg *rest.Config, conn virt) error {
	cfg.defaults()
	if cfg.StorageCapacityGiB > 0 && cfg.StorageInterface == "" {
		return fmt.Errorf("a storage node needs the interface to serve volumes on (--storage-interface)")
	}
	if err := cfg.Network.Validate(); err != nil {
		return err
	}
	if cfg.Metrics != nil {
		m, err := metrics.NewNodeAgent(cfg.Metrics)
		if err != nil {
			return fmt.Errorf("registering the agent's metrics: %w", err)
		}
		cfg.metrics = m
	}
	scheme := runtimeScheme()
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: probeAddr(cfg.MetricsAddr)},
		HealthProbeBindAddress: probeAddr(cfg.HealthProbeAddr),
		PprofBindAddress:       cfg.PprofAddr,
		Cache: cache.Options{
			ByObject: map[client.Object]cache.ByObject{
				// Only this node's instances: the agent never sees the rest of the cloud.
				&cloudv1.Instance{}:   {Label: labels.SelectorFromSet(labels.Set{cloudv1.LabelHypervisor: cfg.NodeName})},
				&cloudv1.Hypervisor{}: {Field: fieldsByName(cfg.NodeName)},
				// Only the volumes this node attaches (the volume controller labels them).
				&cloudv1.Volume{}: {Label: labels.SelectorFromSet(labels.Set{cloudv1.LabelAttachNode: cfg.NodeName})},
				// Only what this node's instances use: the manager labels it for the node.
				&cloudv1.KeyPair{}:       {Label: nodeUse(cfg.NodeName)},
				&cloudv1.Image{}:         {Label: nodeUse(cfg.NodeName)},
				&cloudv1.SecurityGroup{}: {Label: nodeUse(cfg.NodeName)},
			},
			// Nothing the agent does reads managedFields; they would be most of what it holds.
			DefaultTransform: cache.TransformStripManagedFields(),
		},
		Logger: ctrl.Log.WithName("nodeagent").WithValues("hypervisor", cfg.NodeName),
		// Simulated nodes run several agents in one process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return fmt.Errorf("creating agent manager: %w", err)
	}
	// The lookups the agent makes: its guests by EC2 id, and what a launch names (image, key
	// pair, security groups).
	indexed := []string{index.InstanceID, index.ImageID, index.KeyName}
	if cfg.Network.Enabled() {
		indexed = append(indexed, index.GroupID, index.GroupName)
	}
	if err := index.Register(ctx, mgr.GetFieldIndexer(), indexed...); err != nil {
		return err
	}
	if err := checkIdentity(ctx, mgr.GetClient(), cfg.NodeName); err != nil {
		return err
	}
	cloudID, err := cloudIdentity(ctx, mgr.GetAPIReader())
	if err != nil {
		return err
	}
	if cfg.HealthProbeAddr != "" && cfg.HealthProbeAddr != "0" {
		if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
			return err
		}
		if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
			return err
		}
	}

	clk := clock.RealClock{}
	rep := &reporter{client: mgr.GetClient(), volumes: mgr.GetAPIReader(), virt: conn, cfg: cfg, clock: clk}
	if cfg.ConsoleAddr != "" {
		cs, err := newConsoleServer(mgr.GetClient(), cfg, mgr.GetLogger().WithName("console"))
		if err != nil {
			return err
		}
		if err := mgr.Add(cs); err != nil {
			return err
		}
		rep.console = cs.endpoint()
	}
	if err := mgr.Add(rep); err != nil {
		return err
	}
	chains := newVolumeChains(cfg)
	if !cfg.ExternalVolumeChains {
		if err := runVolumeChains(ctx, mgr, cfg); err != nil {
			return err
		}
	}
	sync := &instanceSync{
		volumes:   chains,
		client:    mgr.GetClient(),
		apiReader: mgr.GetAPIReader(),
		virt:      conn,
		cfg:       cfg,
		cloudID:   cloudID,
		clock:     clk,
		recorder:  mgr.GetEventRecorder("pinet-nodeagent"),
		facts:     rep,
		images: &imagecache.Cache{
			Dir:   filepath.Join(cfg.StateDir, "images"),
			Limit: cfg.ImageCacheBytes,
			Source: storeSource{reader: mgr.GetAPIReader(), cfg: s3client.Config{
				Endpoint: cfg.ObjectStoreURL, Region: cfg.Region, SystemNamespace: cfg.SystemNamespace,
				User: s3client.NodeUser(cfg.NodeName),
			}},
			Log:     ctrl.Log.WithName("imagecache").WithValues("hypervisor", cfg.NodeName),
			Metrics: cfg.metrics,
		},
	}
	if err := sync.setupWithManager(mgr); err != nil {
		return err
	}
	if cfg.ObjectStoreURL != "" {
		if err := setupCapture(mgr, restCfg, cfg, sync); err != nil {
			return err
		}
	}
	attach := &volumeAttach{client: mgr.GetClient(), virt: conn, cfg: cfg, clock: clk,
		recorder: mgr.GetEventRecorder("pinet-nodeagent"), chains: chains}
	if err := attach.setupWithManager(mgr); err != nil {
		return err
	}
	if cfg.StorageCapacityGiB > 0 {
		if err := setupStorage(ctx, mgr, restCfg, cfg, clk); err != nil {
			return err
		}
	}
	// The network's servers (DHCP, metadata) stop with the agent; a restarted agent in the same
	// process binds their ports again only once they are closed.
	var servers gosync.WaitGroup
	defer servers.Wait()
	srvCtx, stopServers := context.WithCancel(ctx)
	defer stopServers()
	if cfg.Network.Enabled() {
		ns, err := newNetworkSync(srvCtx, cfg, mgr.GetClient(), &servers)
		if err != nil {
			return fmt.Errorf("setting up the node's network: %w", err)
		}
		defer ns.close()
		if err := ns.setupWithManager(mgr); err != nil {
			return err
		}
	}
	return mgr.Start(ctx)
}

// cloudIdentity is the UID of the kube-system namespace: it tells this cloud's domains from those
// of another cloud whose agent shares the libvirtd.
func cloudIdentity(ctx context.Context, r client.Reader) (string, error) {
	ns := &corev1.Namespace{}
	if err := r.Get(ctx, client.ObjectKey{Name: metav1.NamespaceSystem}, ns); err != nil {
		return "", fmt.Errorf("reading the cloud's identity (namespace kube-system): %w", err)
	}
	return string(ns.UID), nil
}

// nodeUserPrefix starts the user name of a node agent's own identity (pinet:node:<node>).
const nodeUserPrefix = "pinet:node:"

// checkIdentity asks the API server who the agent is and refuses to run with another node's
// identity: the admission policies would refuse every write, and the agent would look dead.
// Other identities (the DaemonSet's service account, whose tokens name the pod's node) are
// logged and trusted to the policies.
func checkIdentity(ctx context.Context, c client.Client, nodeName string) error {
	ssr := &authenticationv1.SelfSubjectReview{}
	if err := c.Create(ctx, ssr); err != nil {
		return fmt.Errorf("asking the API server who this agent is: %w", err)
	}
	user := ssr.Status.UserInfo.Username
	if node, ok := strings.CutPrefix(user, nodeUserPrefix); ok && node != nodeName {
		return fmt.Errorf("the agent of node %s runs with the credentials of node %s (%s)", nodeName, node, user)
	}
	ctrl.LoggerFrom(ctx).WithValues("hypervisor", nodeName).Info("Acting as", "user", user, "groups", ssr.Status.UserInfo.Groups)
	return nil
}

func probeAddr(a string) string {
	if a == "" {
		return "0"
	}
	return a
}
