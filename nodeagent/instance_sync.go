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

package nodeagent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/lifecycle"
	"pinet.io/pinet/internal/patch"
	"pinet.io/pinet/internal/refs"
	"pinet.io/pinet/nodeagent/disks"
	"pinet.io/pinet/nodeagent/domainxml"
	"pinet.io/pinet/nodeagent/imagecache"
	"pinet.io/pinet/nodeagent/libvirt"
)

// factsSource hands the sync loop the node facts the reporter gathered.
type factsSource interface {
	Facts() *nodeFacts
}

// instanceSync realises the node's Instances as libvirt domains. Each reconcile compares the
// instance with its domain, performs at most one action, and reports what libvirt shows.
type instanceSync struct {
	client    client.Client
	apiReader client.Reader
	virt      virt
	cfg       Config
	cloudID   string
	clock     clock.PassiveClock
	recorder  events.EventRecorder
	facts     factsSource
	images    *imagecache.Cache
	// disks makes instances' disks, remembering what it found in each cached image.
	disks disks.Maker
	// volumes are the chains of attached volumes; a (re)definition keeps their disks.
	volumes *volumeChains
	// writes are this agent's instance writes its cache does not show yet.
	writes patch.Writes

	// shutdowns remembers when a graceful shutdown was asked for, per instance UID.
	mu        sync.Mutex
	shutdowns map[types.UID]time.Time
	// holds are the instances whose domain another part of the agent is acting on (a copy of
	// its disk for an image): their reconciles wait.
	holds map[types.UID]bool
}

