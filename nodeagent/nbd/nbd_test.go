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

package nbd_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"

	"pinet.io/pinet/nodeagent/nbd"
)

// fileDevice is a file as an NBD device.
type fileDevice struct {
	*os.File
	size int64
}

func (f fileDevice) Size() int64  { return f.size }
func (f fileDevice) Flush() error { return f.Sync() }

func newFileDevice(t *testing.T, size int64) fileDevice {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "disk"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return fileDevice{File: f, size: size}
}

// serve runs s on a unix socket until the test ends and returns its path.
func serve(t *testing.T, s *nbd.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nbd.sock")
	ln, err := nbd.ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(logr.NewContext(context.Background(), testr.New(t)))
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return path
}

// NBD wire constants, written out independently of the package.
const (
	optMagic      = 0x49484156454f5054
	optReplyMagic = 0x0003e889045565a9
	repAck        = 1
	repServer     = 2
	repInfo       = 3
	repErrUnsup   = 1<<31 | 1
	repErrInvalid = 1<<31 | 3
	repErrUnknown = 1<<31 | 6
	repErrTooBig  = 1<<31 | 9
)

// client is a hand-driven NBD client.
type client struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, path string, flags uint32) *client {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	cl := &client{t: t, c: c, r: bufio.NewReader(c)}
	var hello [18]byte
	cl.read(hello[:])
	if string(hello[0:8]) != "NBDMAGIC" || string(hello[8:16]) != "IHAVEOPT" || binary.BigEndian.Uint16(hello[16:]) != 3 {
		t.Fatalf("greeting % x", hello)
	}
	cl.write(binary.BigEndian.AppendUint32(nil, flags))
	return cl
}

func (cl *client) read(b []byte) {
	cl.t.Helper()
	if _, err := io.ReadFull(cl.r, b); err != nil {
		cl.t.Fatalf("reading: %v", err)
	}
}

func (cl *client) write(b []byte) {
	cl.t.Helper()
	if _, err := cl.c.Write(b); err != nil {
		cl.t.Fatalf("writing: %v", err)
	}
}

func (cl *client) option(opt uint32, data []byte) {
	b := binary.BigEndian.AppendUint64(nil, optMagic)
	b = binary.BigEndian.AppendUint32(b, opt)
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	cl.write(append(b, data...))
}

func (cl *client) optReply(wantOpt uint32) (uint32, []byte) {
	cl.t.Helper()
	var h [20]byte
	cl.read(h[:])
	if binary.BigEndian.Uint64(h[0:8]) != optReplyMagic || binary.BigEndian.Uint32(h[8:12]) != wantOpt {
		cl.t.Fatalf("option reply header % x", h)
	}
	data := make([]byte, binary.BigEndian.Uint32(h[16:20]))
	cl.read(data)
	return binary.BigEndian.Uint32(h[12:16]), data
}

// infoData is the data of NBD_OPT_INFO/GO.
func infoData(name string, reqs ...uint16) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(name)))
	b = append(b, name...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(reqs)))
	for _, r := range reqs {
		b = binary.BigEndian.AppendUint16(b, r)
	}
	return b
}

// goExport runs NBD_OPT_GO and returns the export's size and flags.
func (cl *client) goExport(name string) (uint64, uint16) {
	cl.t.Helper()
	cl.option(7, infoData(name))
	var size uint64
	var flags uint16
	for {
		typ, data := cl.optReply(7)
		switch {
		case typ == repAck:
			return size, flags
		case typ == repInfo && binary.BigEndian.Uint16(data) == 0:
			size, flags = binary.BigEndian.Uint64(data[2:10]), binary.BigEndian.Uint16(data[10:12])
		case typ != repInfo:
			cl.t.Fatalf("GO %q answered %#x %q", name, typ, data)
		}
	}
}

func (cl *client) request(typ uint16, flags uint16, handle, off uint64, length uint32, data []byte) {
	b := binary.BigEndian.AppendUint32(nil, 0x25609513)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint64(b, handle)
	b = binary.BigEndian.AppendUint64(b, off)
	b = binary.BigEndian.AppendUint32(b, length)
	cl.write(append(b, data...))
}

// reply reads a simple reply with n bytes of data if it reports success.
func (cl *client) reply(handle uint64, n int) (uint32, []byte) {
	cl.t.Helper()
	var h [16]byte
	cl.read(h[:])
	if binary.BigEndian.Uint32(h[0:4]) != 0x67446698 || binary.BigEndian.Uint64(h[8:16]) != handle {
		cl.t.Fatalf("reply header % x, want handle %d", h, handle)
	}
	errno := binary.BigEndian.Uint32(h[4:8])
	if errno != 0 {
		return errno, nil
	}
	data := make([]byte, n)
	cl.read(data)
	return 0, data
}

