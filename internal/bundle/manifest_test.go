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
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var (
	hexRSA  = strings.Repeat("ab", 256)
	hexSHA1 = strings.Repeat("0123456789", 4)
)

// sampleManifest is a well-formed manifest in euca2ools' layout (its signature is not real:
// ParseManifest does not verify it).
var sampleManifest = `<?xml version='1.0' encoding='ASCII'?>
<manifest><version>2007-10-10</version><bundler><name>euca2ools</name><version>3.4.1</version><release>0</release></bundler>` +
	`<machine_configuration><architecture>x86_64</architecture>` +
	`<block_device_mapping><mapping><virtual>ami</virtual><device>sda1</device></mapping><mapping><virtual>root</virtual><device>/dev/sda1</device></mapping></block_device_mapping>` +
	`<product_codes><product_code>abc123</product_code></product_codes>` +
	`<kernel_id>aki-12345678</kernel_id><ramdisk_id>ari-12345678</ramdisk_id></machine_configuration>` +
	`<image><name>disk.img</name><user>123456789012</user><type>machine</type>` +
	`<digest algorithm="SHA1">` + hexSHA1 + `</digest><size>300000</size><bundled_size>300288</bundled_size>` +
	`<ec2_encrypted_key algorithm="AES-128-CBC">` + hexRSA + `</ec2_encrypted_key>` +
	`<user_encrypted_key algorithm="AES-128-CBC">` + hexRSA + `</user_encrypted_key>` +
	`<ec2_encrypted_iv>` + hexRSA + `</ec2_encrypted_iv><user_encrypted_iv>` + hexRSA + `</user_encrypted_iv>` +
	`<parts count="2"><part index="0"><filename>disk.img.part.00</filename><digest algorithm="SHA1">` + hexSHA1 + `</digest></part>` +
	`<part index="1"><filename>disk.img.part.01</filename><digest algorithm="SHA1">` + hexSHA1 + `</digest></part></parts>` +
	`</image><signature>` + hexRSA + `</signature></manifest>`

func TestParseManifestSample(t *testing.T) {
	m, err := ParseManifest([]byte(sampleManifest))
	if err != nil {
		t.Fatal(err)
	}
	want := Manifest{
		Version:             "2007-10-10",
		Bundler:             Bundler{Name: "euca2ools", Version: "3.4.1", Release: "0"},
		Arch:                "x86_64",
		KernelID:            "aki-12345678",
		RamdiskID:           "ari-12345678",
		BlockDeviceMappings: []BlockDeviceMapping{{"ami", "sda1"}, {"root", "/dev/sda1"}},
		ProductCodes:        []string{"abc123"},
		Name:                "disk.img",
		User:                "123456789012",
		Type:                TypeMachine,
		Size:                300000,
		BundledSize:         300288,
	}
	got := *m
	got.Digest, got.EC2EncryptedKey, got.EC2EncryptedIV, got.UserEncryptedKey, got.UserEncryptedIV = nil, nil, nil, nil, nil
	got.Parts, got.Signature, got.signed = nil, nil, nil
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("manifest\n got %+v\nwant %+v", got, want)
	}
	if len(m.Parts) != 2 || m.Parts[1].Filename != "disk.img.part.01" || len(m.Parts[1].Digest) != 20 ||
		len(m.EC2EncryptedKey) != 256 || len(m.Signature) != 256 || len(m.Digest) != 20 {
		t.Errorf("binary fields: %d parts, key %d bytes, signature %d bytes", len(m.Parts), len(m.EC2EncryptedKey), len(m.Signature))
	}
	start := strings.Index(sampleManifest, "<machine_configuration>")
	end := strings.Index(sampleManifest, "</image>") + len("</image>")
	if string(m.signed) != sampleManifest[start:end] {
		t.Errorf("signed bytes are not the file's <machine_configuration><image> run")
	}
}

