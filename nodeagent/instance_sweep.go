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
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/nodeagent/domainxml"
	"pinet.io/pinet/nodeagent/libvirt"
)

// orphanSweeper turns libvirt events into instance requests and, every ResyncInterval, compares
// every domain with the Instances: domains PiNet made whose instance is gone are removed, and
// instances whose domain is not what their status reports (an event missed, a domain changed
// behind the agent's back) are reconciled. Instances whose domain agrees with them are not: a
// resync of a node whose guests run as reported costs no reconcile.
type orphanSweeper struct {
	sync *instanceSync
	out  chan<- event.TypedGenericEvent[*cloudv1.Instance]
}

// NeedLeaderElection is false: each agent owns its node.
func (o *orphanSweeper) NeedLeaderElection() bool { return false }

// Start runs until ctx ends.
func (o *orphanSweeper) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("sweeper")
	ticker := time.NewTicker(o.sync.cfg.ResyncInterval)
	defer ticker.Stop()
	o.sweep(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case name := <-o.sync.virt.Events():
			if name == "" {
				logger.Info("Libvirt reconnected; resyncing every domain")
				o.sweep(ctx)
				continue
			}
			o.enqueueByInstanceID(ctx, name)
		case <-ticker.C:
			o.sweep(ctx)
		}
	}
}

func (o *orphanSweeper) enqueueByInstanceID(ctx context.Context, id string) {
	list := &cloudv1.InstanceList{}
	if err := o.sync.client.List(ctx, list, client.MatchingFields{index.InstanceID: id}); err != nil {
		log.FromContext(ctx).Error(err, "Mapping a domain event to its instance", "domain", id)
		return
	}
	for i := range list.Items {
		o.out <- event.TypedGenericEvent[*cloudv1.Instance]{Object: &list.Items[i]}
	}
}

func (o *orphanSweeper) sweep(ctx context.Context) {
	logger := log.FromContext(ctx).WithName("sweeper")
	doms, err := o.sync.virt.List()
	if err != nil {
		logger.Error(err, "Listing domains")
		return
	}
	// mine are this node's domains of this cloud by name (an instance's id).
	mine := make(map[string]*libvirt.Domain, len(doms))
	for i := range doms {
		d := &doms[i]
		owner, ok := domainxml.OwnerOf(d.XML)
		if !ok || owner.Cloud != o.sync.cloudID {
			continue // not this cloud's
		}
		if owner.Node != "" && owner.Node != o.sync.cfg.NodeName {
			continue // another node's agent on the same libvirtd
		}
		mine[d.Name] = d
		if o.orphaned(ctx, owner) {
			logger.Info("Removing orphaned domain", "domain", d.Name, "instance", owner.Namespace+"/"+owner.Name)
			if err := o.sync.removeDomain(ctx, d.Name, types.UID(owner.UID)); err != nil {
				logger.Error(err, "Removing orphaned domain", "domain", d.Name)
			}
		}
	}
	list := &cloudv1.InstanceList{}
	if err := o.sync.client.List(ctx, list); err != nil {
		logger.Error(err, "Listing instances for resync")
		return
	}
	for i := range list.Items {
		inst := &list.Items[i]
		if o.sync.needsSync(ctx, inst, mine[inst.Status.InstanceID]) {
			o.out <- event.TypedGenericEvent[*cloudv1.Instance]{Object: inst}
		}
	}
	o.evictImages(ctx)
}

// evictImages trims the image cache, keeping every image an instance on the node was made from:
// each instance's directory records the images its disks and boot files came from.
func (o *orphanSweeper) evictImages(ctx context.Context) {
	used := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(o.sync.cfg.StateDir, "instances", "*", usedImagesFile))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, id := range strings.Fields(string(data)) {
			used[id] = true
		}
	}
	if _, err := o.sync.images.Evict(func(id string) bool { return used[id] }); err != nil {
		log.FromContext(ctx).Error(err, "Evicting images")
	}
}

// orphaned reports whether the domain's instance is gone or was bound elsewhere. The cache
// answers for the domains whose instance it holds here, which is every one but an orphan's: only
// those it does not show are asked of the API server (the cache may lag), so a resync costs the
// API server nothing per guest.
func (o *orphanSweeper) orphaned(ctx context.Context, owner domainxml.Owner) bool {
	key := client.ObjectKey{Namespace: owner.Namespace, Name: owner.Name}
	cached := &cloudv1.Instance{}
	if err := o.sync.client.Get(ctx, key, cached); err == nil && string(cached.UID) == owner.UID &&
		(cached.Status.Hypervisor == "" || cached.Status.Hypervisor == o.sync.cfg.NodeName) {
		return false
	}
	// The node may read only the instances bound to it (internal/nodeauthz), so it asks for the
	// instance among those: one bound elsewhere or gone is not there. An error (the API server or
	// the node authorizer not answering) keeps the domain.
	list := &cloudv1.InstanceList{}
	if err := o.sync.apiReader.List(ctx, list, client.InNamespace(owner.Namespace),
		client.MatchingLabels{cloudv1.LabelHypervisor: o.sync.cfg.NodeName},
		client.MatchingFields{"metadata.name": owner.Name}); err != nil {
		return false
	}
	for i := range list.Items {
		if string(list.Items[i].UID) == owner.UID {
			return false
		}
	}
	return true
}

// needsSync reports whether a reconcile of inst could change anything, given d, what libvirt
// shows of its domain (nil: none). It is false only when the domain is the instance's, is in the
// state the instance asks for, and the status reports it as it is, under the current spec; every
// other instance is reconciled as before. Drift that libvirt does not show (an instance's
// directory removed by hand) waits for the instance's next change or the agent's restart.
func (s *instanceSync) needsSync(ctx context.Context, inst *cloudv1.Instance, d *libvirt.Domain) bool {
	if inst.Status.Hypervisor != s.cfg.NodeName || inst.Status.InstanceID == "" {
		return false // the reconcile leaves it alone
	}
	held := controllerutil.ContainsFinalizer(inst, cloudv1.DomainFinalizer)
	if inst.Terminating() {
		return held
	}
	if !held || d == nil {
		return true
	}
	if o, ok := domainxml.OwnerOf(d.XML); !ok || o.UID != string(inst.UID) {
		return true
	}
	rep := inst.Status.Domain
	if rep == nil || rep.Name != d.Name || rep.State != d.State || rep.ShutoffReason != d.ShutoffReason ||
		rep.VCPUs != d.VCPUs || rep.MemoryMiB != d.MemoryMiB {
		return true
	}
	defined, guest := conditions.Get(inst, cloudv1.InstanceDomainDefined), conditions.Get(inst, cloudv1.InstanceGuestRunning)
	if defined == nil || defined.Status != metav1.ConditionTrue || guest == nil || guest.ObservedGeneration != inst.Generation {
		return true
	}
	if !equality.Semantic.DeepEqual(s.blockDevices(ctx, inst), inst.Status.BlockDevices) {
		return true
	}
	up := d.State == "running" || d.State == "blocked"
	switch {
	case inst.EffectiveDesiredState() == cloudv1.DesiredStopped:
		return d.State != "shutoff"
	case up:
		req := inst.Annotations[cloudv1.AnnotationRebootRequested]
		return guest.Status != metav1.ConditionTrue || (req != "" && rep.RebootRequest != req)
	default:
		// Off, or on its way: only a guest's own reported power-off stays so.
		return d.State != "shutoff" || !shutByGuest(inst)
	}
}
