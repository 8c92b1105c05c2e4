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

package imagecache

import (
	"context"
	"fmt"
	"io"

	"github.com/minio/minio-go/v7"
)

// MinioSource reads images from an S3 store with minio-go.
type MinioSource struct {
	Client *minio.Client
}

// Open streams bucket/key.
func (s MinioSource) Open(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	obj, err := s.Client.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("getting %s/%s: %w", bucket, key, err)
	}
	// GetObject is lazy: surface a missing object now rather than mid-copy.
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		return nil, fmt.Errorf("getting %s/%s: %w", bucket, key, err)
	}
	return obj, nil
}
