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

package consoleclient_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/consoleclient"
	"pinet.io/pinet/internal/testenv"
	"pinet.io/pinet/nodeagent"
	"pinet.io/pinet/nodeagent/libvirt"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

const waitTimeout = 2 * time.Minute

// node is a real node agent (libvirt test driver) serving consoles, as its own identity.
type node struct {
	name     string
	stateDir string
}

func startNode(t *testing.T, name string) *node {
	t.Helper()
	dir := t.TempDir()
	nodeXML := filepath.Join(dir, "node.xml")
	if err := os.WriteFile(nodeXML, []byte("<node></node>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	restCfg, err := env.AddUser(testenv.NodeUser(name), testenv.NodeAgentsGroup)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := libvirt.Open(env.Ctx, "test://"+nodeXML)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(env.Ctx)
	done := make(chan error, 1)
	go func() {
		done <- nodeagent.RunWith(ctx, nodeagent.Config{
			NodeName: name, LibvirtURI: conn.URI(), StateDir: dir, ConsoleAddr: "127.0.0.1:0",
			HeartbeatInterval: 5 * time.Second, MinReportInterval: 200 * time.Millisecond,
			FactsInterval: 500 * time.Millisecond, SystemNamespace: testenv.SystemNamespace,
		}, restCfg, conn)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		conn.Close()
	})
	hv := &cloudv1.Hypervisor{}
	testenv.Eventually(t, waitTimeout, "node "+name+" to publish its console", func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, hv); err != nil {
			return err
		}
		if hv.Status.Console == nil {
			return errors.New("no console endpoint in its status yet")
		}
		return nil
	})
	return &node{name: name, stateDir: dir}
}

// instanceOn makes an Instance bound to the node (as the scheduler would) with an EC2 id and a
// console log on the node.
func (n *node) instanceOn(t *testing.T, ns, id, console string) *cloudv1.Instance {
	t.Helper()
	ctx := context.Background()
	inst := &cloudv1.Instance{
		ObjectMeta: metav1.ObjectMeta{Name: id, Namespace: ns, Labels: map[string]string{cloudv1.LabelHypervisor: n.name}},
		Spec:       cloudv1.InstanceSpec{ImageID: "ami-00000000000000000", InstanceType: "m1.tiny"},
	}
	if err := env.Client.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	inst.Status.InstanceID, inst.Status.Hypervisor = id, n.name
	if err := env.Client.Status().Update(ctx, inst); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(n.stateDir, "instances", id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "console.log"), []byte(console), 0o644); err != nil {
		t.Fatal(err)
	}
	return inst
}

func namespace(t *testing.T, name string) {
	t.Helper()
	if err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
}

// managerTokens is the manager's console token source (service account pinet-manager, which
// config/local binds to the manager's role).
func managerTokens(t *testing.T) (kubernetes.Interface, func(context.Context) (string, error)) {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return cs, consoleclient.ServiceAccountToken(cs, testenv.SystemNamespace, "pinet-manager")
}

// readWhenAllowed reads the console, waiting while the agent's cache has not seen the instance.
func readWhenAllowed(t *testing.T, c *consoleclient.Client, inst *cloudv1.Instance) []byte {
	t.Helper()
	var data []byte
	testenv.Eventually(t, waitTimeout, "the console of "+inst.Name, func() error {
		var err error
		data, _, err = c.Read(context.Background(), inst)
		return err
	})
	return data
}

// TestConsoleTokenAudience checks that the agent accepts the manager's console token and refuses
// a token of the same account meant for the API server.
func TestConsoleTokenAudience(t *testing.T) {
	n := startNode(t, "aud-node")
	namespace(t, "aud")
	inst := n.instanceOn(t, "aud", "i-0000000000000a0d1", "hello from the guest\n")
	cs, tokens := managerTokens(t)

	c := consoleclient.New(env.Client, consoleclient.Credentials{Token: tokens})
	defer c.CloseIdleConnections()
	if got := string(readWhenAllowed(t, c, inst)); got != "hello from the guest\n" {
		t.Fatalf("console %q", got)
	}

	for _, audiences := range [][]string{nil, {"https://kubernetes.default.svc"}, {"another-service"}} {
		tr, err := cs.CoreV1().ServiceAccounts(testenv.SystemNamespace).CreateToken(context.Background(), "pinet-manager",
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: audiences}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		plain := consoleclient.New(env.Client, consoleclient.Credentials{Token: func(context.Context) (string, error) { return tr.Status.Token, nil }})
		_, _, err = plain.Read(context.Background(), inst)
		plain.CloseIdleConnections()
		if err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("a token for audiences %v: want 401 Unauthorized, got %v", audiences, err)
		}
	}
}