// TestParseManifestAccepts covers layouts the reference tools produce.
func TestParseManifestAccepts(t *testing.T) {
	for name, edit := range map[string][2]string{
		"utf-8 declaration":   {`<?xml version='1.0' encoding='ASCII'?>`, `<?xml version="1.0" encoding="UTF-8"?>`},
		"no declaration":      {`<?xml version='1.0' encoding='ASCII'?>`, ``},
		"rexml declaration":   {`<?xml version='1.0' encoding='ASCII'?>`, `<?xml version='1.0'?>`},
		"pretty":              {"<image>", "\n  <image>\n    "},
		"no user key":         {`<user_encrypted_key algorithm="AES-128-CBC">` + hexRSA + `</user_encrypted_key>`, `<user_encrypted_key algorithm="AES-128-CBC"/>`},
		"no bundler":          {`<bundler><name>euca2ools</name><version>3.4.1</version><release>0</release></bundler>`, ""},
		"ec2-ami-tools extra": {"<type>machine</type>", "<type>machine</type><ancestry><ancestor_ami_id>ami-1</ancestor_ami_id></ancestry>"},
		"upper-case hex":      {hexSHA1 + "</digest><size>", strings.ToUpper(hexSHA1[:10]) + hexSHA1[10:] + "</digest><size>"},
		"comment":             {"<version>", "<!-- made by hand --><version>"},
	} {
		t.Run(name, func(t *testing.T) {
			if !strings.Contains(sampleManifest, edit[0]) {
				t.Fatalf("sample does not contain %q", edit[0])
			}
			if _, err := ParseManifest([]byte(strings.Replace(sampleManifest, edit[0], edit[1], 1))); err != nil {
				t.Fatalf("ParseManifest: %v", err)
			}
		})
	}
}

