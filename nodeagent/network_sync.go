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
	"maps"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/refs"
	"pinet.io/pinet/nodeagent/metadata"
	"pinet.io/pinet/nodeagent/netdev"
	"pinet.io/pinet/nodeagent/netfilter"
)

// +kubebuilder:rbac:groups=cloud.pinet.io,resources=securitygroups,verbs=get;list;watch

// networkSync converges the node's tenant datapath — segment bridges, guests' ports, DHCP, the
// metadata service and the packet filter — from the Instances bound to the node, their security
// groups and key pairs, and the other nodes' underlay addresses. Every change anywhere leads to
// one whole-node converge (one queue key), so the datapath never mixes two views of the cloud.
type networkSync struct {
	client  client.Client
	peers   client.Reader
	cfg     Config
	devices *netdev.Manager
	filter  *netfilter.Filter
	nsFile  *os.File
	mover   *tapMover
	dhcp    *dhcpServers
	guests  *guestDirectory
}

// networkKey is the single request every input maps to.
var networkKey = reconcile.Request{NamespacedName: types.NamespacedName{Name: "node-network"}}

// newNetworkSync opens the datapath's namespace, prepares it and starts the metadata server; the
// servers stop when ctx ends, and wg waits for them. The caller closes it once no converge runs.
func newNetworkSync(ctx context.Context, cfg Config, c client.Client, wg *sync.WaitGroup) (*networkSync, error) {
	ncfg := cfg.Network
	if err := prepareDatapathNS(ncfg.DatapathNetNS); err != nil {
		return nil, err
	}
	nsPath := cmp.Or(ncfg.DatapathNetNS, "/proc/self/ns/net")
	nsFile, err := os.Open(nsPath)
	if err != nil {
		return nil, fmt.Errorf("opening the datapath's network namespace: %w", err)
	}
	s := &networkSync{client: c, cfg: cfg, nsFile: nsFile, guests: &guestDirectory{},
		filter: netfilter.New(int(nsFile.Fd())),
		dhcp:   &dhcpServers{netNS: ncfg.DatapathNetNS, ctx: ctx, wg: wg, run: map[int32]*runningDHCP{}}}
	if s.devices, err = netdev.Open(ncfg.DatapathNetNS); err != nil {
		nsFile.Close()
		return nil, err
	}
	if ncfg.DatapathNetNS != "" {
		if s.mover, err = newTapMover(ncfg.LibvirtNetNS, ncfg.DatapathNetNS); err != nil {
			s.close()
			return nil, err
		}
	}
	ln, err := listenMetadata(ncfg.DatapathNetNS, ncfg.metadataPort())
	if err != nil {
		s.close()
		return nil, fmt.Errorf("metadata server: %w", err)
	}
	md, err := metadata.New(metadata.Config{Lookup: s.guests})
	if err != nil {
		ln.Close()
		s.close()
		return nil, err
	}
	wg.Go(func() {
		if err := md.Serve(ctx, ln); err != nil {
			log.FromContext(ctx).Error(err, "Metadata server stopped")
		}
	})
	return s, nil
}

func (s *networkSync) close() {
	s.mover.close()
	if s.devices != nil {
		s.devices.Close()
	}
	s.nsFile.Close()
}

