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

package ec2shim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/testenv"
)

// keyTool runs a shell pipeline with the system's ssh-keygen and openssl, the tools AWS documents
// for checking key pair fingerprints.
func keyTool(t *testing.T, script string) string {
	t.Helper()
	for _, tool := range []string{"ssh-keygen", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: %v", tool, err)
		}
	}
	out, err := exec.Command("sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return strings.TrimSpace(string(out))
}

// describeKey returns the one key pair DescribeKeyPairs shows under the name.
func describeKey(t *testing.T, cl *ec2.Client, name string) types.KeyPairInfo {
	t.Helper()
	return only(t, "key "+name, cl.DescribeKeyPairs, &ec2.DescribeKeyPairsInput{KeyNames: []string{name}, IncludePublicKey: aws.Bool(true)},
		func(out *ec2.DescribeKeyPairsOutput) []types.KeyPairInfo { return out.KeyPairs })
}

func keyNames(out *ec2.DescribeKeyPairsOutput) []string {
	return idsOf(out.KeyPairs, func(k types.KeyPairInfo) *string { return k.KeyName })
}

func TestCreateKeyPairFingerprintsMatchOpenSSH(t *testing.T) {
	_, _, cl := tenant(t, "kpgen")
	ctx := context.Background()
	dir := t.TempDir()

	rsa, err := cl.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("deploy key"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeKeyPair,
			Tags: []types.Tag{{Key: aws.String("Env"), Value: aws.String("prod")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(aws.ToString(rsa.KeyPairId), "key-") || aws.ToString(rsa.KeyName) != "deploy key" ||
		len(rsa.Tags) != 1 || !strings.Contains(aws.ToString(rsa.KeyMaterial), "PRIVATE KEY") {
		t.Fatalf("CreateKeyPair: %+v", rsa)
	}
	pem := filepath.Join(dir, "rsa.pem")
	if err := os.WriteFile(pem, []byte(aws.ToString(rsa.KeyMaterial)), 0o600); err != nil {
		t.Fatal(err)
	}
	// AWS documents this pipeline for the fingerprint of a key pair it created.
	want := keyTool(t, "openssl pkcs8 -in '"+pem+"' -inform PEM -outform DER -topk8 -nocrypt | openssl sha1 -c | sed 's/^.*= //'")
	if aws.ToString(rsa.KeyFingerprint) != want {
		t.Fatalf("fingerprint %s, openssl says %s", aws.ToString(rsa.KeyFingerprint), want)
	}
	derived := keyTool(t, "ssh-keygen -y -f '"+pem+"'")

	ed, err := cl.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("ed"), KeyType: types.KeyTypeEd25519, KeyFormat: types.KeyFormatPem})
	if err != nil {
		t.Fatal(err)
	}
	edFile := filepath.Join(dir, "ed")
	if err := os.WriteFile(edFile, []byte(aws.ToString(ed.KeyMaterial)), 0o600); err != nil {
		t.Fatal(err)
	}
	edWant := keyTool(t, "ssh-keygen -l -E sha256 -f '"+edFile+"' | awk '{print $2}' | sed 's/^SHA256://'")
	if strings.TrimRight(aws.ToString(ed.KeyFingerprint), "=") != edWant {
		t.Fatalf("ed25519 fingerprint %s, ssh-keygen says %s", aws.ToString(ed.KeyFingerprint), edWant)
	}

	// Describe agrees at once and after the controller has filled the status.
	for _, tc := range []struct {
		name, id, fingerprint, publicKey string
		keyType                          types.KeyType
	}{
		{"deploy key", aws.ToString(rsa.KeyPairId), want, derived, types.KeyTypeRsa},
		{"ed", aws.ToString(ed.KeyPairId), aws.ToString(ed.KeyFingerprint), keyTool(t, "ssh-keygen -y -f '"+edFile+"'"), types.KeyTypeEd25519},
	} {
		k := describeKey(t, cl, tc.name)
		if aws.ToString(k.KeyPairId) != tc.id || aws.ToString(k.KeyFingerprint) != tc.fingerprint || k.KeyType != tc.keyType ||
			!strings.HasPrefix(aws.ToString(k.PublicKey), tc.publicKey) || k.CreateTime == nil {
			t.Fatalf("described %+v, want id %s fingerprint %s type %s", k, tc.id, tc.fingerprint, tc.keyType)
		}
		testenv.Eventually(t, shortWait, "the controller to confirm "+tc.name, func() error {
			kp := &cloudv1.KeyPair{}
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "kpgen", Name: tc.id}, kp); err != nil {
				return err
			}
			if kp.Status.Fingerprint != tc.fingerprint || kp.Status.KeyPairID != tc.id || string(kp.Status.KeyType) != string(tc.keyType) {
				return fmt.Errorf("status %+v", kp.Status)
			}
			return nil
		})
	}
	// The private key is stored nowhere: not in the object.
	kp := &cloudv1.KeyPair{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "kpgen", Name: aws.ToString(rsa.KeyPairId)}, kp); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(kp)
	if strings.Contains(string(raw), "PRIVATE") {
		t.Fatal("the KeyPair object holds the private key")
	}
}

