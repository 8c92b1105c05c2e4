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

package e2e

import (
	"archive/zip"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"pinet.io/pinet/internal/testenv"
)

// etcdClient is an HTTPS client for the cloud's etcd that trusts its CA, with the API server's
// client certificate when withCert.
func etcdClient(t *testing.T, withCert bool) *http.Client {
	t.Helper()
	pki := filepath.Join(cloud.Dir, "pki", "etcd")
	caPEM, err := os.ReadFile(filepath.Join(pki, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("etcd CA is not PEM")
	}
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if withCert {
		pair, err := tls.LoadX509KeyPair(filepath.Join(pki, "apiserver-etcd-client.crt"), filepath.Join(pki, "apiserver-etcd-client.key"))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

// etcd answers only clients with a certificate of its CA: plain HTTP and TLS without a client
// certificate are refused, the API server's client certificate gets in.
func TestEtcdRefusesClientsWithoutACertificate(t *testing.T) {
	url := "https://" + cloud.EtcdAddr + "/health"
	resp, err := etcdClient(t, true).Get(url)
	if err != nil {
		t.Fatalf("etcd refused the API server's client certificate: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("etcd health with the client certificate: %s", resp.Status)
	}
	if resp, err := etcdClient(t, false).Get(url); err == nil {
		resp.Body.Close()
		t.Fatalf("etcd answered a TLS client without a certificate: %s", resp.Status)
	}
	if resp, err := (&http.Client{Timeout: 30 * time.Second}).Get("http://" + cloud.EtcdAddr + "/health"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), "health") {
			t.Fatalf("etcd answered plain HTTP: %s %s", resp.Status, body)
		}
	}
	out, err := exec.Command("curl", "-sS", "--max-time", "20", "--cacert", filepath.Join(cloud.Dir, "pki", "etcd", "ca.crt"), url).CombinedOutput()
	if err == nil {
		t.Fatalf("curl without a client certificate got an answer from etcd: %s", out)
	}
}

// etcdValue reads a key straight from etcd (its JSON gateway), as someone holding etcd's client
// certificate would, bypassing the API server.
func etcdValue(t *testing.T, key string) []byte {
	t.Helper()
	req, _ := json.Marshal(map[string]string{"key": base64.StdEncoding.EncodeToString([]byte(key))})
	resp, err := etcdClient(t, true).Post("https://"+cloud.EtcdAddr+"/v3/kv/range", "application/json", bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Kvs []struct{ Value []byte } }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("etcd range of %s: %v", key, err)
	}
	if len(out.Kvs) != 1 {
		t.Fatalf("etcd has %d values at %s", len(out.Kvs), key)
	}
	return out.Kvs[0].Value
}

// Secrets are ciphertext in etcd: a new one, and the admin user's credentials the cloud made.
func TestSecretsAreEncryptedAtRest(t *testing.T) {
	plain := fmt.Sprintf("plain-secret-%d", time.Now().UnixNano())
	manifest := `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"at-rest","namespace":"default"},"stringData":{"value":"` + plain + `"}}`
	if out, err := cloud.Kubectl(manifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	defer func() { _, _ = cloud.Kubectl("", "delete", "secret", "at-rest", "-n", "default") }()
	if got, err := cloud.Kubectl("", "get", "secret", "at-rest", "-n", "default", "-o", "jsonpath={.data.value}"); err != nil || got != base64.StdEncoding.EncodeToString([]byte(plain)) {
		t.Fatalf("the API server does not give the secret back: %q %v", got, err)
	}
	for _, key := range []string{"/registry/secrets/default/at-rest", "/registry/secrets/pinet-system/pinet-user-admin"} {
		stored := etcdValue(t, key)
		if !bytes.HasPrefix(stored, []byte("k8s:enc:secretbox:v1:")) {
			t.Fatalf("%s is not encrypted in etcd: %q", key, stored[:min(len(stored), 40)])
		}
		if bytes.Contains(stored, []byte(plain)) || bytes.Contains(stored, []byte("secretAccessKey")) {
			t.Fatalf("%s holds plain text in etcd", key)
		}
	}
}

// assertQEMUNotRoot checks that the QEMU process of a running guest runs as libvirt's
// unprivileged user, as ps shows it.
func assertQEMUNotRoot(t *testing.T, domain string) {
	t.Helper()
	out, err := exec.Command("ps", "-eo", "user:32,args").CombinedOutput()
	if err != nil {
		t.Fatalf("ps: %v: %s", err, out)
	}
	var found []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "qemu-system") && strings.Contains(line, "guest="+domain+",") {
			found = append(found, strings.Fields(line)[0])
		}
	}
	if len(found) != 1 || found[0] != "libvirt-qemu" {
		t.Fatalf("the QEMU process of %s runs as %v, want libvirt-qemu", domain, found)
	}
}

