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
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"pinet.io/pinet/objectstore/fsstore"
)

func (s *Server) putObject(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	if err := fsstore.ValidKey(q.route.Key); err != nil {
		return err
	}
	if err := refuseUnsupported(withoutWriteConditions(q.r.Header)); err != nil {
		return err
	}
	meta, err := metaFromHeaders(q.r.Header)
	if err != nil {
		return err
	}
	if meta.ACL, err = newObjectACL(q, b); err != nil {
		return err
	}
	if meta.Checksum, err = objectChecksum(q.r.Header); err != nil {
		return err
	}
	enc, key, err := s.newEncryption(q, b)
	if err != nil {
		return err
	}
	meta.Encryption = enc
	cond, err := s.conditionFor(q)
	if err != nil {
		return err
	}
	body, err := payload(q, min(maxSinglePut, s.maxObjectSize))
	if err != nil {
		return err
	}
	// The checksum is of the plaintext, computed before the data is sealed.
	if body, err = sealBody(withChecksum(body, meta.Checksum), enc, key, unknownLength); err != nil {
		return err
	}
	info, err := s.store.PutObjectIf(q.route.Bucket, q.route.Key, body, meta, cond)
	if err != nil {
		return err
	}
	setNewVersion(q.w.Header(), info)
	setChecksumHeaders(q.w.Header(), info.Meta.Checksum)
	setSSEHeaders(q.w.Header(), enc)
	q.w.Header().Set("ETag", quoteETag(info.ETag))
	q.w.Header().Set("Content-Length", "0")
	q.w.WriteHeader(http.StatusOK)
	return nil
}

// newObjectACL is the ACL a write asks for (private when it names none), refused where Block
// Public Access forbids it. Objects belong to the bucket's project.
func newObjectACL(q *request, b fsstore.BucketInfo) (*fsstore.ACL, error) {
	acl, present, err := aclFromHeaders(q.r.Header, b.Project, b.Project, true)
	if err != nil {
		return nil, err
	}
	if present && q.objectGrant {
		// A node's grant writes a system bucket's objects; who may read them is PiNet's to say.
		return nil, s3Error(CodeAccessDenied, "A write under a system grant may not set an ACL.")
	}
	if !present {
		acl, _ = cannedACL("private", b.Project, b.Project, true)
	}
	if err := refusePublicACL(q, b, acl); err != nil {
		return nil, err
	}
	return &acl, nil
}

// setNewVersion tells the client the version id of what it wrote, if it made a version.
func setNewVersion(h http.Header, info fsstore.ObjectInfo) {
	if info.VersionID != "" {
		h.Set(headerVersionID, info.VersionID)
	}
}

// getObject serves GetObject and HeadObject.
func (s *Server) getObject(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	obj, err := s.openForRead(q, b)
	if err != nil {
		return s.objectMissing(q, err)
	}
	defer obj.Close()
	if err := s.objectAccess(q, obj.Info); err != nil {
		return err
	}
	plain, err := s.openPlain(q.r.Header, ssecPrefix, obj)
	if err != nil {
		return err
	}
	info := plainInfo(obj.Info, plain.size)
	h := q.w.Header()
	setSSEHeaders(h, info.Meta.Encryption)
	notModified, err := readConditions(q.r.Header).check(info)
	if err != nil {
		return err
	}
	if notModified {
		h.Set("ETag", quoteETag(info.ETag))
		h.Set("Last-Modified", info.Modified.UTC().Format(http.TimeFormat))
		q.w.WriteHeader(http.StatusNotModified)
		return nil
	}
	start, length, partial, err := readSpan(q, info)
	if err != nil {
		return err
	}
	setObjectHeaders(h, info)
	setReadChecksum(q, info, partial)
	if err := s.setTagCount(q, info); err != nil {
		return err
	}
	if q.route.Op == OpGetObject {
		applyOverrides(h, q.r.URL.Query())
	}
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	status := http.StatusOK
	if partial {
		h.Set("Content-Range", "bytes "+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(start+length-1, 10)+"/"+strconv.FormatInt(info.Size, 10))
		status = http.StatusPartialContent
	}
	q.w.WriteHeader(status)
	if q.r.Method == http.MethodHead {
		return nil
	}
	section, err := plain.section(start, length)
	if err != nil {
		return err
	}
	if _, err := io.Copy(q.w, section); err != nil {
		// The client went away or the disk failed mid-body; the status is sent, so only log.
		s.log.V(1).Info("Object body not sent whole", "requestID", q.id, "error", err.Error())
	}
	return nil
}

