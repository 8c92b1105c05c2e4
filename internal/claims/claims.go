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

// Package claims makes an EC2 id exclusive across the cluster. The object that holds an id owns
// one Lease in the system namespace named after the id; the API server lets only one object of a
// name exist, so of two objects in any projects that want one id exactly one gets it, whether they
// were made by the EC2 API or by kubectl with a name that looks like an id. Everything keyed by
// the id downstream can then trust it to mean one object.
//
// A claim records its holder's kind, namespace, name and UID. A claim whose holder is gone (deleted
// while the manager was down, say) is stale: the next object to want the id takes it over, and
// the sweeper removes stale claims no one asked for.
package claims

import (
	"context"
	"errors"
	"fmt"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/ids"
)

// Labels and annotations on claims.
const (
	// LabelKind is the holder's kind (Instance, Image, …; Project for reservation ids).
	LabelKind = "claims.pinet.io/kind"
	// LabelHolderUID is the holder's UID: the claims one object holds are found by it.
	LabelHolderUID = "claims.pinet.io/holder-uid"
	// LabelHolderNamespace is the holder's namespace (the project), "" for cluster-scoped holders.
	LabelHolderNamespace = "claims.pinet.io/holder-namespace"
	// AnnotationHolder is the holder's name.
	AnnotationHolder = "claims.pinet.io/holder-name"
	// AnnotationID is the id claimed.
	AnnotationID = "claims.pinet.io/id"
)

// ErrTaken means another live object holds the id.
var ErrTaken = errors.New("the id is held by another object")

// KindNamespace names a Namespace as holder: a project holds its reservation ids, which the
// instances of one launch share.
const KindNamespace = "Namespace"

// Holder is the object that claims an id: a PiNet kind of group cloud.pinet.io, or a Namespace.
type Holder struct {
	Kind      string
	Namespace string
	Name      string
	UID       types.UID
}

// HolderOf describes obj, whose kind is given (typed objects read from a client carry no kind).
func HolderOf(kind string, obj client.Object) Holder {
	return Holder{Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName(), UID: obj.GetUID()}
}

// Claimer makes and releases claims.
type Claimer struct {
	Client client.Client
	// Reader reads claims and holders from the API server itself: a lagging cache could show a
	// claim's holder alive after it went, or miss a claim made a moment ago.
	Reader client.Reader
	// Namespace is where claims live (the system namespace).
	Namespace string
}

// LeaseName is the name of the claim on id.
func LeaseName(id string) string { return "id-" + id }

// Claim makes h the holder of id. It succeeds when h already holds it, and returns an error
// wrapping ErrTaken when another object that still exists holds it.
func (c *Claimer) Claim(ctx context.Context, id string, h Holder) error {
	if h.UID == "" {
		return fmt.Errorf("claiming %s: the holder %s/%s has no UID", id, h.Namespace, h.Name)
	}
	key := client.ObjectKey{Namespace: c.Namespace, Name: LeaseName(id)}
	for attempt := 0; attempt < 3; attempt++ {
		err := c.Client.Create(ctx, newLease(key, id, h))
		if err == nil {
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("claiming %s: %w", id, err)
		}
		held := &coordinationv1.Lease{}
		if err := c.Reader.Get(ctx, key, held); err != nil {
			if apierrors.IsNotFound(err) {
				continue // released since
			}
			return fmt.Errorf("reading the claim on %s: %w", id, err)
		}
		if holderUID(held) == h.UID {
			return nil
		}
		alive, err := c.alive(ctx, held)
		if err != nil {
			return err
		}
		if alive {
			return fmt.Errorf("%s: %w", id, ErrTaken)
		}
		if err := c.deleteExactly(ctx, held); err != nil {
			return err
		}
	}
	return fmt.Errorf("claiming %s: the claim changed hands while being taken over; try again", id)
}

// Holds reports whether the object with uid holds id, asking the API server.
func (c *Claimer) Holds(ctx context.Context, id string, uid types.UID) (bool, error) {
	held := &coordinationv1.Lease{}
	err := c.Reader.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: LeaseName(id)}, held)
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("reading the claim on %s: %w", id, err)
	}
	return holderUID(held) == uid, nil
}

