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

package controllers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/controllers"
	"pinet.io/pinet/internal/authz"
	"pinet.io/pinet/internal/awsauth"
	"pinet.io/pinet/internal/cloudca"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/credentials"
	"pinet.io/pinet/internal/index"
	"pinet.io/pinet/internal/testenv"
)

func createProject(t *testing.T, name string) {
	t.Helper()
	p := &cloudv1.Project{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := env.Client.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	waitReady(t, p)
}

func createUser(t *testing.T, name string, admin bool, projects ...string) *cloudv1.User {
	t.Helper()
	u := &cloudv1.User{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: cloudv1.UserSpec{Admin: admin, Projects: projects}}
	if err := env.Client.Create(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	waitReady(t, u)
	return u
}

type readyObject interface {
	client.Object
	cloudv1.ConditionsAccessor
}

func waitReady(t *testing.T, obj readyObject) {
	t.Helper()
	testenv.Eventually(t, longWait, fmt.Sprintf("%T %s to be Ready", obj, obj.GetName()), func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		if !conditions.IsTrue(obj, cloudv1.ReadyCondition) || obj.GetGeneration() == 0 {
			return fmt.Errorf("conditions %+v", obj.GetConditions())
		}
		return nil
	})
}

func userSecret(t *testing.T, name string) *corev1.Secret {
	t.Helper()
	sec := &corev1.Secret{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: testenv.SystemNamespace, Name: credentials.SecretName(name)}, sec); err != nil {
		t.Fatal(err)
	}
	return sec
}

// cachedReader is a client reading through an informer cache with PiNet's indexes, as the EC2 API
// and S3 store read.
func cachedReader(t *testing.T) client.Reader {
	t.Helper()
	cl, err := cluster.New(env.Config, func(o *cluster.Options) {
		o.Scheme = env.Scheme
		o.Cache = controllers.CacheOptions(testenv.SystemNamespace)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := index.Register(env.Ctx, cl.GetFieldIndexer(), index.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(env.Ctx)
	t.Cleanup(cancel)
	go func() { _ = cl.Start(ctx) }()
	if !cl.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("cache did not sync")
	}
	return cl.GetClient()
}

func TestProjectSetsUpItsNamespace(t *testing.T) {
	startManager(t)
	createProject(t, "proj-setup")
	ctx := context.Background()
	ns := &corev1.Namespace{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "proj-setup"}, ns); err != nil {
		t.Fatal(err)
	}
	if ns.Labels[cloudv1.LabelProject] != "proj-setup" {
		t.Fatalf("namespace labels %v", ns.Labels)
	}
	rb := &rbacv1.RoleBinding{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "proj-setup", Name: "pinet-members"}, rb); err != nil {
		t.Fatal(err)
	}
	if rb.RoleRef.Name != cloudv1.MemberRole || rb.Subjects[0].Name != "pinet:project:proj-setup" {
		t.Fatalf("members binding %+v", rb)
	}
	sg := &cloudv1.SecurityGroup{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "proj-setup", Name: "default"}, sg); err != nil {
		t.Fatalf("default security group: %v", err)
	}
	// The original cloud's group: all from its own members, ssh, http(s) and OpenVPN from anywhere.
	var rules []string
	for _, r := range sg.Spec.Ingress {
		from, to := int32(0), int32(0)
		if r.FromPort != nil {
			from, to = *r.FromPort, *r.ToPort
		}
		rules = append(rules, fmt.Sprintf("%s %d-%d %v %v", r.Protocol, from, to, r.CIDRIPs, r.SourceGroups))
	}
	if want := []string{"-1 0-0 [] [default]", "tcp 22-22 [0.0.0.0/0] []", "tcp 80-80 [0.0.0.0/0] []",
		"tcp 443-443 [0.0.0.0/0] []", "tcp 1194-1194 [0.0.0.0/0] []", "udp 1194-1194 [0.0.0.0/0] []"}; !slices.Equal(rules, want) {
		t.Errorf("default group rules %v, want %v", rules, want)
	}
	waitReady(t, sg)

	// A namespace that already belongs to something else is not taken over.
	other := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "taken"}}
	if err := env.Client.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	p := &cloudv1.Project{ObjectMeta: metav1.ObjectMeta{Name: "taken"}}
	if err := env.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "NamespaceOwnedElsewhere", func() error {
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(p), p)
		if c := conditions.Get(p, cloudv1.ReadyCondition); c == nil || c.Reason != cloudv1.ReasonNamespaceOwnedElsewhere {
			return fmt.Errorf("ready %+v", c)
		}
		return nil
	})
}

