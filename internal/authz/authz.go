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

// Package authz answers "may this principal do that" for the EC2 API and the S3 store with
// Kubernetes RBAC: each question becomes a SubjectAccessReview for the user's Kubernetes identity
// (pinet:user:<name>, groups pinet:project:<project> and pinet:admins for admins). Decisions are
// cached for a short time.
package authz

import (
	"context"
	"fmt"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/awsauth"
)

// Group is the API group PiNet's resources (and the names it checks access to) belong to.
const Group = "cloud.pinet.io"

// maxEntries bounds the decision cache; it is emptied when full.
const maxEntries = 10000

// Authorizer decides with SubjectAccessReviews.
type Authorizer struct {
	// Client creates SubjectAccessReviews.
	Client client.Client
	// TTL is how long a decision is reused; 0 disables the cache.
	TTL   time.Duration
	Clock clock.PassiveClock

	mu    sync.Mutex
	cache map[Request]decision
}

// Request is one question.
type Request struct {
	User, Project string
	Admin         bool
	// Verb is a Kubernetes verb (get, list, create, update, patch, delete).
	Verb string
	// Resource and Subresource name what is acted on, e.g. instances, instances/console, buckets.
	Resource, Subresource string
	// Namespace is the project namespace acted in ("" for cluster-scoped resources).
	Namespace string
	// Name is the object's name, when the action names one.
	Name string
}

type decision struct {
	allowed bool
	expires time.Time
}

// ProjectActorPrefix names a project acting as itself, with its group's rights and no user's:
// PiNet's components read what a project's objects name as this identity.
const ProjectActorPrefix = "system:pinet:project:"

// Identity returns the Kubernetes user and groups a principal acts as. A principal with a project
// and no user is the project itself.
func Identity(p awsauth.Principal) (string, []string) {
	groups := []string{"system:authenticated"}
	if p.Project != "" {
		groups = append(groups, cloudv1.ProjectGroupPrefix+p.Project)
	}
	if p.Admin {
		groups = append(groups, cloudv1.AdminsGroup)
	}
	if p.User == "" && p.Project != "" {
		return ProjectActorPrefix + p.Project, groups
	}
	return cloudv1.UserPrefix + p.User, groups
}

// Allowed asks whether the principal may do verb on resource in namespace.
func (a *Authorizer) Allowed(ctx context.Context, p awsauth.Principal, verb, resource, namespace string) (bool, error) {
	return a.Check(ctx, Request{User: p.User, Project: p.Project, Admin: p.Admin, Verb: verb, Resource: resource, Namespace: namespace})
}

// Check answers one request.
func (a *Authorizer) Check(ctx context.Context, req Request) (bool, error) {
	now := a.now()
	if a.TTL > 0 {
		a.mu.Lock()
		d, ok := a.cache[req]
		a.mu.Unlock()
		if ok && now.Before(d.expires) {
			return d.allowed, nil
		}
	}
	user, groups := Identity(awsauth.Principal{User: req.User, Project: req.Project, Admin: req.Admin})
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   user,
		Groups: groups,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: req.Namespace, Verb: req.Verb, Group: Group,
			Resource: req.Resource, Subresource: req.Subresource, Name: req.Name,
		},
	}}
	if err := a.Client.Create(ctx, sar); err != nil {
		return false, fmt.Errorf("reviewing %s %s for %s: %w", req.Verb, req.Resource, user, err)
	}
	allowed := sar.Status.Allowed && !sar.Status.Denied
	if a.TTL > 0 {
		a.mu.Lock()
		if a.cache == nil || len(a.cache) >= maxEntries {
			a.cache = map[Request]decision{}
		}
		a.cache[req] = decision{allowed: allowed, expires: now.Add(a.TTL)}
		a.mu.Unlock()
	}
	return allowed, nil
}

func (a *Authorizer) now() time.Time {
	if a.Clock == nil {
		return time.Now()
	}
	return a.Clock.Now()
}

// Buckets answers the object store's questions ("may p do verb on the buckets of project") with
// the same reviews: buckets are a resource of the project's namespace in the roles.
type Buckets struct{ *Authorizer }

// Allowed reviews verb on buckets in project.
func (b Buckets) Allowed(ctx context.Context, p awsauth.Principal, verb, project string) (bool, error) {
	return b.Authorizer.Allowed(ctx, p, verb, "buckets", project)
}