func TestImportKeyPair(t *testing.T) {
	c, creds, cl := tenant(t, "kpimp")
	ctx := context.Background()
	dir := t.TempDir()
	for file, kind := range map[string]string{"rsa3072": "rsa -b 3072", "ed25519": "ed25519", "rsa1024": "rsa -b 1024", "ecdsa": "ecdsa"} {
		keyTool(t, fmt.Sprintf("ssh-keygen -q -t %s -N '' -C me@laptop -f '%s'", kind, filepath.Join(dir, file)))
	}
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}

	imported, err := cl.ImportKeyPair(ctx, &ec2.ImportKeyPairInput{KeyName: aws.String("laptop"), PublicKeyMaterial: read("rsa3072.pub")})
	if err != nil {
		t.Fatal(err)
	}
	// AWS's documented check of an imported key: the MD5 of the DER public key.
	want := keyTool(t, "ssh-keygen -e -m PKCS8 -f '"+filepath.Join(dir, "rsa3072.pub")+"' | openssl pkey -pubin -outform DER | openssl md5 -c | sed 's/^.*= //'")
	if aws.ToString(imported.KeyFingerprint) != want || !strings.HasPrefix(aws.ToString(imported.KeyPairId), "key-") {
		t.Fatalf("imported %+v, openssl says %s", imported, want)
	}
	k := describeKey(t, cl, "laptop")
	if aws.ToString(k.KeyFingerprint) != want || k.KeyType != types.KeyTypeRsa ||
		strings.TrimSpace(aws.ToString(k.PublicKey)) != strings.TrimSpace(string(read("rsa3072.pub"))) {
		t.Fatalf("described %+v", k)
	}
	ed, err := cl.ImportKeyPair(ctx, &ec2.ImportKeyPairInput{KeyName: aws.String("ed"), PublicKeyMaterial: read("ed25519.pub")})
	if err != nil {
		t.Fatal(err)
	}
	edWant := keyTool(t, "ssh-keygen -l -E sha256 -f '"+filepath.Join(dir, "ed25519.pub")+"' | awk '{print $2}' | sed 's/^SHA256://'")
	if strings.TrimRight(aws.ToString(ed.KeyFingerprint), "=") != edWant {
		t.Fatalf("ed25519 fingerprint %s, ssh-keygen says %s", aws.ToString(ed.KeyFingerprint), edWant)
	}

	for _, tc := range []struct {
		name     string
		keyName  string
		material []byte
		code     string
	}{
		{"garbage", "g", []byte("hello world"), "InvalidKey.Format"},
		{"private key instead", "p", read("ed25519"), "InvalidKey.Format"},
		{"1024-bit rsa", "small", read("rsa1024.pub"), "InvalidKey.Format"},
		{"ecdsa", "ec", read("ecdsa.pub"), "InvalidKey.Format"},
		{"two keys", "two", append(read("ed25519.pub"), read("rsa3072.pub")...), "InvalidKey.Format"},
		{"taken name", "laptop", read("ed25519.pub"), "InvalidKeyPair.Duplicate"},
		{"no name", "", read("ed25519.pub"), "MissingParameter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cl.ImportKeyPair(ctx, &ec2.ImportKeyPairInput{KeyName: aws.String(tc.keyName), PublicKeyMaterial: tc.material})
			expectCode(t, err, tc.code)
		})
	}
	// Material that is not base64 at all, which an SDK would never send.
	status, body := rawEC2(t, c, creds, url.Values{"Action": {"ImportKeyPair"}, "Version": {"2016-11-15"},
		"KeyName": {"raw"}, "PublicKeyMaterial": {"not base64 !!!"}})
	if status != http.StatusBadRequest || !strings.Contains(body, "<Code>InvalidKey.Format</Code>") {
		t.Fatalf("non-base64 material: %d %s", status, body)
	}
	out, err := cl.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got := keyNames(out); strings.Join(got, ",") != "ed,laptop" {
		t.Fatalf("refused imports left key pairs: %v", got)
	}
}