// Reconcile converges the whole node.
func (s *networkSync) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	logger := log.FromContext(ctx)
	list := &cloudv1.InstanceList{}
	if err := s.client.List(ctx, list); err != nil {
		return reconcile.Result{}, fmt.Errorf("listing the node's instances: %w", err)
	}
	var guests []guestNet
	for i := range list.Items {
		if g, ok := guestNetOf(&list.Items[i], s.cfg.NodeName); ok {
			guests = append(guests, g)
		}
	}
	peers, err := s.peerIPs(ctx)
	if err != nil {
		return reconcile.Result{}, err
	}
	plan, skipped := planNodeNet(s.cfg.Network, guests, peers)
	if len(skipped) > 0 {
		logger.Info("Instances whose segment disagrees with another's are left without a network", "instances", skipped)
	}
	taps := make([]string, 0, len(plan.devices.Ports))
	for _, p := range plan.devices.Ports {
		taps = append(taps, p.Name)
	}
	moved, moveErr := s.mover.move(taps)
	if len(moved) > 0 {
		logger.Info("Moved guests' taps into the datapath's namespace", "taps", moved)
	}
	res, convErr := s.devices.Converge(ctx, plan.devices)
	if len(res.Changes) > 0 {
		logger.Info("Converged the node's network devices", "changes", fmt.Sprint(res.Changes))
	}
	var dhcpErr error
	if convErr == nil {
		dhcpErr = s.dhcp.sync(ctx, plan.segments, res.MTU)
	}
	policy, facts, err := s.policy(ctx, plan)
	if err != nil {
		return reconcile.Result{}, errors.Join(moveErr, convErr, dhcpErr, err)
	}
	s.guests.set(facts)
	applyErr := s.filter.Apply(ctx, policy)
	if applyErr != nil {
		applyErr = fmt.Errorf("applying the packet filter: %w", applyErr)
	}
	if err := errors.Join(moveErr, convErr, dhcpErr, applyErr); err != nil {
		return reconcile.Result{}, err
	}
	// A guest whose domain runs but whose tap is not there yet is waiting on libvirt, which is
	// not watched here: look again soon. Otherwise the periodic resync repairs drift.
	if waitingOnTaps(plan.guests, res.MissingPorts) {
		return reconcile.Result{RequeueAfter: time.Second}, nil
	}
	return reconcile.Result{RequeueAfter: s.cfg.ResyncInterval}, nil
}

func waitingOnTaps(guests []guestNet, missing []string) bool {
	for _, g := range guests {
		if d := g.inst.Status.Domain; d != nil && d.State == "running" && slices.Contains(missing, g.tap) {
			return true
		}
	}
	return false
}

