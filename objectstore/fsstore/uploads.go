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
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// UploadQuery selects the uploads of a listing.
type UploadQuery struct {
	Prefix    string
	Delimiter string
	// KeyMarker and UploadIDMarker resume a listing after the upload they name; with only
	// KeyMarker, after every upload of that key.
	KeyMarker      string
	UploadIDMarker string
	MaxUploads     int
}

// UploadList is one page of uploads in progress, ordered by key and then initiation time.
type UploadList struct {
	Uploads            []UploadInfo
	CommonPrefixes     []string
	IsTruncated        bool
	NextKeyMarker      string
	NextUploadIDMarker string
}

// ListUploads lists a bucket's multipart uploads in progress. A bucket has few of them, so they
// are read whole.
func (s *Store) ListUploads(bucket string, q UploadQuery) (UploadList, error) {
	if _, err := s.Bucket(bucket); err != nil {
		return UploadList{}, err
	}
	names, err := s.disk.readNames(s.uploadsDir(bucket))
	if err != nil {
		return UploadList{}, fmt.Errorf("listing uploads of %q: %w", bucket, err)
	}
	var all []UploadInfo
	for _, id := range names {
		info, err := s.readUpload(bucket, id)
		if errors.Is(err, ErrNoSuchUpload) || errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return UploadList{}, err
		}
		if strings.HasPrefix(info.Key, q.Prefix) {
			all = append(all, info)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		if !a.Initiated.Equal(b.Initiated) {
			return a.Initiated.Before(b.Initiated)
		}
		return a.ID < b.ID
	})
	return pageUploads(skipUploads(all, q), q), nil
}

// skipUploads drops the uploads up to and including the markers.
func skipUploads(all []UploadInfo, q UploadQuery) []UploadInfo {
	if q.KeyMarker == "" {
		return all
	}
	i := 0
	for i < len(all) && all[i].Key < q.KeyMarker {
		i++
	}
	if q.UploadIDMarker == "" {
		for i < len(all) && all[i].Key == q.KeyMarker {
			i++
		}
		return all[i:]
	}
	for j := i; j < len(all) && all[j].Key == q.KeyMarker; j++ {
		if all[j].ID == q.UploadIDMarker {
			return all[j+1:]
		}
	}
	return all[i:]
}

func pageUploads(rest []UploadInfo, q UploadQuery) UploadList {
	var out UploadList
	for _, u := range rest {
		cp := ""
		if q.Delimiter != "" {
			if i := strings.Index(u.Key[len(q.Prefix):], q.Delimiter); i >= 0 {
				cp = u.Key[:len(q.Prefix)+i+len(q.Delimiter)]
			}
		}
		if cp != "" && (cp == q.KeyMarker || len(out.CommonPrefixes) > 0 && out.CommonPrefixes[len(out.CommonPrefixes)-1] == cp) {
			continue // returned already, on this page or the one before
		}
		if len(out.Uploads)+len(out.CommonPrefixes) == q.MaxUploads {
			out.IsTruncated = true
			return out
		}
		if cp != "" {
			out.CommonPrefixes = append(out.CommonPrefixes, cp)
			out.NextKeyMarker, out.NextUploadIDMarker = cp, ""
			continue
		}
		out.Uploads = append(out.Uploads, u)
		out.NextKeyMarker, out.NextUploadIDMarker = u.Key, u.ID
	}
	return out
}