// closed asserts that the server hung up.
func (cl *client) closed() {
	cl.t.Helper()
	_ = cl.c.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := io.Copy(io.Discard, cl.r); err != nil && !errors.Is(err, io.EOF) && !isReset(err) {
		cl.t.Fatalf("waiting for the server to hang up: %v", err)
	}
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}

func TestHandshakeOptions(t *testing.T) {
	a, b := newFileDevice(t, 1<<20), newFileDevice(t, 3<<20)
	path := serve(t, &nbd.Server{Exports: map[string]nbd.Device{"a": a, "b": b}})
	cl := dialRaw(t, path, 3)

	cl.option(3, nil) // LIST
	var names []string
	for {
		typ, data := cl.optReply(3)
		if typ == repAck {
			break
		}
		if typ != repServer {
			t.Fatalf("LIST answered %#x", typ)
		}
		names = append(names, string(data[4:4+binary.BigEndian.Uint32(data)]))
	}
	if len(names) != 2 || names[0] != "a" || names[1] != "b" {
		t.Errorf("LIST = %q", names)
	}
	cl.option(3, []byte("x"))
	if typ, _ := cl.optReply(3); typ != repErrInvalid {
		t.Errorf("LIST with data answered %#x", typ)
	}
	for _, opt := range []uint32{8, 99, 5} { // structured replies, unknown, STARTTLS
		cl.option(opt, nil)
		if typ, _ := cl.optReply(opt); typ != repErrUnsup {
			t.Errorf("option %d answered %#x, want ERR_UNSUP", opt, typ)
		}
	}
	cl.option(6, infoData("missing"))
	if typ, msg := cl.optReply(6); typ != repErrUnknown || !bytes.Contains(msg, []byte("missing")) {
		t.Errorf("INFO of a missing export answered %#x %q", typ, msg)
	}
	bad := infoData("a", 3)
	cl.option(7, bad[:len(bad)-1])
	if typ, _ := cl.optReply(7); typ != repErrInvalid {
		t.Errorf("GO with a short request list answered %#x", typ)
	}
	cl.option(7, []byte{0, 0, 1, 0, 'a'})
	if typ, _ := cl.optReply(7); typ != repErrInvalid {
		t.Errorf("GO with a name past its data answered %#x", typ)
	}

	cl.option(6, infoData("a", 1, 3)) // INFO: name, block size
	got := map[uint16][]byte{}
	for {
		typ, data := cl.optReply(6)
		if typ == repAck {
			break
		}
		got[binary.BigEndian.Uint16(data)] = data[2:]
	}
	if string(got[1]) != "a" || binary.BigEndian.Uint64(got[0]) != 1<<20 ||
		binary.BigEndian.Uint32(got[3][0:4]) != 512 || binary.BigEndian.Uint32(got[3][8:12]) != nbd.DefaultMaxRequest {
		t.Errorf("INFO replies %v", got)
	}

	size, flags := cl.goExport("b")
	if size != 3<<20 || flags&1 == 0 || flags&4 == 0 || flags&2 != 0 {
		t.Fatalf("GO b: size %d flags %#x", size, flags)
	}
	want := bytes.Repeat([]byte("nbd!"), 1024)
	cl.request(1, 1, 7, 8192, uint32(len(want)), want) // FUA write
	if errno, _ := cl.reply(7, 0); errno != 0 {
		t.Fatalf("write errno %d", errno)
	}
	cl.request(0, 0, 8, 8192, uint32(len(want)), nil)
	if errno, data := cl.reply(8, len(want)); errno != 0 || !bytes.Equal(data, want) {
		t.Fatalf("read back errno %d", errno)
	}
	onDisk := make([]byte, len(want))
	if _, err := b.ReadAt(onDisk, 8192); err != nil || !bytes.Equal(onDisk, want) {
		t.Errorf("the write is not in the device: %v", err)
	}
	cl.request(3, 0, 9, 0, 0, nil)
	if errno, _ := cl.reply(9, 0); errno != 0 {
		t.Errorf("flush errno %d", errno)
	}
	cl.request(2, 0, 10, 0, 0, nil) // DISC
	cl.closed()
}

