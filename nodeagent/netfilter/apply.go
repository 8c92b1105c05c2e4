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

package netfilter

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/nftables"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// Filter installs policies into the nftables of one network namespace.
type Filter struct {
	netNSFd int
	mu      sync.Mutex
}

// New returns a Filter for the network namespace open at netNSFd (e.g. a netns handle, or
// /proc/self/ns/net for the caller's own). The descriptor must stay open while the Filter is used;
// the Filter does not close it.
func New(netNSFd int) *Filter {
	return &Filter{netNSFd: netNSFd}
}

// Apply renders p and replaces PiNet's tables with it in one netlink transaction: the kernel
// switches from the old ruleset to the new one at once or, on any error, keeps the old one. An
// invalid policy is refused (an error wrapping ErrInvalidPolicy) before anything is sent. Tables
// not named by TableName or NATTableName are never touched.
func (f *Filter) Apply(ctx context.Context, p Policy) error {
	rs, err := Render(p)
	if err != nil {
		return err
	}
	log.FromContext(ctx).V(1).Info("Applying packet filter",
		"guests", len(p.Guests), "groups", len(p.Groups), "elasticIPs", len(p.ElasticIPs), "rules", rs.Rules())
	return f.install(ctx, rs)
}

// install replaces PiNet's tables with rs in one transaction.
func (f *Filter) install(ctx context.Context, rs *Ruleset) error {
	return f.transact(ctx, func(conn *nftables.Conn) error {
		dropOwnedTables(conn)
		for _, t := range rs.tables {
			conn.AddTable(t)
		}
		for _, c := range rs.chains {
			conn.AddChain(c)
		}
		for _, s := range rs.sets {
			if err := conn.AddSet(s.set, s.elems); err != nil {
				return fmt.Errorf("encoding set %s of table %s: %w", s.set.Name, s.set.Table.Name, err)
			}
		}
		for _, r := range rs.rules {
			conn.AddRule(r)
		}
		return nil
	})
}

// Delete removes PiNet's tables (if present) in one transaction, e.g. when a node is retired.
func (f *Filter) Delete(ctx context.Context) error {
	log.FromContext(ctx).Info("Removing packet filter")
	return f.transact(ctx, func(conn *nftables.Conn) error {
		dropOwnedTables(conn)
		return nil
	})
}

// transact queues fill's messages on a fresh connection and sends them as one batch; a fresh
// connection per call means a failed fill never leaks half a batch into a later one.
func (f *Filter) transact(ctx context.Context, fill func(*nftables.Conn) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	conn, err := nftables.New(nftables.WithNetNSFd(f.netNSFd))
	if err != nil {
		return fmt.Errorf("opening nftables: %w", err)
	}
	if err := fill(conn); err != nil {
		return err
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("installing nftables ruleset: %w", err)
	}
	return nil
}

// dropOwnedTables queues "add table; delete table" for each table PiNet owns: the add makes the
// delete valid when the table does not exist yet. Queued before the new tables in the same batch,
// this replaces the old ruleset atomically.
func dropOwnedTables(conn *nftables.Conn) {
	for _, t := range ownedTables() {
		conn.AddTable(t)
		conn.DelTable(t)
	}
}

func ownedTables() []*nftables.Table {
	return []*nftables.Table{
		{Family: nftables.TableFamilyBridge, Name: TableName},
		{Family: nftables.TableFamilyINet, Name: TableName},
		{Family: nftables.TableFamilyIPv4, Name: NATTableName},
	}
}
