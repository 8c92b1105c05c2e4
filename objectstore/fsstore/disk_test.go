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

package fsstore

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// localFileCalls are the os calls outside the disks' own files that touch only the local
// temporary directory (files being written, emptied at Open), by file.
var localFileCalls = map[string][]string{
	"objectfile.go": {"CreateTemp", "Remove"},
	"store.go":      {"MkdirAll", "RemoveAll"},
}

// TestStoreFilesGoThroughTheDisk fails when the store's logic touches files with package os
// rather than through its disk: such a file would exist only on the local disk, and the s3
// backend's replicas would never see it. New features keep their records with s.disk (or
// writeFileAtomic, statFile, UpdateBucket), which serve both backends.
func TestStoreFilesGoThroughTheDisk(t *testing.T) {
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") || strings.HasPrefix(name, "disk_") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "os" {
				return true
			}
			for _, allowed := range localFileCalls[name] {
				if sel.Sel.Name == allowed {
					return true
				}
			}
			t.Errorf("%s: os.%s bypasses the store's disk", fset.Position(call.Pos()), sel.Sel.Name)
			return true
		})
	}
	if _, err := os.Stat("disk_local.go"); err != nil {
		t.Fatalf("the test runs outside the package directory: %v", err)
	}
}
