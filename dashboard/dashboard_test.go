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

package dashboard_test

import (
	"context"
	"crypto/sha1"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/testenv"
)

func TestSignIn(t *testing.T) {
	c := theCloud(t)
	p := newProject(t, c, "dash-signin")

	b := newBrowser(t, c)
	good := b.trySignIn(p.creds.AccessKeyID, p.creds.SecretAccessKey)
	if good.status != http.StatusSeeOther || good.location != "/instances" {
		t.Fatalf("good keys: %d to %q", good.status, good.location)
	}
	var session *http.Cookie
	for _, ck := range (&http.Response{Header: good.header}).Cookies() {
		if ck.Name == "pinet_session" && ck.Value != "" {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Secure {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, not Secure over plain HTTP", session)
	}
	page := b.get("/instances")
	if page.status != http.StatusOK || !strings.Contains(page.body, "No instances") {
		t.Fatalf("instances page: %d %s", page.status, page.body)
	}
	for name, want := range map[string]string{"X-Frame-Options": "DENY", "Cache-Control": "no-store"} {
		if got := page.header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if strings.Contains(page.body, "<script>") || strings.Contains(page.body, "onclick=") {
		t.Error("the page has inline script")
	}

	if a := b.get("/static/"); a.status != http.StatusNotFound {
		t.Errorf("the static directory lists: %d", a.status)
	}
	if a := b.get("/static/app.js"); a.status != http.StatusOK || !strings.Contains(a.body, "instances.json") && !strings.Contains(a.body, "liveInstances") {
		t.Errorf("app.js: %d", a.status)
	}

	// A wrong secret and an unknown key fail alike, saying nothing of which half was wrong.
	wrongSecret := newBrowser(t, c).trySignIn(p.creds.AccessKeyID, p.creds.SecretAccessKey+"x")
	unknownKey := newBrowser(t, c).trySignIn("AKIANOSUCHKEY000000", p.creds.SecretAccessKey)
	emptySecret := newBrowser(t, c).trySignIn(p.creds.AccessKeyID, "")
	for name, a := range map[string]answer{"wrong secret": wrongSecret, "unknown key": unknownKey, "empty secret": emptySecret} {
		if a.status != http.StatusUnauthorized {
			t.Errorf("%s: status %d", name, a.status)
		}
		if msg := field(t, flashError, a.body); msg != "The access key or the secret key is not valid." {
			t.Errorf("%s: says %q", name, msg)
		}
		if strings.Contains(a.header.Get("Set-Cookie"), "pinet_session=") {
			t.Errorf("%s: a session cookie was set", name)
		}
	}

	// Guessing is throttled per address and key: after ten failures (the ones above count too)
	// even the right secret waits, however the key is spelled, while another user's key from
	// the same address is unaffected.
	guesser := newBrowser(t, c)
	for i := 0; ; i++ {
		a := guesser.trySignIn(p.creds.AccessKeyID, "guess")
		if a.status == http.StatusTooManyRequests {
			break
		}
		if a.status != http.StatusUnauthorized || i == 10 {
			t.Fatalf("guess %d: %d", i, a.status)
		}
	}
	key, _, _ := strings.Cut(p.creds.AccessKeyID, ":")
	for _, spelling := range []string{p.creds.AccessKeyID, key} {
		if a := guesser.trySignIn(spelling, p.creds.SecretAccessKey); a.status != http.StatusTooManyRequests {
			t.Fatalf("the right secret for %s after the guesses: %d", spelling, a.status)
		}
	}
	c.AddProject(t, "dash-signin-2")
	second := c.AddUser(t, "dash-signin-2-user", false, "dash-signin-2")
	newBrowser(t, c).signIn(second)

	// A sign-in form not sent to this browser is refused.
	other := newBrowser(t, c)
	forged := other.post("/signin", url.Values{"token": {"forged"}, "access_key_id": {p.creds.AccessKeyID},
		"secret_access_key": {p.creds.SecretAccessKey}})
	if forged.status != http.StatusForbidden {
		t.Fatalf("sign-in without the form's token: %d", forged.status)
	}
	if a := other.get("/instances"); a.status != http.StatusSeeOther || a.location != "/signin" {
		t.Fatalf("signed-out browser: %d to %q", a.status, a.location)
	}
	if a := other.get("/instances.json"); a.status != http.StatusUnauthorized {
		t.Fatalf("signed-out JSON: %d", a.status)
	}
}

func TestSessionEndsWhenKeyRotatedOrUserDeleted(t *testing.T) {
	c := theCloud(t)
	p := newProject(t, c, "dash-rotate")
	ctx := context.Background()

	b := newBrowser(t, c)
	b.signIn(p.creds)
	if a := b.get("/instances"); a.status != http.StatusOK {
		t.Fatalf("before rotation: %d", a.status)
	}
	u := &cloudv1.User{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: p.name + "-user"}, u); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(u.DeepCopy())
	u.Spec.KeyRotation++
	if err := env.Client.Patch(ctx, u, patch); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "the session to end after the key's rotation", func() error {
		if a := b.get("/instances.json"); a.status != http.StatusUnauthorized {
			return fmt.Errorf("status %d", a.status)
		}
		return nil
	})
	if a := b.get("/instances"); a.status != http.StatusSeeOther || a.location != "/signin" {
		t.Fatalf("after rotation: %d to %q", a.status, a.location)
	}
	if a := newBrowser(t, c).trySignIn(p.creds.AccessKeyID, p.creds.SecretAccessKey); a.status != http.StatusUnauthorized {
		t.Fatalf("signing in with the retired key: %d", a.status)
	}

	// A deleted user's session ends too.
	c.AddProject(t, "dash-gone")
	gone := c.AddUser(t, "dash-gone-user", false, "dash-gone")
	g := newBrowser(t, c)
	g.signIn(gone)
	if err := env.Client.Delete(ctx, &cloudv1.User{ObjectMeta: metav1ObjectMeta("dash-gone-user")}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "the session to end after the user's deletion", func() error {
		if a := g.get("/instances.json"); a.status != http.StatusUnauthorized {
			return fmt.Errorf("status %d", a.status)
		}
		return nil
	})
}

func TestFormsNeedTheSessionsCSRFToken(t *testing.T) {
	c := theCloud(t)
	p := newProject(t, c, "dash-csrf")
	a, b := newBrowser(t, c), newBrowser(t, c)
	a.signIn(p.creds)
	b.signIn(p.creds)
	tokenA, tokenB := a.csrf(), b.csrf()
	if tokenA == tokenB {
		t.Fatal("two sessions share a CSRF token")
	}
	pub := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBIqwMqy3DrEUWN2Q3EE8Cd8oQ9iyMc8ugtGHBmKbU1+ test"
	imp := func(name string, token *string) url.Values {
		v := url.Values{"name": {name}, "public_key": {pub}}
		if token != nil {
			v.Set("csrf", *token)
		}
		return v
	}
	if r := a.post("/keypairs/import", imp("no-token", nil)); r.status != http.StatusForbidden {
		t.Fatalf("without a token: %d", r.status)
	}
	if r := a.post("/keypairs/import", imp("other-token", &tokenB)); r.status != http.StatusForbidden {
		t.Fatalf("with another session's token: %d", r.status)
	}
	// A post another site's page makes is refused even with the right token.
	for name, h := range map[string][2]string{
		"another origin": {"Origin", "http://evil.example"}, "an opaque origin": {"Origin", "null"},
		"a cross-site fetch": {"Sec-Fetch-Site", "cross-site"},
	} {
		req, err := http.NewRequest(http.MethodPost, a.base+"/keypairs/import", strings.NewReader(imp("cross", &tokenA).Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(h[0], h[1])
		if r := a.do(req); r.status != http.StatusForbidden {
			t.Fatalf("from %s: %d", name, r.status)
		}
	}
	if r := a.post("/keypairs/import", imp("good", &tokenA)); r.status != http.StatusSeeOther {
		t.Fatalf("with the session's token: %d %s", r.status, r.body)
	}
	if r := a.post("/signout", url.Values{"csrf": {tokenA}}); r.status != http.StatusSeeOther || r.location != "/signin" {
		t.Fatalf("sign-out: %d to %q", r.status, r.location)
	}
	if r := a.post("/keypairs/import", imp("after-signout", &tokenA)); r.status != http.StatusForbidden {
		t.Fatalf("after sign-out: %d", r.status)
	}
	// Sign-out itself needs the token: without it the other session stays.
	if r := b.post("/signout", url.Values{}); r.status != http.StatusForbidden {
		t.Fatalf("sign-out without a token: %d", r.status)
	}
	if r := b.get("/instances"); r.status != http.StatusOK {
		t.Fatalf("the other session: %d", r.status)
	}

	out, err := p.ec2.DescribeKeyPairs(context.Background(), &ec2.DescribeKeyPairsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, kp := range out.KeyPairs {
		names = append(names, aws.ToString(kp.KeyName))
	}
	if !slices.Equal(names, []string{"good"}) {
		t.Fatalf("key pairs %v, want only the one with the right token", names)
	}
}

func TestLaunchIsVisibleThroughEC2(t *testing.T) {
	c := theCloud(t)
	p := newProject(t, c, "dash-launch")
	c.AddNode(t, "dash-launch-node", "pinet-1a", 8, 16384)
	b := newBrowser(t, c)
	b.signIn(p.creds)

	form := b.get("/launch")
	if form.status != http.StatusOK || !strings.Contains(form.body, p.image) {
		t.Fatalf("launch form: %d, image %s not offered:\n%s", form.status, p.image, form.body)
	}
	csrf, token := field(t, csrfField, form.body), field(t, clientToken, form.body)
	launch := func(v url.Values) answer {
		v.Set("csrf", csrf)
		return b.post("/launch", v)
	}

	launchRefusesBadInput(t, p, launch)

	ok := url.Values{"image": {p.image}, "type": {"m1.tiny"}, "count": {"1"}, "client_token": {token},
		"user_data": {"#!/bin/sh\necho hello\n"}}
	r := launch(ok)
	if r.status != http.StatusSeeOther || r.location != "/instances?done=launch" {
		t.Fatalf("launch: %d to %q: %s", r.status, r.location, r.body)
	}
	// The same form posted again launches nothing more (its client token).
	if r := launch(ok); r.status != http.StatusSeeOther {
		t.Fatalf("launch again: %d", r.status)
	}
	ids := instancesOf(t, p)
	if len(ids) != 1 {
		t.Fatalf("EC2 shows %v, want one instance", ids)
	}
	out, err := p.ec2.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: ids})
	if err != nil {
		t.Fatal(err)
	}
	inst := out.Reservations[0].Instances[0]
	if aws.ToString(inst.ImageId) != p.image || inst.InstanceType != "m1.tiny" {
		t.Fatalf("EC2 shows image %s type %s", aws.ToString(inst.ImageId), inst.InstanceType)
	}
	var list struct {
		Instances []struct{ ID, State string } `json:"instances"`
	}
	j := b.get("/instances.json")
	if err := json.Unmarshal([]byte(j.body), &list); err != nil || len(list.Instances) != 1 || list.Instances[0].ID != ids[0] {
		t.Fatalf("instances.json: %v %s", err, j.body)
	}
	if page := b.get("/instances/" + ids[0]); page.status != http.StatusOK || !strings.Contains(page.body, "m1.tiny") {
		t.Fatalf("instance page: %d", page.status)
	}
	if r := b.post("/instances/"+ids[0]+"/terminate", url.Values{"csrf": {csrf}}); r.status != http.StatusSeeOther {
		t.Fatalf("terminate: %d %s", r.status, r.body)
	}
	testenv.Eventually(t, longWait, ids[0]+" to go", func() error {
		out, err := p.ec2.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: ids})
		if err != nil {
			return err
		}
		if s := out.Reservations[0].Instances[0].State.Name; s != "terminated" && s != "shutting-down" {
			return fmt.Errorf("state %s", s)
		}
		return nil
	})
}

