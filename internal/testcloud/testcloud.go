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

// Package testcloud runs a whole PiNet cloud inside a test process on a real API server (envtest):
// the manager with every controller, the S3 object store and the EC2 API on loopback ports, and
// simulated hypervisors (real node agents on libvirt's test driver). Tests drive it with real
// clients.
package testcloud

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/go-logr/logr"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/controllers"
	"pinet.io/pinet/internal/conditions"
	usercreds "pinet.io/pinet/internal/credentials"
	"pinet.io/pinet/internal/frontends"
	"pinet.io/pinet/internal/sdkhttp"
	"pinet.io/pinet/internal/testenv"
	"pinet.io/pinet/nodeagent"
	"pinet.io/pinet/nodeagent/aoe/aoetest"
	"pinet.io/pinet/nodeagent/libvirt"
)

// Region is the test cloud's region.
const Region = "pinet"

// ConsoleServiceAccount is the service account (config/local) whose console tokens the EC2 API
// presents to node agents.
const ConsoleServiceAccount = "pinet-manager"

// Cloud is a running in-process cloud.
type Cloud struct {
	Env    *testenv.Env
	EC2URL string
	S3URL  string
	// DashboardURL is where the web dashboard answers.
	DashboardURL string
	// MetricsURL serves PiNet's metrics of this cloud (its own registry) in Prometheus' text
	// format, as the manager's metrics endpoint does.
	MetricsURL string
	dir        string
	requests   *RequestCounter
	// done is closed when the manager has stopped.
	done chan struct{}
}

// CaptureNodeTimeout is how long the test cloud's image copies wait for a node that is not
// ready: short, for the tests of a node lost mid-copy (the cloud's nodes are ready while their
// tests use them).
const CaptureNodeTimeout = 5 * time.Second

// ImageProtectionCooldown is the test cloud's cooldown of an image's deregistration protection
// (EC2's 24 hours).
const ImageProtectionCooldown = 4 * time.Second

// Options tune the cloud.
type Options struct {
	// TerminatedRetention is how long terminated instances stay (default a minute).
	TerminatedRetention time.Duration
	// TenantSubnetPrefix is the prefix length of the projects' subnets (default /24: 253
	// instances a project).
	TenantSubnetPrefix int
	// Requests, when set, counts the requests of the manager, of the front ends' own clients
	// (the EC2 API's writes) and of every node agent.
	Requests *RequestCounter
	// InstanceWorkers is how many instances the instance controller reconciles at once (0 is its
	// default).
	InstanceWorkers int
	// Ctx bounds the cloud's life (default env.Ctx): a test that needs the control plane to
	// itself afterwards ends it and waits for Done.
	Ctx context.Context
}

