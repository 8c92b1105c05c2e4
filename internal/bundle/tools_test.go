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

package bundle

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// These tests check the format with tools other than this package: openssl for RSA, AES and
// signatures, GNU tar, gzip, split and sha1sum for the rest, and Python's tarfile (which
// euca2ools tars with). Only the test's plumbing is Go.

func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: %v", tool, err)
		}
	}
}

// writePEMs writes the user's and cloud's keys and certificates for the tools.
func writePEMs(t *testing.T, dir string) {
	t.Helper()
	for _, name := range []string{"user", "cloud"} {
		id := ident(t, name)
		key := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(id.key)})
		cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: id.cert.Raw})
		if err := os.WriteFile(filepath.Join(dir, name+".key"), key, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".crt"), cert, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// runScript runs a bash script in dir with env and returns its standard output.
func runScript(t *testing.T, dir, script string, env ...string) string {
	t.Helper()
	cmd := exec.Command("bash", "-c", "set -euo pipefail\n"+script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("script failed: %v\n%s\nstderr:\n%s", err, script, stderr.String())
	}
	return string(out)
}

// scriptValues reads name=value lines.
func scriptValues(out string) map[string]string {
	values := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if name, value, ok := strings.Cut(line, "="); ok {
			values[name] = value
		}
	}
	return values
}

// TestToolsReadOurBundle takes a bundle Create made apart with openssl, gzip, tar and grep.
func TestToolsReadOurBundle(t *testing.T) {
	requireTools(t, "bash", "openssl", "gzip", "tar", "sha1sum", "grep", "od", "cmp")
	dir := t.TempDir()
	writePEMs(t, dir)
	imagePath := writeRandomFile(t, dir, "disk.img", 2<<20+777, 21)
	out := filepath.Join(dir, "bundle")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	p := testParams(t, imagePath)
	p.PartSize = 1 << 20
	p.BlockDeviceMappings = []BlockDeviceMapping{{"ami", "sda1"}, {"root", "/dev/sda1"}}
	p.KernelID = "aki-0123456789abcdef0"
	m, _, _ := mustCreate(t, p, out)

	script := `
m=bundle/disk.img.manifest.xml
field() { grep -o "<$1[^>]*>[0-9a-f]*</$1>" "$m" | head -1 | sed -e 's/<[^>]*>//g'; }
unhex() { printf '%s' "$1" | sed 's/../\\x&/g' | xargs -0 printf '%b'; }

# Each part's SHA-1 is the one listed.
grep -o "<filename>[^<]*</filename><digest algorithm='SHA1'>[0-9a-f]*</digest>" "$m" | sed -e 's/<[^>]*>/ /g' |
while read -r name digest; do
	test "$(sha1sum "bundle/$name" | cut -d' ' -f1)" = "$digest" || { echo "part $name: digest differs" >&2; exit 1; }
	echo "part=$name"
done

# The cloud's and the user's private keys both recover the same hex key and IV.
for who in ec2 user; do
	case $who in ec2) k=cloud.key;; user) k=user.key;; esac
	unhex "$(field ${who}_encrypted_key)" > enckey.bin
	unhex "$(field ${who}_encrypted_iv)" > enciv.bin
	echo "${who}_key=$(openssl pkeyutl -decrypt -inkey $k -in enckey.bin)"
	echo "${who}_iv=$(openssl pkeyutl -decrypt -inkey $k -in enciv.bin)"
done
key=$(openssl pkeyutl -decrypt -inkey cloud.key -in <(unhex "$(field ec2_encrypted_key)"))
iv=$(openssl pkeyutl -decrypt -inkey cloud.key -in <(unhex "$(field ec2_encrypted_iv)"))

# The parts joined decrypt, gunzip and untar to the image; the tar stream has the listed digest.
names=$(grep -o '<filename>[^<]*</filename>' "$m" | sed -e 's/<[^>]*>//g; s|^|bundle/|')
cat $names | openssl enc -d -aes-128-cbc -K "$key" -iv "$iv" | gzip -dc > stream.tar
echo "stream_sha1=$(sha1sum stream.tar | cut -d' ' -f1)"
echo "manifest_digest=$(grep -o "<digest algorithm='SHA1'>[0-9a-f]*</digest><size>" "$m" | sed -e 's/<[^>]*>//g')"
echo "members=$(tar -tf stream.tar | tr '\n' ' ')"
tar -xOf stream.tar disk.img > unpacked.img
cmp unpacked.img disk.img

# The signature verifies over <machine_configuration> then <image>, cut from the file as
# ec2-ami-tools cuts them.
printf '%s%s' "$(grep -o '<machine_configuration>.*</machine_configuration>' "$m")" "$(grep -o '<image>.*</image>' "$m")" > signed.bin
unhex "$(field signature)" > sig.bin
openssl x509 -in user.crt -pubkey -noout > user.pub
echo "verify=$(openssl dgst -sha1 -verify user.pub -signature sig.bin signed.bin)"
`
	v := scriptValues(runScript(t, dir, script))
	key, iv, err := m.DecryptKey(ident(t, "cloud").key)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"ec2_key": hex.EncodeToString(key), "ec2_iv": hex.EncodeToString(iv),
		"user_key": hex.EncodeToString(key), "user_iv": hex.EncodeToString(iv),
		"stream_sha1": hex.EncodeToString(m.Digest), "manifest_digest": hex.EncodeToString(m.Digest),
		"members": "disk.img ", "verify": "Verified OK",
	} {
		if v[name] != want {
			t.Errorf("%s = %q, want %q", name, v[name], want)
		}
	}
	if v["part"] == "" {
		t.Error("the script checked no parts")
	}
}

