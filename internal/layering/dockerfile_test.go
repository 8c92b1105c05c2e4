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
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// dockerBuild is what the Dockerfile's build stage holds: the sources it copies from the build
// context and the packages it builds.
type dockerBuild struct {
	copied []string // paths relative to the module root; a trailing "/" marks a directory
	builds []string // ./cmd/... packages
}

var goBuildTarget = regexp.MustCompile(`go build\b[^&;]*?\s(\./cmd/[A-Za-z0-9_/.-]+)`)

// parseDockerfile reads the COPY lines (those without --from) and the go build targets of the
// stage named build.
func parseDockerfile(text string) (dockerBuild, error) {
	var b dockerBuild
	inBuild := false
	// Joining continuation lines first: a RUN spans several lines.
	joined := strings.ReplaceAll(text, "\\\n", " ")
	sc := bufio.NewScanner(strings.NewReader(joined))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			inBuild = len(fields) >= 4 && strings.EqualFold(fields[2], "AS") && fields[3] == "build"
		case "COPY":
			if !inBuild || strings.HasPrefix(fields[1], "--from") {
				continue
			}
			if len(fields) < 3 {
				return b, fmt.Errorf("COPY without a destination: %q", sc.Text())
			}
			for _, src := range fields[1 : len(fields)-1] {
				if strings.HasPrefix(src, "--") {
					continue
				}
				b.copied = append(b.copied, strings.TrimPrefix(src, "./"))
			}
		case "RUN":
			if inBuild {
				for _, m := range goBuildTarget.FindAllStringSubmatch(sc.Text(), -1) {
					b.builds = append(b.builds, m[1])
				}
			}
		}
	}
	return b, sc.Err()
}

// covers says whether a package directory (relative to the module root) was copied.
func (b dockerBuild) covers(dir string) bool {
	for _, c := range b.copied {
		if strings.HasSuffix(c, "/") && (dir+"/" == c || strings.HasPrefix(dir+"/", c)) {
			return true
		}
	}
	return false
}

// TestDockerfileCopiesEveryImportedPackage: the image build copies the source of every PiNet
// package its binaries import, and builds every binary under cmd/, so a new package can never
// break the image while the tests stay green (no container engine runs here).
func TestDockerfileCopiesEveryImportedPackage(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseDockerfile(string(text))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"go.mod", "go.sum"} {
		found := false
		for _, c := range b.copied {
			found = found || c == want
		}
		if !found {
			t.Errorf("the build stage does not copy %s", want)
		}
	}
	binaries := goList(t, "-f", `{{if eq .Name "main"}}{{.ImportPath}}{{end}}`, "./cmd/...")
	for _, bin := range binaries {
		built := false
		for _, target := range b.builds {
			built = built || module+"/"+strings.TrimPrefix(target, "./") == bin
		}
		if !built {
			t.Errorf("the Dockerfile does not build %s (builds %v)", bin, b.builds)
		}
	}
	for _, dep := range goList(t, append([]string{"-deps"}, binaries...)...) {
		if dep != module && !strings.HasPrefix(dep, module+"/") {
			continue
		}
		if dir := strings.TrimPrefix(dep, module+"/"); !b.covers(dir) {
			t.Errorf("the binaries import %s, whose directory the Dockerfile does not copy", dep)
		}
	}
}

func TestParseDockerfile(t *testing.T) {
	b, err := parseDockerfile(`FROM golang AS build
COPY go.mod go.sum ./
COPY api/ api/
COPY --from=other /x /x
RUN go build -o /out/a ./cmd/a && \
    CGO_ENABLED=0 go build -ldflags "-X y" -o /out/b ./cmd/b
FROM debian AS final
COPY extra/ extra/
`)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(b.copied, b.builds); got != "[go.mod go.sum api/] [./cmd/a ./cmd/b]" {
		t.Fatalf("parsed %s", got)
	}
	if !b.covers("api/v1alpha1") || !b.covers("api") || b.covers("apix") || b.covers(path.Join("extra", "x")) {
		t.Fatalf("covers: %+v", b)
	}
}