// Start runs the manager, object store, EC2 API and dashboard until env.Ctx ends.
func Start(env *testenv.Env, opts Options) (*Cloud, error) {
	ctx := env.Ctx
	if opts.Ctx != nil {
		ctx = opts.Ctx
	}
	dir, err := os.MkdirTemp("", "pinet-testcloud-")
	if err != nil {
		return nil, err
	}
	s3ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ec2ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	dashln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	metricsln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &Cloud{Env: env, dir: dir, requests: opts.Requests, S3URL: "http://" + s3ln.Addr().String(), EC2URL: "http://" + ec2ln.Addr().String(),
		DashboardURL: "http://" + dashln.Addr().String(), MetricsURL: "http://" + metricsln.Addr().String() + "/metrics",
		done: make(chan struct{})}
	reg := prometheus.NewRegistry()
	if opts.TerminatedRetention == 0 {
		opts.TerminatedRetention = time.Minute
	}

	mgrCfg := rest.CopyConfig(env.Config)
	if opts.Requests != nil {
		mgrCfg.Wrap(opts.Requests.wrap("manager"))
	}
	mgr, err := ctrl.NewManager(mgrCfg, ctrl.Options{
		Scheme:                 env.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  controllers.CacheOptions(testenv.SystemNamespace),
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, err
	}
	if err := controllers.Setup(ctx, mgr, controllers.Options{
		SeedInstanceTypes: true, SystemNamespace: testenv.SystemNamespace, ObjectStoreURL: c.S3URL,
		Region: Region, TerminatedRetention: opts.TerminatedRetention, HeartbeatTimeout: 30 * time.Second,
		CaptureNodeTimeout: CaptureNodeTimeout, ImageProtectionCooldown: ImageProtectionCooldown,
		TenantSubnetPrefix: opts.TenantSubnetPrefix, InstanceWorkers: opts.InstanceWorkers,
		Metrics: reg,
	}); err != nil {
		return nil, err
	}
	feCfg := rest.CopyConfig(env.Config)
	if opts.Requests != nil {
		feCfg.Wrap(opts.Requests.wrap("frontends"))
	}
	if err := frontends.Add(ctx, mgr, feCfg, frontends.Config{
		SystemNamespace: testenv.SystemNamespace, Region: Region,
		EC2Listener: ec2ln, S3Listener: s3ln, DashboardListener: dashln, EC2Endpoint: c.EC2URL, ObjectStoreURL: c.S3URL,
		S3DataDir: filepath.Join(dir, "objects"), AuthzTTL: time.Second, Logger: logr.Discard(),
		ConsoleServiceAccount: ConsoleServiceAccount, Metrics: reg,
	}); err != nil {
		return nil, err
	}
	metricsSrv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = metricsSrv.Serve(metricsln) }()
	go func() {
		<-ctx.Done()
		_ = metricsSrv.Close()
	}()
	go func() {
		<-ctx.Done()
		_ = os.RemoveAll(dir)
	}()
	go func() {
		defer close(c.done)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "testcloud manager:", err)
		}
	}()
	return c, nil
}

// Done is closed when the cloud's manager (controllers, EC2 API, object store, dashboard) has
// stopped, after its context ended.
func (c *Cloud) Done() <-chan struct{} { return c.done }

// Credentials are a user's keys, acting in one project.
type Credentials struct {
	AccessKeyID, SecretAccessKey string
}

// ObjectDataDir is the directory the cloud's object store keeps its data in.
func (c *Cloud) ObjectDataDir() string { return filepath.Join(c.dir, "objects") }

// AddProject creates a project with the default quota and waits until it is ready.
func (c *Cloud) AddProject(t testing.TB, name string) {
	t.Helper()
	c.AddProjectWithQuota(t, name, cloudv1.ProjectQuota{})
}

// NoQuota lifts every limit of a project's quota.
func NoQuota() cloudv1.ProjectQuota {
	return cloudv1.ProjectQuota{
		Instances: ptr.To[int32](0), VCPUs: ptr.To[int32](0), MemoryMiB: ptr.To[int64](0),
		Volumes: ptr.To[int32](0), VolumeGiB: ptr.To[int64](0), Addresses: ptr.To[int32](0),
		Snapshots: ptr.To[int32](0),
	}
}

// AddProjectWithQuota creates a project with a quota (missing limits take their defaults) and
// waits until it is ready.
func (c *Cloud) AddProjectWithQuota(t testing.TB, name string, q cloudv1.ProjectQuota) {
	t.Helper()
	p := &cloudv1.Project{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: cloudv1.ProjectSpec{Quota: q}}
	if err := c.Env.Client.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	c.waitReady(t, p)
}

// AddUser creates a user in the projects and returns its keys for the first one.
func (c *Cloud) AddUser(t testing.TB, name string, admin bool, projects ...string) Credentials {
	t.Helper()
	u := &cloudv1.User{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: cloudv1.UserSpec{Admin: admin, Projects: projects}}
	if err := c.Env.Client.Create(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	c.waitReady(t, u)
	sec := &corev1.Secret{}
	if err := c.Env.Client.Get(context.Background(), client.ObjectKey{Namespace: testenv.SystemNamespace, Name: usercreds.SecretName(name)}, sec); err != nil {
		t.Fatal(err)
	}
	keys, err := usercreds.ReadKeys(sec)
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys of %s: %v", name, err)
	}
	k := keys[len(keys)-1]
	id := k.AccessKeyID
	if len(projects) > 0 {
		id += ":" + projects[0]
	}
	creds := Credentials{AccessKeyID: id, SecretAccessKey: k.SecretAccessKey}
	c.waitForKey(t, creds)
	return creds
}