func TestKeyPairRulesAndIsolation(t *testing.T) {
	_, _, a := tenant(t, "kpiso-a")
	_, _, b := tenant(t, "kpiso-b")
	ctx := context.Background()

	// Twenty concurrent creations of one name: exactly one wins.
	errs := testenv.Race(20, func(int) error {
		_, err := a.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("shared"), KeyType: types.KeyTypeEd25519})
		return err
	})
	if won := winners(t, errs, "InvalidKeyPair.Duplicate"); won != 1 {
		t.Fatalf("%d concurrent creations of one name succeeded", won)
	}
	shared := describeKey(t, a, "shared")
	sharedID := aws.ToString(shared.KeyPairId)

	for _, tc := range []struct {
		name string
		in   *ec2.CreateKeyPairInput
		code string
	}{
		{"duplicate", &ec2.CreateKeyPairInput{KeyName: aws.String("shared")}, "InvalidKeyPair.Duplicate"},
		{"empty name", &ec2.CreateKeyPairInput{KeyName: aws.String("")}, "MissingParameter"},
		{"long name", &ec2.CreateKeyPairInput{KeyName: aws.String(strings.Repeat("k", 256))}, "InvalidParameterValue"},
		{"non-ascii name", &ec2.CreateKeyPairInput{KeyName: aws.String("schlüssel")}, "InvalidParameterValue"},
		{"control character", &ec2.CreateKeyPairInput{KeyName: aws.String("a\nb")}, "InvalidParameterValue"},
		{"ppk", &ec2.CreateKeyPairInput{KeyName: aws.String("putty"), KeyFormat: types.KeyFormatPpk}, "InvalidParameterValue"},
		{"bad type", &ec2.CreateKeyPairInput{KeyName: aws.String("dsa"), KeyType: "dsa"}, "InvalidParameterValue"},
		{"wrong tag resource", &ec2.CreateKeyPairInput{KeyName: aws.String("tagged"), TagSpecifications: []types.TagSpecification{
			{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}}}, "InvalidParameterValue"},
		{"dry run", &ec2.CreateKeyPairInput{KeyName: aws.String("dry"), DryRun: aws.Bool(true)}, "DryRunOperation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.CreateKeyPair(ctx, tc.in)
			expectCode(t, err, tc.code)
		})
	}
	if _, err := a.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String(strings.Repeat("k", 255))}); err != nil {
		t.Fatalf("a 255-character name: %v", err)
	}
	if _, err := a.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("web"), TagSpecifications: []types.TagSpecification{
		{ResourceType: types.ResourceTypeKeyPair, Tags: []types.Tag{{Key: aws.String("Env"), Value: aws.String("staging")}}}}}); err != nil {
		t.Fatal(err)
	}
	all, err := a.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got := keyNames(all); len(got) != 3 || got[0] != strings.Repeat("k", 255) || got[1] != "shared" || got[2] != "web" {
		t.Fatalf("refused creations left key pairs: %v", got)
	}

	// Filters.
	for _, tc := range []struct {
		filter types.Filter
		want   string
	}{
		{types.Filter{Name: aws.String("key-name"), Values: []string{"sh*"}}, "shared"},
		{types.Filter{Name: aws.String("key-pair-id"), Values: []string{sharedID}}, "shared"},
		{types.Filter{Name: aws.String("fingerprint"), Values: []string{aws.ToString(shared.KeyFingerprint)}}, "shared"},
		{types.Filter{Name: aws.String("key-type"), Values: []string{"ed25519"}}, "shared"},
		{types.Filter{Name: aws.String("tag:Env"), Values: []string{"staging"}}, "web"},
		{types.Filter{Name: aws.String("tag-key"), Values: []string{"Env"}}, "web"},
		{types.Filter{Name: aws.String("key-type"), Values: []string{"dsa"}}, ""},
	} {
		out, err := a.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{Filters: []types.Filter{tc.filter}})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(keyNames(out), ","); got != tc.want {
			t.Errorf("filter %s=%v: %q, want %q", aws.ToString(tc.filter.Name), tc.filter.Values, got, tc.want)
		}
	}
	_, err = a.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{Filters: []types.Filter{{Name: aws.String("color"), Values: []string{"x"}}}})
	expectCode(t, err, "InvalidParameterValue")
	_, err = a.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyNames: []string{"shared", "nokey"}})
	expectCode(t, err, "InvalidKeyPair.NotFound")
	byID, err := a.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyPairIds: []string{sharedID}})
	if err != nil || strings.Join(keyNames(byID), ",") != "shared" {
		t.Fatalf("by id: %v %v", keyNames(byID), err)
	}

	// Another project sees none of it and cannot delete it; it may use the same name.
	none, err := b.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{})
	if err != nil || len(none.KeyPairs) != 0 {
		t.Fatalf("b sees %v (%v)", keyNames(none), err)
	}
	_, err = b.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyNames: []string{"shared"}})
	expectCode(t, err, "InvalidKeyPair.NotFound")
	_, err = b.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyPairIds: []string{sharedID}})
	expectCode(t, err, "InvalidKeyPair.NotFound")
	_, err = b.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyPairId: aws.String(sharedID)})
	expectCode(t, err, "InvalidKeyPair.NotFound")
	if _, err := b.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyName: aws.String("shared")}); err != nil {
		t.Fatalf("deleting a name b does not have: %v", err)
	}
	describeKey(t, a, "shared")
	bShared, err := b.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("shared")})
	if err != nil || aws.ToString(bShared.KeyPairId) == sharedID {
		t.Fatalf("b's own key named shared: %v %v", bShared, err)
	}

	// Delete: by id, by name, and names nobody has.
	_, err = a.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{})
	expectCode(t, err, "MissingParameter")
	_, err = a.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyPairId: aws.String("key-0123456789abcdef0")})
	expectCode(t, err, "InvalidKeyPair.NotFound")
	_, err = a.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyName: aws.String("web"), DryRun: aws.Bool(true)})
	expectCode(t, err, "DryRunOperation")
	if _, err := a.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyName: aws.String("never-was")}); err != nil {
		t.Fatalf("deleting an unknown name: %v", err)
	}
	del, err := a.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyPairId: aws.String(sharedID)})
	if err != nil || !aws.ToBool(del.Return) || aws.ToString(del.KeyPairId) != sharedID {
		t.Fatalf("delete by id: %+v %v", del, err)
	}
	if _, err := a.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyName: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	_, err = a.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyNames: []string{"web"}})
	expectCode(t, err, "InvalidKeyPair.NotFound")
	describeKey(t, b, "shared")
	// The name is free again.
	if _, err := a.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("shared")}); err != nil {
		t.Fatalf("re-creating a deleted name: %v", err)
	}
}

