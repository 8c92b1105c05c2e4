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

package cloud

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/index"
)

// Page asks for one page of a Describe: at most MaxResults items, from where NextToken says.
type Page struct {
	MaxResults *int32
	NextToken  string
}

// size checks MaxResults against an operation's limits and returns the page size: fallback when
// the caller gave none (0 means everything).
func (p Page) size(min, max, fallback int32) (int, error) {
	return query.PageSize(p.MaxResults, min, max, fallback)
}

// pageOf returns the page of items a request asks for and the token of the next page ("" at the
// end). A token is bound to the operation and query it was made for (scope: everything that
// selects the items) and to the caller, so it cannot be replayed against another listing.
func pageOf[T any](s *Service, c Caller, scope string, p Page, size int, items []T) ([]T, string, error) {
	scope = callerScope(scope, c)
	cur, err := s.cfg.Tokens.Decode(scope, p.NextToken)
	if err != nil {
		return nil, "", err
	}
	page, next, more := query.Page(items, cur.Offset, size)
	if !more {
		return page, "", nil
	}
	return page, s.cfg.Tokens.Encode(scope, query.Cursor{Offset: next}), nil
}

// indexChunk is how many entries a page takes from an index at a time.
const indexChunk = 256

// indexPage builds one page of a listing of the caller's project's objects of one kind from an
// index of them in listing order (order, whose keys key computes): from where the page's token
// says, it reads the objects in order through the cache and keeps what item makes of them
// (false: filtered out) until it has size. The token of the next page holds the key of the last
// one kept; there is one only if another would be kept after it. A page so costs what it holds
// and what its filters skip, never the whole project.
func indexPage[O client.Object, T any](ctx context.Context, s *Service, c Caller, order *index.Sorted,
	key func(client.Object) string, newObj func() O, scope string, p Page, size int, item func(O) (T, bool)) ([]T, string, error) {
	scope = callerScope(scope+"\x00by-key", c)
	cur, err := s.cfg.Tokens.Decode(scope, p.NextToken)
	if err != nil {
		return nil, "", err
	}
	var out []T
	after, last := cur.After, ""
	for {
		chunk := order.After(c.Project(), after, indexChunk)
		for _, e := range chunk {
			obj := newObj()
			err := s.cfg.Client.Get(ctx, client.ObjectKey{Namespace: c.Project(), Name: e.Name}, obj)
			if apierrors.IsNotFound(err) {
				continue // gone since the index saw it
			}
			if err != nil {
				return nil, "", fmt.Errorf("reading %s: %w", e.Name, err)
			}
			if key(obj) != e.Key {
				continue // moved: the index holds it at its new key too
			}
			it, ok := item(obj)
			if !ok {
				continue
			}
			if len(out) == size {
				return out, s.cfg.Tokens.Encode(scope, query.Cursor{After: last}), nil
			}
			out, last = append(out, it), e.Key
		}
		if len(chunk) < indexChunk {
			return out, "", nil
		}
		after = chunk[len(chunk)-1].Key
	}
}

// callerScope binds a page token's scope to the caller.
func callerScope(scope string, c Caller) string {
	return scope + "\x00" + c.Principal.User + "\x00" + c.Project()
}

// listing is what a kind's Describe is checked against before it lists anything.
type listing struct {
	// resource is the RBAC resource the caller must be allowed to list.
	resource string
	// filters are the filter names the kind knows.
	filters []string
	// minPage and maxPage bound MaxResults; maxPage 0 when the kind does not page.
	minPage, maxPage int32
	// idsWithPage is the error text when ids and MaxResults come together, "" when they may.
	idsWithPage string
	// capPage takes a MaxResults above maxPage as maxPage instead of refusing it (DescribeVolumes:
	// "if you specify a value larger than 500, only 500 items are returned"; the AWS CLI asks 1000).
	capPage bool
}

// startDescribe is how every Describe starts: the caller may list the kind (DryRun ends here),
// ids and a page are not asked for together where the kind forbids it, the page is within the
// kind's limits and the filters are ones it knows. It returns the filters' matcher and the page
// size (0: everything).
func (s *Service) startDescribe(ctx context.Context, c Caller, l listing, dryRun bool, filters []query.Filter,
	p Page, ids int) (*query.Matcher, int, error) {
	if err := s.authorize(ctx, c, "list", l.resource, dryRun); err != nil {
		return nil, 0, err
	}
	if l.idsWithPage != "" && ids > 0 && p.MaxResults != nil {
		return nil, 0, InvalidParam("%s", l.idsWithPage)
	}
	if l.capPage && p.MaxResults != nil && *p.MaxResults > l.maxPage {
		p.MaxResults = &l.maxPage
	}
	size := 0
	if l.maxPage > 0 {
		var err error
		if size, err = p.size(l.minPage, l.maxPage, 0); err != nil {
			return nil, 0, err
		}
	}
	matcher, err := query.NewMatcher(filters, l.filters)
	if err != nil {
		return nil, 0, err
	}
	return matcher, size, nil
}
