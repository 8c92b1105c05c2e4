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
	"encoding/binary"
	"errors"
	"os"
	"reflect"
	"syscall"
	"testing"
	"time"
)

// inputEvent encodes one struct input_event as the kernel writes it on amd64.
func inputEvent(typ, code uint16, value int32) []byte {
	b := make([]byte, inputEventSize)
	binary.LittleEndian.PutUint64(b[0:8], 1700000000)
	binary.LittleEndian.PutUint64(b[8:16], 123)
	binary.LittleEndian.PutUint16(b[16:18], typ)
	binary.LittleEndian.PutUint16(b[18:20], code)
	binary.LittleEndian.PutUint32(b[20:24], uint32(value))
	return b
}

func TestIsPowerKeyPress(t *testing.T) {
	tests := []struct {
		name   string
		record []byte
		want   bool
	}{
		{"press", inputEvent(evKey, keyPower, 1), true},
		{"release", inputEvent(evKey, keyPower, 0), false},
		{"autorepeat", inputEvent(evKey, keyPower, 2), false},
		{"other key", inputEvent(evKey, 30, 1), false},
		{"sync event", inputEvent(0, 0, 0), false},
		{"short record", inputEvent(evKey, keyPower, 1)[:16], false},
	}
	for _, tt := range tests {
		if got := isPowerKeyPress(tt.record); got != tt.want {
			t.Errorf("%s: isPowerKeyPress() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestWatchPowerKey(t *testing.T) {
	var stream bytes.Buffer
	stream.Write(inputEvent(evKey, keyPower, 1))
	stream.Write(inputEvent(0, 0, 0))
	stream.Write(inputEvent(evKey, keyPower, 0))
	stream.Write(inputEvent(evKey, keyPower, 1))
	presses := 0
	if err := watchPowerKey(&stream, func() { presses++ }); err != nil {
		t.Fatalf("watchPowerKey() = %v", err)
	}
	if presses != 2 {
		t.Errorf("presses = %d, want 2", presses)
	}
	truncated := bytes.NewReader(inputEvent(evKey, keyPower, 1)[:10])
	if err := watchPowerKey(truncated, func() {}); err == nil || err.Error() != "unexpected EOF" {
		t.Errorf("watchPowerKey(truncated) = %v, want unexpected EOF", err)
	}
}

func TestFindPowerButtons(t *testing.T) {
	sys := writeTree(t, map[string]string{
		"event0/device/name": "AT Translated Set 2 keyboard\n",
		"event1/device/name": "Power Button\n",
		"event2/device/name": "Sleep Button\n",
		"mice/x":             "",
	})
	got, err := findPowerButtons(sys)
	if err != nil || !reflect.DeepEqual(got, []string{"event1"}) {
		t.Errorf("findPowerButtons() = %q, %v; want [event1]", got, err)
	}
	got, err = findPowerButtons(t.TempDir())
	if err != nil || len(got) != 0 {
		t.Errorf("findPowerButtons(empty) = %q, %v; want none", got, err)
	}
	if _, err := findPowerButtons("["); err == nil || err.Error() != "finding power buttons: syntax error in pattern" {
		t.Errorf("findPowerButtons([) = %v, want a pattern error", err)
	}
}

func TestSignalAction(t *testing.T) {
	tests := []struct {
		sig    os.Signal
		action powerAction
		ok     bool
	}{
		{syscall.SIGUSR1, actionPowerOff, true},
		{syscall.SIGUSR2, actionPowerOff, true},
		{syscall.SIGPWR, actionPowerOff, true},
		{syscall.SIGTERM, actionReboot, true},
		{syscall.SIGINT, actionReboot, true},
		{syscall.SIGHUP, 0, false},
	}
	for _, tt := range tests {
		action, ok := signalAction(tt.sig)
		if action != tt.action || ok != tt.ok {
			t.Errorf("signalAction(%v) = %v, %v; want %v, %v", tt.sig, action, ok, tt.action, tt.ok)
		}
	}
	for _, sig := range stopSignals() {
		if _, ok := signalAction(sig); !ok || signalName(sig) == sig.String() {
			t.Errorf("stop signal %v has no action or no name", sig)
		}
	}
	if actionPowerOff.String() != "powering off" || actionReboot.String() != "rebooting" {
		t.Errorf("action names = %q, %q", actionPowerOff, actionReboot)
	}
}

func TestParseShutdownArgs(t *testing.T) {
	tests := []struct {
		args []string
		want shutdownRequest
	}{
		{nil, shutdownRequest{actionPowerOff, 0}},
		{[]string{"-h", "now"}, shutdownRequest{actionPowerOff, 0}},
		{[]string{"-P", "+0"}, shutdownRequest{actionPowerOff, 0}},
		{[]string{"--poweroff"}, shutdownRequest{actionPowerOff, 0}},
		{[]string{"-H"}, shutdownRequest{actionPowerOff, 0}},
		{[]string{"-r", "now", "going", "down"}, shutdownRequest{actionReboot, 0}},
		{[]string{"--reboot", "+5"}, shutdownRequest{actionReboot, 5 * time.Minute}},
		{[]string{"-h", "2", "bye"}, shutdownRequest{actionPowerOff, 2 * time.Minute}},
		{[]string{"now", "-r"}, shutdownRequest{actionReboot, 0}},
		{[]string{"-h", "+1440"}, shutdownRequest{actionPowerOff, 24 * time.Hour}},
	}
	for _, tt := range tests {
		got, err := parseShutdownArgs(tt.args)
		if err != nil || got != tt.want {
			t.Errorf("parseShutdownArgs(%q) = %+v, %v; want %+v", tt.args, got, err, tt.want)
		}
	}
}

func TestParseShutdownArgsErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-c"}, "shutdown: option -c is not supported"},
		{[]string{"-k", "now"}, "shutdown: option -k is not supported"},
		{[]string{"-x"}, `shutdown: unknown option "-x"`},
		{[]string{"--now"}, `shutdown: unknown option "--now"`},
		{[]string{"-h", "12:30"}, `shutdown: invalid time "12:30": want now, +MINUTES or MINUTES`},
		{[]string{"+-1"}, `shutdown: invalid time "+-1": want now, +MINUTES or MINUTES`},
		{[]string{"-5"}, `shutdown: unknown option "-5"`},
		{[]string{"later"}, `shutdown: invalid time "later": want now, +MINUTES or MINUTES`},
		{[]string{"+1441"}, `shutdown: time "+1441" is more than 24h0m0s away`},
		{[]string{"200000000"}, `shutdown: time "200000000" is more than 24h0m0s away`},
		{[]string{"99999999999999999999"}, `shutdown: invalid time "99999999999999999999": want now, +MINUTES or MINUTES`},
	}
	for _, tt := range tests {
		_, err := parseShutdownArgs(tt.args)
		if err == nil || err.Error() != tt.want {
			t.Errorf("parseShutdownArgs(%q) = %v, want %s", tt.args, err, tt.want)
		}
	}
}

func TestRunShutdown(t *testing.T) {
	tests := []struct {
		args     []string
		wantSig  syscall.Signal
		wantCode int
		wantErr  string
	}{
		{[]string{"-h", "now"}, syscall.SIGUSR2, 0, ""},
		{[]string{"-r", "now"}, syscall.SIGTERM, 0, ""},
		{[]string{"-x"}, 0, 2, "shutdown: unknown option \"-x\"\n"},
	}
	for _, tt := range tests {
		var sent syscall.Signal
		var stderr bytes.Buffer
		code := runShutdown(tt.args, &stderr, func(sig syscall.Signal) error { sent = sig; return nil })
		if code != tt.wantCode || sent != tt.wantSig || stderr.String() != tt.wantErr {
			t.Errorf("runShutdown(%q) = %d, sent %v, stderr %q; want %d, %v, %q",
				tt.args, code, sent, stderr.String(), tt.wantCode, tt.wantSig, tt.wantErr)
		}
	}
	var stderr bytes.Buffer
	code := runShutdown(nil, &stderr, func(syscall.Signal) error { return errors.New("operation not permitted") })
	if code != 1 || stderr.String() != "shutdown: asking init: operation not permitted\n" {
		t.Errorf("runShutdown() = %d, %q; want 1 and the error", code, stderr.String())
	}
}

// TestRunShutdownSignalsAProcess sends the real signal to a real process standing in for PID 1.
func TestRunShutdownSignalsAProcess(t *testing.T) {
	proc, err := os.StartProcess("/bin/sleep", []string{"sleep", "60"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proc.Kill(); _, _ = proc.Wait() })
	var stderr bytes.Buffer
	code := runShutdown([]string{"-r"}, &stderr, func(sig syscall.Signal) error { return syscall.Kill(proc.Pid, sig) })
	if code != 0 {
		t.Fatalf("runShutdown() = %d, %s", code, stderr.String())
	}
	state, err := proc.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if ws := state.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Errorf("process ended with %v, want killed by SIGTERM", state)
	}
}

func FuzzParseShutdownArgs(f *testing.F) {
	f.Add("-h now")
	f.Add("-r +5 maintenance")
	f.Add("-P 0")
	f.Fuzz(func(t *testing.T, line string) {
		req, err := parseShutdownArgs(splitCmdline(line))
		if err != nil {
			return
		}
		if req.delay < 0 || req.delay > maxShutdownDelay || (req.action != actionPowerOff && req.action != actionReboot) {
			t.Fatalf("parseShutdownArgs(%q) = %+v", line, req)
		}
	})
}