func TestParseManifestRejects(t *testing.T) {
	part := func(i int, name string) string {
		return fmt.Sprintf(`<part index="%d"><filename>%s</filename><digest algorithm="SHA1">%s</digest></part>`, i, name, hexSHA1)
	}
	parts := func(count int, list ...string) string {
		return fmt.Sprintf(`<parts count="%d">%s</parts>`, count, strings.Join(list, ""))
	}
	origParts := parts(2, part(0, "disk.img.part.00"), part(1, "disk.img.part.01"))
	if !strings.Contains(sampleManifest, origParts) {
		t.Fatal("sample parts differ from the test's")
	}
	type edit struct{ old, new string }
	for _, tc := range []struct {
		name  string
		doc   string // the whole document, or
		edits []edit // replacements in the sample
		want  string // the error after "bad bundle manifest: "
	}{
		{name: "empty", doc: "", want: "no root element"},
		{name: "not xml", doc: "hello", want: "text outside the root element"},
		{name: "truncated", doc: sampleManifest[:500], want: "XML syntax error on line 2: unexpected EOF"},
		{name: "too big", doc: strings.Repeat(" ", MaxManifestSize+1), want: "manifest is 4194305 bytes, more than 4194304"},
		{name: "other encoding", edits: []edit{{"encoding='ASCII'", "encoding='EBCDIC'"}}, want: `xml: opening charset "EBCDIC": unsupported encoding "EBCDIC"`},
		{name: "dtd", edits: []edit{{"<manifest>", `<!DOCTYPE manifest [<!ENTITY x "y">]><manifest>`}}, want: "document type declarations are not allowed"},
		{name: "two roots", edits: []edit{{"</manifest>", "</manifest><manifest></manifest>"}}, want: "more than one root element"},
		{name: "wrong root", doc: "<bundle/>", want: "root element is <bundle>, not <manifest>"},
		{name: "too deep", doc: strings.Repeat("<a>", 9) + strings.Repeat("</a>", 9), want: "elements nested deeper than 8"},
		{name: "too many elements", doc: "<manifest>" + strings.Repeat("<x/>", maxElements) + "</manifest>", want: "more than 41984 elements"},
		{name: "no version", edits: []edit{{"<version>2007-10-10</version>", ""}}, want: "<manifest> has no <version>"},
		{name: "old version", edits: []edit{{"<version>2007-10-10</version>", "<version>3</version>"}}, want: `version "3" is not 2007-10-10`},
		{name: "two bundlers", edits: []edit{{"<machine_configuration>", "<bundler/><machine_configuration>"}}, want: "<manifest> has more than one <bundler>"},
		{name: "no machine configuration", edits: []edit{{"<architecture>x86_64</architecture>", ""}, {"<machine_configuration>", "<x>"}, {"</machine_configuration>", "</x>"}}, want: "<manifest> has no <machine_configuration>"},
		{name: "no architecture", edits: []edit{{"<architecture>x86_64</architecture>", ""}}, want: "<machine_configuration> has no <architecture>"},
		{name: "two architectures", edits: []edit{{"<architecture>x86_64</architecture>", "<architecture>x86_64</architecture><architecture>i386</architecture>"}}, want: "<machine_configuration> has more than one <architecture>"},
		{name: "bad architecture", edits: []edit{{"<architecture>x86_64</architecture>", "<architecture>x86 64</architecture>"}}, want: `<architecture> "x86 64" is not a valid token`},
		{name: "bad kernel", edits: []edit{{"<kernel_id>aki-12345678</kernel_id>", "<kernel_id></kernel_id>"}}, want: `<kernel_id> "" is not a valid token`},
		{name: "mapping without device", edits: []edit{{"<device>sda1</device>", ""}}, want: "<mapping> has no <device>"},
		{name: "too many mappings", edits: []edit{{"<block_device_mapping>", "<block_device_mapping>" + strings.Repeat("<mapping><virtual>a</virtual><device>b</device></mapping>", maxMappings)}}, want: "more than 128 block device mappings"},
		{name: "bad product code", edits: []edit{{"<product_code>abc123</product_code>", "<product_code>a\tb</product_code>"}}, want: `<product_code> "a\tb" is not a valid token`},
		{name: "no image", edits: []edit{{"<image>", "<imagex>"}, {"</image>", "</imagex>"}}, want: "<manifest> has no <image>"},
		{name: "no name", edits: []edit{{"<name>disk.img</name>", ""}}, want: "<image> has no <name>"},
		{name: "empty name", edits: []edit{{"<name>disk.img</name>", "<name> </name>"}}, want: `<name> "" is not a valid image name`},
		{name: "control in name", edits: []edit{{"<name>disk.img</name>", "<name>disk&#x85;img</name>"}}, want: `<name> "disk\u0085img" is not a valid image name`},
		{name: "no user", edits: []edit{{"<user>123456789012</user>", ""}}, want: "<image> has no <user>"},
		{name: "bad type", edits: []edit{{"<type>machine</type>", "<type>disk</type>"}}, want: `<type> "disk" is not machine, kernel or ramdisk`},
		{name: "digest algorithm", edits: []edit{{`<digest algorithm="SHA1">` + hexSHA1 + `</digest><size>`, `<digest algorithm="MD5">` + hexSHA1 + `</digest><size>`}}, want: `<digest> of <image> has algorithm "MD5", not SHA1`},
		{name: "digest not hex", edits: []edit{{hexSHA1 + "</digest><size>", strings.Repeat("zz", 20) + "</digest><size>"}}, want: "<digest> of <image> is not a hex SHA-1 digest"},
		{name: "digest short", edits: []edit{{hexSHA1 + "</digest><size>", "abcd</digest><size>"}}, want: "<digest> of <image> is not a hex SHA-1 digest"},
		{name: "negative size", edits: []edit{{"<size>300000</size>", "<size>-1</size>"}}, want: `<size> "-1" is not a non-negative integer`},
		{name: "signed size", edits: []edit{{"<size>300000</size>", "<size>+1</size>"}}, want: `<size> "+1" is not a non-negative integer`},
		{name: "huge size", edits: []edit{{"<size>300000</size>", "<size>99999999999999999999</size>"}}, want: `<size> "99999999999999999999" is not a non-negative integer`},
		{name: "no bundled size", edits: []edit{{"<bundled_size>300288</bundled_size>", ""}}, want: "<image> has no <bundled_size>"},
		{name: "zero bundled size", edits: []edit{{"<bundled_size>300288</bundled_size>", "<bundled_size>0</bundled_size>"}}, want: "<bundled_size> 0 is not a positive multiple of the AES block size"},
		{name: "odd bundled size", edits: []edit{{"<bundled_size>300288</bundled_size>", "<bundled_size>300289</bundled_size>"}}, want: "<bundled_size> 300289 is not a positive multiple of the AES block size"},
		{name: "no ec2 key", edits: []edit{{`<ec2_encrypted_key algorithm="AES-128-CBC">` + hexRSA + `</ec2_encrypted_key>`, ""}}, want: "<image> has no <ec2_encrypted_key>"},
		{name: "cipher", edits: []edit{{`<ec2_encrypted_key algorithm="AES-128-CBC">`, `<ec2_encrypted_key algorithm="DES">`}}, want: `<ec2_encrypted_key> algorithm "DES" is not AES-128-CBC`},
		{name: "empty ec2 key", edits: []edit{{`<ec2_encrypted_key algorithm="AES-128-CBC">` + hexRSA, `<ec2_encrypted_key algorithm="AES-128-CBC">`}}, want: "<ec2_encrypted_key> is not hex of 1 to 1024 bytes"},
		{name: "odd hex iv", edits: []edit{{"<ec2_encrypted_iv>" + hexRSA, "<ec2_encrypted_iv>a" + hexRSA}}, want: "<ec2_encrypted_iv> is not hex of 1 to 1024 bytes"},
		{name: "huge key", edits: []edit{{"<ec2_encrypted_iv>" + hexRSA, "<ec2_encrypted_iv>" + hexRSA + strings.Repeat("00", 1024)}}, want: "<ec2_encrypted_iv> is not hex of 1 to 1024 bytes"},
		{name: "no user iv", edits: []edit{{"<user_encrypted_iv>" + hexRSA + "</user_encrypted_iv>", ""}}, want: "<image> has no <user_encrypted_iv>"},
		{name: "bad user key", edits: []edit{{`<user_encrypted_key algorithm="AES-128-CBC">` + hexRSA, `<user_encrypted_key algorithm="AES-128-CBC">xyz`}}, want: "<user_encrypted_key> is not hex of 1 to 1024 bytes"},
		{name: "no parts", edits: []edit{{origParts, ""}}, want: "<image> has no <parts>"},
		{name: "no count", edits: []edit{{`<parts count="2">`, "<parts>"}}, want: "<parts> has no count"},
		{name: "zero count", edits: []edit{{origParts, parts(0)}}, want: `<parts> count "0" is not between 1 and 10240`},
		{name: "absurd count", edits: []edit{{`<parts count="2">`, `<parts count="1000000">`}}, want: `<parts> count "1000000" is not between 1 and 10240`},
		{name: "signed count", edits: []edit{{`<parts count="2">`, `<parts count="+2">`}}, want: `<parts> count "+2" is not between 1 and 10240`},
		{name: "count mismatch", edits: []edit{{`<parts count="2">`, `<parts count="3">`}}, want: "<parts> count is 3 but it lists 2 parts"},
		{name: "duplicate index", edits: []edit{{origParts, parts(2, part(0, "a"), part(0, "b"))}}, want: `part 1 has index "0"; indexes must run 0, 1, 2, … in order`},
		{name: "out of order", edits: []edit{{origParts, parts(2, part(1, "a"), part(0, "b"))}}, want: `part 0 has index "1"; indexes must run 0, 1, 2, … in order`},
		{name: "no index", edits: []edit{{`<part index="1">`, "<part>"}}, want: `part 1 has index ""; indexes must run 0, 1, 2, … in order`},
		{name: "padded index", edits: []edit{{`<part index="1">`, `<part index="01">`}}, want: `part 1 has index "01"; indexes must run 0, 1, 2, … in order`},
		{name: "slash", edits: []edit{{origParts, parts(1, part(0, "../etc/passwd"))}}, want: `part 0 file name "../etc/passwd" is not a plain file name`},
		{name: "backslash", edits: []edit{{origParts, parts(1, part(0, `a\b`))}}, want: `part 0 file name "a\\b" is not a plain file name`},
		{name: "dot dot", edits: []edit{{origParts, parts(1, part(0, ".."))}}, want: `part 0 file name ".." is not a plain file name`},
		{name: "empty file name", edits: []edit{{origParts, parts(1, part(0, ""))}}, want: `part 0 file name "" is not a plain file name`},
		{name: "long file name", edits: []edit{{origParts, parts(1, part(0, strings.Repeat("a", 256)))}}, want: fmt.Sprintf("part 0 file name %q is not a plain file name", strings.Repeat("a", 256))},
		{name: "duplicate file name", edits: []edit{{origParts, parts(2, part(0, "a"), part(1, "a"))}}, want: `part file name "a" appears twice`},
		{name: "part digest", edits: []edit{{origParts, strings.Replace(origParts, hexSHA1, "00", 1)}}, want: "<digest> of <part> is not a hex SHA-1 digest"},
		{name: "no signature", edits: []edit{{"<signature>" + hexRSA + "</signature>", ""}}, want: "<manifest> has no <signature>"},
		{name: "unsigned", edits: []edit{{"<signature>" + hexRSA + "</signature>", "<signature>UNSIGNED</signature>"}}, want: "<signature> is not hex of 1 to 1024 bytes"},
		{name: "second image tag in comment", edits: []edit{{"<version>", "<!-- <image> --><version>"}}, want: "<image> must appear exactly once, written as <image>…</image>"},
		{name: "image tag with space", edits: []edit{{"</image>", "</image >"}}, want: "<image> must appear exactly once, written as <image>…</image>"},
		{name: "namespaced configuration", edits: []edit{{"<machine_configuration>", `<m:machine_configuration xmlns:m="urn:x">`}, {"</machine_configuration>", "</m:machine_configuration>"}}, want: "<machine_configuration> must appear exactly once, written as <machine_configuration>…</machine_configuration>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := tc.doc
			if tc.edits != nil {
				doc = sampleManifest
				for _, e := range tc.edits {
					if !strings.Contains(doc, e.old) {
						t.Fatalf("sample does not contain %q", e.old)
					}
					doc = strings.Replace(doc, e.old, e.new, 1)
				}
			}
			_, err := ParseManifest([]byte(doc))
			if !errors.Is(err, ErrBadManifest) || err.Error() != "bad bundle manifest: "+tc.want {
				t.Fatalf("ParseManifest error = %v\nwant bad bundle manifest: %s", err, tc.want)
			}
		})
	}
}

