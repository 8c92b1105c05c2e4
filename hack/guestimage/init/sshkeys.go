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

package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// maxAuthorizedKeys bounds how many keys the openssh-key value may hold; EC2 gives one.
const maxAuthorizedKeys = 16

// isUserKeyType tells the public key algorithms dropbear accepts from users.
func isUserKeyType(name string) bool {
	switch name {
	case "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
		"sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com":
		return true
	}
	return false
}

// publicKey is one key of an authorized_keys or known_hosts style line: "TYPE BASE64 [COMMENT]".
type publicKey struct {
	keyType string
	blob    []byte
	comment string
}

// line is the key as authorized_keys holds it.
func (k publicKey) line() string {
	s := k.keyType + " " + base64.StdEncoding.EncodeToString(k.blob)
	if k.comment != "" {
		s += " " + k.comment
	}
	return s
}

// fingerprint is the key's SHA256 fingerprint as ssh-keygen -l and ssh clients show it.
func (k publicKey) fingerprint() string {
	sum := sha256.Sum256(k.blob)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// parsePublicKey checks one "TYPE BASE64 [COMMENT]" line: a key type that accepts allows, base64
// that decodes, and a blob whose own type name (its first SSH string) matches TYPE.
func parsePublicKey(line string, accepts func(string) bool) (publicKey, error) {
	fields := strings.Fields(line)
	if len(fields) < 2 {
		return publicKey{}, errors.New("want \"TYPE BASE64 [COMMENT]\"")
	}
	if !accepts(fields[0]) {
		return publicKey{}, fmt.Errorf("unsupported key type %q", fields[0])
	}
	blob, err := base64.StdEncoding.DecodeString(fields[1])
	if err != nil {
		return publicKey{}, fmt.Errorf("%s key: bad base64: %w", fields[0], err)
	}
	if len(blob) < 4 {
		return publicKey{}, fmt.Errorf("%s key: blob of %d bytes is too short", fields[0], len(blob))
	}
	n := binary.BigEndian.Uint32(blob)
	if uint64(n) > uint64(len(blob)-4) || string(blob[4:4+n]) != fields[0] {
		return publicKey{}, fmt.Errorf("%s key: the key data is not a %s key", fields[0], fields[0])
	}
	if len(blob) == 4+int(n) {
		return publicKey{}, fmt.Errorf("%s key: the key data holds no key", fields[0])
	}
	return publicKey{keyType: fields[0], blob: blob, comment: strings.Join(fields[2:], " ")}, nil
}

// parseAuthorizedKeys checks the meta-data openssh-key value and returns its keys, one per
// non-blank line. Any bad line fails the whole value, so a mangled key installs nothing.
func parseAuthorizedKeys(value string) ([]publicKey, error) {
	var keys []publicKey
	for i, line := range strings.Split(value, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, err := parsePublicKey(line, isUserKeyType)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		keys = append(keys, k)
	}
	switch {
	case len(keys) == 0:
		return nil, errors.New("no key in it")
	case len(keys) > maxAuthorizedKeys:
		return nil, fmt.Errorf("%d keys, at most %d allowed", len(keys), maxAuthorizedKeys)
	}
	return keys, nil
}

// authorizedKeysFile is where dropbear looks for the keys of the user whose home is home.
func authorizedKeysFile(home string) string {
	return filepath.Join(home, ".ssh", "authorized_keys")
}

// writeAuthorizedKeys makes home/.ssh (0700) and replaces home/.ssh/authorized_keys (0600) with
// keys, both owned by uid:gid. The file is written beside its final name and renamed into place,
// so a failure leaves the previous file, or none, never a partial one.
func writeAuthorizedKeys(home string, keys []publicKey, uid, gid int) error {
	if len(keys) == 0 {
		return errors.New("writing authorized keys: no keys")
	}
	dir := filepath.Join(home, ".ssh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("writing authorized keys: %w", err)
	}
	// MkdirAll leaves an existing directory's mode and owner alone; dropbear refuses keys in a
	// directory others can write.
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("writing authorized keys: %w", err)
	}
	if err := os.Lchown(dir, uid, gid); err != nil {
		return fmt.Errorf("writing authorized keys: %w", err)
	}
	var buf bytes.Buffer
	for _, k := range keys {
		buf.WriteString(k.line() + "\n")
	}
	final := authorizedKeysFile(home)
	tmp := final + ".new"
	_ = os.Remove(tmp)
	err := writeFileSynced(tmp, buf.Bytes(), 0o600, uid, gid)
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing authorized keys: %w", err)
	}
	return nil
}

// writeFileSynced creates path (which must not exist) with data, mode and owner, flushed to disk.
func writeFileSynced(path string, data []byte, mode os.FileMode, uid, gid int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chown(uid, gid)
	}
	if err == nil {
		err = f.Chmod(mode) // the umask may have taken bits off
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// removeAuthorizedKeys deletes home/.ssh/authorized_keys: the instance has no key pair, so nobody
// may log in. A missing file is no error.
func removeAuthorizedKeys(home string) error {
	if err := os.Remove(authorizedKeysFile(home)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing authorized keys: %w", err)
	}
	return nil
}

// isHostKeyType tells the key types dropbearkey prints for host keys.
func isHostKeyType(name string) bool {
	return name == "ssh-ed25519" || name == "ssh-rsa" || strings.HasPrefix(name, "ecdsa-sha2-nistp")
}

// parseDropbearkeyOutput finds the public key in what "dropbearkey -y -f FILE" prints: a
// "Public key portion is:" line, the key line, a fingerprint line.
func parseDropbearkeyOutput(out []byte) (publicKey, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && isHostKeyType(fields[0]) {
			return parsePublicKey(sc.Text(), isHostKeyType)
		}
	}
	return publicKey{}, errors.New("dropbearkey printed no public key")
}

// hostKeyFile is where the image keeps dropbear's host key of the given dropbearkey type.
func hostKeyFile(dir, keyType string) string {
	return filepath.Join(dir, "dropbear_"+keyType+"_host_key")
}

// dropbearArgs is dropbear's command line: in the foreground (its supervisor is PID 1), logging to
// standard error (the console), no password logins at all, on port, with the given host keys.
func dropbearArgs(dropbear string, port int, pidFile string, hostKeys []string) []string {
	args := []string{dropbear, "-F", "-E", "-s", "-p", strconv.Itoa(port), "-P", pidFile}
	for _, k := range hostKeys {
		args = append(args, "-r", k)
	}
	return args
}

// isListening tells from the contents of /proc/net/tcp or /proc/net/tcp6 whether a socket
// listens on port.
func isListening(procNetTCP []byte, port int) bool {
	want := fmt.Sprintf(":%04X", port)
	sc := bufio.NewScanner(bytes.NewReader(procNetTCP))
	for sc.Scan() {
		// "sl local_address rem_address st ...": 0A is TCP_LISTEN.
		fields := strings.Fields(sc.Text())
		if len(fields) >= 4 && strings.HasSuffix(fields[1], want) && fields[3] == "0A" {
			return true
		}
	}
	return false
}
