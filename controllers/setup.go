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

// Package controllers wires every PiNet reconciler into a manager; the reconcilers live in one
// package per kind.
package controllers

import (
	"context"
	"fmt"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	cloudv1 "pinet.io/pinet/api/v1alpha1"

	"pinet.io/pinet/controllers/address"
	"pinet.io/pinet/controllers/addresspool"
	"pinet.io/pinet/controllers/hypervisor"
	"pinet.io/pinet/controllers/image"
	"pinet.io/pinet/controllers/instance"
	"pinet.io/pinet/controllers/instancetype"
	"pinet.io/pinet/controllers/keypair"
	"pinet.io/pinet/controllers/nodestore"
	"pinet.io/pinet/controllers/nodeuse"
	"pinet.io/pinet/controllers/project"
	"pinet.io/pinet/controllers/quotapending"
	"pinet.io/pinet/controllers/scheduler"
	"pinet.io/pinet/controllers/securitygroup"
	"pinet.io/pinet/controllers/snapshot"
	"pinet.io/pinet/controllers/user"
	"pinet.io/pinet/controllers/volume"
	"pinet.io/pinet/internal/claims"
	"pinet.io/pinet/internal/cloudca"
	"pinet.io/pinet/internal/fieldowners"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/ipam"
	"pinet.io/pinet/internal/metrics"
	nodeuselabels "pinet.io/pinet/internal/nodeuse"
	"pinet.io/pinet/internal/s3client"
)

// Options tune the controllers.
type Options struct {
	// TerminatedRetention is how long terminated instances stay visible.
	TerminatedRetention time.Duration
	// HeartbeatTimeout is how long a node agent may stay silent before its node is not ready.
	HeartbeatTimeout time.Duration
	// NodeLostTimeout is how long a node may stay not ready before the domains of instances
	// being removed from it are given up; 0 is instance.DefaultNodeLostTimeout.
	NodeLostTimeout time.Duration
	// CaptureNodeTimeout is how long an image's copy waits for its node once the node is not
	// ready; 0 is image.DefaultCaptureNodeTimeout.
	CaptureNodeTimeout time.Duration
	// ImageProtectionCooldown is how long an image stays protected after its deregistration
	// protection with a cooldown is turned off; 0 is image.DefaultProtectionCooldown.
	ImageProtectionCooldown time.Duration
	// SeedInstanceTypes creates the default instance types in a cloud that has none.
	SeedInstanceTypes bool
	// SystemNamespace holds the cloud CA and the users' credentials.
	SystemNamespace string
	// ObjectStoreURL is the S3 endpoint images are read from and stored in; empty disables the
	// image controller.
	ObjectStoreURL string
	// Region is the cloud's region name.
	Region string
	// AoEShelves are the shelves volumes are given AoE addresses on; zero is 1-100.
	AoEShelves ipam.AoEShelves
	// Clock is the controllers' clock; nil is the real one.
	Clock clock.PassiveClock
	// SegmentRange is the segment ids (VXLAN VNIs or VLAN ids) projects get, "FIRST-LAST";
	// empty is DefaultSegmentRange.
	SegmentRange string
	// TenantSupernet is the IPv4 range projects' subnets are carved from; empty is
	// DefaultTenantSupernet.
	TenantSupernet string
	// TenantSubnetPrefix is the prefix length of a project's subnet; 0 is
	// DefaultTenantSubnetPrefix.
	TenantSubnetPrefix int
	// InstanceWorkers is how many instances the instance controller reconciles at once; 0 is
	// instance.DefaultWorkers.
	InstanceWorkers int
	// NodeUseGrace, when set, is how long a node keeps, at least, what an instance that left it
	// used (the node use controller's TakeDelay and its labeller's grace); 0 is their defaults.
	NodeUseGrace time.Duration
	// Metrics is where the controllers' metrics (instances by state, schedule latency, image
	// imports) are registered; nil records none.
	Metrics prometheus.Registerer
}

// Defaults of the tenant networks: VLAN-safe segment ids, and a /24 per project out of
// 10.128.0.0/10 (16384 projects of 253 instances).
const (
	DefaultSegmentRange       = "100-4000"
	DefaultTenantSupernet     = "10.128.0.0/10"
	DefaultTenantSubnetPrefix = 24
)

// tenantNetworks parses the network options.
func tenantNetworks(opts Options, al *ipam.Allocator) (*project.Network, error) {
	if opts.SegmentRange == "" {
		opts.SegmentRange = DefaultSegmentRange
	}
	if opts.TenantSupernet == "" {
		opts.TenantSupernet = DefaultTenantSupernet
	}
	if opts.TenantSubnetPrefix == 0 {
		opts.TenantSubnetPrefix = DefaultTenantSubnetPrefix
	}
	segs, err := ipam.ParseRange(opts.SegmentRange)
	if err != nil {
		return nil, err
	}
	subnets, err := ipam.NewSubnets(opts.TenantSupernet, opts.TenantSubnetPrefix)
	if err != nil {
		return nil, err
	}
	return &project.Network{Allocator: al, Segments: segs, Subnets: subnets}, nil
}

