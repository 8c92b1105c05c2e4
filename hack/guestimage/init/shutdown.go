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
	"strconv"
	"strings"
	"syscall"
	"time"
)

// shutdownRequest is a parsed shutdown command line.
type shutdownRequest struct {
	action powerAction
	// delay is how long to wait before asking init; zero for "now".
	delay time.Duration
}

// maxShutdownDelay bounds "+MINUTES" so a typo cannot schedule a stop for next year.
const maxShutdownDelay = 24 * time.Hour

// parseShutdownArgs reads the options of the classic shutdown command: -h, -P, -H (and their long
// forms) power off, -r reboots; the time is "now", "+MINUTES" or "MINUTES"; words after it are a
// message for logged-in users, of whom a cloud guest has none. With no time it acts at once (the
// SysV command insisted on one; a guest stopping itself from a script should not need it).
func parseShutdownArgs(args []string) (shutdownRequest, error) {
	req := shutdownRequest{action: actionPowerOff}
	timeSeen := false
	for _, arg := range args {
		switch arg {
		case "-h", "-P", "-H", "--poweroff", "--halt":
			req.action = actionPowerOff
			continue
		case "-r", "--reboot":
			req.action = actionReboot
			continue
		case "-c", "-k":
			return req, fmt.Errorf("shutdown: option %s is not supported", arg)
		}
		if strings.HasPrefix(arg, "-") && arg != "-" {
			return req, fmt.Errorf("shutdown: unknown option %q", arg)
		}
		if timeSeen {
			continue // part of the message
		}
		timeSeen = true
		delay, err := parseShutdownTime(arg)
		if err != nil {
			return req, err
		}
		req.delay = delay
	}
	return req, nil
}

// parseShutdownTime reads "now", "+MINUTES" or "MINUTES".
func parseShutdownTime(s string) (time.Duration, error) {
	if s == "now" {
		return 0, nil
	}
	minutes, err := strconv.Atoi(strings.TrimPrefix(s, "+"))
	if err != nil || minutes < 0 || strings.HasPrefix(s, "+-") {
		return 0, fmt.Errorf("shutdown: invalid time %q: want now, +MINUTES or MINUTES", s)
	}
	// Compared in minutes: a huge count would overflow a Duration.
	if minutes > int(maxShutdownDelay/time.Minute) {
		return 0, fmt.Errorf("shutdown: time %q is more than %s away", s, maxShutdownDelay)
	}
	return time.Duration(minutes) * time.Minute, nil
}

// initSignal is the signal that asks this program, as PID 1, for an action (see signalAction).
func initSignal(a powerAction) syscall.Signal {
	if a == actionReboot {
		return syscall.SIGTERM
	}
	return syscall.SIGUSR2
}

// runShutdown is the shutdown command: the guest image links /sbin/shutdown to this program. It
// returns the process's exit code.
func runShutdown(args []string, stderr io.Writer, signalInit func(syscall.Signal) error) int {
	req, err := parseShutdownArgs(args)
	if err != nil {
		_, _ = fmt.Fprintln(stderr, err)
		return 2
	}
	if req.delay > 0 {
		_, _ = fmt.Fprintf(stderr, "shutdown: %s in %s\n", req.action, req.delay)
		time.Sleep(req.delay)
	}
	if err := signalInit(initSignal(req.action)); err != nil {
		_, _ = fmt.Fprintf(stderr, "shutdown: asking init: %v\n", err)
		return 1
	}
	return 0
}
