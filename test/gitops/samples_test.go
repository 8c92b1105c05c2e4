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

package gitops_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/testenv"
)

// fieldManager is the GitOps tool's field manager, as Flux names its own.
const fieldManager = "gitops-test"

// manifest is one object of a sample file, as git holds it.
type manifest struct {
	file string
	obj  *unstructured.Unstructured
}

func (m manifest) String() string {
	if ns := m.obj.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s %s/%s (%s)", m.obj.GetKind(), ns, m.obj.GetName(), m.file)
	}
	return fmt.Sprintf("%s %s (%s)", m.obj.GetKind(), m.obj.GetName(), m.file)
}

func (m manifest) yaml(t *testing.T) string {
	t.Helper()
	out, err := yaml.Marshal(m.obj.Object)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// readSamples reads every object of config/samples, by file name.
func readSamples(t *testing.T) map[string][]manifest {
	t.Helper()
	dir := filepath.Join(testenv.RepoRoot(), "config", "samples")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples in %s: %v", dir, err)
	}
	out := map[string][]manifest{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(data), "\n---\n") {
			m := map[string]any{}
			if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if len(m) == 0 {
				continue
			}
			name := filepath.Base(f)
			out[name] = append(out[name], manifest{file: name, obj: &unstructured.Unstructured{Object: m}})
		}
	}
	return out
}

// identity is who applies: kubectl with its own kubeconfig.
type identity struct {
	name       string
	kubeconfig string
}

func newIdentity(t *testing.T, name string, cfg *rest.Config) identity {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["c"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["u"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	kc.CurrentContext = "c"
	path := filepath.Join(t.TempDir(), name+".kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return identity{name: name, kubeconfig: path}
}

// kubectl runs the repository's kubectl (bin/kubectl) as the identity.
func (id identity) kubectl(stdin string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(testenv.RepoRoot(), "bin", "kubectl"), append([]string{"--kubeconfig", id.kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s as %s: %w: %s", strings.Join(args, " "), id.name, err, out)
	}
	return string(out), nil
}

// apply applies the manifest server-side, as a GitOps tool does: conflicts are forced, since git
// is the source of truth for what it declares.
func (id identity) apply(t *testing.T, m manifest) {
	t.Helper()
	if _, err := id.kubectl(m.yaml(t), "apply", "--server-side", "--force-conflicts", "--field-manager="+fieldManager, "-f", "-"); err != nil {
		t.Fatalf("applying %s: %v", m, err)
	}
}

// get reads the live object of a manifest as unstructured, through the admin's uncached client.
func get(ctx context.Context, m manifest) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(m.obj.GroupVersionKind())
	err := env.Client.Get(ctx, client.ObjectKey{Namespace: m.obj.GetNamespace(), Name: m.obj.GetName()}, u)
	return u, err
}

// readyCondition is the live object's Ready condition, nil if it has none.
func readyCondition(u *unstructured.Unstructured) *metav1.Condition {
	list, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, item := range list {
		c, ok := item.(map[string]any)
		if !ok || c["type"] != cloudv1.ReadyCondition {
			continue
		}
		out := &metav1.Condition{Type: cloudv1.ReadyCondition}
		out.Status, _ = c["status"].(metav1.ConditionStatus)
		if s, ok := c["status"].(string); ok {
			out.Status = metav1.ConditionStatus(s)
		}
		out.Reason, _ = c["reason"].(string)
		out.Message, _ = c["message"].(string)
		if g, ok := c["observedGeneration"].(int64); ok {
			out.ObservedGeneration = g
		}
		return out
	}
	return nil
}

// observed tells whether the status reflects the object's current generation.
func observed(u *unstructured.Unstructured) error {
	g, found, err := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	if err != nil {
		return err
	}
	if !found || g != u.GetGeneration() {
		return fmt.Errorf("status.observedGeneration is %d (set: %v), generation %d", g, found, u.GetGeneration())
	}
	return nil
}

// compute is kstatus' verdict on the live object.
func compute(t *testing.T, u *unstructured.Unstructured) *status.Result {
	t.Helper()
	res, err := status.Compute(u)
	if err != nil {
		t.Fatalf("kstatus on %s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return res
}

// specOwners lists the managers other than the GitOps tool that own fields of the spec.
func specOwners(u *unstructured.Unstructured) []string {
	var out []string
	for _, mf := range u.GetManagedFields() {
		if mf.Manager == fieldManager || mf.Subresource != "" || mf.FieldsV1 == nil {
			continue
		}
		if strings.Contains(string(mf.FieldsV1.Raw), `"f:spec"`) {
			out = append(out, fmt.Sprintf("%s (%s)", mf.Manager, mf.Operation))
		}
	}
	return out
}
