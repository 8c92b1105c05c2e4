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

// Package frontends adds PiNet's client-facing servers — the EC2 API, the S3 object store and the
// web dashboard — to a manager, sharing one credential store and one access reviewer.
package frontends

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/cloud"
	"pinet.io/pinet/dashboard"
	"pinet.io/pinet/ec2shim"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/authz"
	"pinet.io/pinet/internal/awsauth"
	"pinet.io/pinet/internal/consoleclient"
	"pinet.io/pinet/internal/credentials"
	"pinet.io/pinet/internal/metrics"
	"pinet.io/pinet/internal/nodeuse"
	"pinet.io/pinet/objectstore"
	"pinet.io/pinet/objectstore/fsstore"
)

// Config says where the front ends listen and what they serve.
type Config struct {
	SystemNamespace string
	Region          string
	// EC2Listener, S3Listener and DashboardListener are where the servers listen; nil disables
	// that server.
	EC2Listener, S3Listener, DashboardListener net.Listener
	// EC2Endpoint is the URL clients reach the EC2 API at; ObjectStoreURL the S3 endpoint the EC2
	// API reads image manifests from.
	EC2Endpoint, ObjectStoreURL string
	// S3DataDir holds the object store's buckets, or with S3Backend its temporary files.
	S3DataDir string
	// S3LifecycleInterval is how often the leader applies the buckets' lifecycle rules;
	// objectstore.DefaultLifecycleInterval when not positive.
	S3LifecycleInterval time.Duration
	// S3Backend, when set, is the S3-compatible cluster the object store keeps its buckets in.
	S3Backend *fsstore.S3Config
	// AuthzTTL is how long an access decision is reused.
	AuthzTTL time.Duration
	// ConsoleServiceAccount is the service account (in SystemNamespace) whose tokens the EC2 API
	// presents to node agents to read consoles; empty disables GetConsoleOutput's reads.
	ConsoleServiceAccount string
	Logger                logr.Logger
	// Metrics is where the EC2 API's and the store's metrics are registered; nil records none.
	Metrics prometheus.Registerer
	// Readiness, if set, learns when each server starts and warms the cache the servers read
	// from (the manager's /readyz).
	Readiness *Readiness
}

