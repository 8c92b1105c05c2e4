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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ACL is an access control list as the store keeps it; package objectstore gives it meaning.
type ACL struct {
	Owner  string  `json:"owner"`
	Grants []Grant `json:"grants,omitempty"`
}

// Grant gives a grantee one permission.
type Grant struct {
	// Type is "CanonicalUser" (ID set) or "Group" (URI set).
	Type       string `json:"type"`
	ID         string `json:"id,omitempty"`
	URI        string `json:"uri,omitempty"`
	Permission string `json:"permission"`
}

// PublicAccessBlock is a bucket's Block Public Access configuration.
type PublicAccessBlock struct {
	BlockPublicAcls       bool `json:"blockPublicAcls"`
	IgnorePublicAcls      bool `json:"ignorePublicAcls"`
	BlockPublicPolicy     bool `json:"blockPublicPolicy"`
	RestrictPublicBuckets bool `json:"restrictPublicBuckets"`
}

// UpdateBucket changes a bucket's description with fn and stores it atomically (bucket.json
// is replaced by a rename, so a crash leaves the old description or the new one). fn must
// not change Name, Project, Region or Created. If fn fails, nothing changes.
func (s *Store) UpdateBucket(bucket string, fn func(*BucketInfo) error) (BucketInfo, error) {
	lock := s.bucketLock(bucket)
	lock.Lock()
	defer lock.Unlock()
	// Store replicas sharing a disk serialise through a precondition on bucket.json: one that
	// lost a race applies fn again to the new description.
	for attempt := 0; ; attempt++ {
		info, err := s.tryUpdateBucket(bucket, fn)
		if !errors.Is(err, errChanged) || attempt == raceAttempts {
			return info, err
		}
	}
}

func (s *Store) tryUpdateBucket(bucket string, fn func(*BucketInfo) error) (BucketInfo, error) {
	if ValidBucketName(bucket) != nil {
		return BucketInfo{}, ErrNoSuchBucket
	}
	path := filepath.Join(s.bucketDir(bucket), bucketFile)
	data, tag, err := s.disk.readFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return BucketInfo{}, ErrNoSuchBucket
	}
	if err != nil {
		return BucketInfo{}, fmt.Errorf("reading bucket %q: %w", bucket, err)
	}
	var info BucketInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return BucketInfo{}, fmt.Errorf("decoding bucket %q: %w", bucket, err)
	}
	if err := fn(&info); err != nil {
		return BucketInfo{}, err
	}
	data, err = json.Marshal(info)
	if err != nil {
		return BucketInfo{}, fmt.Errorf("encoding bucket %q: %w", bucket, err)
	}
	if err := s.disk.writeFile(path, data, ifUnchanged(tag, false)); err != nil {
		return BucketInfo{}, err
	}
	return info, nil
}

// An object's ACL is first the one written with it (ObjectMeta.ACL, in the object file's
// trailer, committed with the data). PutObjectAcl records a replacement beside it, in
// acls/<sha256 of the key>/<version name>, naming the version's stamp, ETag and modification
// time: a replacement left behind by an overwritten or deleted version names another
// version and is ignored, so a new object never inherits an old one's grants.
type aclRecord struct {
	Stamp    int64     `json:"stamp"`
	ETag     string    `json:"etag"`
	Modified time.Time `json:"modified"`
	ACL      ACL       `json:"acl"`
}

func (s *Store) aclPath(bucket, key, id string) (dir, file string) {
	sum := sha256.Sum256([]byte(key))
	dir = filepath.Join(s.bucketDir(bucket), "acls", hex.EncodeToString(sum[:]))
	return dir, filepath.Join(dir, VersionName(id))
}

// openACLTarget opens version id of key ("" for the latest); a delete marker is ErrNoSuchKey
// when latest, and ErrNoSuchVersion's kin when named (a *DeleteMarkerError either way).
func (s *Store) openACLTarget(bucket, key, id string) (ObjectInfo, error) {
	var (
		o   *Object
		err error
	)
	if id == "" {
		o, err = s.OpenObject(bucket, key)
	} else {
		o, err = s.OpenVersion(bucket, key, id)
	}
	if err != nil {
		return ObjectInfo{}, err
	}
	defer o.Close()
	if o.Info.DeleteMarker {
		return ObjectInfo{}, &DeleteMarkerError{Marker: o.Info}
	}
	return o.Info, nil
}

// ObjectACL returns the ACL of version id of key ("" for the latest; nil when it was written
// without one) and the version's description.
func (s *Store) ObjectACL(bucket, key, id string) (*ACL, ObjectInfo, error) {
	info, err := s.openACLTarget(bucket, key, id)
	if err != nil {
		return nil, ObjectInfo{}, err
	}
	acl, err := s.currentACL(bucket, key, info)
	return acl, info, err
}

// ACLOf returns the ACL of the version info describes (nil when it has none).
func (s *Store) ACLOf(bucket string, info ObjectInfo) (*ACL, error) {
	return s.currentACL(bucket, info.Key, info)
}

func (s *Store) currentACL(bucket, key string, info ObjectInfo) (*ACL, error) {
	_, file := s.aclPath(bucket, key, info.VersionID)
	data, _, err := s.disk.readFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return info.Meta.ACL, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the ACL of %q: %w", key, err)
	}
	var rec aclRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("decoding the ACL of %q: %w", key, err)
	}
	if rec.Stamp != info.Stamp || rec.ETag != info.ETag || !rec.Modified.Equal(info.Modified) {
		return info.Meta.ACL, nil
	}
	return &rec.ACL, nil
}

// SetObjectACL replaces the ACL of version id of key ("" for the latest) and returns the
// version's description. The replacement is written atomically.
func (s *Store) SetObjectACL(bucket, key, id string, acl ACL) (ObjectInfo, error) {
	lock := s.bucketLock(bucket)
	lock.RLock()
	defer lock.RUnlock()
	kl := s.keyLock(bucket, key)
	kl.Lock()
	defer kl.Unlock()
	info, err := s.openACLTarget(bucket, key, id)
	if err != nil {
		return ObjectInfo{}, err
	}
	data, err := json.Marshal(aclRecord{Stamp: info.Stamp, ETag: info.ETag, Modified: info.Modified, ACL: acl})
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("encoding the ACL of %q: %w", key, err)
	}
	dir, file := s.aclPath(bucket, key, info.VersionID)
	if err := s.disk.mkdir(s.bucketDir(bucket), filepath.Dir(dir), ErrNoSuchBucket); err != nil {
		return ObjectInfo{}, fmt.Errorf("storing the ACL of %q: %w", key, err)
	}
	if err := s.disk.mkdir(filepath.Dir(dir), dir, ErrNoSuchBucket); err != nil {
		return ObjectInfo{}, fmt.Errorf("storing the ACL of %q: %w", key, err)
	}
	if err := s.writeFileAtomic(file, data); err != nil {
		return ObjectInfo{}, err
	}
	return info, nil
}
