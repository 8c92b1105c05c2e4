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

package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strings"

	"pinet.io/pinet/objectstore/fsstore"
)

// The environment variables the s3 backend's credentials come from (in a cluster, from a
// Secret through secretKeyRef); AWS's own names are read when these are unset.
const (
	envS3AccessKey = "PINET_OBJECT_STORE_S3_ACCESS_KEY_ID"
	envS3SecretKey = "PINET_OBJECT_STORE_S3_SECRET_ACCESS_KEY"
)

// objectStoreFlags chooses where the object store keeps buckets and objects.
type objectStoreFlags struct {
	backend, endpoint, bucket, prefix, region string
}

func (f *objectStoreFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.backend, "object-store-backend", "fs",
		"Where the object store keeps objects: fs (--s3-data-dir) or s3 (a bucket of an S3-compatible cluster, shared by replicas).")
	fs.StringVar(&f.endpoint, "object-store-s3-endpoint", "", "URL of the S3-compatible cluster of the s3 backend, such as https://rgw.example:443.")
	fs.StringVar(&f.bucket, "object-store-s3-bucket", "", "Existing bucket of the s3 backend.")
	fs.StringVar(&f.prefix, "object-store-s3-prefix", "", "Prefix of every object name the s3 backend writes, such as pinet/.")
	fs.StringVar(&f.region, "object-store-s3-region", "", "Region of the s3 backend's bucket (default: asked of the cluster).")
}

// s3Config is the s3 backend the flags describe, or nil for fs. Credentials come from
// getenv: envS3AccessKey and envS3SecretKey, else AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
func (f *objectStoreFlags) s3Config(getenv func(string) string) (*fsstore.S3Config, error) {
	switch f.backend {
	case "fs":
		if f.endpoint != "" || f.bucket != "" || f.prefix != "" || f.region != "" {
			return nil, errors.New("--object-store-s3-* flags need --object-store-backend=s3")
		}
		return nil, nil
	case "s3":
	default:
		return nil, fmt.Errorf("--object-store-backend=%q: want fs or s3", f.backend)
	}
	u, err := url.Parse(f.endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("--object-store-s3-endpoint=%q: want http(s)://host[:port]", f.endpoint)
	}
	if f.bucket == "" {
		return nil, errors.New("--object-store-s3-bucket is required with --object-store-backend=s3")
	}
	if strings.HasPrefix(f.prefix, "/") {
		return nil, fmt.Errorf("--object-store-s3-prefix=%q must not start with a slash", f.prefix)
	}
	ak, sk := getenv(envS3AccessKey), getenv(envS3SecretKey)
	if ak == "" && sk == "" {
		ak, sk = getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	}
	if ak == "" || sk == "" {
		return nil, fmt.Errorf("the s3 backend needs credentials: set %s and %s (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)", envS3AccessKey, envS3SecretKey)
	}
	return &fsstore.S3Config{
		Endpoint: u.Host, Secure: u.Scheme == "https", Region: f.region,
		Bucket: f.bucket, Prefix: f.prefix, AccessKey: ak, SecretKey: sk,
	}, nil
}
