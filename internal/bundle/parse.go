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
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// maxDepth is deeper than any manifest element (manifest/image/parts/part/digest).
	maxDepth = 8
	// maxElements allows every part its three elements plus room for the rest.
	maxElements = 4*MaxParts + 1024
	// maxMappings bounds block device mappings and product codes.
	maxMappings = 128
	// maxTokenLen bounds ids, architecture and device names.
	maxTokenLen = 255
	// maxNameLen is a file name's limit on common file systems and S3's key segment in practice.
	maxNameLen = 255
	// maxRSABytes is the ciphertext or signature of an 8192-bit RSA key.
	maxRSABytes = 1024
)

// ParseManifest parses and validates a bundle manifest. Every problem is an ErrBadManifest.
// Elements the format does not use (ancestry, kernel_name, …) are ignored; the ones it does use
// must each appear once. The signature is not checked here: see VerifySignature.
func ParseManifest(data []byte) (*Manifest, error) {
	if len(data) > MaxManifestSize {
		return nil, bad("manifest is %d bytes, more than %d", len(data), MaxManifestSize)
	}
	root, err := parseTree(data)
	if err != nil {
		return nil, bad("%v", err)
	}
	if root.name != "manifest" {
		return nil, bad("root element is <%s>, not <manifest>", root.name)
	}
	m := &Manifest{}
	version, err := root.text("version")
	if err != nil {
		return nil, err
	}
	if version != ManifestVersion {
		return nil, bad("version %q is not %s", version, ManifestVersion)
	}
	m.Version = version
	if err := m.parseBundler(root); err != nil {
		return nil, err
	}
	mc, err := root.only("machine_configuration")
	if err != nil {
		return nil, err
	}
	if err := m.parseMachineConfiguration(mc); err != nil {
		return nil, err
	}
	image, err := root.only("image")
	if err != nil {
		return nil, err
	}
	if err := m.parseImage(image); err != nil {
		return nil, err
	}
	if m.Signature, err = rsaHex(root, "signature", false); err != nil {
		return nil, err
	}
	if m.signed, err = signedBytes(data, mc, image); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Manifest) parseBundler(root *xmlNode) error {
	bundler, err := root.optional("bundler")
	if err != nil || bundler == nil {
		return err
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"name", &m.Bundler.Name}, {"version", &m.Bundler.Version}, {"release", &m.Bundler.Release}} {
		n, err := bundler.optional(f.name)
		if err != nil {
			return err
		}
		if n != nil {
			*f.dst = n.value()
		}
	}
	return nil
}

func (m *Manifest) parseMachineConfiguration(mc *xmlNode) error {
	var err error
	if m.Arch, err = token(mc, "architecture"); err != nil {
		return err
	}
	if m.KernelID, err = optionalToken(mc, "kernel_id"); err != nil {
		return err
	}
	if m.RamdiskID, err = optionalToken(mc, "ramdisk_id"); err != nil {
		return err
	}
	bdms, err := mc.optional("block_device_mapping")
	if err != nil {
		return err
	}
	if bdms != nil {
		mappings := bdms.all("mapping")
		if len(mappings) > maxMappings {
			return bad("more than %d block device mappings", maxMappings)
		}
		for _, mapping := range mappings {
			var bdm BlockDeviceMapping
			if bdm.Virtual, err = token(mapping, "virtual"); err != nil {
				return err
			}
			if bdm.Device, err = token(mapping, "device"); err != nil {
				return err
			}
			m.BlockDeviceMappings = append(m.BlockDeviceMappings, bdm)
		}
	}
	codes, err := mc.optional("product_codes")
	if err != nil || codes == nil {
		return err
	}
	list := codes.all("product_code")
	if len(list) > maxMappings {
		return bad("more than %d product codes", maxMappings)
	}
	for _, code := range list {
		if !validToken(code.value()) {
			return bad("<product_code> %q is not a valid token", code.value())
		}
		m.ProductCodes = append(m.ProductCodes, code.value())
	}
	return nil
}

