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

package nodeagent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	"pinet.io/pinet/nodeagent/disks"
)

// ownerFile, in an instance's directory, records the UID of the Instance the files belong to.
// The directory is named by the instance id, which the instance controller claims cluster-wide;
// the owner file makes the files bound to the object as well, so that nothing the agent does for
// one object (removing files, serving a console) can touch another's, whatever their names.
const ownerFile = "owner"

// errNotOwner means an instance directory belongs to another object.
var errNotOwner = errors.New("the instance's directory belongs to another object")

// ensureInstanceDir creates the directory of an instance's files, bound to uid, and checks that
// an existing one is bound to it. A directory from before owners were recorded is taken over.
func ensureInstanceDir(dir string, uid types.UID) error {
	if err := os.MkdirAll(dir, disks.DirMode); err != nil {
		return fmt.Errorf("creating the instance directory: %w", err)
	}
	owner, err := dirOwner(dir)
	switch {
	case err != nil:
		return err
	case owner == uid:
		return nil
	case owner != "":
		return fmt.Errorf("%s: %w (%s)", dir, errNotOwner, owner)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(uid), 0o600); err != nil {
		return fmt.Errorf("recording the owner of %s: %w", dir, err)
	}
	return nil
}

// dirOwner returns the UID an instance directory is bound to: "" when it records none or does
// not exist.
func dirOwner(dir string) (types.UID, error) {
	data, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the owner of %s: %w", dir, err)
	}
	return types.UID(strings.TrimSpace(string(data))), nil
}

// ownedBy reports whether the files in dir may be used for the object with uid: they are bound to
// it, or to nothing yet.
func ownedBy(dir string, uid types.UID) (bool, error) {
	owner, err := dirOwner(dir)
	return err == nil && (owner == "" || owner == uid), err
}

// removeInstanceDir removes an instance's files if they are bound to uid (or to nothing).
func removeInstanceDir(dir string, uid types.UID) error {
	ok, err := ownedBy(dir, uid)
	if err != nil {
		return err
	}
	if !ok {
		return nil // another object's: not ours to remove
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	return nil
}