func TestExportName(t *testing.T) {
	dev := newFileDevice(t, 2<<20)
	path := serve(t, &nbd.Server{Exports: map[string]nbd.Device{"only": dev}})
	if _, err := dev.WriteAt([]byte("hello"), 512); err != nil {
		t.Fatal(err)
	}
	for _, flags := range []uint32{1, 3} { // with and without the 124 zero bytes
		cl := dialRaw(t, path, flags)
		cl.option(1, nil) // the default export
		n := 10
		if flags == 1 {
			n += 124
		}
		b := make([]byte, n)
		cl.read(b)
		if binary.BigEndian.Uint64(b) != 2<<20 || !bytes.Equal(b[10:], make([]byte, n-10)) {
			t.Errorf("EXPORT_NAME answer % x", b[:10])
		}
		cl.request(0, 0, 1, 512, 5, nil)
		if errno, data := cl.reply(1, 5); errno != 0 || string(data) != "hello" {
			t.Errorf("read errno %d data %q", errno, data)
		}
	}
	cl := dialRaw(t, path, 3)
	cl.option(1, []byte("other"))
	cl.closed()
}

// TestBadClients: protocol errors end the client's connection or get an
// error reply, never the server.
func TestBadClients(t *testing.T) {
	dev := newFileDevice(t, 1<<20)
	path := serve(t, &nbd.Server{Exports: map[string]nbd.Device{"d": dev}, MaxRequest: 1 << 16})

	dialRaw(t, path, 0x80|1).closed() // unknown client flag
	dialRaw(t, path, 0).closed()      // not fixed newstyle
	cl := dialRaw(t, path, 3)
	cl.write(bytes.Repeat([]byte{0x42}, 16)) // bad option magic
	cl.closed()
	cl = dialRaw(t, path, 3)
	b := binary.BigEndian.AppendUint64(nil, optMagic)
	b = binary.BigEndian.AppendUint32(b, 7)
	cl.write(binary.BigEndian.AppendUint32(b, 1<<30)) // a gigabyte of option data
	if typ, _ := cl.optReply(7); typ != repErrTooBig {
		t.Errorf("oversized option answered %#x", typ)
	}
	cl.closed()

	cl = dialRaw(t, path, 3)
	cl.goExport("d")
	cl.request(0, 0, 1, 1<<20-512, 1024, nil) // read past the end
	if errno, _ := cl.reply(1, 0); errno != 22 {
		t.Errorf("read past the end: errno %d, want EINVAL", errno)
	}
	cl.request(0, 0, 2, 0, 1<<16+1, nil) // read over the limit
	if errno, _ := cl.reply(2, 0); errno != 22 {
		t.Errorf("oversized read: errno %d, want EINVAL", errno)
	}
	cl.request(77, 0, 3, 0, 0, nil)
	if errno, _ := cl.reply(3, 0); errno != 22 {
		t.Errorf("unknown command: errno %d, want EINVAL", errno)
	}
	cl.request(1, 0, 4, 1<<20-2, 4, []byte("abcd")) // write past the end
	if errno, _ := cl.reply(4, 0); errno != 28 {
		t.Errorf("write past the end: errno %d, want ENOSPC", errno)
	}
	tail := make([]byte, 2)
	if _, err := dev.ReadAt(tail, 1<<20-2); err != nil || !bytes.Equal(tail, []byte{0, 0}) {
		t.Errorf("a refused write changed the device: %q %v", tail, err)
	}
	cl.request(0, 0, 5, 0, 512, nil) // the connection still works
	if errno, _ := cl.reply(5, 512); errno != 0 {
		t.Errorf("read after errors: errno %d", errno)
	}
	cl.request(1, 0, 6, 0, 1<<16+1, nil) // write over the limit: refused, hung up
	if errno, _ := cl.reply(6, 0); errno != 22 {
		t.Errorf("oversized write: errno %d, want EINVAL", errno)
	}
	cl.closed()

	cl = dialRaw(t, path, 3)
	cl.goExport("d")
	cl.write(bytes.Repeat([]byte{0x13}, 28)) // bad request magic
	cl.closed()

	// The server still serves.
	cl = dialRaw(t, path, 3)
	if size, _ := cl.goExport("d"); size != 1<<20 {
		t.Errorf("size %d after bad clients", size)
	}
}

func TestListenUnixRefusesOtherFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := nbd.ListenUnix(path); err == nil {
		t.Fatal("ListenUnix replaced a regular file")
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "keep me" {
		t.Errorf("the file changed: %q %v", b, err)
	}
	// A stale socket is replaced.
	sock := filepath.Join(t.TempDir(), "s.sock")
	ln, err := nbd.ListenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	_ = ln.Close()
	ln, err = nbd.ListenUnix(sock)
	if err != nil {
		t.Fatalf("over a stale socket: %v", err)
	}
	_ = ln.Close()
}