func (m *Manifest) parseImage(image *xmlNode) error {
	var err error
	if m.Name, err = image.text("name"); err != nil {
		return err
	}
	if !validName(m.Name) {
		return bad("<name> %q is not a valid image name", m.Name)
	}
	if m.User, err = token(image, "user"); err != nil {
		return err
	}
	if m.Type, err = token(image, "type"); err != nil {
		return err
	}
	if m.Type != TypeMachine && m.Type != TypeKernel && m.Type != TypeRamdisk {
		return bad("<type> %q is not machine, kernel or ramdisk", m.Type)
	}
	if m.Digest, err = sha1Digest(image, "digest"); err != nil {
		return err
	}
	if m.Size, err = decimal(image, "size"); err != nil {
		return err
	}
	if m.BundledSize, err = decimal(image, "bundled_size"); err != nil {
		return err
	}
	if m.BundledSize == 0 || m.BundledSize%16 != 0 {
		return bad("<bundled_size> %d is not a positive multiple of the AES block size", m.BundledSize)
	}
	if err := m.parseKeys(image); err != nil {
		return err
	}
	parts, err := image.only("parts")
	if err != nil {
		return err
	}
	return m.parseParts(parts)
}

func (m *Manifest) parseKeys(image *xmlNode) error {
	key, err := image.only("ec2_encrypted_key")
	if err != nil {
		return err
	}
	if alg, _ := key.attr("algorithm"); !strings.EqualFold(alg, cipherAlgorithm) {
		return bad("<ec2_encrypted_key> algorithm %q is not %s", alg, cipherAlgorithm)
	}
	for _, f := range []struct {
		name string
		dst  *[]byte
	}{
		{"ec2_encrypted_key", &m.EC2EncryptedKey}, {"user_encrypted_key", &m.UserEncryptedKey},
		{"ec2_encrypted_iv", &m.EC2EncryptedIV}, {"user_encrypted_iv", &m.UserEncryptedIV},
	} {
		// A bundle made without the user's certificate has empty user_* elements.
		if *f.dst, err = rsaHex(image, f.name, strings.HasPrefix(f.name, "user_")); err != nil {
			return err
		}
	}
	return nil
}

func (m *Manifest) parseParts(parts *xmlNode) error {
	countText, ok := parts.attr("count")
	if !ok {
		return bad("<parts> has no count")
	}
	count, err := strconv.Atoi(countText)
	if err != nil || count < 1 || count > MaxParts || !isDigits(countText) {
		return bad("<parts> count %q is not between 1 and %d", countText, MaxParts)
	}
	list := parts.all("part")
	if len(list) != count {
		return bad("<parts> count is %d but it lists %d parts", count, len(list))
	}
	seen := make(map[string]bool, count)
	for i, node := range list {
		if index, _ := node.attr("index"); index != strconv.Itoa(i) {
			return bad("part %d has index %q; indexes must run 0, 1, 2, … in order", i, index)
		}
		var part Part
		if part.Filename, err = node.text("filename"); err != nil {
			return err
		}
		if !validFileName(part.Filename) {
			return bad("part %d file name %q is not a plain file name", i, part.Filename)
		}
		if seen[part.Filename] {
			return bad("part file name %q appears twice", part.Filename)
		}
		seen[part.Filename] = true
		if part.Digest, err = sha1Digest(node, "digest"); err != nil {
			return err
		}
		m.Parts = append(m.Parts, part)
	}
	return nil
}

// signedBytes returns the bytes the signature covers. Verifiers find them by searching the file
// for the literal tags, so each tag must occur exactly once and bound the element parsed here:
// otherwise this package and another verifier could disagree on what was signed.
func signedBytes(data []byte, elems ...*xmlNode) ([]byte, error) {
	var signed []byte
	for _, n := range elems {
		open, end := []byte("<"+n.name+">"), []byte("</"+n.name+">")
		raw := data[n.start:n.end]
		if bytes.Count(data, open) != 1 || bytes.Count(data, end) != 1 ||
			!bytes.HasPrefix(raw, open) || !bytes.HasSuffix(raw, end) {
			return nil, bad("<%s> must appear exactly once, written as %s…%s", n.name, open, end)
		}
		signed = append(signed, raw...)
	}
	return signed, nil
}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadManifest}, args...)...)
}

// xmlNode is an element of the manifest with the byte range it spans in the file.
type xmlNode struct {
	name       string
	attrs      []xml.Attr
	chars      []byte
	children   []*xmlNode
	start, end int64
}

// parseTree reads an XML document into a tree of elements, refusing DTDs and anything deeper
// or larger than a manifest can be.
func parseTree(data []byte) (*xmlNode, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.CharsetReader = asciiCharset
	var root *xmlNode
	var stack []*xmlNode
	elements := 0
	for {
		start := d.InputOffset()
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if elements++; elements > maxElements {
				return nil, fmt.Errorf("more than %d elements", maxElements)
			}
			if len(stack) == maxDepth {
				return nil, fmt.Errorf("elements nested deeper than %d", maxDepth)
			}
			n := &xmlNode{name: t.Name.Local, attrs: t.Attr, start: start}
			switch {
			case len(stack) > 0:
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, n)
			case root != nil:
				return nil, errors.New("more than one root element")
			default:
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack[len(stack)-1].end = d.InputOffset()
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				top.chars = append(top.chars, t...)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("text outside the root element")
			}
		case xml.Directive:
			return nil, errors.New("document type declarations are not allowed")
		}
	}
	if root == nil {
		return nil, errors.New("no root element")
	}
	return root, nil
}

