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
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
)

// linePrefix starts every line the guest program prints, so tests and operators can find them in
// a console log full of kernel messages.
const linePrefix = "PiNet guest: "

// console writes the program's lines to every place an operator may read them: /dev/console and,
// when /dev/console is something else, the first serial port, which is where libvirt keeps the
// console log.
type console struct {
	mu      sync.Mutex
	primary *os.File
	extra   []*os.File
}

// openConsole opens /dev/console (falling back to fallback, the inherited standard output) and
// adds devDir/ttyS0 unless the kernel's active console list says /dev/console already is it.
func openConsole(devDir, activeFile string, fallback *os.File) *console {
	c := &console{primary: fallback}
	if f, err := os.OpenFile(devDir+"/console", os.O_WRONLY|syscall.O_NOCTTY, 0); err == nil {
		c.primary = f
	}
	active, err := os.ReadFile(activeFile)
	if err != nil || needsSerial(string(active)) {
		// Non-blocking open: a serial port without carrier would block a plain open forever.
		f, err := os.OpenFile(devDir+"/ttyS0", os.O_WRONLY|syscall.O_NOCTTY|syscall.O_NONBLOCK, 0)
		if err == nil {
			c.extra = append(c.extra, f)
		}
	}
	return c
}

// needsSerial tells from /sys/class/tty/console/active whether ttyS0 must be written separately:
// the kernel lists its consoles there, the last one being the device behind /dev/console.
func needsSerial(active string) bool {
	fields := strings.Fields(active)
	return len(fields) == 0 || fields[len(fields)-1] != "ttyS0"
}

// Printf writes one prefixed line to every console.
func (c *console) Printf(format string, args ...any) {
	line := linePrefix + strings.TrimRight(fmt.Sprintf(format, args...), "\n") + "\n"
	_, _ = c.Write([]byte(line))
}

// Write copies p to every console; a console that fails is skipped so the others still get it.
func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _ = c.primary.Write(p)
	for _, f := range c.extra {
		_, _ = f.Write(p)
	}
	return len(p), nil
}

// childOutput is what a child process's standard output and error should be: the console file
// itself when there is one console (no copying, and daemons that keep it open do not hold up
// Wait), else the console writer.
func (c *console) childOutput() io.Writer {
	if len(c.extra) == 0 {
		return c.primary
	}
	return c
}

// primaryFile is /dev/console (or the inherited output), for daemons that outlive their start.
func (c *console) primaryFile() *os.File {
	return c.primary
}