// syncScope is one reconcile's view of an instance and its domain.
type syncScope struct {
	inst   *cloudv1.Instance
	domain *libvirt.Domain
	// actionReason and actionMsg describe the failure of this reconcile's action for the
	// conditions; details go to events and logs.
	actionReason string
	actionMsg    string
	// rebooted is the reboot request this reconcile carried out.
	rebooted string
	// poweredOff is set when this reconcile found that the guest powered itself off.
	poweredOff bool
	// started is set when this reconcile started the domain.
	started bool
	// defined is set when this reconcile defined the domain.
	defined bool
	// released is set when this reconcile removed the domain and lets the instance go: its
	// status is the instance controller's from then on.
	released bool
	// madeRunning is set when this reconcile's report makes the instance running.
	madeRunning bool
	now         metav1.Time
}

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=instances,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=instances/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=instancetypes;images;keypairs,verbs=get;list;watch
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=hypervisors,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=cloud.pinet.io,resources=hypervisors/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get,resourceNames=kube-system
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one instance's domain in line with the instance.
func (s *instanceSync) Reconcile(ctx context.Context, req reconcile.Request) (_ reconcile.Result, reterr error) {
	inst := &cloudv1.Instance{}
	if err := s.client.Get(ctx, req.NamespacedName, inst); err != nil {
		// A vanished instance's domain, if any, is removed by the orphan sweep.
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if inst.Status.Hypervisor != s.cfg.NodeName {
		return reconcile.Result{}, nil
	}
	if inst.Status.InstanceID == "" {
		return reconcile.Result{}, nil // the instance controller has not named it yet
	}
	if !s.enter(inst.UID) {
		// The domain is being worked on (its disk copied); the end of that brings it back.
		return reconcile.Result{RequeueAfter: heldRecheck}, nil
	}
	defer s.leave(inst.UID)
	if s.writes.Behind(inst) {
		// The cache has not shown this agent's last write yet; its event brings the instance back.
		return reconcile.Result{}, nil
	}

	removing := inst.Terminating()
	if removing && !controllerutil.ContainsFinalizer(inst, cloudv1.DomainFinalizer) {
		// Let go (or never held): the instance controller reports a terminated instance's
		// missing domain, so a report of this agent's would only be a second write.
		return reconcile.Result{}, nil
	}
	if !removing && !controllerutil.ContainsFinalizer(inst, cloudv1.DomainFinalizer) {
		// The scheduler holds the instance for this agent when it binds it; one bound without
		// (by an older scheduler) is held here before anything exists in libvirt, so it can't
		// vanish while its domain lives. The rest of this reconcile goes on from the updated
		// object.
		if err := patch.AddFinalizer(ctx, s.client, inst, cloudv1.DomainFinalizer); err != nil {
			return reconcile.Result{}, err
		}
	}
	helper, err := patch.NewHelper(inst, s.client)
	if err != nil {
		return reconcile.Result{}, err
	}
	sc := &syncScope{inst: inst, now: metav1.NewTime(s.clock.Now())}
	defer func() {
		if !sc.released {
			if err := s.report(ctx, sc); err != nil {
				reterr = errors.Join(reterr, err)
			}
		}
		if sc.madeRunning {
			// Running is decided from the spec and the deletion this agent read: a user's
			// stop or terminate since must not be overwritten. Refused, the next reconcile
			// reports from the newer object.
			helper.LockStatus()
		}
		if err := helper.Patch(ctx, inst); err != nil {
			reterr = errors.Join(reterr, err)
			return
		}
		s.writes.Record(inst)
		if sc.madeRunning {
			s.event(inst, "Normal", "Running", "StateChange", "Instance %s is %s", inst.Status.InstanceID, cloudv1.InstanceStateRunning)
		}
	}()

	if removing {
		return s.reconcileRemove(ctx, sc)
	}
	if err := s.observe(sc); err != nil {
		return reconcile.Result{}, err
	}
	// The domain's files (console log, later disks) live here; libvirt will not create it.
	if err := ensureInstanceDir(s.instanceDir(inst.Status.InstanceID), inst.UID); err != nil {
		return reconcile.Result{}, err
	}
	if sc.domain == nil {
		if wait, err := s.awaitLaunchVolumes(ctx, sc); err != nil || wait > 0 {
			sc.actionReason, sc.actionMsg = cloudv1.ReasonWaitingForVolumes, "Waiting for the volumes made for the instance to be exported"
			return reconcile.Result{RequeueAfter: wait}, err
		}
		// A new domain is defined and, unless the instance is to stay stopped, started in the
		// same reconcile: one launch, one status report.
		if err := s.define(ctx, sc); err != nil || sc.actionReason != "" {
			return reconcile.Result{}, err
		}
		if err := s.observe(sc); err != nil || sc.domain == nil {
			return reconcile.Result{}, err
		}
		sc.defined = true
	}
	switch inst.EffectiveDesiredState() {
	case cloudv1.DesiredStopped:
		return s.stop(ctx, sc)
	default:
		return s.start(ctx, sc)
	}
}

// observe reads the instance's domain from libvirt into the scope.
func (s *instanceSync) observe(sc *syncScope) error {
	d, err := s.virt.Lookup(sc.inst.Status.InstanceID)
	switch {
	case errors.Is(err, libvirt.ErrNotFound):
		sc.domain = nil
		return nil
	case err != nil:
		return err
	}
	if o, ok := domainxml.OwnerOf(d.XML); !ok || o.Cloud != s.cloudID || o.UID != string(sc.inst.UID) {
		return fmt.Errorf("domain %s exists but belongs to another object", d.Name)
	}
	sc.domain = &d
	return nil
}

// define writes the domain definition: it fetches the image (and kernel and ramdisk) into the
// node's cache, makes the instance's disks, and defines (or redefines, for a stopped instance whose
// type changed) the domain.
func (s *instanceSync) define(ctx context.Context, sc *syncScope) error {
	inst := sc.inst
	// The type it was given: a changed spec.instanceType is the scheduler's to give.
	it, err := refs.InstanceType(ctx, s.client, inst.GivenInstanceType())
	if err != nil {
		sc.actionReason, sc.actionMsg = cloudv1.ReasonInstanceTypeNotFound, err.Error()
		if errors.Is(err, refs.ErrNotFound) {
			return nil // watched: the type's return brings the instance back
		}
		return err
	}
	f := s.facts.Facts()
	if f == nil {
		return errors.New("host facts not gathered yet")
	}
	boot, err := s.prepare(ctx, sc, it)
	if err != nil || boot == nil {
		return err
	}
	spec := domainxml.Spec{
		Name: inst.Status.InstanceID,
		UUID: string(inst.UID),
		Owner: domainxml.Owner{
			Cloud: s.cloudID, Namespace: inst.Namespace, Name: inst.Name, UID: string(inst.UID), InstanceID: inst.Status.InstanceID,
			Node: s.cfg.NodeName,
		},
		VCPUs:      it.Spec.VCPUs,
		MemoryMiB:  it.Spec.MemoryMiB,
		ConsoleLog: s.consoleLog(inst),
		Disks:      boot.disks,
		Kernel:     boot.kernel,
		Initrd:     boot.initrd,
		Cmdline:    boot.cmdline,
		Volumes:    s.volumeDisks(ctx, inst, sc.domain == nil || !qemuHolds(sc.domain.State)),
	}
	if s.cfg.Network.Enabled() && inst.Status.MACAddress != "" {
		// A plain tap: the network sync moves it into the datapath and onto its segment's bridge.
		spec.NICs = []domainxml.NIC{{MAC: inst.Status.MACAddress, Tap: TapName(inst.Status.InstanceID)}}
	}
	host := domainxml.Host{DomainType: string(f.domainType)}
	if f.domainType != cloudv1.DomainTypeTest {
		host.Machine = "q35"
	}
	dom, err := domainxml.Convert(spec, host)
	if err != nil {
		return err
	}
	x, err := domainxml.Marshal(dom)
	if err != nil {
		return err
	}
	if sc.domain != nil && sc.domain.XML != "" && sameDefinition(sc.domain, spec) {
		return nil
	}
	log.FromContext(ctx).Info("Defining domain", "domain", spec.Name)
	if err := s.virt.Define(x); err != nil {
		sc.actionReason, sc.actionMsg = cloudv1.ReasonDefineFailed, "Defining the domain failed; see the instance's events and the node agent's log"
		s.event(inst, "Warning", "FailedDefine", "Define", "Defining domain failed: %v", err)
		return err
	}
	if sc.domain == nil && inst.EffectiveDesiredState() == cloudv1.DesiredStopped {
		// Otherwise the start that follows reports both.
		s.event(inst, "Normal", "Defined", "Define", "Defined domain %s", spec.Name)
	}
	return nil
}

// qemuHolds reports whether a domain in state has a QEMU process holding its disks.
func qemuHolds(state string) bool {
	switch state {
	case "running", "blocked", "paused", "shutdown":
		return true
	}
	return false
}

// sameDefinition reports whether the domain already has the spec's size and network interfaces,
// so a start need not redefine it.
func sameDefinition(d *libvirt.Domain, spec domainxml.Spec) bool {
	for _, nic := range spec.NICs {
		// A domain defined before the node had a network (or with another MAC) gets its NIC.
		if !strings.Contains(d.XML, nic.MAC) || !strings.Contains(d.XML, nic.Tap) {
			return false
		}
	}
	return d.VCPUs == spec.VCPUs && d.MemoryMiB == int64(spec.MemoryMiB)
}

// instanceDir holds an instance's files on this node: console log, and later its disks.
func (s *instanceSync) instanceDir(instanceID string) string {
	return filepath.Join(s.cfg.StateDir, "instances", instanceID)
}

func (s *instanceSync) consoleLog(inst *cloudv1.Instance) string {
	return filepath.Join(s.instanceDir(inst.Status.InstanceID), "console.log")
}

// start boots the domain unless it runs, and carries out a requested reboot of a running one.
// A guest that powered itself off is not started again: the instance controller makes that
// instance stopped (or terminated), as EC2 does.
func (s *instanceSync) start(ctx context.Context, sc *syncScope) (reconcile.Result, error) {
	if sc.domain.State == "running" || sc.domain.State == "blocked" {
		s.forgetShutdown(sc.inst.UID)
		return reconcile.Result{}, s.rebootIfAsked(ctx, sc)
	}
	if sc.domain.State == "shutdown" {
		// The guest is powering off: QEMU has reported it and libvirt is ending the process,
		// which can take seconds on a loaded node. Starting it now would fail ("already
		// running"), and the report of this state is what lets the next reconcile tell a
		// guest's power-off from a stop. libvirt's stopped event brings the instance back;
		// the requeue covers a missed one.
		return reconcile.Result{RequeueAfter: shuttingDownRecheck}, nil
	}
	if s.noticePowerOff(ctx, sc) {
		return reconcile.Result{}, nil
	}
	if sc.domain.State == "shutoff" && shutByGuest(sc.inst) {
		// Reported, and neither the spec nor a start request has changed since: the instance
		// controller is about to mark it stopped; it stays off.
		sc.actionReason, sc.actionMsg = cloudv1.ReasonShutdownByGuest, "The guest powered itself off"
		return reconcile.Result{}, nil
	}
	s.forgetShutdown(sc.inst.UID)
	if sc.inst.ResizeWaiting() {
		// Started with its old size it would run as a type it no longer shows; the scheduler's
		// decision (status.instanceType, or Resized=False) brings the instance back.
		sc.actionReason, sc.actionMsg = cloudv1.ReasonWaitingForResize, resizeWaitMessage(sc.inst)
		return reconcile.Result{}, nil
	}
	// A stopped instance's type may have changed: bring the definition up to date first.
	if !sc.defined {
		if err := s.define(ctx, sc); err != nil || sc.actionReason != "" {
			return reconcile.Result{}, err
		}
	}
	name := sc.domain.Name
	log.FromContext(ctx).Info("Starting domain", "domain", name)
	if err := s.virt.Start(name); err != nil {
		sc.actionReason, sc.actionMsg = cloudv1.ReasonStartFailed, "Starting the domain failed; see the instance's events and the node agent's log"
		s.event(sc.inst, "Warning", "FailedStart", "Start", "Starting domain failed: %v", err)
		return reconcile.Result{}, err
	}
	sc.started = true
	_ = os.Remove(copyMarker(s, name))
	// A start that makes the instance running is told by the instance controller's Running
	// event and by status.domain; only a start the state does not show (a domain started again
	// under an instance that stays running) gets an event of its own: one write less for
	// every launched instance.
	if sc.inst.Status.State == cloudv1.InstanceStateRunning {
		s.event(sc.inst, "Normal", "Started", "Start", "Started domain %s again", name)
	}
	return reconcile.Result{}, nil
}

// resizeWaitMessage says what a start waits for: the scheduler's decision on the instance's new
// type, or the room it found missing.
func resizeWaitMessage(inst *cloudv1.Instance) string {
	msg := fmt.Sprintf("Waiting for instance type %s to be given (it has %s)", inst.Spec.InstanceType, inst.Status.InstanceType)
	if c := conditions.Get(inst, cloudv1.InstanceResized); c != nil && c.Status == metav1.ConditionFalse {
		msg += ": " + c.Message
	}
	return msg
}

// noticePowerOff recognises, in the domain just observed, that the guest of a running instance
// powered itself off: libvirt shows the domain shut off with reason "shutdown" while the agent
// last reported it up (or started it in this reconcile), and the agent did not ask for the
// shutdown itself (a stop the user took back at once). It is asked when the reconcile decides
// and again when it reports, since the guest may go off in between: a report of that domain as
// merely shut off would make the next reconcile take it for a stopped domain and boot it again.
func (s *instanceSync) noticePowerOff(ctx context.Context, sc *syncScope) bool {
	d, last := sc.domain, sc.inst.Status.Domain
	switch {
	case sc.poweredOff:
		return true
	case d == nil || d.State != "shutoff" || d.ShutoffReason != "shutdown":
		return false
	case !sc.inst.DeletionTimestamp.IsZero() || sc.inst.EffectiveDesiredState() == cloudv1.DesiredStopped ||
		sc.inst.EffectiveDesiredState() == cloudv1.DesiredTerminated:
		return false
	case !sc.started && (last == nil || !guestWasUp(last.State)):
		return false
	case s.shutdownPending(sc.inst.UID), s.shutForCopy(sc.inst.Status.InstanceID):
		return false
	}
	log.FromContext(ctx).Info("The guest powered itself off", "domain", d.Name)
	sc.actionReason, sc.actionMsg = cloudv1.ReasonShutdownByGuest, "The guest powered itself off"
	sc.poweredOff = true
	s.event(sc.inst, "Normal", "ShutdownByGuest", "Observe", "The guest powered itself off")
	return true
}

// report observes the domain as it is at the end of the reconcile and writes what it shows
// into the instance's status.
func (s *instanceSync) report(ctx context.Context, sc *syncScope) error {
	if err := s.observe(sc); err != nil {
		return err
	}
	s.noticePowerOff(ctx, sc)
	return s.updateStatus(ctx, sc)
}

// shuttingDownRecheck is how soon a domain seen powering off is looked at again.
const shuttingDownRecheck = 2 * time.Second

// guestWasUp reports whether a domain reported in state was up (running, or on its way off), so
// that its being shut off with reason "shutdown" now is the guest's own power-off.
func guestWasUp(state string) bool {
	return state == "running" || state == "blocked" || state == "shutdown"
}

// shutByGuest is true when this agent reported the guest's power-off under the current spec and
// start request.
func shutByGuest(inst *cloudv1.Instance) bool {
	c := conditions.Get(inst, cloudv1.InstanceGuestRunning)
	return c != nil && c.Status == metav1.ConditionFalse && c.Reason == cloudv1.ReasonShutdownByGuest &&
		c.ObservedGeneration == inst.Generation && inst.Status.Domain != nil &&
		inst.Status.Domain.StartRequest == inst.Annotations[cloudv1.AnnotationStartRequested]
}

// rebootIfAsked reboots a running guest once per reboot request.
func (s *instanceSync) rebootIfAsked(ctx context.Context, sc *syncScope) error {
	req := sc.inst.Annotations[cloudv1.AnnotationRebootRequested]
	if req == "" || (sc.inst.Status.Domain != nil && sc.inst.Status.Domain.RebootRequest == req) {
		return nil
	}
	log.FromContext(ctx).Info("Rebooting domain", "domain", sc.domain.Name)
	if err := s.virt.Reboot(sc.domain.Name); err != nil {
		return fmt.Errorf("rebooting %s: %w", sc.domain.Name, err)
	}
	sc.rebooted = req
	s.event(sc.inst, "Normal", "Rebooted", "Reboot", "Rebooted domain %s", sc.domain.Name)
	return nil
}

// stop asks the guest to power off and destroys it once the grace period is over.
func (s *instanceSync) stop(ctx context.Context, sc *syncScope) (reconcile.Result, error) {
	if sc.domain.State == "shutoff" {
		s.forgetShutdown(sc.inst.UID)
		return reconcile.Result{}, nil
	}
	asked, ok := s.shutdownAsked(sc.inst.UID, sc.now.Time)
	if !ok {
		log.FromContext(ctx).Info("Shutting down domain", "domain", sc.domain.Name)
		if err := s.virt.Shutdown(sc.domain.Name); err != nil && !errors.Is(err, libvirt.ErrNotFound) {
			log.FromContext(ctx).V(1).Info("Graceful shutdown refused; destroying", "error", err.Error())
			return reconcile.Result{}, s.destroy(ctx, sc)
		}
		return reconcile.Result{RequeueAfter: s.cfg.ShutdownGrace}, nil
	}
	if left := s.cfg.ShutdownGrace - sc.now.Sub(asked); left > 0 {
		return reconcile.Result{RequeueAfter: left}, nil
	}
	log.FromContext(ctx).Info("Guest did not power off in time; destroying", "domain", sc.domain.Name)
	return reconcile.Result{}, s.destroy(ctx, sc)
}

func (s *instanceSync) destroy(ctx context.Context, sc *syncScope) error {
	if err := s.virt.Destroy(sc.domain.Name); err != nil && !errors.Is(err, libvirt.ErrNotFound) {
		return err
	}
	s.forgetShutdown(sc.inst.UID)
	return nil
}

// reconcileRemove destroys and undefines the domain, then lets the instance go.
func (s *instanceSync) reconcileRemove(ctx context.Context, sc *syncScope) (reconcile.Result, error) {
	if !controllerutil.ContainsFinalizer(sc.inst, cloudv1.DomainFinalizer) {
		return reconcile.Result{}, nil
	}
	if err := s.removeDomain(ctx, sc.inst.Status.InstanceID, sc.inst.UID); err != nil {
		return reconcile.Result{}, err
	}
	s.forgetShutdown(sc.inst.UID)
	// No event and no report: the instance controller's terminated status (conditions saying
	// the domain is gone) and Terminated event, or the instance's deletion, follow the
	// finalizer's removal at once.
	controllerutil.RemoveFinalizer(sc.inst, cloudv1.DomainFinalizer)
	sc.released = true
	return reconcile.Result{}, nil
}

// removeDomain destroys and undefines the domain of the object with uid and removes its files; a
// missing domain is already removed. A domain or files of that name that belong to another object
// (its recorded owner UID is not uid) are left alone.
func (s *instanceSync) removeDomain(ctx context.Context, name string, uid types.UID) error {
	d, err := s.virt.Lookup(name)
	switch {
	case errors.Is(err, libvirt.ErrNotFound):
	case err != nil:
		return fmt.Errorf("looking up domain %s: %w", name, err)
	default:
		if o, ok := domainxml.OwnerOf(d.XML); !ok || o.Cloud != s.cloudID || o.UID != string(uid) {
			log.FromContext(ctx).Info("Leaving a domain of the same name that belongs to another object", "domain", name)
			return removeInstanceDir(s.instanceDir(name), uid)
		}
		log.FromContext(ctx).Info("Removing domain", "domain", name)
		if err := s.virt.Destroy(name); err != nil && !errors.Is(err, libvirt.ErrNotFound) {
			return fmt.Errorf("destroying domain %s: %w", name, err)
		}
		if err := s.virt.Undefine(name); err != nil && !errors.Is(err, libvirt.ErrNotFound) {
			return fmt.Errorf("undefining domain %s: %w", name, err)
		}
	}
	if err := removeInstanceDir(s.instanceDir(name), uid); err != nil {
		return fmt.Errorf("removing the files of %s: %w", name, err)
	}
	return nil
}

// heldRecheck is how soon an instance held by another part of the agent is looked at again.
const heldRecheck = 2 * time.Second

// enter marks the instance's domain as being acted on by a reconcile, unless someone else holds
// it. Workers never reconcile one instance twice at once, so a hold that fails is a hold's.
func (s *instanceSync) enter(uid types.UID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holds[uid] {
		return false
	}
	if s.holds == nil {
		s.holds = map[types.UID]bool{}
	}
	s.holds[uid] = true
	return true
}

func (s *instanceSync) leave(uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.holds, uid)
}

