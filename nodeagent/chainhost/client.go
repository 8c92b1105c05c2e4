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

package chainhost

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
)

// ErrNoHost: nothing answers on the control socket.
var ErrNoHost = errors.New("no volume chain host answers")

// Client calls a Host over its control socket.
type Client struct {
	// Path is the control socket (ControlPath).
	Path string
	// Settings, when set, are the agent's: a Host started with others refuses to make chains
	// (ErrSettingsDiffer).
	Settings *Settings
}

// Ensure returns the volume's chain (c names the volume, its id and AoE address), making it
// if none runs; made tells whether this call made it.
func (cl *Client) Ensure(ctx context.Context, c Chain) (_ Chain, made bool, _ error) {
	resp, err := cl.call(ctx, request{Op: opEnsure, Chain: c, Settings: cl.Settings})
	if err != nil {
		return Chain{}, false, err
	}
	return *resp.Chain, resp.Made, nil
}

// Grow serves the volume's chain at want bytes or more, once its target serves that
// (ErrNotGrownYet before): for a chain no running guest reads, whose connections end.
func (cl *Client) Grow(ctx context.Context, namespace, name string, want int64) (Chain, error) {
	resp, err := cl.call(ctx, request{Op: opGrow, Chain: Chain{Namespace: namespace, Name: name}, Size: want})
	if err != nil {
		return Chain{}, err
	}
	return *resp.Chain, nil
}

// Stop ends the volume's chain, if it runs.
func (cl *Client) Stop(ctx context.Context, namespace, name string) error {
	_, err := cl.call(ctx, request{Op: opStop, Chain: Chain{Namespace: namespace, Name: name}})
	return err
}

// List returns the running chains.
func (cl *Client) List(ctx context.Context) ([]Chain, error) {
	resp, err := cl.call(ctx, request{Op: opList})
	if err != nil {
		return nil, err
	}
	return resp.Chains, nil
}

// Plugged records the domain and device the volume's disk is plugged into.
func (cl *Client) Plugged(ctx context.Context, namespace, name, instanceID, device string) error {
	_, err := cl.call(ctx, request{Op: opPlugged, Chain: Chain{Namespace: namespace, Name: name, InstanceID: instanceID, Device: device}})
	return err
}

// Announce records that the volume's running guest was told of size, and reports whether that
// is news (larger than any size announced for the chain before).
func (cl *Client) Announce(ctx context.Context, namespace, name string, size int64) (bool, error) {
	resp, err := cl.call(ctx, request{Op: opAnnounce, Chain: Chain{Namespace: namespace, Name: name}, Size: size})
	if err != nil {
		return false, err
	}
	return resp.News, nil
}

// call sends one request and reads its answer; a known error comes back as itself (errors.Is),
// and so does the context's, if it ended first.
func (cl *Client) call(ctx context.Context, req request) (response, error) {
	resp, err := cl.exchange(ctx, req)
	if err != nil && ctx.Err() != nil {
		return response{}, fmt.Errorf("volume chain host %s: %s: %w", cl.Path, req.Op, ctx.Err())
	}
	return resp, err
}

func (cl *Client) exchange(ctx context.Context, req request) (response, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", cl.Path)
	if err != nil {
		return response{}, fmt.Errorf("%w on %s: %v", ErrNoHost, cl.Path, err)
	}
	defer func() { _ = conn.Close() }()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	req.Version = ProtocolVersion
	b, err := json.Marshal(req)
	if err != nil {
		return response{}, err
	}
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return response{}, fmt.Errorf("volume chain host %s: %s: %w", cl.Path, req.Op, err)
	}
	line, err := bufio.NewReader(io.LimitReader(conn, 16<<20)).ReadBytes('\n')
	if err != nil {
		return response{}, fmt.Errorf("volume chain host %s: %s: reading the answer: %w", cl.Path, req.Op, err)
	}
	var resp response
	if err := json.Unmarshal(line, &resp); err != nil {
		return response{}, fmt.Errorf("volume chain host %s: %s: %w", cl.Path, req.Op, err)
	}
	if resp.Version != ProtocolVersion {
		return response{}, fmt.Errorf("volume chain host %s: %w: it answers %d, this agent speaks %d", cl.Path, ErrProtocol,
			resp.Version, ProtocolVersion)
	}
	if resp.Error != "" {
		if known := codes[resp.Code]; known != nil {
			return response{}, &hostError{msg: resp.Error, known: known}
		}
		return response{}, fmt.Errorf("volume chain host: %s", resp.Error)
	}
	if (req.Op == opEnsure || req.Op == opGrow) && resp.Chain == nil {
		return response{}, fmt.Errorf("volume chain host %s: %s answered no chain", cl.Path, req.Op)
	}
	return resp, nil
}

// hostError is a known error as the Host told it.
type hostError struct {
	msg   string
	known error
}

func (e *hostError) Error() string { return e.msg }
func (e *hostError) Unwrap() error { return e.known }