func TestKubectlKeyPairsShowUp(t *testing.T) {
	_, _, cl := tenant(t, "kpkube")
	ctx := context.Background()
	dir := t.TempDir()
	keyTool(t, "ssh-keygen -q -t rsa -b 2048 -N '' -C ops -f '"+filepath.Join(dir, "id")+"'")
	pub, err := os.ReadFile(filepath.Join(dir, "id.pub"))
	if err != nil {
		t.Fatal(err)
	}
	// Named only by its object name; and a later namesake (the controller marks it a duplicate).
	for _, kp := range []*cloudv1.KeyPair{
		{ObjectMeta: metav1.ObjectMeta{Name: "ops", Namespace: "kpkube"}, Spec: cloudv1.KeyPairSpec{PublicKey: string(pub)}},
		{ObjectMeta: metav1.ObjectMeta{Name: "ops-again", Namespace: "kpkube"}, Spec: cloudv1.KeyPairSpec{KeyName: "ops", PublicKey: string(pub)}},
	} {
		if err := env.Client.Create(ctx, kp); err != nil {
			t.Fatal(err)
		}
	}
	want := keyTool(t, "ssh-keygen -e -m PKCS8 -f '"+filepath.Join(dir, "id.pub")+"' | openssl pkey -pubin -outform DER | openssl md5 -c | sed 's/^.*= //'")
	var id string
	testenv.Eventually(t, shortWait, "the kubectl key pair in DescribeKeyPairs", func() error {
		out, err := cl.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{})
		if err != nil {
			return err
		}
		if len(out.KeyPairs) != 1 {
			return fmt.Errorf("%d key pairs: %v", len(out.KeyPairs), keyNames(out))
		}
		k := out.KeyPairs[0]
		id = aws.ToString(k.KeyPairId)
		if aws.ToString(k.KeyName) != "ops" || aws.ToString(k.KeyFingerprint) != want || !strings.HasPrefix(id, "key-") || k.KeyType != types.KeyTypeRsa {
			return fmt.Errorf("key %+v", k)
		}
		return nil
	})
	kp := &cloudv1.KeyPair{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "kpkube", Name: "ops"}, kp); err != nil || kp.Status.KeyPairID != id {
		t.Fatalf("the API shows id %s, the object has %s (%v)", id, kp.Status.KeyPairID, err)
	}
	_, err = cl.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("ops")})
	expectCode(t, err, "InvalidKeyPair.Duplicate")
	_, err = cl.ImportKeyPair(ctx, &ec2.ImportKeyPairInput{KeyName: aws.String("ops"), PublicKeyMaterial: pub})
	expectCode(t, err, "InvalidKeyPair.Duplicate")
	// Deleting the name removes both objects.
	if _, err := cl.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyName: aws.String("ops")}); err != nil {
		t.Fatal(err)
	}
	expectCount(t, "kpkube", &cloudv1.KeyPairList{}, 0)
}