// TestWeReadToolsBundle unbundles a bundle made the way the reference bundlers make one, by
// the same tools: tar (GNU tar with --sparse as ec2-bundle-image runs it, or Python's tarfile
// as euca-bundle-image uses it), gzip -9, openssl enc, split, openssl pkeyutl and openssl dgst.
func TestWeReadToolsBundle(t *testing.T) {
	requireTools(t, "bash", "openssl", "gzip", "tar", "sha1sum", "split", "od", "md5sum")
	for name, tarCmd := range map[string]string{
		"gnu tar sparse": `tar -c --sparse --owner=0 --group=0 --numeric-owner -C image disk.img`,
		"python tarfile": `python3 -c 'import sys, tarfile, os
t = tarfile.open(mode="w|", fileobj=sys.stdout.buffer, format=tarfile.GNU_FORMAT)
info = tarfile.TarInfo("disk.img"); info.size = os.path.getsize("image/disk.img")
with open("image/disk.img", "rb") as f: t.addfile(info, f)
t.close()'`,
	} {
		t.Run(name, func(t *testing.T) {
			if strings.HasPrefix(tarCmd, "python3") {
				requireTools(t, "python3")
			}
			dir := t.TempDir()
			writePEMs(t, dir)
			if err := os.Mkdir(filepath.Join(dir, "image"), 0o755); err != nil {
				t.Fatal(err)
			}
			image := writeSparseImage(t, filepath.Join(dir, "image", "disk.img"))
			script := `
hexof() { od -An -v -tx1 | tr -d ' \n'; }
key=$(openssl rand -hex 16); iv=$(openssl rand -hex 16)
` + tarCmd + ` > stream.tar
gzip -9 -c stream.tar | openssl enc -e -aes-128-cbc -K "$key" -iv "$iv" > bundle.enc
split -b 1048576 -d -a 2 bundle.enc disk.img.part.
echo "key=$key"
echo "digest=$(sha1sum stream.tar | cut -d' ' -f1)"
echo "bundled_size=$(stat -c %s bundle.enc)"
echo "parts=$(for f in disk.img.part.*; do printf '%s:%s ' "$f" "$(sha1sum "$f" | cut -d' ' -f1)"; done)"
for who in ec2:cloud user:user; do
	echo "${who%%:*}_key=$(printf %s "$key" | openssl pkeyutl -encrypt -certin -inkey ${who#*:}.crt | hexof)"
	echo "${who%%:*}_iv=$(printf %s "$iv" | openssl pkeyutl -encrypt -certin -inkey ${who#*:}.crt | hexof)"
done
`
			v := scriptValues(runScript(t, dir, script))
			signed := euca2oolsSignedXML(v, int64(len(image)))
			if err := os.WriteFile(filepath.Join(dir, "signed.bin"), []byte(signed), 0o644); err != nil {
				t.Fatal(err)
			}
			sig := strings.TrimSpace(runScript(t, dir, `openssl dgst -sha1 -sign user.key signed.bin | od -An -v -tx1 | tr -d ' \n'`))
			manifest := "<?xml version='1.0' encoding='ASCII'?>\n<manifest><version>2007-10-10</version>" +
				"<bundler><name>euca2ools</name><version>3.4.1</version><release>0</release></bundler>" +
				signed + "<signature>" + sig + "</signature></manifest>"

			m, err := ParseManifest([]byte(manifest))
			if err != nil {
				t.Fatalf("ParseManifest: %v\n%s", err, manifest)
			}
			if err := m.VerifySignature(ident(t, "user").cert); err != nil {
				t.Fatalf("VerifySignature: %v", err)
			}
			key, iv, err := m.DecryptKey(ident(t, "cloud").key)
			if err != nil {
				t.Fatalf("DecryptKey: %v", err)
			}
			if hex.EncodeToString(key) != v["key"] {
				t.Fatalf("key %x, openssl made %s", key, v["key"])
			}
			var buf bytes.Buffer
			size, sum, err := Unbundle(m, key, iv, dirOpener(dir), &buf)
			if err != nil {
				t.Fatalf("Unbundle: %v", err)
			}
			md5sum := strings.Fields(runScript(t, dir, "md5sum image/disk.img"))[0]
			if size != int64(len(image)) || sum != md5sum || !bytes.Equal(buf.Bytes(), image) {
				t.Fatalf("Unbundle = %d bytes, MD5 %s (equal %v); md5sum says %s", size, sum, bytes.Equal(buf.Bytes(), image), md5sum)
			}
			// The user's copy of the key, encrypted by openssl, works too.
			if _, _, err := decryptKeyPair(ident(t, "user").key, m.UserEncryptedKey, m.UserEncryptedIV); err != nil {
				t.Errorf("user key: %v", err)
			}
		})
	}
}