// asciiCharset lets the decoder read euca2ools' manifests, which lxml declares as ASCII; ASCII
// is a subset of UTF-8, and anything beyond it still fails UTF-8 validation.
func asciiCharset(label string, input io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "ascii", "us-ascii":
		return input, nil
	}
	return nil, fmt.Errorf("unsupported encoding %q", label)
}

func (n *xmlNode) value() string { return strings.TrimSpace(string(n.chars)) }

func (n *xmlNode) attr(name string) (string, bool) {
	for _, a := range n.attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

func (n *xmlNode) all(name string) []*xmlNode {
	var out []*xmlNode
	for _, c := range n.children {
		if c.name == name {
			out = append(out, c)
		}
	}
	return out
}

// optional returns the child element called name, nil if there is none, and an error if there
// is more than one.
func (n *xmlNode) optional(name string) (*xmlNode, error) {
	switch list := n.all(name); len(list) {
	case 0:
		return nil, nil
	case 1:
		return list[0], nil
	default:
		return nil, bad("<%s> has more than one <%s>", n.name, name)
	}
}

// only returns the single child element called name.
func (n *xmlNode) only(name string) (*xmlNode, error) {
	c, err := n.optional(name)
	if err == nil && c == nil {
		err = bad("<%s> has no <%s>", n.name, name)
	}
	return c, err
}

// text returns the trimmed text of the single child called name.
func (n *xmlNode) text(name string) (string, error) {
	c, err := n.only(name)
	if err != nil {
		return "", err
	}
	return c.value(), nil
}

func token(n *xmlNode, name string) (string, error) {
	v, err := n.text(name)
	if err == nil && !validToken(v) {
		err = bad("<%s> %q is not a valid token", name, v)
	}
	return v, err
}

func optionalToken(n *xmlNode, name string) (string, error) {
	c, err := n.optional(name)
	if err != nil || c == nil {
		return "", err
	}
	if !validToken(c.value()) {
		return "", bad("<%s> %q is not a valid token", name, c.value())
	}
	return c.value(), nil
}

func decimal(n *xmlNode, name string) (int64, error) {
	v, err := n.text(name)
	if err != nil {
		return 0, err
	}
	i, err := strconv.ParseInt(v, 10, 64)
	if err != nil || !isDigits(v) {
		return 0, bad("<%s> %q is not a non-negative integer", name, v)
	}
	return i, nil
}

// sha1Digest reads a <digest algorithm="SHA1"> child.
func sha1Digest(n *xmlNode, name string) ([]byte, error) {
	c, err := n.only(name)
	if err != nil {
		return nil, err
	}
	if alg, _ := c.attr("algorithm"); !strings.EqualFold(alg, digestAlgorithm) {
		return nil, bad("<%s> of <%s> has algorithm %q, not %s", name, n.name, alg, digestAlgorithm)
	}
	sum, err := hex.DecodeString(c.value())
	if err != nil || len(sum) != 20 {
		return nil, bad("<%s> of <%s> is not a hex SHA-1 digest", name, n.name)
	}
	return sum, nil
}

// rsaHex reads hex-encoded RSA output (an encrypted key or a signature).
func rsaHex(n *xmlNode, name string, mayBeEmpty bool) ([]byte, error) {
	v, err := n.text(name)
	if err != nil {
		return nil, err
	}
	if v == "" && mayBeEmpty {
		return nil, nil
	}
	b, err := hex.DecodeString(v)
	if err != nil || len(b) == 0 || len(b) > maxRSABytes {
		return nil, bad("<%s> is not hex of 1 to %d bytes", name, maxRSABytes)
	}
	return b, nil
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// validToken accepts ids, architectures and device names: printable ASCII without spaces.
func validToken(s string) bool {
	if s == "" || len(s) > maxTokenLen {
		return false
	}
	for i := range len(s) {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// validName accepts an image name: printable UTF-8.
func validName(s string) bool {
	if s == "" || len(s) > maxNameLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// validFileName accepts a part's name: an image name that cannot leave the bundle's directory.
func validFileName(s string) bool {
	return validName(s) && s != "." && s != ".." && !strings.ContainsAny(s, `/\`)
}
