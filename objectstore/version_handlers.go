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
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"

	"pinet.io/pinet/objectstore/fsstore"
)

const (
	headerVersionID           = "x-amz-version-id"
	headerDeleteMarker        = "x-amz-delete-marker"
	headerCopySourceVersionID = "x-amz-copy-source-version-id"
	errMFADelete              = "MFA Delete is not supported by this store; versions are deleted with the bucket's ordinary authorization."
)

func (s *Server) getBucketVersioning(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	// A bucket that was never versioned answers an empty configuration, as S3 does.
	s.writeXML(q, http.StatusOK, versioningConfiguration{Xmlns: s3Namespace, Status: string(b.Versioning)})
	return nil
}

func (s *Server) putBucketVersioning(q *request) error {
	if _, err := s.bucket(q); err != nil {
		return err
	}
	if q.r.Header.Get("x-amz-mfa") != "" {
		return s3Error(CodeNotImplemented, errMFADelete)
	}
	body, err := readXMLBody(q)
	if err != nil {
		return err
	}
	state, err := parseVersioningConfiguration(body)
	if err != nil {
		return err
	}
	if _, err := s.store.SetVersioning(q.route.Bucket, state); err != nil {
		return err
	}
	q.w.Header().Set("Content-Length", "0")
	q.w.WriteHeader(http.StatusOK)
	return nil
}

// parseVersioningConfiguration reads PutBucketVersioning's body: the state to put the bucket
// in. MFA Delete can only be left disabled.
func parseVersioningConfiguration(body []byte) (fsstore.Versioning, error) {
	var doc struct {
		XMLName   xml.Name `xml:"VersioningConfiguration"`
		Status    *string  `xml:"Status"`
		MfaDelete *string  `xml:"MfaDelete"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		return "", s3Error(CodeMalformedXML)
	}
	if doc.MfaDelete != nil {
		switch *doc.MfaDelete {
		case "Disabled":
		case "Enabled":
			return "", s3Error(CodeNotImplemented, errMFADelete)
		default:
			return "", s3Error(CodeMalformedXML, "MfaDelete must be Enabled or Disabled.")
		}
	}
	if doc.Status == nil {
		return "", s3Error(CodeMalformedXML, "The versioning configuration must have a Status.")
	}
	switch v := fsstore.Versioning(*doc.Status); v {
	case fsstore.VersioningEnabled, fsstore.VersioningSuspended:
		return v, nil
	}
	return "", s3Error(CodeMalformedXML, "The versioning Status must be Enabled or Suspended.")
}

func (s *Server) listObjectVersions(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	query := q.r.URL.Query()
	e, err := newKeyEncoder(query)
	if err != nil {
		return err
	}
	limit, err := intParam(query, "max-keys", maxListKeys)
	if err != nil {
		return err
	}
	vq := fsstore.VersionQuery{
		Prefix: query.Get("prefix"), Delimiter: query.Get("delimiter"),
		KeyMarker: query.Get("key-marker"), VersionIDMarker: query.Get("version-id-marker"), MaxKeys: limit,
	}
	res, err := s.store.ListVersions(q.route.Bucket, vq)
	if err != nil {
		return err
	}
	s.plainSizes(q.route.Bucket, res.Versions)
	out := listVersionsResult{
		Xmlns: s3Namespace, Name: q.route.Bucket, Prefix: e.enc(vq.Prefix), KeyMarker: e.enc(vq.KeyMarker),
		VersionIDMarker: vq.VersionIDMarker, MaxKeys: limit, Delimiter: e.enc(vq.Delimiter), EncodingType: e.typ(),
		IsTruncated: res.IsTruncated, CommonPrefixes: e.prefixes(res.CommonPrefixes),
	}
	if res.IsTruncated {
		out.NextKeyMarker, out.NextVersionIDMarker = e.enc(res.NextKeyMarker), res.NextVersionIDMarker
	}
	own := *projectOwner(b.Project)
	out.Entries = make([]versionEntry, len(res.Versions))
	for i, v := range res.Versions {
		ent := versionEntry{
			XMLName: xml.Name{Local: "Version"}, Key: e.enc(v.Key), VersionID: fsstore.VersionName(v.VersionID),
			IsLatest: v.IsLatest, LastModified: s3Time(v.Modified), Owner: own,
		}
		if v.DeleteMarker {
			ent.XMLName.Local = "DeleteMarker"
		} else {
			etag, size := quoteETag(v.ETag), v.Size
			ent.ETag, ent.Size, ent.StorageClass = &etag, &size, storageClass
		}
		out.Entries[i] = ent
	}
	s.writeXML(q, http.StatusOK, out)
	return nil
}

// versionParam reads a request's versionId: ok is false when it names none.
func versionParam(query url.Values) (id string, ok bool, err error) {
	if !query.Has("versionId") {
		return "", false, nil
	}
	id = query.Get("versionId")
	if !fsstore.ValidVersionID(id) {
		return "", false, s3Error(CodeInvalidArgument, "Invalid version id specified")
	}
	return id, true, nil
}

// openForRead opens what a GetObject or HeadObject reads: the version it names, or the latest.
// A delete marker is refused as S3 refuses it, with the headers S3 sends.
func (s *Server) openForRead(q *request, b fsstore.BucketInfo) (*fsstore.Object, error) {
	h := q.w.Header()
	id, named, err := versionParam(q.r.URL.Query())
	if err != nil {
		return nil, err
	}
	if !named {
		obj, err := s.store.OpenObject(q.route.Bucket, q.route.Key)
		var dm *fsstore.DeleteMarkerError
		if errors.As(err, &dm) {
			h.Set(headerDeleteMarker, "true")
			h.Set(headerVersionID, fsstore.VersionName(dm.Marker.VersionID))
			return nil, s3Error(CodeNoSuchKey)
		}
		if err == nil && b.Versioning != "" {
			h.Set(headerVersionID, fsstore.VersionName(obj.Info.VersionID))
		}
		return obj, err
	}
	obj, err := s.store.OpenVersion(q.route.Bucket, q.route.Key, id)
	if err != nil {
		return nil, err
	}
	if obj.Info.DeleteMarker {
		obj.Close()
		h.Set(headerDeleteMarker, "true")
		h.Set(headerVersionID, id)
		h.Set("Last-Modified", obj.Info.Modified.UTC().Format(http.TimeFormat))
		h.Set("Allow", http.MethodDelete)
		return nil, s3Error(CodeMethodNotAllowed)
	}
	h.Set(headerVersionID, id)
	return obj, nil
}

// deleteOne deletes a key, or one version of it when id is named, and says what happened as
// DeleteObjects reports it.
func (s *Server) deleteOne(bucket, key, id string, named bool) (deletedObject, error) {
	if named {
		gone, err := s.store.DeleteVersion(bucket, key, id)
		if err != nil {
			return deletedObject{}, err
		}
		d := deletedObject{Key: key, VersionID: id}
		if gone.DeleteMarker {
			d.DeleteMarker, d.DeleteMarkerVersionID = true, id
		}
		return d, nil
	}
	marker, err := s.store.DeleteObject(bucket, key)
	if err != nil {
		return deletedObject{}, err
	}
	d := deletedObject{Key: key}
	if marker.DeleteMarker {
		d.DeleteMarker, d.DeleteMarkerVersionID = true, fsstore.VersionName(marker.VersionID)
	}
	return d, nil
}
