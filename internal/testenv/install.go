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

package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// SystemNamespace is the namespace tests run PiNet's system objects in.
const SystemNamespace = "pinet-system"

// AdminUser is envtest's administrator (group system:masters): the identity Env.Client, and the
// managers tests start with Env.Config, act as. It is one of the scheduler identities the
// admission policies let bind Instances to nodes.
const AdminUser = "admin"

// NodeUser is the Kubernetes user a node agent acts as (group NodeAgentsGroup).
func NodeUser(node string) string { return "pinet:node:" + node }

// NodeAgentsGroup is the group of every node agent.
const NodeAgentsGroup = "pinet:nodeagents"

// installBase creates what an installed cloud has besides the CRDs, from the same manifests the
// local cloud applies: the system namespace, the manager's, node agents' and users' roles with the
// local cloud's bindings, and the admission policies (config/admission) with the test's manager
// (AdminUser) among the scheduler identities. It returns once the policies are enforced.
func installBase(cfg *rest.Config, c client.Client) error {
	ctx := context.Background()
	root := RepoRoot()
	files := []string{
		filepath.Join(root, "config", "local", "namespace.yaml"),
		filepath.Join(root, "config", "rbac", "users", "roles.yaml"),
		filepath.Join(root, "config", "rbac", "manager", "role.yaml"),
		filepath.Join(root, "config", "rbac", "nodeagent", "role.yaml"),
		filepath.Join(root, "config", "local", "bindings.yaml"),
	}
	admission, err := kustomizationResources(filepath.Join(root, "config", "admission"))
	if err != nil {
		return err
	}
	for _, f := range append(files, admission...) {
		if err := createFromFile(ctx, c, f); err != nil {
			return err
		}
	}
	return waitForPolicies(ctx, cfg, c)
}

// kustomizationResources lists the files a kustomization directory names.
func kustomizationResources(dir string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return nil, err
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("parsing %s/kustomization.yaml: %w", dir, err)
	}
	out := make([]string, 0, len(k.Resources))
	for _, r := range k.Resources {
		out = append(out, filepath.Join(dir, r))
	}
	return out, nil
}

// createFromFile creates every object of a multi-document YAML file. The scheduler identities'
// ConfigMap gets AdminUser added.
func createFromFile(ctx context.Context, c client.Client, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for _, doc := range strings.Split(string(data), "\n---") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			return fmt.Errorf("parsing %s: %w", path, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if u.GetKind() == "ConfigMap" && u.GetName() == "pinet-scheduler-identities" {
			users, _, _ := unstructured.NestedString(u.Object, "data", "users")
			if err := unstructured.SetNestedField(u.Object, users+","+AdminUser, "data", "users"); err != nil {
				return err
			}
		}
		if err := c.Create(ctx, u); err != nil {
			return fmt.Errorf("creating %s %s from %s: %w", u.GetKind(), u.GetName(), path, err)
		}
	}
	return nil
}

