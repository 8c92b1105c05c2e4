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

package testcloud

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/minio/minio-go/v7"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"pinet.io/pinet/internal/bundle"
	"pinet.io/pinet/internal/cloudca"
	usercreds "pinet.io/pinet/internal/credentials"
	"pinet.io/pinet/internal/testenv"
)

// Bundle is an image bundle made and uploaded as a user would with a bundling tool.
type Bundle struct {
	// Location is what RegisterImage takes: bucket/key of the manifest.
	Location string
	// Dir holds the bundle's files; Parts are the parts' object keys in Bucket, in order.
	Dir, Bucket string
	Parts       []string
}

// UploadBundle bundles data (an image file named name, of bundle type typ) with the user's
// certificate and key for this cloud and project, and uploads it under img/ in the bucket (made
// if need be) as the user.
func (c *Cloud) UploadBundle(t testing.TB, creds Credentials, userName, project, bucket, name, typ string, data []byte) Bundle {
	t.Helper()
	imgPath := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(imgPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return c.UploadBundleFile(t, creds, userName, project, bucket, imgPath, typ, 64<<10)
}

// UploadBundleFile is UploadBundle of the image file at imgPath, in parts of partSize bytes,
// streamed from disk all the way (a large image is never held in memory).
func (c *Cloud) UploadBundleFile(t testing.TB, creds Credentials, userName, project, bucket, imgPath, typ string, partSize int64) Bundle {
	t.Helper()
	ctx := context.Background()
	secret := func(name string) *corev1.Secret {
		sec := &corev1.Secret{}
		if err := c.Env.Client.Get(ctx, client.ObjectKey{Namespace: testenv.SystemNamespace, Name: name}, sec); err != nil {
			t.Fatal(err)
		}
		return sec
	}
	userSec, caSec := secret(usercreds.SecretName(userName)), secret(cloudca.SecretName)
	cert, err := cloudca.ParseCertificate(userSec.Data[usercreds.SecretCertKey])
	if err != nil {
		t.Fatal(err)
	}
	key, err := cloudca.ParsePrivateKey(userSec.Data[usercreds.SecretCertKeyKey])
	if err != nil {
		t.Fatal(err)
	}
	cloudCert, err := cloudca.ParseCertificate(caSec.Data[corev1.TLSCertKey])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	manifest, parts, err := bundle.Create(bundle.Params{ImagePath: imgPath, Type: typ, AccountID: project,
		UserCert: cert, UserKey: key, CloudCert: cloudCert, PartSize: partSize}, out)
	if err != nil {
		t.Fatal(err)
	}
	mc := c.S3(t, creds)
	if ok, err := mc.BucketExists(ctx, bucket); err != nil || !ok {
		if err := mc.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
			t.Fatalf("making bucket %s: %v", bucket, err)
		}
	}
	b := Bundle{Location: bucket + "/img/" + filepath.Base(manifest), Dir: out, Bucket: bucket}
	for _, f := range append(parts, manifest) {
		key := "img/" + filepath.Base(f)
		if _, err := mc.FPutObject(ctx, bucket, key, f, minio.PutObjectOptions{}); err != nil {
			t.Fatalf("uploading %s: %v", key, err)
		}
		if f != manifest {
			b.Parts = append(b.Parts, key)
		}
	}
	return b
}