// writeSparseImage writes a 6 MiB image with holes and returns its contents.
func writeSparseImage(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data := make([]byte, 6<<20)
	for _, off := range []int{0, 1 << 20, 5<<20 + 12345} {
		chunk := bytes.Repeat([]byte(fmt.Sprintf("block at %d;", off)), 3000)
		copy(data[off:], chunk)
		if _, err := f.WriteAt(chunk, int64(off)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(int64(len(data))); err != nil {
		t.Fatal(err)
	}
	return data
}

var partsValue = regexp.MustCompile(`(\S+):([0-9a-f]{40})`)

// euca2oolsSignedXML lays out <machine_configuration> and <image> as euca2ools does, from the
// values the tools produced.
func euca2oolsSignedXML(v map[string]string, size int64) string {
	var parts strings.Builder
	list := partsValue.FindAllStringSubmatch(v["parts"], -1)
	for i, p := range list {
		fmt.Fprintf(&parts, `<part index="%d"><filename>%s</filename><digest algorithm="SHA1">%s</digest></part>`, i, p[1], p[2])
	}
	return `<machine_configuration><architecture>x86_64</architecture><kernel_id>aki-12345678</kernel_id></machine_configuration>` +
		`<image><name>disk.img</name><user>123456789012</user><type>machine</type>` +
		`<digest algorithm="SHA1">` + v["digest"] + `</digest><size>` + fmt.Sprint(size) + `</size>` +
		`<bundled_size>` + v["bundled_size"] + `</bundled_size>` +
		`<ec2_encrypted_key algorithm="AES-128-CBC">` + v["ec2_key"] + `</ec2_encrypted_key>` +
		`<user_encrypted_key algorithm="AES-128-CBC">` + v["user_key"] + `</user_encrypted_key>` +
		`<ec2_encrypted_iv>` + v["ec2_iv"] + `</ec2_encrypted_iv><user_encrypted_iv>` + v["user_iv"] + `</user_encrypted_iv>` +
		fmt.Sprintf(`<parts count="%d">`, len(list)) + parts.String() + `</parts></image>`
}