// hold takes the instance's domain from the reconciles for the time of fn: it waits for one
// under way to end (or ctx), and reconciles while fn runs wait for it.
func (s *instanceSync) hold(ctx context.Context, uid types.UID, fn func() error) error {
	for !s.enter(uid) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	defer s.leave(uid)
	return fn()
}

func (s *instanceSync) shutdownAsked(uid types.UID, now time.Time) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.shutdowns[uid]; ok {
		return t, true
	}
	if s.shutdowns == nil {
		s.shutdowns = map[types.UID]time.Time{}
	}
	s.shutdowns[uid] = now
	return now, false
}

// shutdownPending reports whether this agent asked the instance's guest to shut down and has
// not seen it off yet.
func (s *instanceSync) shutdownPending(uid types.UID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.shutdowns[uid]
	return ok
}

func (s *instanceSync) forgetShutdown(uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.shutdowns, uid)
}

func (s *instanceSync) event(inst *cloudv1.Instance, typ, reason, action, note string, args ...any) {
	if s.recorder != nil {
		s.recorder.Eventf(inst, nil, typ, reason, action, note, args...)
	}
}

// updateStatus reports the domain and the agent's conditions: DomainDefined and GuestRunning.
func (s *instanceSync) updateStatus(ctx context.Context, sc *syncScope) error {
	inst, d, now := sc.inst, sc.domain, sc.now
	inst.Status.BlockDevices = s.blockDevices(ctx, inst)
	if d == nil {
		inst.Status.Domain = nil
		reason, msg := cloudv1.ReasonDomainMissing, "No domain is defined"
		if sc.actionReason != "" {
			reason, msg = sc.actionReason, sc.actionMsg
		} else if inst.Terminating() {
			reason, msg = cloudv1.ReasonTerminated, "The domain was removed"
		}
		conditions.MarkFalse(inst, cloudv1.InstanceDomainDefined, reason, msg, now)
		conditions.MarkFalse(inst, cloudv1.InstanceGuestRunning, reason, msg, now)
		return nil
	}
	ds := &cloudv1.DomainStatus{Name: d.Name, State: d.State, ShutoffReason: d.ShutoffReason, VCPUs: d.VCPUs, MemoryMiB: d.MemoryMiB}
	if prev := inst.Status.Domain; prev != nil {
		ds.StartTime, ds.RebootRequest, ds.StartRequest = prev.StartTime, prev.RebootRequest, prev.StartRequest
	}
	if sc.poweredOff {
		ds.StartRequest = inst.Annotations[cloudv1.AnnotationStartRequested]
	}
	if sc.rebooted != "" {
		ds.RebootRequest = sc.rebooted
	}
	// A domain being shut down still runs its guest until libvirt reports it off.
	running := d.State == "running" || d.State == "blocked" || d.State == "shutdown"
	if running && (inst.Status.Domain == nil || inst.Status.Domain.State != d.State || ds.StartTime == nil) &&
		!conditions.IsTrue(inst, cloudv1.InstanceGuestRunning) {
		// The cache may not show this agent's last report yet; the start time is the first one
		// reported for the running domain, so ask the API server before writing a new one —
		// unless this reconcile defined the domain: no start of it can have been reported, and a
		// launch waits for no extra round trip.
		var start *metav1.Time
		if !sc.defined {
			var err error
			if start, err = s.reportedStart(ctx, inst, d.Name); err != nil {
				return err
			}
		}
		ds.StartTime = cmp.Or(start, &now)
	}
	inst.Status.Domain = ds
	conditions.MarkTrue(inst, cloudv1.InstanceDomainDefined, cloudv1.ReasonDomainDefined,
		fmt.Sprintf("Domain %s is defined on %s", d.Name, s.cfg.NodeName), now)
	switch {
	case running:
		conditions.MarkTrue(inst, cloudv1.InstanceGuestRunning, cloudv1.ReasonRunning, "", now)
	case sc.actionReason != "":
		conditions.MarkFalse(inst, cloudv1.InstanceGuestRunning, sc.actionReason, sc.actionMsg, now)
	case inst.EffectiveDesiredState() == cloudv1.DesiredStopped:
		conditions.MarkFalse(inst, cloudv1.InstanceGuestRunning, cloudv1.ReasonStopped, "The domain is "+d.State, now)
	default:
		conditions.MarkFalse(inst, cloudv1.InstanceGuestRunning, cloudv1.ReasonLaunching, "The domain is "+d.State, now)
	}
	makeRunning(sc)
	return nil
}

