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
	"encoding/base64"
	"net/url"
	"strconv"

	"pinet.io/pinet/objectstore/fsstore"
)

// maxListBuckets is S3's bound on max-buckets, and the page size without one.
const maxListBuckets = 10000

// bucketPage selects a page of ListBuckets: the buckets named with prefix after after, at
// most max of them.
type bucketPage struct {
	prefix, after string
	max           int
}

// parseBucketPage reads ListBuckets' prefix, max-buckets and continuation-token (an empty
// token is no token).
func parseBucketPage(query url.Values) (bucketPage, error) {
	page := bucketPage{prefix: query.Get("prefix"), max: maxListBuckets}
	if v := query.Get("max-buckets"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListBuckets {
			return bucketPage{}, s3Error(CodeInvalidArgument, "max-buckets must be an integer between 1 and 10000.")
		}
		page.max = n
	}
	if token := query.Get("continuation-token"); token != "" {
		// The decoder skips \r and \n even when strict: only the token bucketToken makes is one.
		after, err := base64.RawURLEncoding.Strict().DecodeString(token)
		if err != nil || bucketToken(string(after)) != token || fsstore.ValidBucketName(string(after)) != nil {
			return bucketPage{}, s3Error(CodeInvalidArgument, "The continuation token provided is incorrect.")
		}
		page.after = string(after)
	}
	return page, nil
}

// bucketToken is the continuation token that resumes a listing after the bucket name.
func bucketToken(name string) string { return base64.RawURLEncoding.EncodeToString([]byte(name)) }
