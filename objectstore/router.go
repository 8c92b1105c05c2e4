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
	"net/http"
	"net/url"
	"strings"

	"pinet.io/pinet/objectstore/fsstore"
)

// Operation names an S3 operation, as the API model spells it.
type Operation string

// The operations the store serves.
const (
	OpListBuckets             Operation = "ListBuckets"
	OpCreateBucket            Operation = "CreateBucket"
	OpDeleteBucket            Operation = "DeleteBucket"
	OpHeadBucket              Operation = "HeadBucket"
	OpGetBucketLocation       Operation = "GetBucketLocation"
	OpListObjects             Operation = "ListObjects"
	OpListObjectsV2           Operation = "ListObjectsV2"
	OpListMultipartUploads    Operation = "ListMultipartUploads"
	OpDeleteObjects           Operation = "DeleteObjects"
	OpPutObject               Operation = "PutObject"
	OpCopyObject              Operation = "CopyObject"
	OpGetObject               Operation = "GetObject"
	OpHeadObject              Operation = "HeadObject"
	OpDeleteObject            Operation = "DeleteObject"
	OpCreateMultipartUpload   Operation = "CreateMultipartUpload"
	OpUploadPart              Operation = "UploadPart"
	OpUploadPartCopy          Operation = "UploadPartCopy"
	OpCompleteMultipartUpload Operation = "CompleteMultipartUpload"
	OpAbortMultipartUpload    Operation = "AbortMultipartUpload"
	OpListParts               Operation = "ListParts"
	OpGetBucketVersioning     Operation = "GetBucketVersioning"
	OpPutBucketVersioning     Operation = "PutBucketVersioning"
	OpListObjectVersions      Operation = "ListObjectVersions"
	OpGetBucketACL            Operation = "GetBucketAcl"
	OpPutBucketACL            Operation = "PutBucketAcl"
	OpGetObjectACL            Operation = "GetObjectAcl"
	OpPutObjectACL            Operation = "PutObjectAcl"
	OpGetBucketPolicy         Operation = "GetBucketPolicy"
	OpPutBucketPolicy         Operation = "PutBucketPolicy"
	OpDeleteBucketPolicy      Operation = "DeleteBucketPolicy"
	OpGetPublicAccessBlock    Operation = "GetPublicAccessBlock"
	OpPutPublicAccessBlock    Operation = "PutPublicAccessBlock"
	OpDeletePublicAccessBlock Operation = "DeletePublicAccessBlock"
	OpGetObjectAttributes     Operation = "GetObjectAttributes"
)

// target is what a request asks for: an operation on a bucket and key.
type target struct {
	Op     Operation
	Bucket string
	Key    string
	// Version is the version a copy source names, as S3 spells it; "" for the latest.
	Version string
}

// Subresources of S3 the store does not have. A request naming one gets NotImplemented rather
// than being mistaken for a plain bucket or object request.
var (
	bucketSubresources = []string{
		"accelerate", "analytics", "intelligent-tiering", "inventory",
		"logging", "metadataTable", "metrics", "notification", "object-lock",
		"ownershipControls", "policyStatus", "replication",
		"requestPayment", "session", "website",
	}
	objectSubresources = []string{
		"legal-hold", "renameObject", "restore", "retention", "select",
		"torrent",
	}
)

// routeRequest decides which operation a path-style request is. path is the request's decoded
// URL path; copySource says whether the x-amz-copy-source header is present.
func routeRequest(method, path string, query url.Values, copySource bool) (target, error) {
	if !strings.HasPrefix(path, "/") {
		return target{}, s3Error(CodeInvalidRequest, "The request path must begin with a slash.")
	}
	bucket, key, _ := strings.Cut(path[1:], "/")
	if bucket == "" {
		if method == http.MethodGet {
			return target{Op: OpListBuckets}, nil
		}
		return target{}, s3Error(CodeMethodNotAllowed)
	}
	if err := fsstore.ValidBucketName(bucket); err != nil {
		return target{}, s3Error(CodeInvalidBucketName, "The specified bucket is not valid: "+err.Error())
	}
	if method == http.MethodOptions {
		return target{Op: OpPreflight, Bucket: bucket, Key: key}, nil
	}
	var (
		op  Operation
		err error
	)
	if key == "" {
		op, err = bucketOperation(method, query)
	} else {
		op, err = objectOperation(method, query, copySource)
	}
	if err != nil {
		return target{}, err
	}
	return target{Op: op, Bucket: bucket, Key: key}, nil
}

