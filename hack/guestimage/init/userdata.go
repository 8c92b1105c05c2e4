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
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"strings"
	"syscall"
	"time"
)

// errNotScript is user data that does not start with "#!": data for something other than this
// program, which it leaves alone.
var errNotScript = errors.New("user data is not a script (no #! line)")

// isShell tells the interpreters the guest runs with its busybox shell, whatever path the #! line
// gives for them.
func isShell(name string) bool {
	switch name {
	case "sh", "ash", "bash", "dash":
		return true
	}
	return false
}

// shebang returns the interpreter and its optional single argument from the "#!" line of data,
// as the kernel reads it: the rest of the line after the interpreter is one argument.
func shebang(data []byte) (interp, arg string, err error) {
	rest, ok := bytes.CutPrefix(data, []byte("#!"))
	if !ok {
		return "", "", errNotScript
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	text := strings.Trim(string(line), " \t\r")
	if text == "" {
		return "", "", errors.New("user data #! line names no interpreter")
	}
	i := strings.IndexAny(text, " \t")
	if i < 0 {
		return text, "", nil
	}
	return text[:i], strings.Trim(text[i+1:], " \t"), nil
}

// scriptCommand returns the command line that runs the user data saved at file. Shell scripts
// run under busybox's shell (the image has no other); "#!/usr/bin/env NAME" is resolved the same
// way; anything else runs through its own interpreter.
func scriptCommand(data []byte, file, busybox string) ([]string, error) {
	interp, arg, err := shebang(data)
	if err != nil {
		return nil, err
	}
	name := path.Base(interp)
	if name == "env" && arg != "" && !strings.ContainsAny(arg, " \t") {
		name, arg = arg, ""
	}
	if isShell(name) {
		if arg != "" {
			return []string{busybox, "sh", arg, file}, nil
		}
		return []string{busybox, "sh", file}, nil
	}
	if arg != "" {
		return []string{interp, arg, file}, nil
	}
	return []string{interp, file}, nil
}

// exitCode turns a finished command's state into the number a shell would report: its exit
// status, or 128 plus the signal that killed it.
func exitCode(state *os.ProcessState) int {
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return state.ExitCode()
}

// runUserData saves a user-data script to file and runs it to completion with its output on the
// console, returning its exit code. Output still held open by background jobs after the script
// ends is cut off after a moment so they cannot stall the boot.
func runUserData(data []byte, file, busybox string, out *console, env []string) (int, error) {
	argv, err := scriptCommand(data, file, busybox)
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(path.Dir(file), 0o700); err != nil {
		return 0, fmt.Errorf("saving user data: %w", err)
	}
	if err := os.WriteFile(file, data, 0o700); err != nil {
		return 0, fmt.Errorf("saving user data: %w", err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = "/"
	cmd.Env = env
	cmd.Stdout = out.childOutput()
	cmd.Stderr = cmd.Stdout
	cmd.WaitDelay = 2 * time.Second
	err = cmd.Run()
	if cmd.ProcessState == nil {
		return 0, fmt.Errorf("running user data with %s: %w", argv[0], err)
	}
	return exitCode(cmd.ProcessState), nil
}
