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
	"errors"
	"net/http"
	"strings"

	"pinet.io/pinet/internal/awsauth"
	"pinet.io/pinet/objectstore/fsstore"
)

// bucket loads the request's bucket and checks that the caller may do the operation (see
// access.go), or acts under the Grants (checked by serve). An operation whose ACL
// permission is the object's may be left to finish with objectAccess once the object is open.
func (s *Server) bucket(q *request) (fsstore.BucketInfo, error) {
	b, err := s.store.Bucket(q.route.Bucket)
	if err != nil {
		return fsstore.BucketInfo{}, err
	}
	if q.objectGrant {
		q.decision = granted
		return b, nil
	}
	ac := accessCheck{bucket: b, key: q.route.Key, access: opAccesses[q.route.Op], verb: q.route.Op.verb(), query: q.r.URL.Query()}
	d, err := s.decide(q, ac)
	if err != nil {
		return fsstore.BucketInfo{}, err
	}
	if d == denied {
		return fsstore.BucketInfo{}, s3Error(CodeAccessDenied)
	}
	q.check, q.decision = ac, d
	return b, nil
}

// objectAccess finishes the check bucket began, for the object version info describes.
func (s *Server) objectAccess(q *request, info fsstore.ObjectInfo) error {
	if q.decision != needObject {
		return nil
	}
	acl, err := s.store.ACLOf(q.route.Bucket, info)
	if err != nil {
		return err
	}
	if !q.objectGranted(q.check, acl) {
		hideVersionHeaders(q.w.Header())
		return s3Error(CodeAccessDenied)
	}
	return nil
}

// objectMissing turns a missing object (or a delete marker) into AccessDenied for a caller
// that may not list the bucket, as S3 does, so the names of objects it cannot read stay
// secret; what the store had said about the key is dropped.
func (s *Server) objectMissing(q *request, err error) error {
	return s.missingIn(q, q.check, q.decision, err)
}

// missingIn is objectMissing for the object of check, whose bucket-level decision was d: the
// request's own (objectMissing), or a copy's source.
func (s *Server) missingIn(q *request, check accessCheck, d decision, err error) error {
	var ae *apiError
	missing := errors.Is(err, fsstore.ErrNoSuchKey) || errors.Is(err, fsstore.ErrNoSuchVersion) ||
		errors.As(err, &ae) && (ae.code == CodeNoSuchKey || ae.code == CodeMethodNotAllowed)
	if d != needObject || !missing {
		return err
	}
	lists, lerr := s.mayList(q, check)
	if lerr != nil {
		return lerr
	}
	if !lists {
		hideVersionHeaders(q.w.Header())
		return s3Error(CodeAccessDenied)
	}
	return err
}

// mayList reports whether the caller may list the bucket of check.
func (s *Server) mayList(q *request, check accessCheck) (bool, error) {
	ac := check
	ac.key, ac.access, ac.verb, ac.query = "", opAccesses[OpListObjects], VerbList, nil
	d, err := s.decide(q, ac)
	return d == granted, err
}

// hideVersionHeaders drops what a read set about the key's versions before access to it was
// refused: a caller that may not read the object learns nothing of it.
func hideVersionHeaders(h http.Header) {
	for _, name := range []string{headerDeleteMarker, headerVersionID, "Last-Modified", "Allow"} {
		h.Del(name)
	}
}

func (s *Server) listBuckets(q *request) error {
	if q.caller.Anonymous {
		return s3Error(CodeAccessDenied)
	}
	all, err := s.store.ListBuckets()
	if err != nil {
		return err
	}
	p := q.principal()
	page, err := parseBucketPage(q.r.URL.Query())
	if err != nil {
		return err
	}
	// One decision per project: a user sees a few projects' buckets, not one check per bucket.
	mayList := map[string]bool{}
	res := listBucketsResult{Xmlns: s3Namespace, Owner: callerOwner(p), Prefix: page.prefix}
	for _, b := range all {
		if !strings.HasPrefix(b.Name, page.prefix) || b.Name <= page.after {
			continue
		}
		ok, decided := mayList[b.Project]
		if !decided {
			err := s.allowed(q.ctx(), p, VerbList, b.Project)
			var ae *apiError
			if err != nil && !(errors.As(err, &ae) && ae.code == CodeAccessDenied) {
				return err
			}
			ok = err == nil
			mayList[b.Project] = ok
		}
		if !ok {
			continue
		}
		if len(res.Buckets) == page.max {
			res.ContinuationToken = bucketToken(res.Buckets[len(res.Buckets)-1].Name)
			break
		}
		res.Buckets = append(res.Buckets, bucketEntry{Name: b.Name, CreationDate: s3Time(b.Created), BucketRegion: b.Region})
	}
	s.writeXML(q, http.StatusOK, res)
	return nil
}