func TestKeyPairsThroughTheCLI(t *testing.T) {
	c, creds, _ := tenant(t, "kpcli")
	dir := t.TempDir()

	var created struct{ KeyName, KeyFingerprint, KeyMaterial, KeyPairId string }
	if err := json.Unmarshal([]byte(cliEC2(t, c, creds, "create-key-pair", "--key-name", "cli-key", "--key-type", "ed25519")), &created); err != nil {
		t.Fatal(err)
	}
	if created.KeyName != "cli-key" || !strings.Contains(created.KeyMaterial, "OPENSSH PRIVATE KEY") || !strings.HasPrefix(created.KeyPairId, "key-") {
		t.Fatalf("create-key-pair: %+v", created)
	}
	keyTool(t, "ssh-keygen -q -t rsa -b 2048 -N '' -f '"+filepath.Join(dir, "id")+"'")
	var imported struct{ KeyName, KeyFingerprint, KeyPairId string }
	if err := json.Unmarshal([]byte(cliEC2(t, c, creds, "import-key-pair", "--key-name", "cli-imported",
		"--public-key-material", "fileb://"+filepath.Join(dir, "id.pub"))), &imported); err != nil {
		t.Fatal(err)
	}
	var described struct {
		KeyPairs []struct{ KeyName, KeyFingerprint, KeyPairId, KeyType, PublicKey, CreateTime string }
	}
	if err := json.Unmarshal([]byte(cliEC2(t, c, creds, "describe-key-pairs", "--include-public-key")), &described); err != nil {
		t.Fatal(err)
	}
	if len(described.KeyPairs) != 2 || described.KeyPairs[0].KeyName != "cli-imported" || described.KeyPairs[1].KeyPairId != created.KeyPairId ||
		described.KeyPairs[0].KeyFingerprint != imported.KeyFingerprint || described.KeyPairs[1].KeyType != "ed25519" ||
		!strings.HasPrefix(described.KeyPairs[0].PublicKey, "ssh-rsa ") || described.KeyPairs[0].CreateTime == "" {
		t.Fatalf("describe-key-pairs: %+v", described)
	}
	if out := cliEC2Fail(t, c, creds, "describe-key-pairs", "--key-names", "nope"); !strings.Contains(out, "InvalidKeyPair.NotFound") {
		t.Fatalf("describing an unknown key: %s", out)
	}
	cliEC2(t, c, creds, "delete-key-pair", "--key-name", "cli-key")
	cliEC2(t, c, creds, "delete-key-pair", "--key-pair-id", imported.KeyPairId)
	if err := json.Unmarshal([]byte(cliEC2(t, c, creds, "describe-key-pairs")), &described); err != nil || len(described.KeyPairs) != 0 {
		t.Fatalf("after deleting: %+v %v", described, err)
	}
}
