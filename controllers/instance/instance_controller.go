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

// Package instance holds the Instance reconciler: it assigns EC2 ids, resolves the references an
// instance makes, admits it under its project's quota, gives it a private address of its
// project's subnet (released at termination), derives the EC2 state from the conditions the scheduler and node agent report,
// and removes terminated instances after their retention period.
package instance

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/claims"
	"pinet.io/pinet/internal/ipam"
	"pinet.io/pinet/internal/patch"
)

// DefaultTerminatedRetention is how long a terminated instance stays visible, as in EC2.
const DefaultTerminatedRetention = time.Hour

// DefaultWorkers is how many instances the controller reconciles at once by default: a launch
// passes each instance through it several times, and one worker made them queue.
const DefaultWorkers = 4

// Reconciler reconciles Instances.
type Reconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	// TerminatedRetention is how long terminated instances stay before they are deleted.
	TerminatedRetention time.Duration
	// Claims makes instance and reservation ids exclusive across the cluster.
	Claims *claims.Claimer
	// APIReader reads the API server itself, for quota admission; nil is the manager's.
	APIReader client.Reader
	// NodeLostTimeout is how long an instance being removed waits for a node that is not ready
	// before its domain is given up; 0 is DefaultNodeLostTimeout. A deleted Hypervisor is gone
	// at once.
	NodeLostTimeout time.Duration
	// Addresses hands out private addresses from the projects' subnets; nil leaves instances
	// without (tests that reconcile other phases by hand).
	Addresses *ipam.Allocator
	// Region names the cloud's region in private DNS names.
	Region string
	// Workers is how many instances are reconciled at once; 0 is DefaultWorkers. One instance is
	// never reconciled by two at once; ids, addresses and quota are claimed through the API
	// server, whose exclusivity holds between workers as between managers.
	Workers int

	// writes are this controller's instance writes its cache does not show yet.
	writes patch.Writes
}

// Kind is the kind of the objects this controller reconciles, as id claims record it.
const Kind = "Instance"

// scope holds what one reconcile found out about an instance.
type scope struct {
	instance     *cloudv1.Instance
	instanceType *cloudv1.InstanceType
	image        *cloudv1.Image
	// resolving is set when this reconcile checked the references; refErr is why they could not
	// be resolved and refReason its condition reason.
	resolving bool
	refErr    error
	refReason string
	now       metav1.Time

	// quota is what admitQuota decided.
	quota quotaDecision
	// address is what assignAddress decided.
	address addressDecision
}

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=instances,verbs=get;list;watch;update;patch;delete
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=instances/status;instances/finalizers,verbs=get;update;patch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=instancetypes;images;keypairs;securitygroups,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get

// Reconcile moves one Instance towards its spec.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (_ reconcile.Result, reterr error) {
	logger := log.FromContext(ctx)

	inst := &cloudv1.Instance{}
	if err := r.Client.Get(ctx, req.NamespacedName, inst); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if r.writes.Behind(inst) {
		// The cache has not shown this controller's last write yet; its event brings the
		// instance back.
		return reconcile.Result{}, nil
	}
	if inst.Status.Hypervisor != "" {
		logger = logger.WithValues("hypervisor", klog.KRef("", inst.Status.Hypervisor))
		ctx = log.IntoContext(ctx, logger)
	}
	if id := inst.Annotations[cloudv1.AnnotationRequestID]; id != "" {
		// The EC2 call that last changed the instance: its logs and these share the id.
		logger = logger.WithValues("requestID", id)
		ctx = log.IntoContext(ctx, logger)
	}

	if inst.DeletionTimestamp.IsZero() && !controllerutil.ContainsFinalizer(inst, cloudv1.InstanceFinalizer) {
		// Hold the instance before anything is claimed for it; the rest of this reconcile goes on
		// from the updated object, so its first status is written once.
		if err := patch.AddFinalizer(ctx, r.Client, inst, cloudv1.InstanceFinalizer); err != nil {
			return reconcile.Result{}, err
		}
	}
	helper, err := patch.NewHelper(inst, r.Client)
	if err != nil {
		return reconcile.Result{}, err
	}
	before := inst.Status.State
	s := &scope{instance: inst, now: metav1.NewTime(r.Clock.Now())}
	defer func() {
		r.updateStatus(s)
		if err := helper.Patch(ctx, inst); err != nil {
			reterr = errors.Join(reterr, err)
			return
		}
		r.writes.Record(inst)
		r.recordTransition(inst, before)
	}()

	if !inst.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, s)
	}
	if err := r.assignIDs(ctx, s); err != nil {
		return reconcile.Result{}, err
	}
	if err := r.resolveReferences(ctx, s); err != nil {
		return reconcile.Result{}, err
	}
	quotaRes, quotaErr := r.admitQuota(ctx, s)
	r.reconcileGuestShutdown(ctx, s)
	addrErr := r.assignAddress(ctx, s)
	volErr := r.reconcileLaunchVolumes(ctx, s)
	res, err := r.reconcileRetention(ctx, s)
	return soonest(res, quotaRes), errors.Join(err, quotaErr, addrErr, volErr)
}

