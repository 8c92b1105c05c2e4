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

package layering

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const (
	module      = "pinet.io/pinet"
	controllers = module + "/controllers"
)

// goList runs the go tool's list in the module's root and returns its output lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	gotool, err := exec.LookPath("go")
	if err != nil {
		gotool = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := exec.LookPath(gotool); err != nil {
			t.Skip("the go tool is not installed")
		}
	}
	cmd := exec.Command(gotool, append([]string{"list"}, args...)...)
	cmd.Dir = filepath.Join("..", "..")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.Fields(string(out))
}

func isController(pkg string) bool {
	return pkg == controllers || strings.HasPrefix(pkg, controllers+"/")
}

// TestFrontEndsImportNoController: the EC2 API and the S3 store depend on no controller package,
// directly or through another package.
func TestFrontEndsImportNoController(t *testing.T) {
	for _, pattern := range []string{"./cloud/...", "./ec2shim/...", "./objectstore/..."} {
		deps := goList(t, "-deps", pattern)
		if !slices.Contains(deps, module+"/internal/awsauth") {
			t.Fatalf("go list -deps %s does not list internal/awsauth: %v", pattern, deps)
		}
		for _, dep := range deps {
			if isController(dep) {
				t.Errorf("%s depends on %s", pattern, dep)
			}
		}
	}
}

// TestOnlyTheWiringImportsControllers: outside controllers/, only the manager's main and the
// test cloud (which start the controllers) import a controller package, in code or tests.
func TestOnlyTheWiringImportsControllers(t *testing.T) {
	allowed := []string{module + "/cmd/manager", module + "/internal/testcloud"}
	lines := goList(t, "-f", `{{range .Imports}}{{$.ImportPath}}>{{.}} {{end}}{{range .TestImports}}{{$.ImportPath}}>{{.}} {{end}}{{range .XTestImports}}{{$.ImportPath}}>{{.}} {{end}}`, "./...")
	seen := 0
	for _, edge := range lines {
		from, to, ok := strings.Cut(edge, ">")
		if !ok {
			t.Fatalf("unexpected go list output %q", edge)
		}
		seen++
		if isController(from) || !isController(to) || slices.Contains(allowed, from) {
			continue
		}
		t.Errorf("%s imports %s", from, to)
	}
	if seen == 0 {
		t.Fatal("go list reported no imports at all")
	}
}
