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
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/capacity"
	"pinet.io/pinet/internal/patch"
	"pinet.io/pinet/nodeagent/libvirt"
)

func runtimeScheme() *k8sruntime.Scheme {
	s := k8sruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := cloudv1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

func fieldsByName(name string) fields.Selector {
	return fields.OneTermEqualSelector("metadata.name", name)
}

// nodeUse selects the key pairs, images and security groups the manager gave node: those its
// instances use (the node authorizer refuses the node any list without this selector).
func nodeUse(node string) labels.Selector {
	return labels.SelectorFromSet(labels.Set{cloudv1.NodeUseLabel(node): cloudv1.NodeUseLabelValue})
}

// nodeFacts is what the agent reports about its node.
type nodeFacts struct {
	capacity   cloudv1.Resources
	domainType cloudv1.DomainType
	hostname   string
	addresses  []string
	// allocatedGiB is what the volumes placed on a storage node take of it.
	allocatedGiB int64
}

// gatherFacts reads the host through libvirt and applies the configured overrides.
func gatherFacts(v virt, cfg Config) (nodeFacts, error) {
	h, err := v.Host()
	if err != nil {
		return nodeFacts{}, err
	}
	f := nodeFacts{
		capacity:   cloudv1.Resources{VCPUs: h.CPUs, MemoryMiB: h.MemoryMiB},
		domainType: chooseDomainType(cfg.DomainType, h),
		hostname:   h.Hostname,
		addresses:  hostAddresses(),
	}
	if cfg.VCPUs > 0 {
		f.capacity.VCPUs = cfg.VCPUs
	}
	if cfg.MemoryMiB > 0 {
		f.capacity.MemoryMiB = cfg.MemoryMiB
	}
	return f, nil
}

// chooseDomainType picks the libvirt domain type: the configured one, the test driver's, kvm where
// the CPU really virtualises, and TCG (qemu) otherwise. A /dev/kvm without vmx/svm (a nested
// paravirtual module) crashes stock guest kernels, so it does not count.
func chooseDomainType(configured string, h libvirt.Host) cloudv1.DomainType {
	switch {
	case configured != "":
		return cloudv1.DomainType(configured)
	case strings.EqualFold(h.Driver, "test") || slices.Contains(h.DomainTypes, "test"):
		return cloudv1.DomainTypeTest
	case slices.Contains(h.DomainTypes, "kvm") && hardwareVirtualisation():
		return cloudv1.DomainTypeKVM
	default:
		return cloudv1.DomainTypeQEMU
	}
}

func hardwareVirtualisation() bool {
	if _, err := os.Stat("/dev/kvm"); err != nil {
		return false
	}
	cpuinfo, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return false
	}
	return bytes.Contains(cpuinfo, []byte(" vmx")) || bytes.Contains(cpuinfo, []byte(" svm"))
}

func hostAddresses() []string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() {
			continue
		}
		out = append(out, ipn.IP.String())
		if len(out) == 16 {
			break
		}
	}
	slices.Sort(out)
	return out
}

// reporter registers the Hypervisor and keeps its status current: it reports when the node's
// facts change, at most once per MinReportInterval, and at least once per HeartbeatInterval.
type reporter struct {
	client client.Client
	// volumes reads the volumes placed on the node from the API server (storage nodes).
	volumes client.Reader
	virt    virt
	cfg     Config
	clock   clock.WithTicker

	// console is the console server's endpoint, reported in the Hypervisor's status.
	console *cloudv1.ConsoleEndpoint

	mu    sync.Mutex
	facts *nodeFacts
}

// Facts returns the node facts last gathered (nil before the first).
func (r *reporter) Facts() *nodeFacts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.facts
}

