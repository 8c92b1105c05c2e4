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
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// powerAction is what the guest does when asked to stop.
type powerAction int

const (
	actionPowerOff powerAction = iota
	actionReboot
)

func (a powerAction) String() string {
	if a == actionReboot {
		return "rebooting"
	}
	return "powering off"
}

// signalAction maps the signals init is sent to an action. busybox's halt, poweroff and reboot
// send SIGUSR1, SIGUSR2 and SIGTERM to PID 1; the kernel sends SIGINT on ctrl-alt-del; SIGPWR is
// the traditional power-failure signal. A halted virtual machine is of no use, so halt powers off.
func signalAction(sig os.Signal) (powerAction, bool) {
	switch sig {
	case syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGPWR:
		return actionPowerOff, true
	case syscall.SIGTERM, syscall.SIGINT:
		return actionReboot, true
	}
	return 0, false
}

// signalName names a stop signal the way its senders are known.
func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGUSR1:
		return "SIGUSR1: halt"
	case syscall.SIGUSR2:
		return "SIGUSR2: poweroff or shutdown -h"
	case syscall.SIGPWR:
		return "SIGPWR"
	case syscall.SIGTERM:
		return "SIGTERM: reboot or shutdown -r"
	case syscall.SIGINT:
		return "SIGINT: ctrl-alt-del"
	}
	return sig.String()
}

// stopSignals are the signals init listens to for signalAction.
func stopSignals() []os.Signal {
	return []os.Signal{syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGPWR, syscall.SIGTERM, syscall.SIGINT}
}

// watchStopSignals calls stop with the action of every stop signal init receives.
func watchStopSignals(stop func(powerAction, string)) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, stopSignals()...)
	go func() {
		for sig := range ch {
			if action, ok := signalAction(sig); ok {
				stop(action, signalName(sig))
			}
		}
	}()
}

// Linux input events (struct input_event on 64-bit): a timeval, then type, code and value.
const (
	inputEventSize = 24
	evKey          = 1
	keyPower       = 116
)

// isPowerKeyPress tells whether one input event record is the power key being pressed.
func isPowerKeyPress(record []byte) bool {
	if len(record) != inputEventSize {
		return false
	}
	typ := binary.LittleEndian.Uint16(record[16:18])
	code := binary.LittleEndian.Uint16(record[18:20])
	value := int32(binary.LittleEndian.Uint32(record[20:24]))
	return typ == evKey && code == keyPower && value == 1
}

// findPowerButtons returns the event device names (event0, …) of the input devices whose name
// says they are a power button. The ACPI button driver registers the fixed power button, which
// QEMU presses on system_powerdown and libvirt's shutdown, as "Power Button".
func findPowerButtons(sysInput string) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(sysInput, "event*", "device", "name"))
	if err != nil {
		return nil, fmt.Errorf("finding power buttons: %w", err)
	}
	var events []string
	for _, m := range matches {
		name, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		if strings.TrimSpace(string(name)) == "Power Button" {
			events = append(events, filepath.Base(filepath.Dir(filepath.Dir(m))))
		}
	}
	return events, nil
}

// watchPowerKey reads input events from r and calls press each time the power key goes down.
// It returns when r fails or ends.
func watchPowerKey(r io.Reader, press func()) error {
	record := make([]byte, inputEventSize)
	for {
		if _, err := io.ReadFull(r, record); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if isPowerKeyPress(record) {
			press()
		}
	}
}

// watchPowerButtons starts a reader on every power button's event device, so the ACPI power
// button powers the guest off.
func watchPowerButtons(sysInput, devInput string, out *console, stop func(powerAction, string)) {
	events, err := findPowerButtons(sysInput)
	if err != nil || len(events) == 0 {
		out.Printf("no ACPI power button (%v); power off with poweroff or shutdown -h", err)
		return
	}
	for _, ev := range events {
		f, err := os.Open(filepath.Join(devInput, ev))
		if err != nil {
			out.Printf("power button %s: %v", ev, err)
			continue
		}
		go func() {
			err := watchPowerKey(f, func() { stop(actionPowerOff, "ACPI power button") })
			out.Printf("power button %s: stopped watching: %v", ev, err)
		}()
	}
}

// powerDown ends the guest: it asks every process to stop, waits a little for them, kills what
// is left, flushes and remounts the root read-only, then powers off or reboots. It does not return.
func powerDown(action powerAction, out *console) {
	_ = syscall.Kill(-1, syscall.SIGTERM)
	reapUntilGone(3 * time.Second)
	_ = syscall.Kill(-1, syscall.SIGKILL)
	reapUntilGone(time.Second)
	syscall.Sync()
	if err := syscall.Mount("", "/", "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		out.Printf("remounting / read-only: %v", err)
	}
	syscall.Sync()
	cmd := syscall.LINUX_REBOOT_CMD_POWER_OFF
	if action == actionReboot {
		cmd = syscall.LINUX_REBOOT_CMD_RESTART
	}
	err := syscall.Reboot(cmd)
	// Only a missing privilege gets here; PID 1 must not exit, so wait to be killed.
	out.Printf("%s failed: %v", action, err)
	select {}
}

// reapUntilGone reaps children until none are left or limit has passed.
func reapUntilGone(limit time.Duration) {
	const poll = 50 * time.Millisecond
	for waited := time.Duration(0); waited < limit; waited += poll {
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if errors.Is(err, syscall.ECHILD) {
				return
			}
			if pid <= 0 || err != nil {
				break
			}
		}
		time.Sleep(poll)
	}
}

// reapForever is init's last duty: it collects every orphan that exits, so none stays a zombie.
// It must only start once the program runs no more commands of its own, whose exit statuses it
// would otherwise steal; supervised children's statuses go to reaped.
func reapForever(reaped func(pid int, ws syscall.WaitStatus)) {
	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, syscall.SIGCHLD)
	for {
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
			reaped(pid, ws)
		}
		<-sigchld
	}
}