// waitForKey waits until the API's cache knows the key.
func (c *Cloud) waitForKey(t testing.TB, creds Credentials) {
	t.Helper()
	cl := c.EC2(creds)
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := cl.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("the EC2 API never accepted the key %s", creds.AccessKeyID)
	}
}

// EC2 returns an aws-sdk-go-v2 EC2 client for the credentials, sending its calls through
// sdkhttp (whose client reads every answer in full).
func (c *Cloud) EC2(creds Credentials) *ec2.Client {
	return ec2.New(ec2.Options{
		BaseEndpoint: aws.String(c.EC2URL),
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
		HTTPClient:   sdkhttp.New(),
	})
}

// S3 returns a minio-go client for the credentials.
func (c *Cloud) S3(t testing.TB, creds Credentials) *minio.Client {
	t.Helper()
	mc, err := minio.New(c.S3URL[len("http://"):], &minio.Options{
		Creds: miniocreds.NewStaticV4(creds.AccessKeyID, creds.SecretAccessKey, ""), Region: Region,
	})
	if err != nil {
		t.Fatal(err)
	}
	return mc
}

// Node is a simulated hypervisor: a real node agent on its own libvirt test-driver connection,
// which outlives agent restarts as libvirtd outlives a node agent. The agent acts as its node's
// own identity (testenv.NodeUser in testenv.NodeAgentsGroup), under the node agents' role and
// admission policies, as on a real cloud.
type Node struct {
	Name string
	Conn *libvirt.Conn
	// StorageNet is the storage network of a storage or compute node (AddStorageNode,
	// AddComputeNode); nil on others.
	StorageNet *aoetest.Pair
	cfg        nodeagent.Config
	env        *testenv.Env
	rest       *rest.Config
	cancel     context.CancelFunc
	done       chan error
}

// AddNode starts a simulated hypervisor and waits until it is ready.
func (c *Cloud) AddNode(t testing.TB, name, zone string, vcpus int32, memMiB int64) *Node {
	t.Helper()
	return c.AddNodeWith(t, name, zone, vcpus, memMiB, nil)
}

// AddNetworkNode starts a simulated hypervisor whose agent builds a tenant datapath as net says
// (in network namespaces the test made) and waits until it is ready.
func (c *Cloud) AddNetworkNode(t testing.TB, name, zone string, vcpus int32, memMiB int64, net nodeagent.NetworkConfig) *Node {
	t.Helper()
	return c.AddNodeWith(t, name, zone, vcpus, memMiB, func(cfg *nodeagent.Config) { cfg.Network = net })
}