// FuzzParseManifest checks that ParseManifest never panics, that what it accepts satisfies the
// documented limits, and that writing an accepted manifest out again reads back the same.
func FuzzParseManifest(f *testing.F) {
	// More seeds, among them a manifest Create wrote, are in testdata/fuzz/FuzzParseManifest.
	f.Add([]byte(sampleManifest))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			if !errors.Is(err, ErrBadManifest) {
				t.Fatalf("error %v is not ErrBadManifest", err)
			}
			return
		}
		if len(m.Parts) < 1 || len(m.Parts) > MaxParts || len(m.Digest) != 20 || len(m.signed) == 0 {
			t.Fatalf("accepted manifest breaks the limits: %d parts, digest %d bytes", len(m.Parts), len(m.Digest))
		}
		for _, p := range m.Parts {
			if !validFileName(p.Filename) || filepath.Base(p.Filename) != p.Filename {
				t.Fatalf("accepted part file name %q", p.Filename)
			}
		}
		// A fixed signature: RSA is far too slow under the fuzzer's instrumentation.
		var signed []byte
		again, err := m.encode(func(b []byte) ([]byte, error) {
			signed = b
			return m.Signature, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		m2, err := ParseManifest(again)
		if err != nil {
			t.Fatalf("re-reading a written manifest: %v\n%s", err, again)
		}
		if !bytes.Equal(m2.signed, signed) {
			t.Fatalf("the signed bytes read back differ from those written")
		}
		if fmt.Sprint(stripSigned(m)) != fmt.Sprint(stripSigned(m2)) {
			t.Fatalf("round trip changed the manifest:\n%+v\n%+v", m, m2)
		}
	})
}