// TestConsoleOnlyWhereTheNodeSaid checks that the client sends its token only to the endpoint
// the instance's own node reported: not to an address someone else wrote, not to another node's,
// not when the node reported none.
func TestConsoleOnlyWhereTheNodeSaid(t *testing.T) {
	ctx := context.Background()
	n := startNode(t, "honest-node")
	namespace(t, "where")
	inst := n.instanceOn(t, "where", "i-0000000000000be01", "x")

	var leaked atomic.Int32
	decoy := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			leaked.Add(1)
		}
	}))
	defer decoy.Close()

	_, tokens := managerTokens(t)
	c := consoleclient.New(env.Client, consoleclient.Credentials{Token: tokens})
	defer c.CloseIdleConnections()
	readWhenAllowed(t, c, inst)

	// Nobody but the node may point its console elsewhere: an administrator is refused.
	hv := &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: n.name}}
	err := env.Client.Status().Patch(ctx, hv, client.RawPatch("application/merge-patch+json",
		[]byte(`{"status":{"console":{"url":"`+decoy.URL+`"}}}`)))
	if err == nil || !strings.Contains(err.Error(), "reported only by its own node agent") {
		t.Fatalf("redirecting the node's console: want refused, got %v", err)
	}

	// A node that reported no console, or a console over plain http, with credentials in its URL,
	// or with a certificate that is none (one without any the CRD schema refuses).
	quiet, err := env.AddUser(testenv.NodeUser("quiet-node"), testenv.NodeAgentsGroup)
	if err != nil {
		t.Fatal(err)
	}
	qc, err := client.New(quiet, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := qc.Create(ctx, &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: "quiet-node"}}); err != nil {
		t.Fatal(err)
	}
	q := &node{name: "quiet-node", stateDir: t.TempDir()}
	onQuiet := q.instanceOn(t, "where", "i-0000000000000be02", "x")
	if _, _, err := c.Read(ctx, onQuiet); !errors.Is(err, consoleclient.ErrNoConsole) {
		t.Fatalf("a node with no console: want ErrNoConsole, got %v", err)
	}
	for _, tc := range []struct{ console, want string }{
		{`{"url":"http://` + strings.TrimPrefix(decoy.URL, "https://") + `","caBundle":"eA=="}`, "not a plain https URL"},
		{`{"url":"https://user:pw@` + strings.TrimPrefix(decoy.URL, "https://") + `","caBundle":"eA=="}`, "not a plain https URL"},
		{`{"url":"` + decoy.URL + `","caBundle":"bm90IGEgY2VydA=="}`, "not valid PEM"},
	} {
		if err := qc.Status().Patch(ctx, &cloudv1.Hypervisor{ObjectMeta: metav1.ObjectMeta{Name: "quiet-node"}},
			client.RawPatch("application/merge-patch+json", []byte(`{"status":{"console":`+tc.console+`}}`))); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Read(ctx, onQuiet); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("console %s: want %q, got %v", tc.console, tc.want, err)
		}
	}

	// An instance bound to one node but placed (status) on another is read from neither.
	moved := inst.DeepCopy()
	moved.Status.Hypervisor = "quiet-node"
	if _, _, err := c.Read(ctx, moved); err == nil || !strings.Contains(err.Error(), "bound to honest-node but placed on quiet-node") {
		t.Fatalf("a mismatched placement: got %v", err)
	}
	unbound := inst.DeepCopy()
	delete(unbound.Labels, cloudv1.LabelHypervisor)
	if _, _, err := c.Read(ctx, unbound); !errors.Is(err, consoleclient.ErrNoConsole) {
		t.Fatalf("an unbound instance: want ErrNoConsole, got %v", err)
	}
	if n := leaked.Load(); n != 0 {
		t.Fatalf("the decoy received %d requests with credentials", n)
	}
}

// TestConsoleReadsReuseConnections checks that many reads leave the goroutines of the caller and
// the agent (both in this process) where they were.
func TestConsoleReadsReuseConnections(t *testing.T) {
	n := startNode(t, "busy-node")
	namespace(t, "busy")
	inst := n.instanceOn(t, "busy", "i-0000000000000b5e1", "busy console\n")
	_, tokens := managerTokens(t)
	c := consoleclient.New(env.Client, consoleclient.Credentials{Token: tokens})
	readWhenAllowed(t, c, inst)
	// Settle: the agent's start-up work and the first connection's goroutines.
	time.Sleep(2 * time.Second)
	before := runtime.NumGoroutine()

	for i := range 200 {
		data, _, err := c.Read(context.Background(), inst)
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if string(data) != "busy console\n" {
			t.Fatalf("read %d: %q", i, data)
		}
	}
	// Reads share the node's transport: with its idle connections still open, the count is back
	// where it was; closing them changes nothing more.
	const tolerance = 10
	settled := func(what string) {
		t.Helper()
		testenv.Eventually(t, waitTimeout, "the goroutines to settle "+what, func() error {
			if now := runtime.NumGoroutine(); now > before+tolerance {
				return fmt.Errorf("%d before 200 reads, %d %s", before, now, what)
			}
			return nil
		})
	}
	settled("after them")
	c.CloseIdleConnections()
	settled("after closing idle connections")
}