func (s *Server) deleteObject(q *request) error {
	if _, err := s.bucket(q); err != nil {
		return err
	}
	if q.r.Header.Get("x-amz-mfa") != "" {
		return s3Error(CodeNotImplemented, errMFADelete)
	}
	id, named, err := versionParam(q.r.URL.Query())
	if err != nil {
		return err
	}
	d, err := s.deleteOne(q.route.Bucket, q.route.Key, id, named)
	if err != nil {
		return err
	}
	h := q.w.Header()
	if d.DeleteMarker {
		h.Set(headerDeleteMarker, "true")
		h.Set(headerVersionID, d.DeleteMarkerVersionID)
	}
	if named {
		h.Set(headerVersionID, id)
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) deleteObjects(q *request) error {
	// With a bucket policy, each key is judged on its own, as S3 does: a policy may allow or
	// deny deleting some keys only.
	perKey := false
	if _, err := s.bucket(q); err != nil {
		b, berr := s.store.Bucket(q.route.Bucket)
		if berr != nil || b.Policy == "" {
			return err
		}
		perKey = true
	} else {
		perKey = q.check.bucket.Policy != "" && !q.principal().Admin
	}
	body, err := readXMLBody(q)
	if err != nil {
		return err
	}
	objs, quiet, err := parseDeleteObjects(body)
	if err != nil {
		return err
	}
	res := deleteResult{Xmlns: s3Namespace}
	for _, o := range objs {
		named := o.VersionID != ""
		var d deletedObject
		err := fsstore.ValidKey(o.Key)
		if err == nil && named && !fsstore.ValidVersionID(o.VersionID) {
			err = fsstore.ErrInvalidVersionID
		}
		if err == nil && perKey {
			err = s.mayDeleteKey(q, o)
		}
		if err == nil {
			d, err = s.deleteOne(q.route.Bucket, o.Key, o.VersionID, named)
		}
		if err != nil {
			ae, internal := toAPIError(err)
			if internal {
				s.log.Error(err, "Deleting object", "requestID", q.id, "bucket", q.route.Bucket, "key", o.Key)
			}
			res.Errors = append(res.Errors, deleteError{Key: o.Key, VersionID: o.VersionID, Code: ae.code, Message: ae.message})
			continue
		}
		if !quiet {
			res.Deleted = append(res.Deleted, d)
		}
	}
	s.writeXML(q, http.StatusOK, res)
	return nil
}

// mayDeleteKey decides whether the caller may delete one key (or version) of a DeleteObjects.
func (s *Server) mayDeleteKey(q *request, o objectToDelete) error {
	b, err := s.store.Bucket(q.route.Bucket)
	if err != nil {
		return err
	}
	ac := accessCheck{bucket: b, key: o.Key, access: opAccesses[OpDeleteObject], verb: VerbUpdate}
	if o.VersionID != "" {
		ac.query = map[string][]string{"versionId": {o.VersionID}}
	}
	d, err := s.decide(q, ac)
	if err != nil {
		return err
	}
	if d != granted {
		return s3Error(CodeAccessDenied)
	}
	return nil
}

// copiedFrom is a copy's source: what x-amz-copy-source names, and the bucket it is in.
type copiedFrom struct {
	target
	bucket fsstore.BucketInfo
}

// check is the access check of op on the source (on its version, when one is named).
func (c copiedFrom) check(op Operation) accessCheck {
	ac := accessCheck{bucket: c.bucket, key: c.Key, access: opAccesses[op], verb: op.verb()}
	if c.Version != "" {
		ac.query = map[string][]string{"versionId": {c.Version}}
	}
	return ac
}

// copySource opens the object a copy reads (the version it names, or the latest), checking
// that the caller may read it and that its preconditions hold. It tells the client which
// version it read when the source names one or its bucket is versioned. The caller closes it.
func (s *Server) copySource(q *request) (*fsstore.Object, copiedFrom, error) {
	t, err := parseCopySource(q.r.Header.Get("x-amz-copy-source"))
	if err != nil {
		return nil, copiedFrom{}, err
	}
	b, err := s.store.Bucket(t.Bucket)
	if err != nil {
		return nil, copiedFrom{}, err
	}
	src := copiedFrom{target: t, bucket: b}
	ac := src.check(OpGetObject)
	d, err := s.decide(q, ac)
	if err != nil {
		return nil, copiedFrom{}, err
	}
	if d == denied {
		return nil, copiedFrom{}, s3Error(CodeAccessDenied)
	}
	var obj *fsstore.Object
	if src.Version != "" {
		obj, err = s.store.OpenVersion(src.Bucket, src.Key, src.Version)
		if err == nil && obj.Info.DeleteMarker {
			obj.Close()
			// Said only to a caller that may list the source bucket's keys, like a missing key.
			if d == needObject {
				lists, err := s.mayList(q, ac)
				if err != nil {
					return nil, copiedFrom{}, err
				}
				if !lists {
					return nil, copiedFrom{}, s3Error(CodeAccessDenied)
				}
			}
			return nil, copiedFrom{}, s3Error(CodeInvalidRequest, "The source of a copy request may not specifically refer to a delete marker by version id.")
		}
	} else {
		obj, err = s.store.OpenObject(src.Bucket, src.Key)
	}
	if err != nil {
		// A missing source is AccessDenied to a caller that may not list its bucket, as a GET is.
		return nil, copiedFrom{}, s.missingIn(q, ac, d, err)
	}
	if d == needObject {
		acl, err := s.store.ACLOf(src.Bucket, obj.Info)
		if err != nil || !q.objectGranted(ac, acl) {
			obj.Close()
			if err == nil {
				err = s3Error(CodeAccessDenied)
			}
			return nil, copiedFrom{}, err
		}
	}
	if _, err := copyConditions(q.r.Header).check(obj.Info); err != nil {
		obj.Close()
		return nil, copiedFrom{}, err
	}
	if src.Version != "" || b.Versioning != "" {
		q.w.Header().Set(headerCopySourceVersionID, fsstore.VersionName(obj.Info.VersionID))
	}
	return obj, src, nil
}

// parseCopySource reads x-amz-copy-source: "[/]bucket/key[?versionId=id]", URL-encoded.
func parseCopySource(v string) (target, error) {
	path, version, hasVersion := strings.Cut(v, "?versionId=")
	if hasVersion && !fsstore.ValidVersionID(version) {
		return target{}, s3Error(CodeInvalidArgument, "Invalid version id specified")
	}
	path, err := url.PathUnescape(path)
	if err != nil {
		return target{}, s3Error(CodeInvalidArgument, "Invalid copy source encoding.")
	}
	bucket, key, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if bucket == "" || key == "" {
		return target{}, s3Error(CodeInvalidArgument, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey.")
	}
	if err := fsstore.ValidBucketName(bucket); err != nil {
		return target{}, s3Error(CodeInvalidBucketName, "The specified copy source bucket is not valid: "+err.Error())
	}
	return target{Bucket: bucket, Key: key, Version: version}, nil
}

func (s *Server) copyObject(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	if err := fsstore.ValidKey(q.route.Key); err != nil {
		return err
	}
	if err := refuseUnsupported(q.r.Header); err != nil {
		return err
	}
	obj, src, err := s.copySource(q)
	if err != nil {
		return err
	}
	defer obj.Close()
	plain, err := s.openPlain(q.r.Header, copySSECPrefix, obj)
	if err != nil {
		return err
	}
	meta := obj.Info.Meta
	switch d := q.r.Header.Get("x-amz-metadata-directive"); d {
	case "", "COPY":
		// Copying an older version over its key restores it; the latest onto itself is no change.
		if src.Bucket == q.route.Bucket && src.Key == q.route.Key && src.Version == "" && !asksEncryption(q.r.Header) {
			return s3Error(CodeInvalidRequest, "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
		}
	case "REPLACE":
		if meta, err = metaFromHeaders(q.r.Header); err != nil {
			return err
		}
	default:
		return s3Error(CodeInvalidArgument, "Unknown metadata directive "+d+".")
	}
	// A copy gets the ACL its request asks for, never the source's.
	if meta.ACL, err = newObjectACL(q, b); err != nil {
		return err
	}
	if meta.Tags, err = s.copyTags(q, src, obj.Info); err != nil {
		return err
	}
	if plain.size > maxSinglePut {
		return s3Error(CodeInvalidRequest, "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120.")
	}
	if meta.Checksum, err = copyChecksum(q.r.Header, obj.Info); err != nil {
		return err
	}
	enc, key, err := s.newEncryption(q, b)
	if err != nil {
		return err
	}
	meta.Encryption = enc
	body, err := plain.section(0, plain.size)
	if err != nil {
		return err
	}
	if body, err = sealBody(withChecksum(body, meta.Checksum), enc, key, unknownLength); err != nil {
		return err
	}
	info, err := s.store.PutObject(q.route.Bucket, q.route.Key, body, meta)
	if err != nil {
		return err
	}
	setNewVersion(q.w.Header(), info)
	setSSEHeaders(q.w.Header(), enc)
	s.writeXML(q, http.StatusOK, copyObjectResult{Xmlns: s3Namespace, ETag: quoteETag(info.ETag), LastModified: s3Time(info.Modified)})
	return nil
}
