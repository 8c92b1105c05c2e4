// Copyright 2026 The PiNet Authors.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//	http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

package metadata

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
)

// An instance whose metadata service is disabled gets nothing, not even a token; the others
// are answered as before.
func TestDisabledInstanceGetsNothing(t *testing.T) {
	lk := twoInstances()
	off := instanceA()
	off.InstanceID, off.Disabled = "i-0c0c0c0c0c0c0c0c0", true
	addrOff := netip.MustParseAddr("127.0.0.4")
	lk.byIP[addrOff] = off
	s, _ := newTestServer(t, lk)
	for _, req := range [][]string{
		{http.MethodGet, "/latest/meta-data/instance-id"},
		{http.MethodGet, "/latest/user-data"},
		{http.MethodPut, tokenPath, tokenTTLHeader, "60"},
	} {
		w := do(s, addrOff.String(), req[0], req[1], req[2:]...)
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "disabled") || strings.Contains(w.Body.String(), off.InstanceID) {
			t.Errorf("%s %s of a disabled instance: %d %s", req[0], req[1], w.Code, w.Body)
		}
	}
	if w := do(s, addrA.String(), http.MethodGet, "/latest/meta-data/instance-id"); w.Code != http.StatusOK {
		t.Errorf("A beside the disabled instance: %d %s", w.Code, w.Body)
	}
}

// The answer to a token request leaves with the instance's hop limit as its IP time-to-live;
// the answers after it on the same connection, and those to instances without a limit, with the
// system's. The packets are read off the loopback device with a raw socket.
func TestTokenAnswerCarriesTheHopLimit(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("reading packets needs root")
	}
	const limit = 3
	lk := twoInstances()
	lk.byIP[addrA].TokenHopLimit = limit
	url := serve(t, lk)
	_, portText, _ := strings.Cut(strings.TrimPrefix(url, "http://"), ":")
	port, err := strconv.Atoi(portText)
	if err != nil {
		t.Fatal(err)
	}
	sysTTL := systemTTL(t)
	if sysTTL == limit {
		t.Fatalf("the system's time-to-live is the test's limit %d", limit)
	}
	capture := captureAnswers(t, port)

	// One connection: the token, then a read with it.
	client := from(addrA)
	client.Transport.(*http.Transport).MaxConnsPerHost = 1
	req, _ := http.NewRequest(http.MethodPut, url+tokenPath, nil)
	req.Header.Set(tokenTTLHeader, "60")
	tok := send(t, client, req)
	req, _ = http.NewRequest(http.MethodGet, url+"/latest/meta-data/instance-id", nil)
	req.Header.Set(tokenHeader, tok)
	if id := send(t, client, req); id != instanceA().InstanceID {
		t.Fatalf("A read %q with its token", id)
	}
	// B has no limit.
	req, _ = http.NewRequest(http.MethodPut, url+tokenPath, nil)
	req.Header.Set(tokenTTLHeader, "60")
	send(t, from(addrB), req)

	got := capture(3)
	for i, want := range []struct {
		to   netip.Addr
		body string
		ttl  int
	}{{addrA, tok, limit}, {addrA, instanceA().InstanceID, sysTTL}, {addrB, "", sysTTL}} {
		a := got[i]
		if a.to != want.to || !bytes.Contains(a.payload, []byte(want.body)) || a.ttl != want.ttl {
			t.Errorf("answer %d went to %s with time-to-live %d (%q…), want %s with %d", i, a.to, a.ttl, head(a.payload), want.to, want.ttl)
		}
	}
}

func send(t *testing.T, c *http.Client, req *http.Request) string {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s %v", req.Method, req.URL.Path, resp.StatusCode, body, err)
	}
	return string(body)
}

func systemTTL(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_default_ttl")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// answer is one TCP segment with data the server sent.
type answer struct {
	to      netip.Addr
	ttl     int
	payload []byte
}

func head(b []byte) []byte { return b[:min(len(b), 40)] }

// captureAnswers reads the TCP segments with data sent from port on loopback; the function it
// returns waits for the first n HTTP answers (segments starting a response) and returns them.
func captureAnswers(t *testing.T, port int) func(n int) []answer {
	t.Helper()
	pc, err := net.ListenPacket("ip4:tcp", "0.0.0.0")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ipv4.NewRawConn(pc)
	if err != nil {
		pc.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	answers := make(chan answer, 64)
	go func() {
		buf := make([]byte, 65536)
		for {
			h, p, _, err := raw.ReadFrom(buf)
			if err != nil {
				close(answers)
				return
			}
			if len(p) < 20 || int(binary.BigEndian.Uint16(p[0:2])) != port {
				continue
			}
			data := p[int(p[12]>>4)*4:]
			if !bytes.HasPrefix(data, []byte("HTTP/1.1 ")) {
				continue
			}
			to, _ := netip.AddrFromSlice(h.Dst.To4())
			answers <- answer{to: to, ttl: h.TTL, payload: bytes.Clone(data)}
		}
	}()
	return func(n int) []answer {
		t.Helper()
		var got []answer
		timeout := time.After(callTimeout)
		for len(got) < n {
			select {
			case a, ok := <-answers:
				if !ok {
					t.Fatalf("capture ended after %d answers", len(got))
				}
				got = append(got, a)
			case <-timeout:
				t.Fatalf("%d answers captured, want %d", len(got), n)
			}
		}
		return got
	}
}