// CacheOptions limits what the manager caches of Kubernetes' own kinds: the Secrets of the system
// namespace, and the role bindings PiNet made. No cached object keeps its managedFields (the
// field managers' bookkeeping, often bigger than the object) unless someone has server-side
// applied it: only that is read (the scheduler leaves such instances' records alone), and
// patches and updates leave the server's as they are.
func CacheOptions(systemNamespace string) cache.Options {
	managed := labels.SelectorFromSet(labels.Set{cloudv1.LabelManagedBy: cloudv1.ManagedByPiNet})
	return cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}:             {Namespaces: map[string]cache.Config{systemNamespace: {}}},
			&rbacv1.RoleBinding{}:        {Label: managed},
			&rbacv1.ClusterRoleBinding{}: {Label: managed},
		},
		DefaultTransform: fieldowners.StripUnlessApplied(),
	}
}

// The manager is the cloud controller: it reads every PiNet kind (its caches index them all).
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=*,verbs=get;list;watch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// Leader election (cmd/manager --leader-elect) announces a new leader with a core Event.
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// retiredSystemUsers are the shared object store users node agents read images and snapshots
// as before each node had its own (controllers/nodestore); a manager that finds them removes them.
var retiredSystemUsers = []string{"pinet-image-reader", "pinet-snapshot-store"}

// ensureSystemUser creates the admin user PiNet's components use in the object store and removes
// the retired shared node users, whose keys every node held.
func ensureSystemUser(ctx context.Context, c client.Client) error {
	u := &cloudv1.User{ObjectMeta: metav1.ObjectMeta{Name: s3client.SystemUser}, Spec: cloudv1.UserSpec{Admin: true}}
	if err := c.Create(ctx, u); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating system user %s: %w", u.Name, err)
	}
	for _, name := range retiredSystemUsers {
		old := &cloudv1.User{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := c.Delete(ctx, old); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("removing retired system user %s: %w", name, err)
		}
	}
	return nil
}

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=users,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// The EC2 API, which runs in the manager, writes what its callers ask for (after reviewing each call
// against the caller's own roles).
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=instances;images;keypairs;volumes;snapshots;addresses;securitygroups,verbs=get;list;watch;create;update;patch;delete
// The EC2 API reads consoles from node agents with the manager's service account tokens.
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=instances/console,verbs=get
// +kubebuilder:rbac:groups="",resources=serviceaccounts/token,verbs=create,resourceNames=pinet-manager