func bucketOperation(method string, q url.Values) (Operation, error) {
	if sub := firstPresent(q, bucketSubresources); sub != "" {
		return "", s3Error(CodeNotImplemented, "The bucket subresource "+sub+" is not implemented.")
	}
	if op, ok, err := versioningOperation(method, q); ok {
		return op, err
	}
	if op, ok, err := bucketAccessOperation(method, q); ok {
		return op, err
	}
	if op, ok, err := taggingOperation(method, q, false); ok {
		return op, err
	}
	if op, ok, err := corsOperation(method, q); ok {
		return op, err
	}
	if op, ok, err := lifecycleOperation(method, q); ok {
		return op, err
	}
	if op, ok, err := encryptionOperation(method, q); ok {
		return op, err
	}
	switch method {
	case http.MethodGet:
		switch {
		case q.Has("location"):
			return OpGetBucketLocation, nil
		case q.Has("uploads"):
			return OpListMultipartUploads, nil
		case q.Has("list-type"):
			if q.Get("list-type") != "2" {
				return "", s3Error(CodeInvalidArgument, "Invalid list-type: only 2 is supported.")
			}
			return OpListObjectsV2, nil
		}
		return OpListObjects, nil
	case http.MethodPut:
		return OpCreateBucket, nil
	case http.MethodDelete:
		return OpDeleteBucket, nil
	case http.MethodHead:
		return OpHeadBucket, nil
	case http.MethodPost:
		if q.Has("delete") {
			return OpDeleteObjects, nil
		}
		return "", s3Error(CodeNotImplemented, "POST object uploads from browser forms are not implemented.")
	}
	return "", s3Error(CodeMethodNotAllowed)
}

func objectOperation(method string, q url.Values, copySource bool) (Operation, error) {
	if sub := firstPresent(q, objectSubresources); sub != "" {
		return "", s3Error(CodeNotImplemented, "The object subresource "+sub+" is not implemented.")
	}
	if op, ok, err := taggingOperation(method, q, true); ok {
		return op, err
	}
	if q.Has("acl") {
		switch method {
		case http.MethodGet:
			return OpGetObjectACL, nil
		case http.MethodPut:
			return OpPutObjectACL, nil
		}
		return "", s3Error(CodeMethodNotAllowed)
	}
	if q.Has("attributes") && method != http.MethodGet {
		return "", s3Error(CodeMethodNotAllowed)
	}
	upload, part := q.Has("uploadId"), q.Has("partNumber")
	switch method {
	case http.MethodGet, http.MethodHead:
		if q.Has("attributes") {
			return OpGetObjectAttributes, nil
		}
		if method == http.MethodHead {
			return OpHeadObject, nil
		}
		if upload {
			return OpListParts, nil
		}
		return OpGetObject, nil
	case http.MethodPut:
		switch {
		case upload && part && copySource:
			return OpUploadPartCopy, nil
		case upload && part:
			return OpUploadPart, nil
		case upload || part:
			return "", s3Error(CodeInvalidArgument, "Uploading a part needs both uploadId and partNumber.")
		case copySource:
			return OpCopyObject, nil
		}
		return OpPutObject, nil
	case http.MethodDelete:
		if upload {
			return OpAbortMultipartUpload, nil
		}
		return OpDeleteObject, nil
	case http.MethodPost:
		switch {
		case q.Has("uploads"):
			return OpCreateMultipartUpload, nil
		case upload:
			return OpCompleteMultipartUpload, nil
		}
	}
	return "", s3Error(CodeMethodNotAllowed)
}

// versioningOperation routes the bucket subresources versioning and versions; ok is false for
// a request naming neither.
func versioningOperation(method string, q url.Values) (op Operation, ok bool, err error) {
	switch {
	case q.Has("versioning"):
		switch method {
		case http.MethodGet:
			return OpGetBucketVersioning, true, nil
		case http.MethodPut:
			return OpPutBucketVersioning, true, nil
		}
	case q.Has("versions"):
		if method == http.MethodGet {
			return OpListObjectVersions, true, nil
		}
	default:
		return "", false, nil
	}
	return "", true, s3Error(CodeMethodNotAllowed)
}

// bucketAccessOperation routes the bucket subresources acl, policy and publicAccessBlock; ok
// is false for a request naming none.
func bucketAccessOperation(method string, q url.Values) (op Operation, ok bool, err error) {
	var get, put, del Operation
	switch {
	case q.Has("acl"):
		get, put = OpGetBucketACL, OpPutBucketACL
	case q.Has("policy"):
		get, put, del = OpGetBucketPolicy, OpPutBucketPolicy, OpDeleteBucketPolicy
	case q.Has("publicAccessBlock"):
		get, put, del = OpGetPublicAccessBlock, OpPutPublicAccessBlock, OpDeletePublicAccessBlock
	default:
		return "", false, nil
	}
	switch {
	case method == http.MethodGet:
		return get, true, nil
	case method == http.MethodPut:
		return put, true, nil
	case method == http.MethodDelete && del != "":
		return del, true, nil
	}
	return "", true, s3Error(CodeMethodNotAllowed)
}

func firstPresent(q url.Values, names []string) string {
	for _, n := range names {
		if q.Has(n) {
			return n
		}
	}
	return ""
}

// verb is the authorization verb an operation needs on the buckets of the owner project.
func (op Operation) verb() string {
	switch op {
	case OpHeadBucket, OpGetBucketLocation, OpGetObject, OpHeadObject, OpGetObjectAttributes, OpGetBucketVersioning,
		OpGetBucketACL, OpGetObjectACL, OpGetBucketPolicy, OpGetPublicAccessBlock,
		OpGetObjectTagging, OpGetBucketTagging, OpGetBucketCors, OpGetBucketLifecycle,
		OpGetBucketEncryption:
		return VerbGet
	case OpListBuckets, OpListObjects, OpListObjectsV2, OpListMultipartUploads, OpListParts, OpListObjectVersions:
		return VerbList
	case OpCreateBucket:
		return VerbCreate
	case OpDeleteBucket:
		return VerbDelete
	}
	return VerbUpdate
}