// waitForPolicies waits until the API server enforces the admission policies: it loads them in
// the background. It probes with dry-run writes as impersonated users the policies refuse (in
// system:masters, so that authorization lets the writes reach admission).
func waitForPolicies(ctx context.Context, cfg *rest.Config, c client.Client) error {
	// The console policy guards updates: it is probed on a Hypervisor removed afterwards.
	probeHV := &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: "testenv-probe"}}
	if err := c.Create(ctx, probeHV); err != nil {
		return fmt.Errorf("creating the policy probe: %w", err)
	}
	defer func() { _ = c.Delete(ctx, probeHV) }()
	// The image registrar's check guards updates too: it is probed on an Image removed afterwards.
	probeImage := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "testenv-probe", Namespace: SystemNamespace},
		Spec: cloudv1.ImageSpec{ImageLocation: "probe/probe"}}
	// Its CRD may still be becoming established.
	var last error
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		last = c.Create(ctx, probeImage)
		return last == nil, nil
	}); err != nil {
		return fmt.Errorf("creating the policy probe: %w", errors.Join(err, last))
	}
	defer func() { _ = c.Delete(ctx, probeImage) }()
	// The protection policy guards deletions: it is probed on a protected Instance, unprotected
	// and removed afterwards.
	probeInstance := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: "testenv-probe", Namespace: SystemNamespace},
		Spec: cloudv1.InstanceSpec{ImageID: "probe", DisableAPITermination: true}}
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		last = c.Create(ctx, probeInstance)
		return last == nil, nil
	}); err != nil {
		return fmt.Errorf("creating the policy probe: %w", errors.Join(err, last))
	}
	defer func() {
		_ = c.Patch(ctx, probeInstance, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"disableApiTermination":false}}`)))
		_ = c.Delete(ctx, probeInstance)
	}()
	// The image protection policy guards deletions too: probed on a protected Image, unprotected
	// and removed afterwards (no controller runs yet to record the protection in its status).
	probeProtected := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "testenv-probe-protected", Namespace: SystemNamespace},
		Spec: cloudv1.ImageSpec{ImageLocation: "probe/probe", DeregistrationProtection: cloudv1.DeregistrationProtected}}
	if err := c.Create(ctx, probeProtected); err != nil {
		return fmt.Errorf("creating the policy probe: %w", err)
	}
	defer func() {
		_ = c.Patch(ctx, probeProtected, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"deregistrationProtection":null}}`)))
		_ = c.Delete(ctx, probeProtected)
	}()
	// The snapshot protection policy guards deletions: probed on a Snapshot whose status an image
	// maps, cleared before it is removed.
	probeMapped := &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: "testenv-probe", Namespace: SystemNamespace},
		Spec: cloudv1.SnapshotSpec{VolumeID: "vol-0123456789abcdef0"}}
	if err := c.Create(ctx, probeMapped); err != nil {
		return fmt.Errorf("creating the policy probe: %w", err)
	}
	defer func() {
		_ = c.Status().Patch(ctx, probeMapped, client.RawPatch(types.MergePatchType, []byte(`{"status":{"mappedBy":null}}`)))
		_ = c.Delete(ctx, probeMapped)
	}()
	if err := c.Status().Patch(ctx, probeMapped, client.RawPatch(types.MergePatchType, []byte(`{"status":{"mappedBy":["ami-0123456789abcdef0"]}}`))); err != nil {
		return fmt.Errorf("marking the policy probe: %w", err)
	}
	probes := []struct {
		user   string
		groups []string
		write  func(context.Context, client.Client) error
		want   string
	}{
		{NodeUser("testenv-probe-other"), []string{"system:masters", NodeAgentsGroup}, func(ctx context.Context, ic client.Client) error {
			return ic.Create(ctx, &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: "testenv-probe-2"}}, client.DryRunAll)
		}, "may write only its own Hypervisor"},
		{"testenv-probe", []string{"system:masters"}, func(ctx context.Context, ic client.Client) error {
			return ic.Create(ctx, &cloudv1.Instance{
				ObjectMeta: metav1.ObjectMeta{Name: "testenv-probe", Namespace: SystemNamespace,
					Labels: map[string]string{cloudv1.LabelHypervisor: "testenv-probe"}},
				Spec: cloudv1.InstanceSpec{ImageID: "probe"},
			}, client.DryRunAll)
		}, "set only by the scheduler"},
		{"testenv-probe", []string{"system:masters"}, func(ctx context.Context, ic client.Client) error {
			return ic.Delete(ctx, probeInstance.DeepCopy(), client.DryRunAll)
		}, "has termination protection"},
		{"testenv-probe", []string{"system:masters"}, func(ctx context.Context, ic client.Client) error {
			return ic.Delete(ctx, probeProtected.DeepCopy(), client.DryRunAll)
		}, "has deregistration protection"},
		{"testenv-probe", []string{"system:masters"}, func(ctx context.Context, ic client.Client) error {
			return ic.Delete(ctx, probeMapped.DeepCopy(), client.DryRunAll)
		}, "is in use by image(s) ami-0123456789abcdef0"},
		{"testenv-probe", []string{"system:masters"}, func(ctx context.Context, ic client.Client) error {
			return ic.Create(ctx, &cloudv1.Volume{
				ObjectMeta: metav1.ObjectMeta{Name: "testenv-probe", Namespace: SystemNamespace,
					Labels: map[string]string{cloudv1.LabelStorageNode: "testenv-probe"}},
				Spec: cloudv1.VolumeSpec{SizeGiB: 1},
			}, client.DryRunAll)
		}, "set only by PiNet"},
		{"testenv-probe", []string{"system:masters"}, func(ctx context.Context, ic client.Client) error {
			return ic.Create(ctx, &cloudv1.KeyPair{
				ObjectMeta: metav1.ObjectMeta{Name: "testenv-probe", Namespace: SystemNamespace,
					Labels: map[string]string{cloudv1.NodeUseLabel("testenv-probe"): cloudv1.NodeUseLabelValue}},
				Spec: cloudv1.KeyPairSpec{PublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKfVbUNIwsN0OxP5aaQoMzk/wsBf0aDiiIRxeEYgmIGx probe"},
			}, client.DryRunAll)
		}, "gives a KeyPair to a node"},
		{"testenv-probe", []string{"system:masters"}, func(ctx context.Context, ic client.Client) error {
			return ic.Status().Patch(ctx, probeHV.DeepCopy(), client.RawPatch(types.MergePatchType,
				[]byte(`{"status":{"console":{"url":"https://127.0.0.1:1","caBundle":"eA=="}}}`)), client.DryRunAll)
		}, "reported only by its own node agent"},
		{AdminUser, []string{"system:masters"}, func(ctx context.Context, ic client.Client) error {
			return ic.Patch(ctx, probeImage.DeepCopy(), client.RawPatch(types.MergePatchType,
				[]byte(`{"metadata":{"annotations":{"`+cloudv1.AnnotationRegisteredBy+`":"someone"}}}`)), client.DryRunAll)
		}, "does not change"},
		{cloudv1.UserPrefix + "testenv-probe", []string{"system:masters"}, func(ctx context.Context, ic client.Client) error {
			img := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "testenv-probe-2", Namespace: SystemNamespace,
				Annotations: map[string]string{cloudv1.AnnotationRegisteredBy: "someone"}},
				Spec: cloudv1.ImageSpec{ImageLocation: "probe/probe"}}
			if err := ic.Create(ctx, img, client.DryRunAll); err != nil {
				return err
			}
			// The mutating policy wrote the creator's name: report it the way the loop expects.
			return fmt.Errorf("registered by %q", img.Annotations[cloudv1.AnnotationRegisteredBy])
		}, `registered by "testenv-probe"`},
	}
	for _, p := range probes {
		icfg := rest.CopyConfig(cfg)
		icfg.Impersonate = rest.ImpersonationConfig{UserName: p.user, Groups: p.groups}
		ic, err := client.New(icfg, client.Options{Scheme: Scheme()})
		if err != nil {
			return err
		}
		var last error
		err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			last = p.write(ctx, ic)
			return last != nil && strings.Contains(last.Error(), p.want), nil
		})
		if err != nil {
			return errors.Join(fmt.Errorf("the admission policies were not enforced within a minute"), last)
		}
	}
	return nil
}