// AddNodeWith is AddNode with the agent's configuration adjusted by configure (a storage role,
// a network, say) before it starts.
func (c *Cloud) AddNodeWith(t testing.TB, name, zone string, vcpus int32, memMiB int64, configure func(*nodeagent.Config)) *Node {
	t.Helper()
	dir := t.TempDir()
	nodeXML := filepath.Join(dir, "node.xml")
	if err := os.WriteFile(nodeXML, []byte("<node></node>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return c.addNode(t, dir, "test://"+nodeXML, name, zone, vcpus, memMiB, configure)
}

// AddNodeOn is AddNodeWith on a libvirt URI the test chose (a private libvirtd's, say) instead
// of a test-driver connection of the node's own.
func (c *Cloud) AddNodeOn(t testing.TB, uri, name, zone string, vcpus int32, memMiB int64, configure func(*nodeagent.Config)) *Node {
	t.Helper()
	return c.addNode(t, t.TempDir(), uri, name, zone, vcpus, memMiB, configure)
}

func (c *Cloud) addNode(t testing.TB, dir, uri, name, zone string, vcpus int32, memMiB int64, configure func(*nodeagent.Config)) *Node {
	t.Helper()
	restCfg, err := c.Env.AddUser(testenv.NodeUser(name), testenv.NodeAgentsGroup)
	if err != nil {
		t.Fatal(err)
	}
	// No client-side rate limit, as ctrl.GetConfig gives the agent in production (the API
	// server's priority and fairness limits it): client-go's default of 5 requests a second
	// would queue a node's launches behind one another.
	restCfg.QPS, restCfg.Burst = -1, 0
	if c.requests != nil {
		restCfg.Wrap(c.requests.wrap("agent"))
	}
	conn, err := libvirt.Open(c.Env.Ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{Name: name, Conn: conn, env: c.Env, rest: restCfg, cfg: nodeagent.Config{
		NodeName: name, LibvirtURI: conn.URI(), Zone: zone, VCPUs: vcpus, MemoryMiB: memMiB,
		StateDir: dir, HeartbeatInterval: 5 * time.Second, MinReportInterval: 200 * time.Millisecond,
		FactsInterval: 500 * time.Millisecond, ResyncInterval: 3 * time.Second, ShutdownGrace: 2 * time.Second,
		ObjectStoreURL: c.S3URL, Region: Region, SystemNamespace: testenv.SystemNamespace,
		ConsoleAddr: "127.0.0.1:0",
	}}
	if configure != nil {
		configure(&n.cfg)
	}
	n.Start()
	t.Cleanup(func() {
		// Cordoned first: the package's later tests share the cloud, and a node whose agent is
		// gone stays Ready until its heartbeat turns stale, long enough for a launch to land on
		// it and wait for ever.
		c.cordon(t, name)
		n.Stop()
		conn.Close()
	})
	c.waitReady(t, &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: name}})
	return n
}

// cordon makes the node's Hypervisor unschedulable, if it is still there.
func (c *Cloud) cordon(t testing.TB, name string) {
	t.Helper()
	hv := &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: name}}
	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"unschedulable":true}}`))
	if err := c.Env.Client.Patch(context.Background(), hv, patch); client.IgnoreNotFound(err) != nil {
		t.Errorf("cordoning node %s: %v", name, err)
	}
}

// Start runs the node's agent.
func (n *Node) Start() {
	ctx, cancel := context.WithCancel(n.env.Ctx)
	n.cancel, n.done = cancel, make(chan error, 1)
	go func() { n.done <- nodeagent.RunWith(ctx, n.cfg, n.rest, n.Conn) }()
}

// Stop kills the node's agent; its domains stay.
func (n *Node) Stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	<-n.done
	n.cancel = nil
}

// Domains lists the node's libvirt domains by name.
func (n *Node) Domains(t testing.TB) map[string]libvirt.Domain {
	t.Helper()
	list, err := n.Conn.List()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]libvirt.Domain{}
	for _, d := range list {
		out[d.Name] = d
	}
	return out
}

// StateDir is the node agent's state directory.
func (n *Node) StateDir() string { return n.cfg.StateDir }

func (c *Cloud) waitReady(t testing.TB, obj interface {
	client.Object
	cloudv1.ConditionsAccessor
}) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := c.Env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		return conditions.IsTrue(obj, cloudv1.ReadyCondition), nil
	})
	if err != nil {
		t.Fatalf("%T %s never became ready: %+v", obj, obj.GetName(), obj.GetConditions())
	}
}

// RegisterRawImage uploads data to a bucket of the project and registers it as a raw machine
// image (public if asked); it returns the image id once the image is available.
func (c *Cloud) RegisterRawImage(t testing.TB, creds Credentials, project, name string, data []byte, public bool) string {
	t.Helper()
	ctx := context.Background()
	mc := c.S3(t, creds)
	bucket := "raw-" + project
	if ok, _ := mc.BucketExists(ctx, bucket); !ok {
		if err := mc.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
			t.Fatalf("making bucket %s: %v", bucket, err)
		}
	}
	if _, err := mc.PutObject(ctx, bucket, name, bytesReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("uploading %s: %v", name, err)
	}
	img := &cloudv1.Image{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: project},
		Spec: cloudv1.ImageSpec{ImageLocation: bucket + "/" + name, Format: cloudv1.ImageFormatRaw,
			Type: cloudv1.ImageTypeMachine, LaunchPermission: cloudv1.LaunchPermission{Public: public}},
	}
	if err := c.Env.Client.Create(ctx, img); err != nil {
		t.Fatal(err)
	}
	c.waitReady(t, img)
	return img.Status.ImageID
}