// launchRefusesBadInput posts bad launch forms: each is refused in words and makes nothing.
func launchRefusesBadInput(t *testing.T, p project, launch func(url.Values) answer) {
	t.Helper()
	for _, bad := range []struct {
		name string
		form url.Values
		says string
	}{
		{"count 0", url.Values{"image": {p.image}, "type": {"m1.tiny"}, "count": {"0"}}, "Count must be a whole number from 1 to 20."},
		{"unknown image", url.Values{"image": {"ami-0123456789abcdef0"}, "type": {"m1.tiny"}, "count": {"1"}}, "InvalidAMIID.NotFound"},
		{"unknown type", url.Values{"image": {p.image}, "type": {"m9.huge"}, "count": {"1"}}, "InvalidParameterValue"},
		{"unknown key pair", url.Values{"image": {p.image}, "type": {"m1.tiny"}, "count": {"1"}, "key_name": {"nope"}}, "InvalidKeyPair.NotFound"},
	} {
		r := launch(bad.form)
		if r.status < 400 || r.status >= 500 {
			t.Errorf("%s: status %d", bad.name, r.status)
		}
		if msg := field(t, flashError, r.body); !strings.Contains(msg, bad.says) {
			t.Errorf("%s: says %q, want %q", bad.name, msg, bad.says)
		}
	}
	if ids := instancesOf(t, p); len(ids) != 0 {
		t.Fatalf("refused launches made %v", ids)
	}
}