// Setup registers the field indexes and every reconciler with mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	clk := opts.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	if opts.SystemNamespace == "" {
		opts.SystemNamespace = cloudv1.DefaultSystemNamespace
	}
	allocator := &ipam.Allocator{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Namespace: opts.SystemNamespace}
	network, err := tenantNetworks(opts, allocator)
	if err != nil {
		return fmt.Errorf("configuring tenant networks: %w", err)
	}
	if err := index.Register(ctx, mgr.GetFieldIndexer()); err != nil {
		return err
	}
	c := mgr.GetClient()
	var m *metrics.Controllers
	if opts.Metrics != nil {
		if m, err = metrics.NewControllers(opts.Metrics, c); err != nil {
			return fmt.Errorf("registering the controllers' metrics: %w", err)
		}
	}
	ca := func(ctx context.Context) (*cloudca.CA, error) { return cloudca.Ensure(ctx, c, opts.SystemNamespace) }
	// The cloud CA exists from the first start on, whether or not a user needs it yet.
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		_, err := ca(ctx)
		return err
	})); err != nil {
		return err
	}
	idClaims := &claims.Claimer{Client: c, Reader: mgr.GetAPIReader(), Namespace: opts.SystemNamespace}
	if err := mgr.Add(&claims.Sweeper{Claimer: idClaims, Clock: clk, Interval: 10 * time.Minute, Grace: 10 * time.Minute}); err != nil {
		return fmt.Errorf("adding the id claim sweeper: %w", err)
	}
	// PiNet's own components act in the object store as the system user.
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		return ensureSystemUser(ctx, c)
	})); err != nil {
		return err
	}
	// systemStore is the object store as the system user, for the controllers that keep objects
	// there; nil when the cloud runs without a store.
	var systemStore func(context.Context) (*minio.Client, error)
	if opts.ObjectStoreURL != "" {
		storeCfg := s3client.Config{Endpoint: opts.ObjectStoreURL, Region: opts.Region, SystemNamespace: opts.SystemNamespace}
		systemStore = func(ctx context.Context) (*minio.Client, error) { return s3client.New(ctx, c, storeCfg) }
	}
	// The scheduler gives a node what an instance uses before binding it there; the node use
	// controller takes back what a node no longer uses, and leaves fresh gifts alone.
	labeller := &nodeuselabels.Labeller{Client: c, Clock: clk, Grace: opts.NodeUseGrace}
	setups := []struct {
		name  string
		setup func(ctrl.Manager) error
	}{
		{"instance", (&instance.Reconciler{
			Client: c, Recorder: mgr.GetEventRecorder("pinet-instance"), Clock: clk,
			TerminatedRetention: opts.TerminatedRetention, NodeLostTimeout: opts.NodeLostTimeout, Claims: idClaims,
			Addresses: allocator, Region: opts.Region, Workers: opts.InstanceWorkers,
		}).SetupWithManager},
		{"scheduler", (&scheduler.Reconciler{
			Client: c, Recorder: mgr.GetEventRecorder("pinet-scheduler"), Clock: clk, Metrics: m, NodeUse: labeller,
		}).SetupWithManager},
		{"nodeuse", (&nodeuse.Reconciler{Client: c, Labeller: labeller, TakeDelay: opts.NodeUseGrace}).SetupWithManager},
		{"nodestore", (&nodestore.Reconciler{Client: c, APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("pinet-nodestore"),
			SystemNamespace: opts.SystemNamespace}).SetupWithManager},
		{"hypervisor", (&hypervisor.Reconciler{
			Client: c, Recorder: mgr.GetEventRecorder("pinet-hypervisor"), Clock: clk,
			HeartbeatTimeout: opts.HeartbeatTimeout,
		}).SetupWithManager},
		{"instancetype", (&instancetype.Reconciler{Client: c, Clock: clk}).SetupWithManager},
		{"address", (&address.Reconciler{Client: c, APIReader: mgr.GetAPIReader(), Allocator: allocator, Recorder: mgr.GetEventRecorder("pinet-address"), Clock: clk, Claims: idClaims}).SetupWithManager},
		{"addresspool", (&addresspool.Reconciler{Client: c, Allocator: allocator, Clock: clk}).SetupWithManager},
		{"keypair", (&keypair.Reconciler{Client: c, Recorder: mgr.GetEventRecorder("pinet-keypair"), Clock: clk, Claims: idClaims}).SetupWithManager},
		{"securitygroup", (&securitygroup.Reconciler{Client: c, APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("pinet-securitygroup"),
			Clock: clk, Claims: idClaims}).SetupWithManager},
		{"volume", (&volume.Reconciler{
			Client: c, APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("pinet-volume"), Clock: clk,
			Claims: idClaims, Allocator: allocator, Shelves: opts.AoEShelves, NodeLostTimeout: opts.NodeLostTimeout,
		}).SetupWithManager},
		{"quota-pending addresses", (&quotapending.Reconciler{Kind: quotapending.Addresses, Client: c, APIReader: mgr.GetAPIReader(),
			Recorder: mgr.GetEventRecorder("pinet-quota"), Clock: clk}).SetupWithManager},
		{"quota-pending volumes", (&quotapending.Reconciler{Kind: quotapending.Volumes, Client: c, APIReader: mgr.GetAPIReader(),
			Recorder: mgr.GetEventRecorder("pinet-quota"), Clock: clk}).SetupWithManager},
		{"quota-pending images", (&quotapending.Reconciler{Kind: quotapending.Images, Client: c, APIReader: mgr.GetAPIReader(),
			Recorder: mgr.GetEventRecorder("pinet-quota"), Clock: clk}).SetupWithManager},
		{"snapshot", (&snapshot.Reconciler{
			Client: c, APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("pinet-snapshot"), Clock: clk, Claims: idClaims, Store: systemStore,
		}).SetupWithManager},
		{"project", (&project.Reconciler{
			Client: c, APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("pinet-project"), Clock: clk,
			Network: network,
		}).SetupWithManager},
		{"user", (&user.Reconciler{
			Client: c, Recorder: mgr.GetEventRecorder("pinet-user"), Clock: clk,
			SystemNamespace: opts.SystemNamespace, CA: ca,
		}).SetupWithManager},
	}
	if opts.ObjectStoreURL != "" {
		setups = append(setups, struct {
			name  string
			setup func(ctrl.Manager) error
		}{"image", (&image.Reconciler{
			Client: c, APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("pinet-image"), Clock: clk, CA: ca, Metrics: m,
			Store:           systemStore,
			SystemNamespace: opts.SystemNamespace, Claims: idClaims, CaptureNodeTimeout: opts.CaptureNodeTimeout,
			ProtectionCooldown: opts.ImageProtectionCooldown,
		}).SetupWithManager})
	}
	for _, s := range setups {
		if err := s.setup(mgr); err != nil {
			return fmt.Errorf("setting up the %s controller: %w", s.name, err)
		}
	}
	if opts.SeedInstanceTypes {
		if err := mgr.Add(&instancetype.Seeder{Client: c}); err != nil {
			return fmt.Errorf("adding the instance type seeder: %w", err)
		}
	}
	return nil
}