// Start runs the reporting loop.
func (r *reporter) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("reporter")
	var last time.Time
	var lastFacts *nodeFacts
	ticker := r.clock.NewTicker(r.cfg.FactsInterval)
	defer ticker.Stop()
	for {
		f, err := gatherFacts(r.virt, r.cfg)
		if err == nil {
			f.allocatedGiB, err = r.allocatedGiB(ctx)
		}
		if err != nil {
			logger.Error(err, "Reading host facts")
		} else {
			r.mu.Lock()
			r.facts = &f
			r.mu.Unlock()
			now := r.clock.Now()
			changed := lastFacts == nil || !factsEqual(*lastFacts, f)
			due := now.Sub(last) >= r.cfg.HeartbeatInterval
			if (changed && now.Sub(last) >= r.cfg.MinReportInterval) || due {
				if err := r.report(ctx, f, now); err != nil {
					logger.Error(err, "Reporting node status")
				} else {
					last, lastFacts = now, &f
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C():
		}
	}
}

// NeedLeaderElection is false: every agent reports its own node.
func (r *reporter) NeedLeaderElection() bool { return false }

func factsEqual(a, b nodeFacts) bool {
	return a.capacity == b.capacity && a.domainType == b.domainType && a.hostname == b.hostname &&
		slices.Equal(a.addresses, b.addresses) && a.allocatedGiB == b.allocatedGiB
}

// allocatedGiB counts what the volumes placed on a storage node take of it, reading the API
// server (the node's own volumes only); 0 on a node without the storage role.
func (r *reporter) allocatedGiB(ctx context.Context) (int64, error) {
	if storageStatus(r.cfg) == nil || r.volumes == nil {
		return 0, nil
	}
	list := &cloudv1.VolumeList{}
	if err := r.volumes.List(ctx, list, client.MatchingLabels{cloudv1.LabelStorageNode: r.cfg.NodeName}); err != nil {
		return 0, fmt.Errorf("listing this node's volumes: %w", err)
	}
	return capacity.AllocatedGiB(list.Items, r.cfg.NodeName, ""), nil
}

func (r *reporter) report(ctx context.Context, f nodeFacts, now time.Time) error {
	hv, err := r.register(ctx)
	if err != nil {
		return err
	}
	helper, err := patch.NewHelper(hv, r.client)
	if err != nil {
		return err
	}
	t := metav1.NewTime(now)
	hv.Status.Capacity = f.capacity
	hv.Status.DomainType = f.domainType
	hv.Status.Hostname = f.hostname
	hv.Status.Addresses = f.addresses
	hv.Status.LibvirtURI = r.virt.URI()
	hv.Status.UnderlayIP = ""
	if r.cfg.Network.Enabled() {
		hv.Status.UnderlayIP = r.cfg.Network.UnderlayIP
	}
	hv.Status.AgentVersion = r.cfg.Version
	hv.Status.Console = r.console
	hv.Status.Storage = storageStatus(r.cfg)
	if hv.Status.Storage != nil {
		hv.Status.Storage.AllocatedGiB = f.allocatedGiB
	}
	hv.Status.LastHeartbeatTime = &t
	if err := helper.Patch(ctx, hv); err != nil {
		return fmt.Errorf("reporting hypervisor %s: %w", r.cfg.NodeName, err)
	}
	return nil
}

// register returns the node's Hypervisor, creating it on first start with the configured spec.
func (r *reporter) register(ctx context.Context) (*cloudv1.Hypervisor, error) {
	hv := &cloudv1.Hypervisor{}
	err := r.client.Get(ctx, client.ObjectKey{Name: r.cfg.NodeName}, hv)
	if err == nil {
		return hv, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("getting hypervisor %s: %w", r.cfg.NodeName, err)
	}
	log.FromContext(ctx).Info("Registering hypervisor", "zone", r.cfg.Zone)
	hv = &cloudv1.Hypervisor{
		ObjectMeta: metav1.ObjectMeta{Name: r.cfg.NodeName},
		Spec:       cloudv1.HypervisorSpec{Zone: r.cfg.Zone, MaxInstances: r.cfg.MaxInstances},
	}
	if err := r.client.Create(ctx, hv); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, errors.New("hypervisor registered concurrently; retrying")
		}
		return nil, fmt.Errorf("registering hypervisor %s: %w", r.cfg.NodeName, err)
	}
	return hv, nil
}