func TestAnotherProjectsInstanceIsInvisible(t *testing.T) {
	c := theCloud(t)
	owner := newProject(t, c, "dash-owner")
	other := newProject(t, c, "dash-other")
	c.AddNode(t, "dash-owner-node", "pinet-1a", 8, 16384)
	run, err := owner.ec2.RunInstances(context.Background(), &ec2.RunInstancesInput{ImageId: aws.String(owner.image),
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), InstanceType: "m1.tiny"})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)

	mine := newBrowser(t, c)
	mine.signIn(owner.creds)
	if a := mine.get("/instances"); !strings.Contains(a.body, id) {
		t.Fatalf("the owner's list lacks %s", id)
	}
	b := newBrowser(t, c)
	b.signIn(other.creds)
	if a := b.get("/instances"); a.status != http.StatusOK || strings.Contains(a.body, id) {
		t.Fatalf("another project's list: %d, shows %s: %v", a.status, id, strings.Contains(a.body, id))
	}
	if a := b.get("/instances.json"); strings.Contains(a.body, id) {
		t.Fatalf("another project's JSON shows %s", id)
	}
	if a := b.get("/instances/" + id); a.status != http.StatusNotFound {
		t.Fatalf("another project's instance page: %d", a.status)
	}
	if a := b.get("/instances/" + id + "/console.json"); a.status != http.StatusNotFound || !strings.Contains(a.body, `"output":""`) {
		t.Fatalf("another project's console: %d %s", a.status, a.body)
	}
	if a := b.post("/instances/"+id+"/terminate", url.Values{"csrf": {b.csrf()}}); a.status != http.StatusNotFound {
		t.Fatalf("terminating another project's instance: %d", a.status)
	}
	out, err := owner.ec2.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if s := out.Reservations[0].Instances[0].State.Name; s == "terminated" || s == "shutting-down" {
		t.Fatalf("another project's user terminated %s", id)
	}
	if _, err := owner.ec2.TerminateInstances(context.Background(), &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
}