// reconcileDelete releases what the instance holds. The node agent removes its domain finalizer
// once the domain is gone; only then does the instance's own finalizer go. A node gone for good
// cannot: its domain is given up (releaseLostDomain).
func (r *Reconciler) reconcileDelete(ctx context.Context, s *scope) (reconcile.Result, error) {
	inst := s.instance
	if err := r.deleteLaunchVolumes(ctx, inst); err != nil {
		return reconcile.Result{}, err
	}
	res, err := r.releaseLostDomain(ctx, s)
	if err != nil {
		return res, err
	}
	if controllerutil.ContainsFinalizer(inst, cloudv1.DomainFinalizer) {
		log.FromContext(ctx).V(1).Info("Waiting for the node agent to remove the domain")
		return res, nil
	}
	if err := r.releaseAddressOnDelete(ctx, inst); err != nil {
		return reconcile.Result{}, err
	}
	if err := r.releaseIDs(ctx, inst); err != nil {
		return reconcile.Result{}, err
	}
	controllerutil.RemoveFinalizer(inst, cloudv1.InstanceFinalizer)
	return reconcile.Result{}, nil
}

// reconcileGuestShutdown makes an instance whose guest powered itself off stopped (or
// terminated, as its shutdown behavior says), as EC2 does. The spec stays as its writer left it:
// the fact goes in status.guestShutdown, which the derived state and the node agent read. A start
// request (annotation) or a spec change starts a stopped instance again. The node agent reports
// the power-off (GuestRunning=False/ShutdownByGuest) with the start request current at the time;
// a report older than the spec or than the latest start request is ignored.
func (r *Reconciler) reconcileGuestShutdown(ctx context.Context, s *scope) {
	inst := s.instance
	startRequest := inst.Annotations[cloudv1.AnnotationStartRequested]
	if gs := inst.Status.GuestShutdown; gs != nil {
		if gs.State == cloudv1.InstanceStateStopped &&
			(gs.ObservedGeneration != inst.Generation || gs.StartRequest != startRequest) {
			log.FromContext(ctx).Info("Starting an instance its guest had stopped")
			inst.Status.GuestShutdown = nil
		}
		return
	}
	c := findCondition(inst, cloudv1.InstanceGuestRunning)
	if inst.Spec.DesiredState != cloudv1.DesiredRunning || c == nil || c.Status != metav1.ConditionFalse ||
		c.Reason != cloudv1.ReasonShutdownByGuest || c.ObservedGeneration != inst.Generation ||
		inst.Status.Domain == nil || inst.Status.Domain.StartRequest != startRequest {
		return
	}
	state := cloudv1.InstanceStateStopped
	if inst.Spec.ShutdownBehavior == cloudv1.ShutdownBehaviorTerminate {
		state = cloudv1.InstanceStateTerminated
	}
	log.FromContext(ctx).Info("The guest powered itself off", "state", state)
	inst.Status.GuestShutdown = &cloudv1.GuestShutdown{
		Time: s.now, ObservedGeneration: inst.Generation, State: state, StartRequest: startRequest,
	}
	if r.Recorder != nil {
		r.Recorder.Eventf(inst, nil, "Normal", "ShutdownByGuest", "Shutdown", "The guest powered itself off; the instance is now %s", state)
	}
}

// reconcileRetention deletes a terminated instance once its retention period is over.
func (r *Reconciler) reconcileRetention(ctx context.Context, s *scope) (reconcile.Result, error) {
	inst := s.instance
	if inst.EffectiveDesiredState() != cloudv1.DesiredTerminated {
		return reconcile.Result{}, nil
	}
	if err := r.deleteLaunchVolumes(ctx, inst); err != nil {
		return reconcile.Result{}, err
	}
	if res, err := r.releaseLostDomain(ctx, s); err != nil || controllerutil.ContainsFinalizer(inst, cloudv1.DomainFinalizer) {
		return res, err
	}
	if inst.Status.TerminatedTime == nil {
		// updateStatus stamps the time; come back when the retention is over.
		return reconcile.Result{RequeueAfter: r.TerminatedRetention}, nil
	}
	remaining := inst.Status.TerminatedTime.Add(r.TerminatedRetention).Sub(s.now.Time)
	if remaining > 0 {
		return reconcile.Result{RequeueAfter: remaining}, nil
	}
	log.FromContext(ctx).Info("Deleting terminated instance after its retention period")
	if err := r.Client.Delete(ctx, inst); err != nil && !apierrors.IsNotFound(err) {
		return reconcile.Result{}, fmt.Errorf("deleting terminated instance: %w", err)
	}
	return reconcile.Result{}, nil
}

