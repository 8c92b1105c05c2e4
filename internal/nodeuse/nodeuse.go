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

// Package nodeuse finds the objects a node's instances use — their key pair, image, kernel and
// ramdisk, security groups and the groups those groups' rules admit — and labels them for the
// node (cloud.pinet.io's NodeUseLabel), so that the node's agent reads those and no others: the
// agent's caches select the label and the node authorizer refuses a node any object without it.
package nodeuse

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/refs"
)

// Key names one used object.
type Key struct {
	// Kind is KeyPair, Image or SecurityGroup.
	Kind      string
	Namespace string
	Name      string
}

func (k Key) String() string { return k.Kind + " " + k.Namespace + "/" + k.Name }

// KeyOf is the key of a KeyPair, Image or SecurityGroup.
func KeyOf(obj client.Object) Key {
	var kind string
	switch obj.(type) {
	case *cloudv1.KeyPair:
		kind = "KeyPair"
	case *cloudv1.Image:
		kind = "Image"
	case *cloudv1.SecurityGroup:
		kind = "SecurityGroup"
	}
	return Key{Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// OnNode reports whether an instance is one whose node needs what it uses: bound to a node, and
// not a terminated instance whose domain the agent has let go.
func OnNode(inst *cloudv1.Instance) string {
	node := inst.Status.Hypervisor
	if node == "" {
		return ""
	}
	if inst.Status.State == cloudv1.InstanceStateTerminated && !controllerutil.ContainsFinalizer(inst, cloudv1.DomainFinalizer) {
		return ""
	}
	return node
}

// Resolver resolves instances' references as their node agent does (internal/refs, with EC2's
// visibility rules), remembering each answer for the resolver's life: one pass over a node's
// instances looks every distinct reference up once.
type Resolver struct {
	Reader client.Reader
	memo   map[memoKey][]client.Object
}

type memoKey struct{ kind, namespace, ref, owner string }

// Uses returns the objects inst uses that exist, each once. A reference that names nothing is
// left out: the instance waits for it, and so does its node.
func (r *Resolver) Uses(ctx context.Context, inst *cloudv1.Instance) ([]client.Object, error) {
	var out []client.Object
	seen := map[Key]bool{}
	add := func(objs ...client.Object) {
		for _, o := range objs {
			if k := KeyOf(o); !seen[k] {
				seen[k] = true
				out = append(out, o)
			}
		}
	}
	ns := inst.Namespace
	imgs, err := r.lookup(ctx, memoKey{"Image", ns, inst.Spec.ImageID, ""}, func() (client.Object, error) {
		return refs.Image(ctx, r.Reader, ns, inst.Spec.ImageID)
	})
	if err != nil {
		return nil, err
	}
	add(imgs...)
	if len(imgs) == 1 {
		img := imgs[0].(*cloudv1.Image)
		for _, b := range []struct{ named, dflt string }{
			{inst.Spec.KernelID, img.Spec.KernelID}, {inst.Spec.RamdiskID, img.Spec.RamdiskID},
		} {
			var objs []client.Object
			switch {
			case b.named != "":
				objs, err = r.lookup(ctx, memoKey{"Image", ns, b.named, ""}, func() (client.Object, error) {
					return refs.Image(ctx, r.Reader, ns, b.named)
				})
			case b.dflt != "":
				// The default is resolved in the image owner's project, and must be visible to ns.
				objs, err = r.lookup(ctx, memoKey{"Image", ns, b.dflt, img.Namespace}, func() (client.Object, error) {
					return refs.ImageDefault(ctx, r.Reader, img, b.dflt, ns)
				})
			}
			if err != nil {
				return nil, err
			}
			add(objs...)
		}
	}
	if inst.Spec.KeyName != "" {
		kps, err := r.lookup(ctx, memoKey{"KeyPair", ns, inst.Spec.KeyName, ""}, func() (client.Object, error) {
			return refs.KeyPair(ctx, r.Reader, ns, inst.Spec.KeyName)
		})
		if err != nil {
			return nil, err
		}
		add(kps...)
	}
	groups := inst.Spec.SecurityGroups
	if len(groups) == 0 {
		groups = []string{cloudv1.DefaultSecurityGroupName}
	}
	for _, g := range groups {
		// A group's entry holds the group and the groups its rules admit (the datapath reads
		// their members).
		objs, err := r.lookup(ctx, memoKey{"SecurityGroup", ns, g, ""}, func() (client.Object, error) {
			return refs.SecurityGroup(ctx, r.Reader, ns, g)
		})
		if err != nil {
			return nil, err
		}
		add(objs...)
		for _, o := range objs {
			for _, rule := range o.(*cloudv1.SecurityGroup).Spec.Ingress {
				for _, src := range rule.SourceGroups {
					srcs, err := r.lookup(ctx, memoKey{"SecurityGroup", ns, src, ""}, func() (client.Object, error) {
						return refs.SecurityGroup(ctx, r.Reader, ns, src)
					})
					if err != nil {
						return nil, err
					}
					add(srcs...)
				}
			}
		}
	}
	return out, nil
}

// lookup answers a reference from the memo or by resolving it: nothing when it names nothing.
func (r *Resolver) lookup(ctx context.Context, k memoKey, resolve func() (client.Object, error)) ([]client.Object, error) {
	if k.ref == "" {
		return nil, nil
	}
	if objs, ok := r.memo[k]; ok {
		return objs, nil
	}
	var objs []client.Object
	obj, err := resolve()
	switch {
	case errors.Is(err, refs.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		objs = []client.Object{obj}
	}
	if r.memo == nil {
		r.memo = map[memoKey][]client.Object{}
	}
	r.memo[k] = objs
	return objs, nil
}

// Labeller writes and removes node use labels. The scheduler labels what an instance uses for
// its node before it writes the binding, so the node's agent never sees an instance whose key
// pair or image it may not read; the node use controller, which takes labels off what a node no
// longer uses, leaves a label alone for Grace after it was given, since the binding that needs it
// may not be in its cache yet.
type Labeller struct {
	Client client.Client
	Clock  clock.PassiveClock
	// Grace is how long a label just given is kept whatever the cache shows; 0 is DefaultGrace.
	Grace time.Duration

	mu    sync.Mutex
	given map[given]time.Time
}

// DefaultGrace outlasts a binding's way from its write to the manager's cache many times over.
const DefaultGrace = time.Minute

type given struct {
	uid  types.UID
	node string
}

// Has reports whether obj carries node's label.
func Has(obj client.Object, node string) bool {
	return obj.GetLabels()[cloudv1.NodeUseLabel(node)] == cloudv1.NodeUseLabelValue
}

// Give labels each of objs that does not carry it yet for node, for an instance already bound
// there.
func (l *Labeller) Give(ctx context.Context, node string, objs ...client.Object) error {
	return l.give(ctx, node, false, objs)
}

// GiveBeforeBinding labels objs for node as Give does, for an instance whose binding is about to
// be written: the labels are kept for the grace period whatever the cache shows meanwhile.
func (l *Labeller) GiveBeforeBinding(ctx context.Context, node string, objs ...client.Object) error {
	return l.give(ctx, node, true, objs)
}

func (l *Labeller) give(ctx context.Context, node string, binding bool, objs []client.Object) error {
	for _, o := range objs {
		if binding {
			l.note(o, node)
		}
		if Has(o, node) {
			continue
		}
		if err := l.patch(ctx, o, node, true); err != nil {
			return err
		}
	}
	return nil
}

// Take removes node's label from obj unless it was given within the grace period; it returns
// how long to wait before asking again when it kept it.
func (l *Labeller) Take(ctx context.Context, node string, obj client.Object) (time.Duration, error) {
	l.mu.Lock()
	at, ok := l.given[given{obj.GetUID(), node}]
	now := l.Clock.Now()
	if ok && now.Sub(at) < l.grace() {
		l.mu.Unlock()
		return l.grace() - now.Sub(at), nil
	}
	delete(l.given, given{obj.GetUID(), node})
	l.mu.Unlock()
	return 0, l.patch(ctx, obj, node, false)
}

func (l *Labeller) grace() time.Duration {
	if l.Grace > 0 {
		return l.Grace
	}
	return DefaultGrace
}

// note remembers when a binding to node needed obj, forgetting what is past the grace.
func (l *Labeller) note(obj client.Object, node string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.Clock.Now()
	if l.given == nil {
		l.given = map[given]time.Time{}
	}
	for k, at := range l.given {
		if now.Sub(at) >= l.grace() {
			delete(l.given, k)
		}
	}
	l.given[given{obj.GetUID(), node}] = now
}

// patch sets or removes node's label on obj with a merge patch of that one label: other labels,
// and the object's other writers, are left alone. An object that is gone needs no label.
func (l *Labeller) patch(ctx context.Context, obj client.Object, node string, on bool) error {
	value := `"` + cloudv1.NodeUseLabelValue + `"`
	if !on {
		value = "null"
	}
	body := fmt.Sprintf(`{"metadata":{"labels":{%q:%s}}}`, cloudv1.NodeUseLabel(node), value)
	if err := l.Client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(body))); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return nil
		}
		verb := "giving"
		if !on {
			verb = "taking"
		}
		return fmt.Errorf("%s node %s the %s: %w", verb, node, KeyOf(obj), err)
	}
	return nil
}
