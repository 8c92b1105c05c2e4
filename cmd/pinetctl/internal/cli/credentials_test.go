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

package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

func testUser(admin bool, projects ...string) *cloudv1.User {
	u := &cloudv1.User{Spec: cloudv1.UserSpec{Projects: projects, Admin: admin}}
	u.Name = "alice"
	return u
}

// The plain key acts in the user's first project; KEY:project only when a project was chosen
// that the plain key would not reach unambiguously.
func TestRCAccessKey(t *testing.T) {
	for _, tc := range []struct {
		name   string
		user   *cloudv1.User
		chosen string
		want   string
	}{
		{"one project, none chosen", testUser(false, "p1"), "", "AKIA"},
		{"one project, chosen", testUser(false, "p1"), "p1", "AKIA"},
		{"several projects, none chosen", testUser(false, "p1", "p2"), "", "AKIA"},
		{"several projects, first chosen", testUser(false, "p1", "p2"), "p1", "AKIA:p1"},
		{"several projects, second chosen", testUser(false, "p1", "p2"), "p2", "AKIA:p2"},
		{"admin acting outside its projects", testUser(true, "admin"), "p9", "AKIA:p9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rcAccessKey(tc.user, "AKIA", tc.chosen); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestUserGroups(t *testing.T) {
	if got, want := userGroups(testUser(false, "p2", "p1", "p2")), []string{"pinet:project:p1", "pinet:project:p2"}; !slices.Equal(got, want) {
		t.Fatalf("member: %v, want %v", got, want)
	}
	if got, want := userGroups(testUser(true, "admin")), []string{"pinet:project:admin", "pinet:admins"}; !slices.Equal(got, want) {
		t.Fatalf("admin: %v, want %v", got, want)
	}
}

func TestRCExportsTheUsersKubeconfigUnlessTold(t *testing.T) {
	own := renderRC(rcValues{AccessKey: "AKIA", User: "alice", Project: "p1"})
	if !strings.Contains(own, "export KUBECONFIG=${PINET_KEY_DIR}/"+userKubeconfigFile+"\n") {
		t.Fatalf("pinetrc does not point at the user's kubeconfig:\n%s", own)
	}
	other := renderRC(rcValues{AccessKey: "AKIA", User: "alice", Project: "p1", Kubeconfig: "/k/admin"})
	if strings.Count(other, "KUBECONFIG") != 1 || !strings.Contains(other, "export KUBECONFIG='/k/admin'\n") {
		t.Fatalf("pinetrc with --rc-kubeconfig:\n%s", other)
	}
}

func selfSigned(t *testing.T, subject pkix.Name) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: subject, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestCheckIssuedRefusesAnotherIdentity(t *testing.T) {
	want := pkix.Name{CommonName: "pinet:user:alice", Organization: []string{"pinet:project:p1"}}
	if err := checkIssued(selfSigned(t, want), want); err != nil {
		t.Fatal(err)
	}
	reordered := pkix.Name{CommonName: want.CommonName, Organization: []string{"pinet:admins", "pinet:project:p1"}}
	if err := checkIssued(selfSigned(t, reordered), pkix.Name{CommonName: want.CommonName, Organization: []string{"pinet:project:p1", "pinet:admins"}}); err != nil {
		t.Fatalf("groups in another order: %v", err)
	}
	for _, got := range []pkix.Name{
		{CommonName: "pinet:user:bob", Organization: want.Organization},
		{CommonName: want.CommonName, Organization: []string{"pinet:project:p1", "pinet:admins"}},
	} {
		if err := checkIssued(selfSigned(t, got), want); err == nil {
			t.Fatalf("accepted a certificate for %v", got)
		}
	}
}

// The kubeconfig embeds the cluster's CA from pinetctl's own kubeconfig, the user's certificate
// and key, and defaults to the user's project.
func TestKubeconfigFor(t *testing.T) {
	ca := selfSigned(t, pkix.Name{CommonName: "ca"})
	crt := selfSigned(t, pkix.Name{CommonName: "pinet:user:alice"})
	caFromFile, err := clusterCA(&rest.Config{TLSClientConfig: rest.TLSClientConfig{CAData: ca}})
	if err != nil {
		t.Fatal(err)
	}
	data, err := kubeconfigFor("https://127.0.0.1:6443", caFromFile, "alice", "p1", crt, []byte("KEY"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	cur := cfg.Contexts[cfg.CurrentContext]
	if cur == nil || cur.Namespace != "p1" {
		t.Fatalf("current context %q: %+v", cfg.CurrentContext, cur)
	}
	cl, auth := cfg.Clusters[cur.Cluster], cfg.AuthInfos[cur.AuthInfo]
	if cl.Server != "https://127.0.0.1:6443" || string(cl.CertificateAuthorityData) != string(ca) {
		t.Fatalf("cluster %+v", cl)
	}
	if string(auth.ClientCertificateData) != string(crt) || string(auth.ClientKeyData) != "KEY" {
		t.Fatalf("user %+v", auth)
	}
	if _, err := clusterCA(&rest.Config{}); err == nil {
		t.Fatal("a kubeconfig without a CA gave a user kubeconfig")
	}
	if _, err := clusterCA(&rest.Config{TLSClientConfig: rest.TLSClientConfig{CAData: []byte("nope")}}); err == nil {
		t.Fatal("a CA that is not PEM was accepted")
	}
}
