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

package nodeauthz

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// brokenReader stands for a cache that cannot answer.
type brokenReader struct{ client.Reader }

func (brokenReader) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	return errors.New("cache not synced")
}

func nodeSpec(verb, resource, sub string) authorizationv1.SubjectAccessReviewSpec {
	return authorizationv1.SubjectAccessReviewSpec{
		User: "pinet:node:n1", Groups: []string{NodeAgentsGroup},
		ResourceAttributes: &authorizationv1.ResourceAttributes{Group: cloudv1.GroupVersion.Group, Resource: resource,
			Subresource: sub, Verb: verb, Namespace: "p", Name: "x"},
	}
}

// The requests the authorizer leaves to RBAC, and a get it cannot check, which it denies.
func TestDecisionsWithoutTheCache(t *testing.T) {
	a := &Authorizer{Reader: brokenReader{}, SystemNamespace: "pinet-system"}
	ctx := context.Background()
	for name, spec := range map[string]authorizationv1.SubjectAccessReviewSpec{
		"a node's write":            nodeSpec("patch", "instances", "status"),
		"another kind":              nodeSpec("list", "hypervisors", ""),
		"a user's list":             {User: "alice", Groups: []string{"pinet:project:p"}, ResourceAttributes: nodeSpec("list", "instances", "").ResourceAttributes},
		"a non-resource request":    {User: "pinet:node:n1", Groups: []string{NodeAgentsGroup}, NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/healthz", Verb: "get"}},
		"another group's instances": {User: "pinet:node:n1", Groups: []string{NodeAgentsGroup}, ResourceAttributes: &authorizationv1.ResourceAttributes{Group: "example.com", Resource: "instances", Verb: "list"}},
	} {
		if d, _, err := a.Decide(ctx, spec); d != NoOpinion || err != nil {
			t.Errorf("%s: %v, %v; want no opinion", name, d, err)
		}
	}
	if d, _, err := a.Decide(ctx, nodeSpec("get", "instances", "")); d != Deny || err == nil {
		t.Fatalf("a get the cache cannot answer: %v, %v; want a denial with the error", d, err)
	}
	if d, reason, _ := a.Decide(ctx, nodeSpec("list", "volumes", "")); d != Deny || !strings.Contains(reason, "storage-node=n1") {
		t.Fatalf("an unselected list: %v %q", d, reason)
	}
	if d, reason, _ := a.Decide(ctx, nodeSpec("watch", "keypairs", "")); d != Deny || !strings.Contains(reason, "node.cloud.pinet.io/n1=true") {
		t.Fatalf("an unselected watch of key pairs: %v %q", d, reason)
	}
	// A group member that is not named like a node names no node.
	spec := nodeSpec("list", "instances", "")
	spec.User = "mallory"
	if d, reason, _ := a.Decide(ctx, spec); d != Deny || !strings.Contains(reason, "name no node") {
		t.Fatalf("a node agent without a node: %v %q", d, reason)
	}
}

// The webhook's answers on the wire, and what it does with a body that is not a review.
func TestHandler(t *testing.T) {
	srv := httptest.NewServer((&Authorizer{Reader: brokenReader{}, SystemNamespace: "pinet-system"}).Handler(logr.Discard()))
	defer srv.Close()
	post := func(body string) (*http.Response, authorizationv1.SubjectAccessReview) {
		t.Helper()
		resp, err := http.Post(srv.URL+Path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r authorizationv1.SubjectAccessReview
		_ = json.NewDecoder(resp.Body).Decode(&r)
		return resp, r
	}
	review := func(spec authorizationv1.SubjectAccessReviewSpec) string {
		b, _ := json.Marshal(authorizationv1.SubjectAccessReview{Spec: spec})
		return string(b)
	}
	if resp, r := post(review(nodeSpec("list", "instances", ""))); resp.StatusCode != http.StatusOK || !r.Status.Denied ||
		r.Status.Allowed || r.APIVersion != "authorization.k8s.io/v1" || r.Kind != "SubjectAccessReview" {
		t.Fatalf("an unselected list: %d %+v", resp.StatusCode, r)
	}
	if _, r := post(review(nodeSpec("get", "instances", ""))); !r.Status.Denied || r.Status.EvaluationError == "" {
		t.Fatalf("a get the cache cannot answer: %+v", r.Status)
	}
	if _, r := post(review(nodeSpec("patch", "instances", ""))); r.Status.Denied || r.Status.Allowed {
		t.Fatalf("a write: %+v", r.Status)
	}
	for _, bad := range []string{"", "{", "[1,2]", strings.Repeat(" ", maxReview+2)} {
		if resp, _ := post(bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("body %.20q: status %d, want 400", bad, resp.StatusCode)
		}
	}
	resp, err := http.Get(srv.URL + Path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
}

// usedReader holds key pair p/used, given to node n1, and p/other, whose label names n1 with
// another value.
type usedReader struct{ client.Reader }

func (usedReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	switch key.Name {
	case "used":
		obj.SetLabels(map[string]string{cloudv1.NodeUseLabel("n1"): cloudv1.NodeUseLabelValue})
	case "other":
		obj.SetLabels(map[string]string{cloudv1.NodeUseLabel("n1"): "false", cloudv1.LabelHypervisor: "n1"})
	case "copied":
		obj.SetLabels(map[string]string{cloudv1.LabelCaptureNode: "n1"})
	default:
		return apierrors.NewNotFound(schema.GroupResource{}, key.Name)
	}
	return nil
}

// What a node's instances use is read by name only where the node use label gives it.
func TestUsedObjects(t *testing.T) {
	a := &Authorizer{Reader: usedReader{}, SystemNamespace: "pinet-system"}
	ctx := context.Background()
	get := func(node, resource, name string) (Decision, string) {
		spec := nodeSpec("get", resource, "")
		spec.User, spec.ResourceAttributes.Name = "pinet:node:"+node, name
		d, reason, err := a.Decide(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		return d, reason
	}
	for _, res := range []string{"keypairs", "images", "securitygroups"} {
		if d, reason := get("n1", res, "used"); d != NoOpinion {
			t.Errorf("n1's %s: %v %q", res, d, reason)
		}
		if d, reason := get("n2", res, "used"); d != Deny || !strings.Contains(reason, "node n2") {
			t.Errorf("n1's %s read by n2: %v %q", res, d, reason)
		}
		if d, _ := get("n1", res, "other"); d != Deny {
			t.Errorf("%s whose label has another value: %v", res, d)
		}
		if d, _ := get("n1", res, "gone"); d != Deny {
			t.Errorf("a missing %s: %v", res, d)
		}
	}
	// An image being made of an instance is also its node's (the capture label), and only
	// an image's.
	if d, reason := get("n1", "images", "copied"); d != NoOpinion {
		t.Errorf("the image n1 copies: %v %q", d, reason)
	}
	if d, _ := get("n2", "images", "copied"); d != Deny {
		t.Errorf("the image n1 copies, read by n2: %v", d)
	}
	if d, _ := get("n1", "keypairs", "copied"); d != Deny {
		t.Errorf("a key pair with the capture label: %v", d)
	}
}

// TestNodeStoreKeys: a node agent gets its own node's object store key and no other node's, and
// lists or watches no Secret; Secrets of other names, and everyone else's requests, are RBAC's.
func TestNodeStoreKeys(t *testing.T) {
	a := &Authorizer{Reader: brokenReader{}, SystemNamespace: "pinet-system"}
	secret := func(user string, groups []string, extra map[string]authorizationv1.ExtraValue, verb, ns, name string) authorizationv1.SubjectAccessReviewSpec {
		return authorizationv1.SubjectAccessReviewSpec{User: user, Groups: groups, Extra: extra,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Resource: "secrets", Verb: verb, Namespace: ns, Name: name}}
	}
	node := []string{NodeAgentsGroup}
	sa := "system:serviceaccount:pinet-system:pinet-nodeagent"
	onN1 := map[string]authorizationv1.ExtraValue{podNodeExtra: {"n1"}}
	for _, c := range []struct {
		name string
		spec authorizationv1.SubjectAccessReviewSpec
		want Decision
	}{
		{"its own key", secret("pinet:node:n1", node, nil, "get", "pinet-system", "pinet-user-pinet-node-n1"), NoOpinion},
		{"its own key, as the DaemonSet", secret(sa, nil, onN1, "get", "pinet-system", "pinet-user-pinet-node-n1"), NoOpinion},
		{"another node's key", secret("pinet:node:n1", node, nil, "get", "pinet-system", "pinet-user-pinet-node-n2"), Deny},
		{"another node's key, as the DaemonSet", secret(sa, nil, onN1, "get", "pinet-system", "pinet-user-pinet-node-n2"), Deny},
		{"a key of a node whose name starts with its own", secret("pinet:node:n1", node, nil, "get", "pinet-system", "pinet-user-pinet-node-n10"), Deny},
		{"a token naming no node", secret(sa, nil, nil, "get", "pinet-system", "pinet-user-pinet-node-n1"), Deny},
		{"its key's name in another namespace", secret("pinet:node:n1", node, nil, "get", "other", "pinet-user-pinet-node-n1"), Deny},
		{"listing secrets", secret("pinet:node:n1", node, nil, "list", "pinet-system", ""), Deny},
		{"watching secrets", secret("pinet:node:n1", node, nil, "watch", "", ""), Deny},
		{"another secret by name", secret("pinet:node:n1", node, nil, "get", "pinet-system", "pinet-user-alice"), NoOpinion},
		{"an admin's get of a node's key", secret("admin", []string{"system:masters"}, nil, "get", "pinet-system", "pinet-user-pinet-node-n2"), NoOpinion},
		{"the manager listing secrets", secret("system:pinet:manager", nil, nil, "list", "pinet-system", ""), NoOpinion},
	} {
		d, reason, err := a.Decide(context.Background(), c.spec)
		if err != nil || d != c.want {
			t.Errorf("%s: %v %q %v; want %v", c.name, d, reason, err, c.want)
		}
		if d == Deny && reason == "" {
			t.Errorf("%s: denied without a reason", c.name)
		}
	}
}