// peerIPs lists the other nodes' underlay addresses, sorted.
func (s *networkSync) peerIPs(ctx context.Context) ([]net.IP, error) {
	list := &cloudv1.HypervisorList{}
	if err := s.peers.List(ctx, list); err != nil {
		return nil, fmt.Errorf("listing the other nodes: %w", err)
	}
	var addrs []netip.Addr
	for _, hv := range list.Items {
		a, err := netip.ParseAddr(hv.Status.UnderlayIP)
		if hv.Name == s.cfg.NodeName || err != nil || !a.Is4() || a.String() == s.cfg.Network.UnderlayIP {
			continue
		}
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	addrs = slices.Compact(addrs)
	ips := make([]net.IP, 0, len(addrs))
	for _, a := range addrs {
		ips = append(ips, net.IP(a.AsSlice()))
	}
	return ips, nil
}

// policy builds the packet filter's policy and the metadata service's facts of the node's guests.
func (s *networkSync) policy(ctx context.Context, plan nodeNet) (netfilter.Policy, map[netip.Addr]*metadata.Instance, error) {
	p := netfilter.Policy{}
	facts := map[netip.Addr]*metadata.Instance{}
	groups := map[string]*netfilter.Group{}
	for _, g := range plan.guests {
		ids, names, err := s.guestGroups(ctx, g.inst, groups)
		if err != nil {
			return p, nil, err
		}
		p.Guests = append(p.Guests, netfilter.Guest{Port: g.tap, IP: g.ip, GroupIDs: ids})
		var key *cloudv1.KeyPair
		if g.inst.Spec.KeyName != "" {
			key, err = refs.KeyPair(ctx, s.client, g.inst.Namespace, g.inst.Spec.KeyName)
			if err != nil && !errors.Is(err, refs.ErrNotFound) {
				return p, nil, err
			}
		}
		it, err := refs.InstanceType(ctx, s.client, g.inst.GivenInstanceType())
		if err != nil && !errors.Is(err, refs.ErrNotFound) {
			return p, nil, err
		}
		img, err := refs.Image(ctx, s.client, g.inst.Namespace, g.inst.Spec.ImageID)
		if err != nil && !errors.Is(err, refs.ErrNotFound) {
			return p, nil, err
		}
		facts[g.ip] = metadataOf(g, it, cloudv1.LaunchVolumes(img, g.inst), key, names)
		if g.public.IsValid() && s.cfg.Network.PublicInterface != "" {
			p.ElasticIPs = append(p.ElasticIPs, netfilter.ElasticIP{Public: g.public, Private: g.ip})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(groups)) {
		p.Groups = append(p.Groups, *groups[id])
	}
	if len(p.ElasticIPs) > 0 {
		p.PublicInterface = s.cfg.Network.PublicInterface
	}
	if len(plan.guests) > 0 {
		local, err := netip.ParseAddr(s.cfg.Network.UnderlayIP)
		if err != nil {
			local = plan.segments[plan.guests[0].segment].gateway
		}
		p.MetadataListener = netip.AddrPortFrom(local, uint16(s.cfg.Network.metadataPort()))
	}
	return p, facts, nil
}

// guestGroups resolves an instance's groups (its project's default group when it names none)
// into groups, with their rules and the groups those rules admit; a group that does not exist
// or has no id yet admits nothing. It returns the instance's group ids and names.
func (s *networkSync) guestGroups(ctx context.Context, inst *cloudv1.Instance, groups map[string]*netfilter.Group) ([]string, []string, error) {
	refsOf := inst.Spec.SecurityGroups
	if len(refsOf) == 0 {
		refsOf = []string{cloudv1.DefaultSecurityGroupName}
	}
	var ids, names []string
	for _, ref := range refsOf {
		sg, err := s.group(ctx, inst.Namespace, ref)
		if err != nil || sg == nil {
			return nil, nil, err
		}
		ids, names = append(ids, sg.Status.GroupID), append(names, sg.EffectiveGroupName())
		g := s.addGroup(groups, sg)
		if len(g.Rules) > 0 || len(sg.Spec.Ingress) == 0 {
			continue // rules already resolved
		}
		for _, r := range sg.Spec.Ingress {
			var sources []string
			for _, src := range r.SourceGroups {
				ssg, err := s.group(ctx, inst.Namespace, src)
				if err != nil {
					return nil, nil, err
				}
				if ssg != nil {
					s.addGroup(groups, ssg)
					sources = append(sources, ssg.Status.GroupID)
				}
			}
			if len(r.CIDRIPs) == 0 && len(sources) == 0 {
				continue // admits no one (yet)
			}
			g.Rules = append(g.Rules, ruleOf(r, sources))
		}
	}
	return ids, names, nil
}

// group finds a security group with an id by name or id; nil when there is none (yet).
func (s *networkSync) group(ctx context.Context, namespace, ref string) (*cloudv1.SecurityGroup, error) {
	sg, err := refs.SecurityGroup(ctx, s.client, namespace, ref)
	switch {
	case errors.Is(err, refs.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	case sg.Status.GroupID == "":
		return nil, nil
	}
	return sg, nil
}

func (s *networkSync) addGroup(groups map[string]*netfilter.Group, sg *cloudv1.SecurityGroup) *netfilter.Group {
	if g, ok := groups[sg.Status.GroupID]; ok {
		return g
	}
	g := &netfilter.Group{ID: sg.Status.GroupID}
	for _, m := range sg.Status.MemberIPs {
		if a, err := netip.ParseAddr(m); err == nil && a.Is4() {
			g.Members = append(g.Members, a)
		}
	}
	groups[sg.Status.GroupID] = g
	return g
}

// setupNetworkWithManager wires the converge: this node's Instances, security groups and key
// pairs from the manager's cache, and every Hypervisor (for peers) from a cache of its own.
func (s *networkSync) setupWithManager(mgr ctrl.Manager) error {
	peers, err := cache.New(mgr.GetConfig(), cache.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(),
		DefaultTransform: cache.TransformStripManagedFields()})
	if err != nil {
		return fmt.Errorf("creating the peer cache: %w", err)
	}
	if err := mgr.Add(peers); err != nil {
		return err
	}
	s.peers = peers
	toNode := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{networkKey}
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("nodeagent-network").
		Watches(&cloudv1.Instance{}, toNode).
		Watches(&cloudv1.SecurityGroup{}, toNode).
		Watches(&cloudv1.KeyPair{}, toNode).
		WatchesRawSource(source.Kind(peers, &cloudv1.Hypervisor{},
			handler.TypedEnqueueRequestsFromMapFunc(func(context.Context, *cloudv1.Hypervisor) []reconcile.Request {
				return []reconcile.Request{networkKey}
			}))).
		WithOptions(controller.Options{MaxConcurrentReconciles: 1}).
		Complete(s)
}
