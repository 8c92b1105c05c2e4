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
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"pinet.io/pinet/nodeagent/nbd"
)

// FuzzServeConn plays arbitrary bytes as a client: the server must answer
// or hang up, never panic or hang.
func FuzzServeConn(f *testing.F) {
	hello := binary.BigEndian.AppendUint32(nil, 3)
	opt := func(b []byte, o uint32, data []byte) []byte {
		b = binary.BigEndian.AppendUint64(b, optMagic)
		b = binary.BigEndian.AppendUint32(b, o)
		b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
		return append(b, data...)
	}
	req := func(b []byte, typ uint16, off uint64, n uint32) []byte {
		b = binary.BigEndian.AppendUint32(b, 0x25609513)
		b = binary.BigEndian.AppendUint16(b, 0)
		b = binary.BigEndian.AppendUint16(b, typ)
		b = binary.BigEndian.AppendUint64(b, 1)
		b = binary.BigEndian.AppendUint64(b, off)
		return binary.BigEndian.AppendUint32(b, n)
	}
	goD := opt(append([]byte(nil), hello...), 7, infoData("d", 3))
	f.Add(req(append([]byte(nil), goD...), 0, 0, 512))
	f.Add(append(req(append([]byte(nil), goD...), 1, 512, 4), "abcd"...))
	f.Add(opt(opt(append([]byte(nil), hello...), 3, nil), 1, []byte("d")))
	f.Add(opt(append([]byte(nil), hello...), 6, []byte{0, 0, 0, 9, 'd'}))
	f.Add(hello)

	file, err := os.Create(filepath.Join(f.TempDir(), "disk"))
	if err != nil {
		f.Fatal(err)
	}
	defer func() { _ = file.Close() }()
	if err := file.Truncate(1 << 16); err != nil {
		f.Fatal(err)
	}
	s := &nbd.Server{Exports: map[string]nbd.Device{"d": fileDevice{File: file, size: 1 << 16}}, MaxRequest: 1 << 16}
	f.Fuzz(func(t *testing.T, in []byte) {
		server, client := net.Pipe()
		done := make(chan error, 1)
		go func() { done <- s.ServeConn(context.Background(), server) }()
		go func() { _, _ = io.Copy(io.Discard, client) }()
		_, _ = client.Write(in)
		_ = client.Close()
		<-done
	})
}
