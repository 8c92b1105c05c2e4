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

// Package controllers wires every PiNet reconciler into a manager; the reconcilers live in one
// package per kind.
package controllers

import (
	"context"
	"fmt"
	"time"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	"pinet.io/pinet/controllers/hypervisor"
	"pinet.io/pinet/controllers/instance"
	"pinet.io/pinet/controllers/instancetype"
	"pinet.io/pinet/controllers/scheduler"
	"pinet.io/pinet/internal/index"
)

// Options tune the controllers.
type Options struct {
	// TerminatedRetention is how long terminated instances stay visible.
	TerminatedRetention time.Duration
	// HeartbeatTimeout is how long a node agent may stay silent before its node is not ready.
	HeartbeatTimeout time.Duration
	// SeedInstanceTypes creates the default instance types in a cloud that has none.
	SeedInstanceTypes bool
	// Clock is the controllers' clock; nil is the real one.
	Clock clock.PassiveClock
}

// The manager is the cloud controller: it reads every PiNet kind (its caches index them all).
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=*,verbs=get;list;watch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Setup registers the field indexes and every reconciler with mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	clk := opts.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	if err := index.Register(ctx, mgr.GetFieldIndexer()); err != nil {
		return err
	}
	c := mgr.GetClient()
	setups := []struct {
		name  string
		setup func(ctrl.Manager) error
	}{
		{"instance", (&instance.Reconciler{
			Client: c, Recorder: mgr.GetEventRecorder("pinet-instance"), Clock: clk,
			TerminatedRetention: opts.TerminatedRetention,
		}).SetupWithManager},
		{"scheduler", (&scheduler.Reconciler{
			Client: c, Recorder: mgr.GetEventRecorder("pinet-scheduler"), Clock: clk,
		}).SetupWithManager},
		{"hypervisor", (&hypervisor.Reconciler{
			Client: c, Recorder: mgr.GetEventRecorder("pinet-hypervisor"), Clock: clk,
			HeartbeatTimeout: opts.HeartbeatTimeout,
		}).SetupWithManager},
		{"instancetype", (&instancetype.Reconciler{Client: c, Clock: clk}).SetupWithManager},
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