// Add adds the configured servers to mgr. restCfg is used once, before the manager starts, to
// read the page token key.
func Add(ctx context.Context, mgr ctrl.Manager, restCfg *rest.Config, cfg Config) error {
	creds := &credentials.Store{Client: mgr.GetClient(), SystemNamespace: cfg.SystemNamespace}
	if cfg.Readiness != nil {
		if err := mgr.Add(cacheWarmer{cache: mgr.GetCache(), scheme: mgr.GetScheme(), readiness: cfg.Readiness}); err != nil {
			return err
		}
	}
	az := &authz.Authorizer{Client: mgr.GetClient(), TTL: cfg.AuthzTTL}
	var ec2Metrics *metrics.EC2
	var s3Metrics *metrics.S3
	if cfg.Metrics != nil {
		var err error
		if ec2Metrics, err = metrics.NewEC2(cfg.Metrics); err != nil {
			return fmt.Errorf("registering the EC2 API's metrics: %w", err)
		}
		if s3Metrics, err = metrics.NewS3(cfg.Metrics); err != nil {
			return fmt.Errorf("registering the object store's metrics: %w", err)
		}
	}
	if cfg.S3Listener != nil {
		// Node agents download images and copy snapshots as their node's own user, who reaches
		// only what the node uses.
		grants := &nodeuse.StoreGrants{Cache: mgr.GetClient(), Live: mgr.GetAPIReader()}
		s3creds := &credentials.Store{Client: mgr.GetClient(), SystemNamespace: cfg.SystemNamespace, NoProject: grants.Covers}
		// The manager's cache is not running yet: read the master key directly.
		direct, err := client.New(restCfg, client.Options{Scheme: mgr.GetScheme()})
		if err != nil {
			return err
		}
		masterKey, err := EnsureSSEMasterKey(ctx, direct, cfg.SystemNamespace)
		if err != nil {
			return err
		}
		store, err := objectstore.New(objectstore.Config{
			DataDir:       cfg.S3DataDir,
			S3:            cfg.S3Backend,
			Region:        cfg.Region,
			Auth:          objectstore.VerifierAuthenticator{Verifier: &awsauth.Verifier{Store: s3creds, Service: awsauth.ServiceS3}},
			Authz:         authz.Buckets{Authorizer: az},
			Grants:        grants,
			Logger:        cfg.Logger.WithName("objectstore"),
			SSEMasterKey:  masterKey,
			SystemProject: cfg.SystemNamespace,
			Metrics:       s3Metrics,
		})
		if err != nil {
			return fmt.Errorf("creating the object store: %w", err)
		}
		if err := mgr.Add(cfg.serving("s3", func(ctx context.Context) error { return store.Serve(ctx, cfg.S3Listener) })); err != nil {
			return err
		}
		if err := mgr.Add(store.LifecycleRunner(cfg.S3LifecycleInterval)); err != nil {
			return err
		}
	}
	if cfg.EC2Listener == nil && cfg.DashboardListener == nil {
		return nil
	}
	direct, err := client.New(restCfg, client.Options{Scheme: mgr.GetScheme()})
	if err != nil {
		return err
	}
	key, err := ec2shim.PageKey(ctx, direct, cfg.SystemNamespace)
	if err != nil {
		return err
	}
	tokens, err := query.NewPageTokens(key)
	if err != nil {
		return err
	}
	var console ec2shim.ConsoleReader
	if cfg.ConsoleServiceAccount != "" {
		cs, err := kubernetes.NewForConfig(restCfg)
		if err != nil {
			return err
		}
		console = consoleReader{consoleclient.New(mgr.GetClient(), consoleclient.Credentials{
			Token: consoleclient.ServiceAccountToken(cs, cfg.SystemNamespace, cfg.ConsoleServiceAccount),
		})}
	}
	// Paged listings of instances are built from an index of them in listing order.
	order, err := cloud.RegisterInstanceOrder(ctx, mgr.GetCache())
	if err != nil {
		return err
	}
	if cfg.DashboardListener != nil {
		if err := addDashboard(mgr, cfg, cloud.Config{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Authz: az,
			Tokens: tokens, Region: cfg.Region, Endpoint: cfg.EC2Endpoint, Credentials: creds,
			ObjectStoreURL: cfg.ObjectStoreURL, Console: console, InstanceOrder: order}, creds); err != nil {
			return err
		}
	}
	if cfg.EC2Listener == nil {
		return nil
	}
	api, err := ec2shim.New(ec2shim.Config{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
		Verifier:    &awsauth.Verifier{Store: creds, Service: awsauth.ServiceEC2},
		Authz:       az,
		Credentials: creds, ObjectStoreURL: cfg.ObjectStoreURL, Console: console,
		Region: cfg.Region, Endpoint: cfg.EC2Endpoint, Tokens: tokens, InstanceOrder: order,
		Logger: cfg.Logger.WithName("ec2"), Metrics: ec2Metrics,
	})
	if err != nil {
		return err
	}
	return mgr.Add(cfg.serving("ec2", func(ctx context.Context) error { return api.Serve(ctx, cfg.EC2Listener) }))
}

// addDashboard adds the web dashboard over a cloud service built from the same parts as the EC2
// API's: the same authorizer, credential store, page tokens and console reader.
func addDashboard(mgr ctrl.Manager, cfg Config, svcCfg cloud.Config, creds *credentials.Store) error {
	svc, err := cloud.New(svcCfg)
	if err != nil {
		return err
	}
	dash, err := dashboard.New(dashboard.Config{Service: svc, Credentials: creds, Client: mgr.GetClient(),
		Writer: mgr.GetClient(), Authz: svcCfg.Authz, SystemNamespace: cfg.SystemNamespace,
		EC2Endpoint: cfg.EC2Endpoint, Logger: cfg.Logger.WithName("dashboard")})
	if err != nil {
		return err
	}
	return mgr.Add(cfg.serving("dashboard", func(ctx context.Context) error { return dash.Serve(ctx, cfg.DashboardListener) }))
}

// serving is a server every replica runs (no leader election). Its listener is open before
// the manager starts, so it counts as ready once it serves.
type serving struct {
	name      string
	serve     func(context.Context) error
	readiness *Readiness
}

func (cfg Config) serving(name string, serve func(context.Context) error) serving {
	cfg.Readiness.expect(name)
	return serving{name: name, serve: serve, readiness: cfg.Readiness}
}

func (s serving) Start(ctx context.Context) error {
	s.readiness.done(s.name)
	return s.serve(ctx)
}

func (s serving) NeedLeaderElection() bool { return false }

// consoleReader reads consoles from the node agents for the EC2 API, over one transport per node.
type consoleReader struct{ client *consoleclient.Client }

func (c consoleReader) Console(ctx context.Context, inst *cloudv1.Instance) ([]byte, time.Time, error) {
	return c.client.Read(ctx, inst)
}