// stripSigned drops the signed bytes, which depend on the layout.
func stripSigned(m *Manifest) Manifest {
	c := *m
	c.signed = nil
	if c.BlockDeviceMappings == nil {
		c.BlockDeviceMappings = []BlockDeviceMapping{}
	}
	c.BlockDeviceMappings = slices.Clip(c.BlockDeviceMappings)
	return c
}

// TestOwnManifestLayout pins the layout Create writes to euca2ools' element order.
func TestOwnManifestLayout(t *testing.T) {
	f := newFixture(t)
	var order []string
	for _, tag := range []string{"<version>", "<bundler>", "<machine_configuration>", "<architecture>",
		"<image>", "<name>disk.img", "<user>", "<type>", "<digest", "<size>", "<bundled_size>",
		"<ec2_encrypted_key", "<user_encrypted_key", "<ec2_encrypted_iv>", "<user_encrypted_iv>",
		"<parts", "<part index='0'>", "<filename>", "</image><signature>"} {
		i := bytes.Index(f.raw, []byte(tag))
		if i < 0 {
			t.Fatalf("manifest lacks %s", tag)
		}
		order = append(order, fmt.Sprintf("%08d %s", i, tag))
	}
	if !slices.IsSorted(order) {
		t.Errorf("elements out of euca2ools' order: %v", order)
	}
}
