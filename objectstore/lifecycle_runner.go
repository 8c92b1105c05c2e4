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

package objectstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"pinet.io/pinet/objectstore/fsstore"
)

// DefaultLifecycleInterval is how often a LifecycleRunner applies the rules by default.
const DefaultLifecycleInterval = time.Hour

const (
	lifecyclePage = 1000
	day           = 24 * time.Hour
)

// LifecycleRunner applies the buckets' lifecycle rules: it expires current versions (deletes
// them, or puts a delete marker on them in a versioned bucket), removes noncurrent versions and
// expired delete markers, and aborts old multipart uploads, as S3 does. Ages are counted in
// days from the store's clock and rounded up to the next midnight UTC, as in S3. It is a
// controller-runtime Runnable that runs a pass every Interval on the leader only.
type LifecycleRunner struct {
	srv      *Server
	interval time.Duration
}

// LifecycleRunner returns the store's lifecycle runner, passing every interval
// (DefaultLifecycleInterval when not positive).
func (s *Server) LifecycleRunner(interval time.Duration) *LifecycleRunner {
	if interval <= 0 {
		interval = DefaultLifecycleInterval
	}
	return &LifecycleRunner{srv: s, interval: interval}
}

// LifecycleResult counts what a pass did.
type LifecycleResult struct {
	// Expired counts current versions expired; NoncurrentRemoved noncurrent versions
	// (delete markers included) removed; MarkersRemoved expired delete markers removed;
	// UploadsAborted multipart uploads aborted.
	Expired, NoncurrentRemoved, MarkersRemoved, UploadsAborted int
}

// NeedLeaderElection says only the leader applies the rules.
func (r *LifecycleRunner) NeedLeaderElection() bool { return true }

// Start passes at once and then every interval until ctx ends.
func (r *LifecycleRunner) Start(ctx context.Context) error {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		res, err := r.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			r.srv.log.Error(err, "Applying lifecycle rules")
		}
		if res != (LifecycleResult{}) {
			r.srv.log.Info("Applied lifecycle rules", "expired", res.Expired, "noncurrentRemoved", res.NoncurrentRemoved,
				"deleteMarkersRemoved", res.MarkersRemoved, "uploadsAborted", res.UploadsAborted)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RunOnce applies every bucket's enabled rules once. A bucket that fails does not stop the
// others; the errors are returned together.
func (r *LifecycleRunner) RunOnce(ctx context.Context) (LifecycleResult, error) {
	var res LifecycleResult
	buckets, err := r.srv.store.ListBuckets()
	if err != nil {
		return res, err
	}
	var errs []error
	for _, b := range buckets {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		rules := enabledRules(b.Lifecycle)
		if len(rules) == 0 {
			continue
		}
		p := &lifecyclePass{srv: r.srv, bucket: b.Name, rules: rules, now: r.srv.now(), res: &res}
		if err := p.versions(ctx); err != nil {
			errs = append(errs, fmt.Errorf("applying the lifecycle of bucket %q: %w", b.Name, err))
		}
		if err := p.uploads(ctx); err != nil {
			errs = append(errs, fmt.Errorf("aborting old uploads of bucket %q: %w", b.Name, err))
		}
	}
	return res, errors.Join(errs...)
}

func enabledRules(rules []fsstore.LifecycleRule) []fsstore.LifecycleRule {
	var out []fsstore.LifecycleRule
	for _, r := range rules {
		if r.Enabled {
			out = append(out, r)
		}
	}
	return out
}

// dueAt is when something aged from t is days old, as S3 counts: rounded up to midnight UTC.
func dueAt(t time.Time, days int) time.Time {
	d := t.UTC().Add(time.Duration(days) * day)
	m := d.Truncate(day)
	if m.Before(d) {
		m = m.Add(day)
	}
	return m
}

// lifecyclePass is one pass over one bucket.
type lifecyclePass struct {
	srv    *Server
	bucket string
	rules  []fsstore.LifecycleRule
	now    time.Time
	res    *LifecycleResult
}

// versions walks every key's versions (newest first), one key at a time.
func (p *lifecyclePass) versions(ctx context.Context) error {
	var (
		q       = fsstore.VersionQuery{MaxKeys: lifecyclePage}
		pending []fsstore.ObjectInfo
	)
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		page, err := p.srv.store.ListVersions(p.bucket, q)
		if err != nil {
			return err
		}
		for _, v := range page.Versions {
			if len(pending) > 0 && v.Key != pending[0].Key {
				if err := p.key(pending); err != nil {
					return err
				}
				pending = nil
			}
			pending = append(pending, v)
		}
		if !page.IsTruncated {
			break
		}
		q.KeyMarker, q.VersionIDMarker = page.NextKeyMarker, page.NextVersionIDMarker
	}
	if len(pending) > 0 {
		return p.key(pending)
	}
	return nil
}