// Release drops the claim on id if the object with uid holds it.
func (c *Claimer) Release(ctx context.Context, id string, uid types.UID) error {
	held := &coordinationv1.Lease{}
	err := c.Reader.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: LeaseName(id)}, held)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("reading the claim on %s: %w", id, err)
	}
	if holderUID(held) != uid {
		return nil
	}
	return c.deleteExactly(ctx, held)
}

// ReleaseAll drops every claim the object with uid holds.
func (c *Claimer) ReleaseAll(ctx context.Context, uid types.UID) error {
	list := &coordinationv1.LeaseList{}
	if err := c.Reader.List(ctx, list, client.InNamespace(c.Namespace), client.MatchingLabels{LabelHolderUID: string(uid)}); err != nil {
		return fmt.Errorf("listing the claims of %s: %w", uid, err)
	}
	var errs []error
	for i := range list.Items {
		errs = append(errs, c.deleteExactly(ctx, &list.Items[i]))
	}
	return errors.Join(errs...)
}

// deleteExactly deletes the claim that was read, and no newer one of the same name.
func (c *Claimer) deleteExactly(ctx context.Context, held *coordinationv1.Lease) error {
	uid := held.UID
	err := c.Client.Delete(ctx, held, client.Preconditions{UID: &uid})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("releasing the claim %s: %w", held.Name, err)
	}
	return nil
}

// alive reports whether a claim's holder still exists: the object of its kind, namespace and
// name with its UID. An object being deleted still holds its ids until its finalizer releases
// them.
func (c *Claimer) alive(ctx context.Context, held *coordinationv1.Lease) (bool, error) {
	kind := held.Labels[LabelKind]
	name := held.Annotations[AnnotationHolder]
	if kind == "" || name == "" {
		return false, nil // not a claim this package made: nothing can rely on it
	}
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(gvk(kind))
	err := c.Reader.Get(ctx, client.ObjectKey{Namespace: held.Labels[LabelHolderNamespace], Name: name}, obj)
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("reading %s %s, holder of %s: %w", kind, name, held.Name, err)
	}
	return obj.UID == holderUID(held), nil
}

func newLease(key client.ObjectKey, id string, h Holder) *coordinationv1.Lease {
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: key.Namespace, Name: key.Name,
			Labels: map[string]string{
				LabelKind: h.Kind, LabelHolderUID: string(h.UID), LabelHolderNamespace: h.Namespace,
				cloudv1.LabelManagedBy: cloudv1.ManagedByPiNet,
			},
			Annotations: map[string]string{AnnotationHolder: h.Name, AnnotationID: id},
		},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(string(h.UID))},
	}
}

func holderUID(l *coordinationv1.Lease) types.UID {
	return types.UID(ptr.Deref(l.Spec.HolderIdentity, ""))
}

// Assign gives h an id of prefix and returns it. When preferred is an id of prefix (an object
// the EC2 API made is named by its id) h gets it only if no other live object holds it, and a new
// random id otherwise (taken reports that). Anything else gets a random id.
func (c *Claimer) Assign(ctx context.Context, prefix, preferred string, h Holder) (id string, taken bool, err error) {
	if ids.Valid(prefix, preferred) {
		err := c.Claim(ctx, preferred, h)
		if err == nil {
			return preferred, false, nil
		}
		if !errors.Is(err, ErrTaken) {
			return "", false, err
		}
		taken = true
	}
	// 68 random bits make a collision all but impossible; a few tries make it harmless.
	for attempt := 0; attempt < 3; attempt++ {
		id := ids.New(prefix)
		err := c.Claim(ctx, id, h)
		if err == nil {
			return id, taken, nil
		}
		if !errors.Is(err, ErrTaken) {
			return "", taken, err
		}
	}
	return "", taken, fmt.Errorf("no free %s- id after several tries", prefix)
}

func gvk(kind string) schema.GroupVersionKind {
	if kind == KindNamespace || kind == KindNamespace+"List" {
		return corev1.SchemeGroupVersion.WithKind(kind)
	}
	return cloudv1.GroupVersion.WithKind(kind)
}