func TestUserInSeveralProjectsPicksOne(t *testing.T) {
	c := theCloud(t)
	c.AddProject(t, "dash-pick-a")
	c.AddProject(t, "dash-pick-b")
	c.AddProject(t, "dash-pick-c")
	creds := c.AddUser(t, "dash-picker", false, "dash-pick-a", "dash-pick-b")
	key, _, _ := strings.Cut(creds.AccessKeyID, ":")

	b := newBrowser(t, c)
	a := b.trySignIn(key, creds.SecretAccessKey)
	if a.status != http.StatusSeeOther || a.location != "/projects" {
		t.Fatalf("sign-in of a member of two projects: %d to %q", a.status, a.location)
	}
	page := b.get("/projects")
	if !strings.Contains(page.body, "dash-pick-a") || !strings.Contains(page.body, "dash-pick-b") || strings.Contains(page.body, "dash-pick-c") {
		t.Fatalf("project picker:\n%s", page.body)
	}
	csrf := field(t, csrfField, page.body)
	if r := b.post("/projects", url.Values{"csrf": {csrf}, "project": {"dash-pick-c"}}); r.status != http.StatusForbidden {
		t.Fatalf("picking a project the user is not in: %d", r.status)
	}
	if r := b.post("/projects", url.Values{"csrf": {csrf}, "project": {"dash-pick-b"}}); r.status != http.StatusSeeOther {
		t.Fatalf("picking a project: %d %s", r.status, r.body)
	}
	if r := b.get("/instances"); !strings.Contains(r.body, "dash-picker · dash-pick-b") {
		t.Fatalf("the page does not show project dash-pick-b:\n%s", r.body)
	}
	// A key naming its project goes straight there.
	n := newBrowser(t, c)
	if a := n.trySignIn(key+":dash-pick-b", creds.SecretAccessKey); a.location != "/instances" {
		t.Fatalf("KEY:project sign-in goes to %q", a.location)
	}
	if a := newBrowser(t, c).trySignIn(key+":dash-pick-c", creds.SecretAccessKey); a.status != http.StatusUnauthorized {
		t.Fatalf("KEY:project of a project the user is not in: %d", a.status)
	}
}

