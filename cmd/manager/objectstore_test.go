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
	"flag"
	"strings"
	"testing"
)

func parseObjectStoreFlags(t *testing.T, args ...string) *objectStoreFlags {
	t.Helper()
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	var f objectStoreFlags
	f.bind(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return &f
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestObjectStoreBackendFlags(t *testing.T) {
	creds := env(map[string]string{envS3AccessKey: "AK", envS3SecretKey: "SK"})
	if cfg, err := parseObjectStoreFlags(t).s3Config(creds); err != nil || cfg != nil {
		t.Fatalf("default backend = %+v, %v; want fs", cfg, err)
	}
	cfg, err := parseObjectStoreFlags(t, "--object-store-backend=s3", "--object-store-s3-endpoint=https://rgw.example:8443",
		"--object-store-s3-bucket=pinet", "--object-store-s3-prefix=cloud-a/", "--object-store-s3-region=eu-1").s3Config(creds)
	if err != nil || cfg.Endpoint != "rgw.example:8443" || !cfg.Secure || cfg.Bucket != "pinet" || cfg.Prefix != "cloud-a/" ||
		cfg.Region != "eu-1" || cfg.AccessKey != "AK" || cfg.SecretKey != "SK" {
		t.Fatalf("s3 backend = %+v, %v", cfg, err)
	}
	// AWS's variable names serve when PiNet's are unset.
	aws := env(map[string]string{"AWS_ACCESS_KEY_ID": "AWSAK", "AWS_SECRET_ACCESS_KEY": "AWSSK"})
	cfg, err = parseObjectStoreFlags(t, "--object-store-backend=s3", "--object-store-s3-endpoint=http://minio:9000", "--object-store-s3-bucket=b").s3Config(aws)
	if err != nil || cfg.Secure || cfg.Endpoint != "minio:9000" || cfg.AccessKey != "AWSAK" || cfg.SecretKey != "AWSSK" {
		t.Fatalf("s3 backend with AWS variables = %+v, %v", cfg, err)
	}
}

func TestObjectStoreBackendFlagsRefused(t *testing.T) {
	creds := env(map[string]string{envS3AccessKey: "AK", envS3SecretKey: "SK"})
	s3 := []string{"--object-store-backend=s3", "--object-store-s3-bucket=b"}
	for name, c := range map[string]struct {
		args []string
		env  func(string) string
		want string
	}{
		"unknown backend":     {[]string{"--object-store-backend=ceph"}, creds, "want fs or s3"},
		"s3 flags with fs":    {[]string{"--object-store-s3-bucket=b"}, creds, "need --object-store-backend=s3"},
		"no endpoint":         {s3, creds, "--object-store-s3-endpoint"},
		"endpoint no scheme":  {append(s3, "--object-store-s3-endpoint=rgw:80"), creds, "want http(s)://host[:port]"},
		"endpoint with path":  {append(s3, "--object-store-s3-endpoint=http://rgw/bucket"), creds, "want http(s)://host[:port]"},
		"endpoint with user":  {append(s3, "--object-store-s3-endpoint=http://ak:sk@rgw"), creds, "want http(s)://host[:port]"},
		"no bucket":           {[]string{"--object-store-backend=s3", "--object-store-s3-endpoint=http://rgw"}, creds, "--object-store-s3-bucket is required"},
		"absolute prefix":     {append(s3, "--object-store-s3-endpoint=http://rgw", "--object-store-s3-prefix=/x"), creds, "must not start with a slash"},
		"no credentials":      {append(s3, "--object-store-s3-endpoint=http://rgw"), env(nil), "needs credentials"},
		"half of credentials": {append(s3, "--object-store-s3-endpoint=http://rgw"), env(map[string]string{envS3AccessKey: "AK"}), "needs credentials"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := parseObjectStoreFlags(t, c.args...).s3Config(c.env)
			if err == nil || !strings.Contains(err.Error(), c.want) || cfg != nil {
				t.Fatalf("= %+v, %v; want an error saying %q", cfg, err, c.want)
			}
		})
	}
}