// makeRunning makes the instance running in the report that shows its guest running, when the
// state the instance controller derives (lifecycle.State) would be running: the controller's own
// write of it, right after this report, would be one more write per launched instance. The rest
// of the state's changes stay the controller's.
func makeRunning(sc *syncScope) {
	inst := sc.inst
	if inst.Status.State == cloudv1.InstanceStateRunning {
		return
	}
	if state, _ := lifecycle.State(inst); state != cloudv1.InstanceStateRunning {
		return
	}
	inst.Status.State = cloudv1.InstanceStateRunning
	inst.Status.StateReason = ""
	conditions.MarkTrue(inst, cloudv1.ReadyCondition, cloudv1.ReasonRunning, "", sc.now)
	sc.madeRunning = true
}

// reportedStart returns the start time the API server holds for the domain if it is reported
// running there, or nil.
func (s *instanceSync) reportedStart(ctx context.Context, inst *cloudv1.Instance, domain string) (*metav1.Time, error) {
	live := &cloudv1.Instance{}
	if err := s.apiReader.Get(ctx, client.ObjectKeyFromObject(inst), live); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	if live.UID != inst.UID || live.Status.Domain == nil || live.Status.Domain.Name != domain ||
		!conditions.IsTrue(live, cloudv1.InstanceGuestRunning) {
		return nil, nil
	}
	return live.Status.Domain.StartTime, nil
}

// setupWithManager wires the two inputs — Instance changes and libvirt domain events, plus a
// periodic full resync — into one queue.
func (s *instanceSync) setupWithManager(mgr ctrl.Manager) error {
	domainEvents := make(chan event.TypedGenericEvent[*cloudv1.Instance], 1024)
	sweeper := &orphanSweeper{sync: s, out: domainEvents}
	if err := mgr.Add(sweeper); err != nil {
		return err
	}
	// An image becoming available (or a type or key pair changing) moves instances waiting on it.
	allInstances := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
		list := &cloudv1.InstanceList{}
		if err := s.client.List(ctx, list); err != nil {
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(list.Items))
		for i := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
		return reqs
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("nodeagent-instance").
		For(&cloudv1.Instance{}).
		Watches(&cloudv1.Image{}, allInstances).
		Watches(&cloudv1.InstanceType{}, allInstances).
		Watches(&cloudv1.KeyPair{}, allInstances).
		Watches(&cloudv1.Volume{}, s.instancesOfVolume()).
		WatchesRawSource(source.Channel(domainEvents, &handler.TypedEnqueueRequestForObject[*cloudv1.Instance]{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Complete(s)
}