func TestCreateKeyPairDownloadsThePrivateKeyOnce(t *testing.T) {
	c := theCloud(t)
	p := newProject(t, c, "dash-keys")
	b := newBrowser(t, c)
	b.signIn(p.creds)
	csrf := b.csrf()
	r := b.post("/keypairs/create", url.Values{"csrf": {csrf}, "name": {"laptop"}, "type": {"rsa"}})
	if r.status != http.StatusOK || r.header.Get("Content-Disposition") != `attachment; filename=laptop.pem` {
		t.Fatalf("create: %d %q", r.status, r.header.Get("Content-Disposition"))
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("the private key may be cached: %q", r.header.Get("Cache-Control"))
	}
	fp := pemFingerprint(t, []byte(r.body))
	out, err := p.ec2.DescribeKeyPairs(context.Background(), &ec2.DescribeKeyPairsInput{KeyNames: []string{"laptop"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.KeyPairs[0].KeyFingerprint); got != fp {
		t.Fatalf("DescribeKeyPairs says %s, the download's fingerprint is %s", got, fp)
	}
	page := b.get("/keypairs")
	if !strings.Contains(page.body, fp) || strings.Contains(page.body, "PRIVATE KEY") {
		t.Fatal("the key pairs page lacks the fingerprint or shows a private key")
	}
	// A second key pair of that name is refused in words.
	again := b.post("/keypairs/create", url.Values{"csrf": {csrf}, "name": {"laptop"}})
	if again.status != http.StatusBadRequest || !strings.Contains(field(t, flashError, again.body), "InvalidKeyPair.Duplicate") {
		t.Fatalf("duplicate: %d", again.status)
	}
	id := aws.ToString(out.KeyPairs[0].KeyPairId)
	if r := b.post("/keypairs/delete", url.Values{"csrf": {csrf}, "id": {id}}); r.status != http.StatusSeeOther {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if out, err := p.ec2.DescribeKeyPairs(context.Background(), &ec2.DescribeKeyPairsInput{}); err != nil || len(out.KeyPairs) != 0 {
		t.Fatalf("after delete: %v %v", out, err)
	}
}

// pemFingerprint is EC2's fingerprint of a generated RSA key: the SHA-1 of its PKCS#8 DER.
func pemFingerprint(t *testing.T, data []byte) string {
	t.Helper()
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("not PEM: %q", data)
	}
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02x", b)
	}
	return strings.Join(parts, ":")
}