// A user's kubeconfig from `pinetctl user credentials` acts as that user: pinet:user:NAME in its
// project's group, allowed in its project and forbidden in another.
func TestUserKubeconfigActsAsTheUser(t *testing.T) {
	for _, p := range []string{"kc-own", "kc-other"} {
		if out, err := cloud.Pinetctl("project", "create", p); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		defer func() { _, _ = cloud.Pinetctl("project", "delete", p) }()
	}
	if out, err := cloud.Pinetctl("user", "create", "kc-user", "--project", "kc-own"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	defer func() { _, _ = cloud.Pinetctl("user", "delete", "kc-user") }()
	dir := t.TempDir()
	zipPath, kubeconfig := filepath.Join(dir, "creds.zip"), filepath.Join(dir, "kubeconfig")
	if out, err := cloud.Pinetctl("user", "credentials", "kc-user", "-o", zipPath, "--kubeconfig-out", kubeconfig); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	files := unzip(t, zipPath)
	if !bytes.Equal(files["user.kubeconfig"], mustRead(t, kubeconfig)) {
		t.Fatal("the zip's kubeconfig is not the one written to --kubeconfig-out")
	}
	if m := regexp.MustCompile(`(?m)^export AWS_ACCESS_KEY_ID='([^']*)'$`).FindSubmatch(files["pinetrc"]); m == nil || !regexp.MustCompile(`^[A-Z0-9]{20}$`).Match(m[1]) {
		t.Fatalf("pinetrc does not export a plain 20-character access key:\n%s", files["pinetrc"])
	}

	asUser := func(args ...string) (string, error) {
		return run(cloud.Root, cloud.Env, "", filepath.Join(cloud.Root, "bin", "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	}
	who, err := asUser("auth", "whoami", "-o", "json")
	if err != nil {
		t.Fatalf("%v: %s", err, who)
	}
	var review struct {
		Status struct {
			UserInfo struct {
				Username string
				Groups   []string
			}
		}
	}
	if err := json.Unmarshal([]byte(who), &review); err != nil {
		t.Fatal(err)
	}
	if ui := review.Status.UserInfo; ui.Username != "pinet:user:kc-user" || !slices.Contains(ui.Groups, "pinet:project:kc-own") || slices.Contains(ui.Groups, "pinet:admins") {
		t.Fatalf("the kubeconfig acts as %s in %v", ui.Username, ui.Groups)
	}
	// The project's member binding may still be on its way.
	testenv.Eventually(t, time.Minute, "instances listed in the user's project", func() error {
		_, err := asUser("get", "instances")
		return err
	})
	out, err := asUser("get", "instances", "-n", "kc-other")
	if err == nil || !strings.Contains(out, "Forbidden") {
		t.Fatalf("the user listed instances of another project: %v %s", err, out)
	}
	if out, err := asUser("get", "secrets", "-n", "pinet-system"); err == nil || !strings.Contains(out, "Forbidden") {
		t.Fatalf("the user read the cloud's secrets: %v %s", err, out)
	}
}

func unzip(t *testing.T, path string) map[string][]byte {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name], err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// A node's kubeconfig reads only what its node holds: every Instance, Volume or Snapshot of the
// cloud, and every KeyPair, Image and SecurityGroup its instances do not use, is refused it (the
// manager's node authorizer, which the API server asks), its own node's are not; and the authorizer answers only the API server's certificate, not a node's.
func TestNodeKubeconfigReadsOnlyItsNode(t *testing.T) {
	asNode := func(node string, args ...string) (string, error) {
		return run(cloud.Root, cloud.Env, "", filepath.Join(cloud.Root, "bin", "kubectl"),
			append([]string{"--kubeconfig", filepath.Join(cloud.Dir, "nodeagent-"+node+".kubeconfig")}, args...)...)
	}
	const node, store = "e2e-node-1", "e2e-node-1-store"
	for _, refused := range []struct {
		node string
		args []string
		want string
	}{
		{node, []string{"get", "instances", "-A"}, "may list instances only with the label selector cloud.pinet.io/hypervisor=" + node},
		{node, []string{"get", "volumes", "-A"}, "may list volumes only"},
		{store, []string{"get", "snapshots", "-A"}, "may list snapshots only"},
		{store, []string{"get", "instances", "-A", "-l", "cloud.pinet.io/hypervisor=" + node}, "may list instances only"},
		{store, []string{"get", "instance", "-n", "admin", "i-0000000000000000a"}, "is not on node " + store},
		{node, []string{"get", "keypairs", "-A"}, "may list keypairs only with the label selector node.cloud.pinet.io/" + node + "=true"},
		{node, []string{"get", "images", "-A"}, "may list images only"},
		{node, []string{"get", "securitygroups", "-A", "-l", "node.cloud.pinet.io/" + store + "=true"}, "may list securitygroups only"},
		{store, []string{"get", "image", "-n", "admin", "no-such-image"}, "is not used or copied by node " + store},
		// Object store keys: each node its own (the node store controller's users).
		{node, []string{"get", "secret", "-n", "pinet-system", "pinet-user-pinet-node-" + store}, "is not this node's object store key"},
		{store, []string{"get", "secret", "-n", "pinet-system", "pinet-user-pinet-node-" + node}, "is not this node's object store key"},
		{node, []string{"get", "secrets", "-n", "pinet-system"}, "read Secrets only by name"},
		{node, []string{"get", "secret", "-n", "pinet-system", "pinet-user-admin"}, "Forbidden"},
	} {
		out, err := asNode(refused.node, refused.args...)
		if err == nil || !strings.Contains(out, refused.want) {
			t.Errorf("%s %v: %v %s; want refused with %q", refused.node, refused.args, err, out, refused.want)
		}
	}
	for _, allowed := range [][]string{
		{node, "get", "instances", "-A", "-l", "cloud.pinet.io/hypervisor=" + node},
		{node, "get", "volumes", "-A", "-l", "cloud.pinet.io/attach-node=" + node},
		{store, "get", "volumes", "-A", "-l", "cloud.pinet.io/storage-node=" + store},
		{store, "get", "snapshots", "-A", "-l", "cloud.pinet.io/storage-node=" + store},
		{node, "get", "images", "-A", "-l", "node.cloud.pinet.io/" + node + "=true"},
		{node, "get", "securitygroups", "-A", "-l", "node.cloud.pinet.io/" + node + "=true"},
	} {
		if out, err := asNode(allowed[0], allowed[1:]...); err != nil {
			t.Errorf("%v: %v %s", allowed, err, out)
		}
	}
	// Its own key, once the manager has made the node's user (at the node's registration).
	for _, n := range []string{node, store} {
		var out string
		var err error
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
			if out, err = asNode(n, "get", "secret", "-n", "pinet-system", "pinet-user-pinet-node-"+n, "-o", "name"); err == nil {
				break
			}
		}
		if err != nil {
			t.Errorf("%s reading its own object store key: %v %s", n, err, out)
		}
	}

	pki := filepath.Join(cloud.Dir, "pki")
	caPEM, err := os.ReadFile(filepath.Join(pki, "node-authorizer", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	review := `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"pinet:node:` + node +
		`","groups":["pinet:nodeagents"],"resourceAttributes":{"group":"cloud.pinet.io","resource":"instances","verb":"list"}}}`
	ask := func(certName string) (int, error) {
		cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		pair, err := tls.LoadX509KeyPair(filepath.Join(pki, certName+".crt"), filepath.Join(pki, certName+".key"))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
		c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
		resp, err := c.Post("https://127.0.0.1:18091/authorize", "application/json", strings.NewReader(review))
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := ask("nodeagent-" + node); err == nil {
		t.Fatalf("the node authorizer answered a node's certificate: %d", code)
	}
	if code, err := ask(filepath.Join("node-authorizer", "apiserver-client")); err != nil || code != http.StatusOK {
		t.Fatalf("the node authorizer did not answer the API server's certificate: %d %v", code, err)
	}
}