func (r *Reconciler) event(inst *cloudv1.Instance, typ, reason, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(inst, nil, typ, reason, "AssignID", note, args...)
	}
}

func (r *Reconciler) recordTransition(inst *cloudv1.Instance, before cloudv1.InstanceState) {
	after := inst.Status.State
	// A new instance's first state is no transition: its creation is the news.
	if after == before || before == "" || r.Recorder == nil {
		return
	}
	eventType := "Normal"
	if after == cloudv1.InstanceStatePending && before != "" && before != cloudv1.InstanceStateStopped {
		eventType = "Warning"
	}
	if why := inst.Status.StateReason; why != "" {
		r.Recorder.Eventf(inst, nil, eventType, stateEventReason(after), "StateChange",
			"Instance %s is %s: %s", inst.Status.InstanceID, after, why)
		return
	}
	r.Recorder.Eventf(inst, nil, eventType, stateEventReason(after), "StateChange",
		"Instance %s is %s", inst.Status.InstanceID, after)
}

func stateEventReason(s cloudv1.InstanceState) string {
	switch s {
	case cloudv1.InstanceStateRunning:
		return "Running"
	case cloudv1.InstanceStateStopped:
		return "Stopped"
	case cloudv1.InstanceStateStopping:
		return "Stopping"
	case cloudv1.InstanceStateShuttingDown:
		return "ShuttingDown"
	case cloudv1.InstanceStateTerminated:
		return "Terminated"
	default:
		return "Pending"
	}
}

// SetupWithManager registers the reconciler. It watches Instances and, for references that
// appear after the instance, InstanceTypes and Images.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.TerminatedRetention == 0 {
		r.TerminatedRetention = DefaultTerminatedRetention
	}
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.Workers <= 0 {
		r.Workers = DefaultWorkers
	}
	if r.Addresses != nil {
		if err := mgr.Add(r.AddressSweeper(DefaultAddressSweep)); err != nil {
			return fmt.Errorf("adding the address sweeper: %w", err)
		}
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&cloudv1.Instance{}).
		Watches(&cloudv1.Instance{}, agentReportsFirst()).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Workers}).
		Watches(&cloudv1.Instance{}, r.quotaReleases()).
		Watches(&cloudv1.Project{}, r.quotaChanges()).
		Watches(&cloudv1.Instance{}, r.addressReleases()).
		Watches(&cloudv1.Project{}, r.projectNetworkChanges()).
		Watches(&cloudv1.InstanceType{}, handler.EnqueueRequestsFromMapFunc(r.instancesWaitingForReferences),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&cloudv1.Image{}, handler.EnqueueRequestsFromMapFunc(r.instancesWaitingForReferences)).
		Watches(&cloudv1.KeyPair{}, handler.EnqueueRequestsFromMapFunc(r.instancesWaitingForReferences)).
		// A group is found by name or sg- id; its members changing (with every instance that gets
		// an address) resolves nothing.
		Watches(&cloudv1.SecurityGroup{}, handler.EnqueueRequestsFromMapFunc(r.instancesWaitingForReferences),
			builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, groupIDChanged()))).
		Watches(&cloudv1.Hypervisor{}, handler.EnqueueRequestsFromMapFunc(r.instancesOnLostNode),
			builder.WithPredicates(hypervisorReadinessChanged())).
		Named("instance").
		Complete(r)
}

// instancesWaitingForReferences enqueues every instance whose references are not resolved yet.
func (r *Reconciler) instancesWaitingForReferences(ctx context.Context, _ client.Object) []reconcile.Request {
	list := &cloudv1.InstanceList{}
	// Read only, so the cache's own objects: a copy of every instance per event would grow
	// with the fleet.
	if err := r.Client.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		log.FromContext(ctx).Error(err, "Listing instances waiting for references")
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		inst := &list.Items[i]
		if c := findCondition(inst, cloudv1.InstanceReferencesResolved); c == nil || c.Status != metav1.ConditionTrue {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(inst)})
		}
	}
	return reqs
}

// groupIDChanged passes a security group's id being assigned.
func groupIDChanged() predicate.Funcs {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.(*cloudv1.SecurityGroup).Status.GroupID != e.ObjectNew.(*cloudv1.SecurityGroup).Status.GroupID
	}}
}
