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

// Package s3client gives PiNet's own components (the image controller, node agents) a minio-go
// client for the object store, signed with the system user's access key.
package s3client

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/credentials"
)

// SystemUser is the admin user PiNet's components act as in the object store.
const SystemUser = "pinet-system"

// ImageStoreBucket is the system bucket the image controller keeps verified images in.
const ImageStoreBucket = "pinet-image-store"

// NodeUserPrefix starts the name of each node's own user (NodeUser), the identity its node agent
// downloads images and copies snapshots as. The object store lets such a user get and head only
// the stored objects of the images labelled for its node, and get, head and put only the snapshot
// objects of its node's snapshots (and get those its node's volumes are restored from); the node
// agents' role names each node user's credentials Secret, and the node authorizer lets a node get
// only its own.
const NodeUserPrefix = "pinet-node-"

// NodeUser is the object store user of node.
func NodeUser(node string) string { return NodeUserPrefix + node }

// NodeOfUser returns the node whose user name is, if it is one.
func NodeOfUser(name string) (string, bool) {
	node, ok := strings.CutPrefix(name, NodeUserPrefix)
	return node, ok && node != ""
}

// SnapshotBucket is the system bucket snapshots are kept in, under "<project>/<snap-id>/".
const SnapshotBucket = "pinet-snapshots"

// Config says where the store is and whose key to use.
type Config struct {
	// Endpoint is the store's URL (http://127.0.0.1:3333).
	Endpoint string
	// Region is the store's region name.
	Region string
	// SystemNamespace holds the user's credentials Secret.
	SystemNamespace string
	// User is the system user to act as: SystemUser (the default, an admin acting in the system
	// namespace) or a NodeUser (acting in no project).
	User string
}

// New builds a client from the system user's current access key.
func New(ctx context.Context, r client.Reader, cfg Config) (*minio.Client, error) {
	name := cfg.User
	if name == "" {
		name = SystemUser
	}
	sec := &corev1.Secret{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: cfg.SystemNamespace, Name: credentials.SecretName(name)}, sec); err != nil {
		return nil, fmt.Errorf("reading the credentials of system user %s: %w", name, err)
	}
	keys, err := credentials.ReadKeys(sec)
	if err != nil {
		return nil, err
	}
	var id, secret string
	for _, k := range keys {
		if k.State == string(cloudv1.AccessKeyActive) {
			id, secret = k.AccessKeyID, k.SecretAccessKey
		}
	}
	if id == "" {
		return nil, fmt.Errorf("system user %s has no active access key yet", name)
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("object store endpoint %q: %w", cfg.Endpoint, err)
	}
	// The system user acts in the system namespace: buckets it makes belong to no project, so only
	// admins reach them. A node's user acts in none.
	if name == SystemUser {
		id += ":" + cfg.SystemNamespace
	}
	return minio.New(u.Host, &minio.Options{
		Creds:  miniocreds.NewStaticV4(id, secret, ""),
		Secure: u.Scheme == "https",
		Region: cfg.Region,
	})
}

// EnsureSystemBucket makes bucket as the system (mc must be New's client of SystemUser), or
// finds it made by the system before. A bucket of that name that belongs to anyone else is an
// error, never used: PiNet would be writing every project's images or snapshots into it. So it
// asks to create the bucket each time rather than asking whether it exists, which an admin is
// told of any bucket, whoever owns it.
func EnsureSystemBucket(ctx context.Context, mc *minio.Client, bucket string) error {
	err := mc.MakeBucket(ctx, bucket, minio.MakeBucketOptions{})
	switch minio.ToErrorResponse(err).Code {
	case "":
		if err != nil {
			return fmt.Errorf("creating system bucket %s: %w", bucket, err)
		}
		return nil
	case "BucketAlreadyOwnedByYou":
		return nil
	case "BucketAlreadyExists":
		return fmt.Errorf("system bucket %s belongs to another project; the cloud will not store into it: %w", bucket, err)
	default:
		return fmt.Errorf("creating system bucket %s: %w", bucket, err)
	}
}