func (s *Server) createBucket(q *request) error {
	p := q.principal()
	if p.Project == "" {
		return s3Error(CodeAccessDenied, "Buckets belong to a project, and the caller acts in none.")
	}
	if err := s.allowed(q.ctx(), p, VerbCreate, p.Project); err != nil {
		return err
	}
	if isSystemBucket(q.route.Bucket) && (s.systemProject == "" || p.Project != s.systemProject) {
		// Whether the system has made it yet or not, the name is not available to a project: the
		// answer is the same either way, and tells nothing of the cloud's state.
		return s3Error(CodeBucketAlreadyExists)
	}
	if err := refuseUnsupported(q.r.Header); err != nil {
		return err
	}
	acl, present, err := aclFromHeaders(q.r.Header, p.Project, p.Project, false)
	if err != nil {
		return err
	}
	if !present {
		acl, _ = cannedACL("private", p.Project, p.Project, false)
	}
	if err := refusePublicACL(q, fsstore.BucketInfo{Name: q.route.Bucket}, acl); err != nil {
		return err
	}
	body, err := readXMLBody(q)
	if err != nil {
		return err
	}
	loc, err := parseCreateBucketConfiguration(body)
	if err != nil {
		return err
	}
	if loc != "" && loc != s.region {
		return s3Error(CodeInvalidLocationConstraint, "The specified location constraint is not valid: this store serves only region "+s.region+".")
	}
	_, err = s.store.CreateBucketWith(fsstore.BucketInfo{Name: q.route.Bucket, Project: p.Project, Region: s.region, ACL: &acl})
	var exists *fsstore.BucketExistsError
	if errors.As(err, &exists) {
		if exists.Owner != p.Project {
			return s3Error(CodeBucketAlreadyExists)
		}
		// us-east-1 answers its owner's re-creation with success, changing nothing; the other
		// regions refuse it. Either way the bucket and its objects stay as they were.
		if s.region != defaultRegion {
			return s3Error(CodeBucketAlreadyOwnedByYou)
		}
		err = nil
	}
	if err != nil {
		return err
	}
	q.w.Header().Set("Location", "/"+q.route.Bucket)
	q.w.Header().Set("Content-Length", "0")
	q.w.WriteHeader(http.StatusOK)
	return nil
}

// callerOwner is how ListBuckets names the caller: by its user's canonical id, the id grants
// and policies name it by.
func callerOwner(p awsauth.Principal) owner {
	if p.User == "" {
		return *projectOwner(p.Project)
	}
	return owner{ID: UserCanonicalID(p.User), DisplayName: p.User}
}

func (s *Server) deleteBucket(q *request) error {
	if _, err := s.bucket(q); err != nil {
		return err
	}
	if err := s.store.DeleteBucket(q.route.Bucket); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) headBucket(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	q.w.Header().Set("x-amz-bucket-region", b.Region)
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) getBucketLocation(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	// S3 reports its original region as an empty constraint.
	region := b.Region
	if region == defaultRegion {
		region = ""
	}
	s.writeXML(q, http.StatusOK, locationResult{Xmlns: s3Namespace, Region: region})
	return nil
}

// setBucketConfig changes one of the bucket's settings (CORS, lifecycle, tags, encryption) and
// answers status with an empty body.
func (s *Server) setBucketConfig(q *request, bucket string, status int, set func(*fsstore.BucketInfo)) error {
	if _, err := s.store.UpdateBucket(bucket, func(bi *fsstore.BucketInfo) error {
		set(bi)
		return nil
	}); err != nil {
		return err
	}
	writeEmpty(q, status)
	return nil
}
