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

// Package deploy checks the installation manifests (config/default) against a real API server:
// they apply cleanly, and each component's service account may do what the component does and
// not what it must not.
package deploy

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"pinet.io/pinet/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// tool runs a binary of the repository's bin/ in the repository's root.
func tool(t *testing.T, stdin, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(testenv.RepoRoot(), "bin", name), args...)
	cmd.Dir = testenv.RepoRoot()
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// kubeconfig writes a kubeconfig for cfg and returns its path.
func kubeconfig(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["c"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["u"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	kc.CurrentContext = "c"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// The whole install, applied server-side as a dry run: the API server validates every object
// (CRD schemas, RBAC rules, admission policies, the DaemonSet's privileged pod template).
func TestDefaultInstallAppliesCleanly(t *testing.T) {
	out := applyDryRun(t, tool(t, "", "kustomize", "build", "config/default"))
	for _, kind := range []string{"customresourcedefinition", "deployment.apps/pinet-manager", "service/pinet-manager", "daemonset.apps/pinet-nodeagent",
		"validatingadmissionpolicy", "clusterrole.rbac.authorization.k8s.io/pinet-nodeagent", "persistentvolumeclaim/pinet-objects"} {
		if !strings.Contains(out, kind) {
			t.Errorf("the install has no %s:\n%s", kind, out)
		}
	}
}

// The install with the object store on the s3 backend (config/samples/s3-backend, through the
// component config/components/s3-backend): the manager gets the backend's flags and its
// credentials from the Secret, and the shared volume is gone.
func TestS3BackendInstallAppliesCleanly(t *testing.T) {
	manifests := tool(t, "", "kustomize", "build", "config/samples/s3-backend")
	out := applyDryRun(t, manifests)
	if strings.Contains(out, "persistentvolumeclaim/pinet-objects") {
		t.Errorf("the s3 install still claims the fs backend's volume:\n%s", out)
	}
	for _, want := range []string{"--object-store-backend=s3", "--object-store-s3-endpoint=$(PINET_OBJECT_STORE_S3_ENDPOINT)",
		"--object-store-s3-bucket=$(PINET_OBJECT_STORE_S3_BUCKET)", "name: PINET_OBJECT_STORE_S3_SECRET_ACCESS_KEY", "secretKeyRef:",
		"key: secret-access-key", "emptyDir:"} {
		if !strings.Contains(manifests, want) {
			t.Errorf("the s3 install's manifests lack %q", want)
		}
	}
}

// The install with the node authorizer (config/samples/node-authorizer, through the component
// config/components/node-authorizer): every manager replica serves it with the certificate and
// client CA of Secret pinet-node-authorizer, behind Service pinet-node-authorizer.
func TestNodeAuthorizerInstallAppliesCleanly(t *testing.T) {
	manifests := tool(t, "", "kustomize", "build", "config/samples/node-authorizer")
	out := applyDryRun(t, manifests)
	if !strings.Contains(out, "service/pinet-node-authorizer") {
		t.Errorf("the install has no node authorizer Service:\n%s", out)
	}
	for _, want := range []string{"--node-authorizer-bind-address=:8091", "--node-authorizer-cert-dir=/etc/pinet/node-authorizer",
		"--node-authorizer-client-ca=/etc/pinet/node-authorizer/client-ca.crt", "secretName: pinet-node-authorizer",
		"containerPort: 8091"} {
		if !strings.Contains(manifests, want) {
			t.Errorf("the node authorizer install's manifests lack %q", want)
		}
	}
}

// applyDryRun applies manifests server-side as a dry run, checks that every object applied,
// and returns kubectl's report.
func applyDryRun(t *testing.T, manifests string) string {
	t.Helper()
	docs := 0
	for _, doc := range strings.Split(manifests, "\n---\n") {
		if strings.Contains(doc, "\nkind: ") || strings.HasPrefix(doc, "kind: ") {
			docs++
		}
	}
	out := tool(t, manifests, "kubectl", "--kubeconfig", kubeconfig(t, env.Config),
		"apply", "--server-side", "--force-conflicts", "--field-manager=pinet-deploy-test", "--dry-run=server", "-f", "-")
	applied := strings.Count(out, "(server dry run)")
	if applied != docs || docs < 20 {
		t.Fatalf("%d of %d objects applied:\n%s", applied, docs, out)
	}
	return out
}

type access struct {
	verb, group, resource, subresource, namespace, name string
	// labelSelector, when set, is the list's or watch's label selector.
	labelSelector string
}

func (a access) String() string {
	r := a.resource
	if a.subresource != "" {
		r += "/" + a.subresource
	}
	if a.group != "" {
		r += "." + a.group
	}
	return fmt.Sprintf("%s %s %s/%s", a.verb, r, a.namespace, a.name)
}

// allowed asks the API server whether the service account may do a.
func allowed(t *testing.T, sa string, a access) bool {
	t.Helper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   "system:serviceaccount:" + testenv.SystemNamespace + ":" + sa,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + testenv.SystemNamespace, "system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb: a.verb, Group: a.group, Resource: a.resource, Subresource: a.subresource, Namespace: a.namespace, Name: a.name,
		},
	}}
	if sa == "pinet-nodeagent" { // a node agent's token names its pod's node
		sar.Spec.Extra = map[string]authorizationv1.ExtraValue{"authentication.kubernetes.io/node-name": {"node-1"}}
	}
	if a.labelSelector != "" {
		sar.Spec.ResourceAttributes.LabelSelector = &authorizationv1.LabelSelectorAttributes{RawSelector: a.labelSelector}
	}
	if err := env.Client.Create(context.Background(), sar); err != nil {
		t.Fatal(err)
	}
	return sar.Status.Allowed
}