// matches reports whether rule r applies to version v (tags are v's tags).
func matches(r fsstore.LifecycleRule, v fsstore.ObjectInfo, tags []fsstore.Tag) bool {
	if !strings.HasPrefix(v.Key, r.Prefix) {
		return false
	}
	if v.DeleteMarker {
		return len(r.Tags) == 0 && r.SizeGreaterThan == 0 && r.SizeLessThan == 0
	}
	if r.SizeGreaterThan > 0 && v.Size <= r.SizeGreaterThan || r.SizeLessThan > 0 && v.Size >= r.SizeLessThan {
		return false
	}
	for _, want := range r.Tags {
		found := false
		for _, t := range tags {
			if t == want {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// sizeFilters reports whether a rule filters by object size.
func (p *lifecyclePass) sizeFilters() bool {
	for _, r := range p.rules {
		if r.SizeGreaterThan > 0 || r.SizeLessThan > 0 {
			return true
		}
	}
	return false
}

func (p *lifecyclePass) tagsOf(v fsstore.ObjectInfo) ([]fsstore.Tag, error) {
	if v.DeleteMarker {
		return nil, nil
	}
	return p.srv.store.TagsOf(p.bucket, v)
}

// key applies the rules to one key's versions, newest first.
func (p *lifecyclePass) key(versions []fsstore.ObjectInfo) error {
	if !versions[0].IsLatest {
		// The listing resumed inside the key; its latest was seen on the page before.
		return nil
	}
	for i, v := range versions {
		// Size filters judge what the client wrote, not what encryption stored.
		if v.Meta.Encryption != nil && p.sizeFilters() {
			versions[i].Size = p.srv.plainSize(p.bucket, v)
		}
	}
	kept := []fsstore.ObjectInfo{versions[0]}
	for i := 1; i < len(versions); i++ {
		gone, err := p.noncurrent(versions[i], versions[i-1].Modified, len(kept)-1)
		if err != nil {
			return err
		}
		if !gone {
			kept = append(kept, versions[i])
		}
	}
	cur := versions[0]
	if cur.DeleteMarker {
		if len(kept) == 1 {
			return p.expiredMarker(cur)
		}
		return nil
	}
	return p.current(cur)
}

// noncurrent removes version v, noncurrent since since, when a rule says so; newer is the
// number of newer noncurrent versions that stay.
func (p *lifecyclePass) noncurrent(v fsstore.ObjectInfo, since time.Time, newer int) (bool, error) {
	tags, err := p.tagsOf(v)
	if err != nil {
		return false, err
	}
	for _, r := range p.rules {
		if r.NoncurrentDays == 0 || !matches(r, v, tags) || newer < r.NewerNoncurrent || p.now.Before(dueAt(since, r.NoncurrentDays)) {
			continue
		}
		if _, err := p.srv.store.DeleteVersion(p.bucket, v.Key, fsstore.VersionName(v.VersionID)); err != nil {
			return false, fmt.Errorf("removing noncurrent version %s of %q: %w", fsstore.VersionName(v.VersionID), v.Key, err)
		}
		p.srv.log.Info("Lifecycle removed a noncurrent version", "bucket", p.bucket, "key", v.Key,
			"versionID", fsstore.VersionName(v.VersionID), "rule", r.ID)
		p.res.NoncurrentRemoved++
		return true, nil
	}
	return false, nil
}

// latestIs reports whether v is still key's latest version and the key has no other.
func (p *lifecyclePass) latestIs(v fsstore.ObjectInfo) (latest, alone bool, err error) {
	page, err := p.srv.store.ListVersions(p.bucket, fsstore.VersionQuery{Prefix: v.Key, MaxKeys: 2})
	if err != nil || len(page.Versions) == 0 {
		return false, false, err
	}
	first := page.Versions[0]
	latest = first.Key == v.Key && first.VersionID == v.VersionID && first.Stamp == v.Stamp && first.ETag == v.ETag
	alone = len(page.Versions) < 2 || page.Versions[1].Key != v.Key
	return latest, alone, nil
}

// expiredMarker removes a delete marker left with no versions behind it, when a rule says so.
func (p *lifecyclePass) expiredMarker(m fsstore.ObjectInfo) error {
	for _, r := range p.rules {
		if !r.ExpiredDeleteMarker || !matches(r, m, nil) {
			continue
		}
		latest, alone, err := p.latestIs(m)
		if err != nil || !latest || !alone {
			return err
		}
		if _, err := p.srv.store.DeleteVersion(p.bucket, m.Key, fsstore.VersionName(m.VersionID)); err != nil {
			return fmt.Errorf("removing the expired delete marker of %q: %w", m.Key, err)
		}
		p.srv.log.Info("Lifecycle removed an expired delete marker", "bucket", p.bucket, "key", m.Key, "rule", r.ID)
		p.res.MarkersRemoved++
		return nil
	}
	return nil
}

// current expires the key's latest version when a rule says so.
func (p *lifecyclePass) current(v fsstore.ObjectInfo) error {
	tags, err := p.tagsOf(v)
	if err != nil {
		return err
	}
	for _, r := range p.rules {
		if r.ExpirationDays == 0 && r.ExpirationDate == nil || !matches(r, v, tags) {
			continue
		}
		due := dueAt(v.Modified, r.ExpirationDays)
		if r.ExpirationDate != nil {
			due = *r.ExpirationDate
		}
		if p.now.Before(due) {
			continue
		}
		// A client may have written the key since it was listed: expire only what was judged.
		if latest, _, err := p.latestIs(v); err != nil || !latest {
			return err
		}
		if _, err := p.srv.store.DeleteObject(p.bucket, v.Key); err != nil {
			return fmt.Errorf("expiring %q: %w", v.Key, err)
		}
		p.srv.log.Info("Lifecycle expired an object", "bucket", p.bucket, "key", v.Key,
			"versionID", fsstore.VersionName(v.VersionID), "rule", r.ID)
		p.res.Expired++
		return nil
	}
	return nil
}

// uploads aborts the multipart uploads a rule says are too old.
func (p *lifecyclePass) uploads(ctx context.Context) error {
	abort := false
	for _, r := range p.rules {
		abort = abort || r.AbortUploadDays > 0
	}
	if !abort {
		return nil
	}
	q := fsstore.UploadQuery{MaxUploads: lifecyclePage}
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		page, err := p.srv.store.ListUploads(p.bucket, q)
		if err != nil {
			return err
		}
		for _, up := range page.Uploads {
			for _, r := range p.rules {
				if r.AbortUploadDays == 0 || !strings.HasPrefix(up.Key, r.Prefix) || p.now.Before(dueAt(up.Initiated, r.AbortUploadDays)) {
					continue
				}
				if err := p.srv.store.AbortUpload(p.bucket, up.Key, up.ID); err != nil && !errors.Is(err, fsstore.ErrNoSuchUpload) {
					return fmt.Errorf("aborting upload %s of %q: %w", up.ID, up.Key, err)
				}
				p.srv.log.Info("Lifecycle aborted an incomplete multipart upload", "bucket", p.bucket, "key", up.Key, "uploadID", up.ID, "rule", r.ID)
				p.res.UploadsAborted++
				break
			}
		}
		if !page.IsTruncated {
			return nil
		}
		q.KeyMarker, q.UploadIDMarker = page.NextKeyMarker, page.NextUploadIDMarker
	}
}
