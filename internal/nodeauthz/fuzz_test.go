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
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"pinet.io/pinet/internal/credentials"
	"pinet.io/pinet/internal/s3client"
)

// oneObjectReader holds one object of every narrowed kind, p/mine, labelled with node n1.
type oneObjectReader struct{ client.Reader }

func (oneObjectReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	if key != (client.ObjectKey{Namespace: "p", Name: "mine"}) {
		return apierrors.NewNotFound(schema.GroupResource{}, key.Name)
	}
	l := map[string]string{}
	for _, kind := range narrowedKinds {
		for _, k := range kind.labels("n1") {
			l[k.key] = k.value
		}
	}
	obj.SetLabels(l)
	return nil
}

// FuzzReview posts arbitrary bodies to the webhook: it answers 200 or 400, never allows, never
// denies a requester that is not a node agent, and lets a node agent's list or watch of a
// narrowed kind through only with a selector that requires its node.
func FuzzReview(f *testing.F) {
	for _, seed := range []string{
		`{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"pinet:node:n1","groups":["pinet:nodeagents"],"resourceAttributes":{"group":"cloud.pinet.io","resource":"instances","verb":"list","labelSelector":{"requirements":[{"key":"cloud.pinet.io/hypervisor","operator":"In","values":["n1"]}]}}}}`,
		`{"spec":{"user":"pinet:node:n1","groups":["pinet:nodeagents"],"resourceAttributes":{"group":"cloud.pinet.io","resource":"volumes","verb":"get","namespace":"p","name":"mine"}}}`,
		`{"spec":{"user":"system:serviceaccount:pinet-system:pinet-nodeagent","extra":{"authentication.kubernetes.io/node-name":["n1"]},"resourceAttributes":{"group":"cloud.pinet.io","resource":"snapshots","verb":"watch"}}}`,
		`{"spec":{"user":"pinet:node:n1","groups":["pinet:nodeagents"],"resourceAttributes":{"group":"cloud.pinet.io","resource":"keypairs","verb":"list","labelSelector":{"requirements":[{"key":"node.cloud.pinet.io/n1","operator":"In","values":["true"]}]}}}}`,
		`{"spec":{"user":"pinet:node:n1","groups":["pinet:nodeagents"],"resourceAttributes":{"group":"cloud.pinet.io","resource":"images","verb":"get","namespace":"p","name":"mine"}}}`,
		`{"spec":{"user":"alice","resourceAttributes":{"group":"cloud.pinet.io","resource":"instances","verb":"list"}}}`,
		`{"spec":{"user":"pinet:node:n1","groups":["pinet:nodeagents"],"resourceAttributes":{"resource":"secrets","verb":"get","namespace":"pinet-system","name":"pinet-user-pinet-node-n2"}}}`,
		`{"spec":{"user":"pinet:node:n1","groups":["pinet:nodeagents"],"resourceAttributes":{"resource":"secrets","verb":"get","namespace":"pinet-system","name":"pinet-user-pinet-node-n1"}}}`,
		`{"spec":{"user":"system:serviceaccount:pinet-system:pinet-nodeagent","resourceAttributes":{"resource":"secrets","verb":"watch","namespace":"pinet-system"}}}`,
		`{"spec":{"nonResourceAttributes":{"path":"/healthz","verb":"get"}}}`,
		`{`, ``,
	} {
		f.Add([]byte(seed))
	}
	a := &Authorizer{Reader: oneObjectReader{}, SystemNamespace: "pinet-system"}
	h := a.Handler(logr.Discard())
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, Path, strings.NewReader(string(body))))
		if rec.Code == http.StatusBadRequest {
			return
		}
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		var in, out authorizationv1.SubjectAccessReview
		if err := json.Unmarshal(body, &in); err != nil {
			t.Fatalf("answered 200 to a body that is not a review: %v", err)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("the answer is not a review: %v", err)
		}
		if out.Status.Allowed {
			t.Fatal("the authorizer allowed a request")
		}
		isNode, node := a.nodeAgent(in.Spec.User, in.Spec.Groups, in.Spec.Extra)
		if out.Status.Denied && !isNode {
			t.Fatalf("denied %q, who is no node agent", in.Spec.User)
		}
		ra := in.Spec.ResourceAttributes
		if isNode && ra != nil && ra.Group == "" && ra.Resource == "secrets" && !out.Status.Denied {
			own := node != "" && ra.Namespace == a.SystemNamespace && ra.Name == credentials.SecretName(s3client.NodeUser(node))
			if ra.Verb == "list" || ra.Verb == "watch" || (ra.Verb == "get" && strings.HasPrefix(ra.Name, credentials.SecretName(s3client.NodeUserPrefix)) && !own) {
				t.Fatalf("node %q's %s of secret %s/%s went to RBAC", node, ra.Verb, ra.Namespace, ra.Name)
			}
		}
		if !isNode || ra == nil || ra.Group != "cloud.pinet.io" || (ra.Verb != "list" && ra.Verb != "watch") ||
			(ra.Subresource != "" && ra.Subresource != "status") {
			return
		}
		kind, narrowed := narrowedKinds[ra.Resource]
		if !narrowed || out.Status.Denied {
			return
		}
		keys := kind.labels(node)
		if node == "" || ra.LabelSelector == nil || !slices.ContainsFunc(ra.LabelSelector.Requirements, func(r metav1.LabelSelectorRequirement) bool {
			return r.Operator == metav1.LabelSelectorOpIn && len(r.Values) == 1 && slices.Contains(keys, nodeLabel{r.Key, r.Values[0]})
		}) {
			t.Fatalf("a node agent's %s of %s went to RBAC without its node's selector: %+v", ra.Verb, ra.Resource, ra.LabelSelector)
		}
	})
}