const cloudGroup = "cloud.pinet.io"

// The service accounts of config/rbac, bound as the install binds them: each may do its
// component's work, and the node agent none of what would let one node reach beyond itself.
func TestComponentRBAC(t *testing.T) {
	rbac := tool(t, "", "kustomize", "build", "config/rbac")
	tool(t, rbac, "kubectl", "--kubeconfig", kubeconfig(t, env.Config),
		"apply", "--server-side", "--force-conflicts", "--field-manager=pinet-deploy-test", "-f", "-")
	sys := testenv.SystemNamespace
	// The Role the manager keeps naming two nodes' object store keys (controllers/nodestore, whose
	// own test checks what it writes), bound by config/rbac to the node agents.
	ctx := context.Background()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: sys, Name: "pinet-nodeagent-store-keys"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"},
			ResourceNames: []string{"pinet-user-pinet-node-node-1", "pinet-user-pinet-node-node-2"}}}}
	if err := env.Client.Create(ctx, role); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sa      string
		allowed []access
		denied  []access
	}{
		{"pinet-nodeagent",
			[]access{
				{"watch", cloudGroup, "instances", "", "p1", "", "cloud.pinet.io/hypervisor=node-1"},
				{"patch", cloudGroup, "instances", "status", "p1", "vm", ""},
				{"create", cloudGroup, "hypervisors", "", "", "", ""},
				// Its own node's object store key (its token names node-1).
				{"get", "", "secrets", "", sys, "pinet-user-pinet-node-node-1", ""},
				{"watch", cloudGroup, "volumes", "", "", "", "cloud.pinet.io/attach-node=node-1"},
				{"watch", cloudGroup, "keypairs", "", "", "", "node.cloud.pinet.io/node-1=true"},
				{"list", cloudGroup, "images", "", "", "", "node.cloud.pinet.io/node-1=true"},
				{"patch", cloudGroup, "volumes", "status", "p1", "data", ""},
				{"patch", cloudGroup, "snapshots", "status", "p1", "snap", ""},
				{"create", "authentication.k8s.io", "tokenreviews", "", "", "", ""},
				{"create", "authorization.k8s.io", "subjectaccessreviews", "", "", "", ""},
			},
			[]access{
				{"create", cloudGroup, "users", "", "", "", ""},
				// Reads of instances and volumes: only by its node's label (the node authorizer).
				{"watch", cloudGroup, "instances", "", "p1", "", ""},
				{"list", cloudGroup, "volumes", "", "", "", "cloud.pinet.io/storage-node=node-2"},
				// What instances use: only what the manager gave its node.
				{"watch", cloudGroup, "securitygroups", "", "", "", ""},
				{"list", cloudGroup, "images", "", "", "", "node.cloud.pinet.io/node-2=true"},
				{"get", cloudGroup, "keypairs", "", "p1", "k", ""},
				{"create", cloudGroup, "instances", "", "p1", "", ""},
				{"delete", cloudGroup, "instances", "", "p1", "vm", ""},
				{"update", cloudGroup, "volumes", "", "p1", "data", ""},
				{"delete", cloudGroup, "volumes", "", "p1", "data", ""},
				{"patch", cloudGroup, "snapshots", "", "p1", "snap", ""},
				{"update", cloudGroup, "projects", "", "", "p1", ""},
				{"get", "", "secrets", "", "p1", "anything", ""},
				{"list", "", "secrets", "", sys, "", ""},
				{"get", "", "secrets", "", sys, "pinet-user-pinet-node-node-2", ""},
				{"update", "", "secrets", "", sys, "pinet-user-pinet-node-node-1", ""},
				{"get", "", "secrets", "", sys, "pinet-user-admin", ""},
				{"get", "", "secrets", "", sys, "pinet-cloud-ca", ""},
				{"create", "", "pods", "", sys, "", ""},
				{"create", "coordination.k8s.io", "leases", "", sys, "", ""},
				{"create", "rbac.authorization.k8s.io", "rolebindings", "", "p1", "", ""},
				{"bind", "rbac.authorization.k8s.io", "clusterroles", "", "", "pinet-admin", ""},
				{"create", "", "serviceaccounts", "token", sys, "pinet-manager", ""},
			}},
		{"pinet-manager",
			[]access{
				{"create", "", "namespaces", "", "", "", ""},
				{"get", "", "secrets", "", sys, "pinet-cloud-ca", ""},
				{"watch", "", "secrets", "", sys, "", ""},
				{"create", "coordination.k8s.io", "leases", "", sys, "", ""},
				{"create", "", "events", "", sys, "", ""},
				{"update", cloudGroup, "instances", "status", "p1", "vm", ""},
				{"create", cloudGroup, "instances", "", "p1", "", ""},
				// What the EC2 API and the dashboard write for their callers.
				{"create", cloudGroup, "snapshots", "", "p1", "", ""},
				{"patch", cloudGroup, "snapshots", "", "p1", "snap", ""},
				{"delete", cloudGroup, "snapshots", "", "p1", "snap", ""},
				{"delete", cloudGroup, "volumes", "", "p1", "data", ""},
				{"patch", cloudGroup, "images", "", "p1", "ami", ""},
				{"delete", cloudGroup, "keypairs", "", "p1", "k", ""},
				{"create", cloudGroup, "addresses", "", "p1", "", ""},
				{"patch", cloudGroup, "securitygroups", "", "p1", "sg", ""},
				{"bind", "rbac.authorization.k8s.io", "clusterroles", "", "", "pinet-member", ""},
				{"create", "", "serviceaccounts", "token", sys, "pinet-manager", ""},
				// The node agents' store keys role (controllers/nodestore).
				{"create", "rbac.authorization.k8s.io", "roles", "", sys, "", ""},
				{"update", "rbac.authorization.k8s.io", "roles", "", sys, "pinet-nodeagent-store-keys", ""},
			},
			[]access{
				{"create", "rbac.authorization.k8s.io", "roles", "", "p1", "", ""},
				{"get", "", "secrets", "", "p1", "anything", ""},
				{"list", "", "secrets", "", "", "", ""},
				{"create", "", "pods", "", sys, "", ""},
				{"create", "", "serviceaccounts", "token", sys, "pinet-nodeagent", ""},
				{"bind", "rbac.authorization.k8s.io", "clusterroles", "", "", "cluster-admin", ""},
				{"escalate", "rbac.authorization.k8s.io", "clusterroles", "", "", "", ""},
				{"create", "apps", "deployments", "", sys, "", ""},
			}},
	} {
		for _, a := range tc.allowed {
			if !allowed(t, tc.sa, a) {
				t.Errorf("%s may not %s", tc.sa, a)
			}
		}
		for _, a := range tc.denied {
			if allowed(t, tc.sa, a) {
				t.Errorf("%s may %s", tc.sa, a)
			}
		}
	}
}
