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

package fsstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

const bucketFile = "bucket.json"

// BucketInfo describes a bucket.
type BucketInfo struct {
	Name string `json:"name"`
	// Project owns the bucket.
	Project string    `json:"project"`
	Region  string    `json:"region"`
	Created time.Time `json:"created"`
	// Versioning is the bucket's versioning state; "" for a bucket that was never versioned.
	Versioning Versioning `json:"versioning,omitempty"`
	// ACL is the bucket's access control list; nil for a bucket made before ACLs (private).
	ACL *ACL `json:"acl,omitempty"`
	// Policy is the bucket policy as its owner sent it; "" for none.
	Policy string `json:"policy,omitempty"`
	// PublicAccessBlock is the bucket's Block Public Access configuration; nil for none.
	PublicAccessBlock *PublicAccessBlock `json:"publicAccessBlock,omitempty"`
	// Tags is the bucket's tag set; nil for none.
	Tags []Tag `json:"tags,omitempty"`
	// CORS is the bucket's CORS configuration; nil for none.
	CORS []CORSRule `json:"cors,omitempty"`
	// Lifecycle is the bucket's lifecycle configuration; nil for none.
	Lifecycle []LifecycleRule `json:"lifecycle,omitempty"`
	// Encryption is the bucket's default server-side encryption ("AES256"); "" for none.
	Encryption string `json:"encryption,omitempty"`
}

// ValidBucketName reports why name breaks the S3 bucket naming rules, or nil.
func ValidBucketName(name string) error {
	if len(name) < 3 || len(name) > 63 {
		return errors.New("bucket names must be between 3 and 63 characters long")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return errors.New("bucket names may contain only lower-case letters, digits, dots and hyphens")
		}
	}
	if !alnum(name[0]) || !alnum(name[len(name)-1]) {
		return errors.New("bucket names must begin and end with a letter or digit")
	}
	if strings.Contains(name, "..") {
		return errors.New("bucket names must not contain two adjacent periods")
	}
	if addr, err := netip.ParseAddr(name); err == nil && addr.Is4() {
		return errors.New("bucket names must not be formatted as an IP address")
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return fmt.Errorf("bucket names must not start with %q", p)
		}
	}
	for _, suf := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, suf) {
			return fmt.Errorf("bucket names must not end with %q", suf)
		}
	}
	return nil
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// CreateBucket creates a bucket owned by project. A taken name is a *BucketExistsError.
func (s *Store) CreateBucket(name, project, region string) (BucketInfo, error) {
	return s.CreateBucketWith(BucketInfo{Name: name, Project: project, Region: region})
}

// CreateBucketWith creates the bucket info describes (its Created time is set here), with
// its ACL and other settings in place from the start. A taken name is a *BucketExistsError.
func (s *Store) CreateBucketWith(info BucketInfo) (BucketInfo, error) {
	name := info.Name
	if err := ValidBucketName(name); err != nil {
		return BucketInfo{}, fmt.Errorf("bucket %q: %w", name, err)
	}
	info.Created = s.opts.Now().UTC()
	if existing, err := s.Bucket(name); err == nil {
		return BucketInfo{}, &BucketExistsError{Bucket: name, Owner: existing.Project}
	}
	data, err := json.Marshal(info)
	if err != nil {
		return BucketInfo{}, fmt.Errorf("encoding bucket %q: %w", name, err)
	}
	// The disk makes the bucket whole or not at all, and decides races.
	files := map[string][]byte{bucketFile: data, "objects": nil, "uploads": nil}
	err = s.disk.createDir(s.bucketDir(name), []string{bucketFile, "objects", "uploads"}, files)
	if errors.Is(err, os.ErrExist) {
		existing, lerr := s.Bucket(name)
		if lerr != nil {
			return BucketInfo{}, fmt.Errorf("creating bucket %q: %w", name, err)
		}
		return BucketInfo{}, &BucketExistsError{Bucket: name, Owner: existing.Project}
	}
	if err != nil {
		return BucketInfo{}, fmt.Errorf("creating bucket %q: %w", name, err)
	}
	return info, nil
}

// Bucket returns a bucket's description, or ErrNoSuchBucket.
func (s *Store) Bucket(name string) (BucketInfo, error) {
	if ValidBucketName(name) != nil {
		return BucketInfo{}, ErrNoSuchBucket
	}
	data, _, err := s.disk.readFile(filepath.Join(s.bucketDir(name), bucketFile))
	if errors.Is(err, os.ErrNotExist) {
		return BucketInfo{}, ErrNoSuchBucket
	}
	if err != nil {
		return BucketInfo{}, fmt.Errorf("reading bucket %q: %w", name, err)
	}
	var info BucketInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return BucketInfo{}, fmt.Errorf("decoding bucket %q: %w", name, err)
	}
	return info, nil
}

// ListBuckets returns every bucket, sorted by name.
func (s *Store) ListBuckets() ([]BucketInfo, error) {
	names, err := s.disk.readNames(s.bucketsDir())
	if err != nil {
		return nil, fmt.Errorf("listing buckets: %w", err)
	}
	sort.Strings(names)
	out := make([]BucketInfo, 0, len(names))
	for _, n := range names {
		info, err := s.Bucket(n)
		if errors.Is(err, ErrNoSuchBucket) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// DeleteBucket removes an empty bucket and its unfinished multipart uploads.
func (s *Store) DeleteBucket(name string) error {
	if _, err := s.Bucket(name); err != nil {
		return err
	}
	lock := s.bucketLock(name)
	lock.Lock()
	defer lock.Unlock()
	empty, err := s.isEmpty(name)
	if err != nil {
		return err
	}
	if !empty {
		return ErrBucketNotEmpty
	}
	// The bucket vanishes at once; its files go afterwards (or at the next Open, if this
	// process dies first).
	err = s.disk.removeDir(s.bucketDir(name), bucketFile)
	if errors.Is(err, os.ErrNotExist) {
		return ErrNoSuchBucket
	}
	if err != nil {
		return fmt.Errorf("deleting bucket %q: %w", name, err)
	}
	return nil
}

// isEmpty reports whether a bucket holds no object and no version (empty directories left by
// crashes do not count). A key with older versions always has a latest one, if only a delete
// marker, so the latest versions tell.
func (s *Store) isEmpty(name string) (bool, error) {
	found, err := s.hasObjectAfter(s.objectsDir(name), "", "", "", false)
	return !found, err
}