func TestUsersGetKeysCertificatesAndRBAC(t *testing.T) {
	startManager(t)
	createProject(t, "team-a")
	createProject(t, "team-b")
	alice := createUser(t, "alice", false, "team-a")
	createUser(t, "root", true)
	ctx := context.Background()

	// Keys: one active key of the EC2 shape, its secret only in the Secret.
	if len(alice.Status.AccessKeys) != 1 || alice.Status.AccessKeys[0].State != cloudv1.AccessKeyActive {
		t.Fatalf("access keys %+v", alice.Status.AccessKeys)
	}
	keyID := alice.Status.AccessKeys[0].AccessKeyID
	if !regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`).MatchString(keyID) {
		t.Fatalf("access key id %q", keyID)
	}
	keys, err := credentials.ReadKeys(userSecret(t, "alice"))
	if err != nil || len(keys) != 1 || len(keys[0].SecretAccessKey) != 40 {
		t.Fatalf("stored keys %+v %v", keys, err)
	}
	raw, _ := json.Marshal(alice)
	if strings.Contains(string(raw), keys[0].SecretAccessKey) {
		t.Fatal("the secret key leaked into the User object")
	}

	// Certificate: signed by the cloud CA.
	caSec := &corev1.Secret{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: testenv.SystemNamespace, Name: cloudca.SecretName}, caSec); err != nil {
		t.Fatal(err)
	}
	ca, err := cloudca.FromSecret(caSec)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := cloudca.ParseCertificate(userSecret(t, "alice").Data[credentials.SecretCertKey])
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Verify(cert); err != nil || cert.Subject.CommonName != "alice" {
		t.Fatalf("user certificate %s: %v", cert.Subject, err)
	}

	// kubectl as alice: her project only. As root: both.
	aliceCfg, err := env.AddUser("pinet:user:alice")
	if err != nil {
		t.Fatal(err)
	}
	rootCfg, err := env.AddUser("pinet:user:root")
	if err != nil {
		t.Fatal(err)
	}
	manifest := `{"apiVersion":"cloud.pinet.io/v1alpha1","kind":"Instance","metadata":{"name":"mine"},"spec":{"imageId":"img"}}`
	testenv.Eventually(t, shortWait, "alice may create instances in team-a", func() error {
		_, err := kubectl(t, aliceCfg, manifest, "-n", "team-a", "apply", "-f", "-")
		return err
	})
	if out, err := kubectl(t, aliceCfg, "", "-n", "team-a", "get", "instances", "-o", "name"); err != nil || !strings.Contains(out, "mine") {
		t.Fatalf("alice lists team-a: %q %v", out, err)
	}
	for _, args := range [][]string{
		{"-n", "team-b", "get", "instances"},
		{"-n", "team-b", "apply", "-f", "-"},
		{"-n", "team-a", "get", "secrets"},
		{"get", "users"},
	} {
		if out, err := kubectl(t, aliceCfg, manifest, args...); err == nil || !strings.Contains(out, "forbidden") {
			t.Fatalf("alice %v: allowed (%v): %s", args, err, out)
		}
	}
	if _, err := kubectl(t, aliceCfg, "", "get", "instancetypes"); err != nil {
		t.Fatalf("alice cannot read the instance types: %v", err)
	}
	testenv.Eventually(t, shortWait, "root may act on both projects", func() error {
		for _, ns := range []string{"team-a", "team-b"} {
			if _, err := kubectl(t, rootCfg, manifest, "-n", ns, "apply", "-f", "-"); err != nil {
				return err
			}
		}
		return nil
	})

	// The same answers through the EC2 API's authorizer and credential store.
	az := &authz.Authorizer{Client: env.Client}
	pa := awsauth.Principal{User: "alice", Project: "team-a"}
	for _, tc := range []struct {
		p    awsauth.Principal
		verb string
		ns   string
		want bool
	}{
		{pa, "create", "team-a", true},
		{pa, "list", "team-b", false},
		{awsauth.Principal{User: "root", Project: "team-a", Admin: true}, "delete", "team-b", true},
		{awsauth.Principal{User: "mallory", Project: "team-a"}, "list", "team-a", true}, // group pinet:project:team-a
		{awsauth.Principal{User: "mallory", Project: "team-c"}, "list", "team-a", false},
	} {
		got, err := az.Allowed(ctx, tc.p, tc.verb, "instances", tc.ns)
		if err != nil || got != tc.want {
			t.Errorf("%+v %s instances in %s: %v %v, want %v", tc.p, tc.verb, tc.ns, got, err, tc.want)
		}
	}
	store := &credentials.Store{Client: cachedReader(t), SystemNamespace: testenv.SystemNamespace}
	cred, err := store.Lookup(ctx, keyID)
	if err != nil || cred.SecretAccessKey != keys[0].SecretAccessKey || cred.Principal != (awsauth.Principal{User: "alice", Project: "team-a"}) {
		t.Fatalf("lookup: %+v %v", cred, err)
	}
	if _, err := store.Lookup(ctx, keyID+":team-b"); !errors.Is(err, awsauth.ErrUnknownKey) {
		t.Fatalf("alice's key for team-b: %v", err)
	}
	if _, err := store.Lookup(ctx, "AKIAAAAAAAAAAAAAAAAA"); !errors.Is(err, awsauth.ErrUnknownKey) {
		t.Fatalf("unknown key: %v", err)
	}

	// Leaving a project revokes access.
	if err := testenv.Update(ctx, env.Client, alice, func(u *cloudv1.User) { u.Spec.Projects = nil }); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "alice's team-a binding to go", func() error {
		rb := &rbacv1.RoleBinding{}
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "pinet-user-alice"}, rb)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("binding still there: %v", err)
	})
	if out, err := kubectl(t, aliceCfg, "", "-n", "team-a", "get", "instances"); err == nil {
		t.Fatalf("alice still lists team-a after leaving it: %s", out)
	}
}

func TestKeyRotationAndRestartKeepCredentials(t *testing.T) {
	stop := startManager(t)
	createProject(t, "rot")
	u := createUser(t, "rotor", false, "rot")
	ctx := context.Background()
	caBefore := &corev1.Secret{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: testenv.SystemNamespace, Name: cloudca.SecretName}, caBefore); err != nil {
		t.Fatal(err)
	}
	first := u.Status.AccessKeys[0].AccessKeyID

	if err := testenv.Update(ctx, env.Client, u, func(u *cloudv1.User) { u.Spec.KeyRotation = 1 }); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "a second key", func() error {
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(u), u)
		if len(u.Status.AccessKeys) != 2 {
			return fmt.Errorf("keys %+v", u.Status.AccessKeys)
		}
		return nil
	})
	if u.Status.AccessKeys[0].AccessKeyID != first || u.Status.AccessKeys[0].State != cloudv1.AccessKeyRetired ||
		u.Status.AccessKeys[1].State != cloudv1.AccessKeyActive {
		t.Fatalf("after rotation: %+v", u.Status.AccessKeys)
	}
	second := u.Status.AccessKeys[1].AccessKeyID
	store := &credentials.Store{Client: cachedReader(t), SystemNamespace: testenv.SystemNamespace}
	testenv.Eventually(t, shortWait, "the store to see the rotation", func() error {
		if _, err := store.Lookup(ctx, first); !errors.Is(err, awsauth.ErrRetiredKey) {
			return fmt.Errorf("retired key: %v", err)
		}
		_, err := store.Lookup(ctx, second)
		return err
	})
	secretBefore := userSecret(t, "rotor").Data

	// A new manager keeps the CA and every key.
	stop()
	startManager(t)
	testenv.Eventually(t, longWait, "the user to be reconciled again", func() error {
		cur := &cloudv1.User{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(u), cur); err != nil {
			return err
		}
		cur.Annotations = map[string]string{"touch": "1"}
		return env.Client.Update(ctx, cur)
	})
	waitReady(t, u)
	caAfter := &corev1.Secret{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(caBefore), caAfter); err != nil {
		t.Fatal(err)
	}
	if string(caAfter.Data[corev1.TLSCertKey]) != string(caBefore.Data[corev1.TLSCertKey]) || caAfter.ResourceVersion != caBefore.ResourceVersion {
		t.Fatal("the cloud CA changed across a restart")
	}
	for k, v := range secretBefore {
		if string(userSecret(t, "rotor").Data[k]) != string(v) {
			t.Fatalf("the user's %s changed across a restart", k)
		}
	}
}

func TestProjectWithInstancesIsNotDeleted(t *testing.T) {
	startManager(t)
	createProject(t, "busy")
	ctx := context.Background()
	inst := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "busy"}, Spec: cloudv1.InstanceSpec{ImageID: "img"}}
	if err := env.Client.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	p := &cloudv1.Project{ObjectMeta: metav1.ObjectMeta{Name: "busy"}}
	if err := env.Client.Delete(ctx, p); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "HasResources", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
			return err
		}
		c := conditions.Get(p, cloudv1.ReadyCondition)
		if c == nil || c.Reason != cloudv1.ReasonHasResources || !strings.Contains(c.Message, "1 instance") {
			return fmt.Errorf("ready %+v", c)
		}
		return nil
	})
	// The user who asked is told once why the project stays.
	testenv.Eventually(t, longWait, "a DeleteBlocked event", func() error {
		list := &eventsv1.EventList{}
		if err := env.Client.List(ctx, list); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Reason == "DeleteBlocked" && e.Type == corev1.EventTypeWarning && e.Regarding.Kind == "Project" && e.Regarding.Name == "busy" {
				return nil
			}
		}
		return errors.New("no DeleteBlocked event about the project")
	})
	ns := &corev1.Namespace{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "busy"}, ns); err != nil || !ns.DeletionTimestamp.IsZero() {
		t.Fatalf("namespace touched while the project has instances: %v %v", err, ns.DeletionTimestamp)
	}
	if err := env.Client.Delete(ctx, inst); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "the project to go", func() error {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(p), p)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
	// The namespace is being deleted (this control plane has no namespace controller to finish it).
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "busy"}, ns); err == nil && ns.DeletionTimestamp.IsZero() {
		t.Fatal("the project's namespace was not deleted")
	}
}
