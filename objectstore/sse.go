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
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"pinet.io/pinet/objectstore/fsstore"
)

// Server-side encryption: SSE-S3 (x-amz-server-side-encryption: AES256, or a bucket's default)
// seals each object's random data key with the store's master key (Config.SSEMasterKey); SSE-C
// seals it with the key the customer sends with every request, of which only the MD5 is kept
// (S3 reports it back). The data is stored as AES-256-GCM segments, see sse_crypto.go.
const (
	sseModeS3       = "AES256"
	sseModeC        = "SSE-C"
	sseKeyLen       = 32
	headerSSE       = "x-amz-server-side-encryption"
	headerSSEKMSKey = "x-amz-server-side-encryption-aws-kms-key-id"
	ssecPrefix      = "x-amz-server-side-encryption-customer-"
	copySSECPrefix  = "x-amz-copy-source-server-side-encryption-customer-"

	errSSECNeeded     = "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object."
	errSSENotApplied  = "The encryption parameters are not applicable to this object."
	errSSENoMasterKey = "Server-side encryption with keys of the store (AES256) is not configured on this store."
)

// customerKey reads the SSE-C headers with prefix (the request's own, or a copy source's);
// present is false when none is sent.
func customerKey(h http.Header, prefix string) (key []byte, keyMD5 string, present bool, err error) {
	algo, k, sum := h.Get(prefix+"algorithm"), h.Get(prefix+"key"), h.Get(prefix+"key-MD5")
	if algo == "" && k == "" && sum == "" {
		return nil, "", false, nil
	}
	switch {
	case algo == "":
		return nil, "", true, s3Error(CodeInvalidArgument, "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.")
	case algo != sseModeS3:
		return nil, "", true, s3Error(CodeInvalidEncryptionAlgorithm)
	case k == "":
		return nil, "", true, s3Error(CodeInvalidArgument, "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.")
	case sum == "":
		return nil, "", true, s3Error(CodeInvalidArgument, "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.")
	}
	key, err = base64.StdEncoding.DecodeString(k)
	if err != nil || len(key) != sseKeyLen {
		return nil, "", true, s3Error(CodeInvalidArgument, "The secret key was invalid for the specified algorithm.")
	}
	got := md5.Sum(key)
	if want, err := base64.StdEncoding.DecodeString(sum); err != nil || subtle.ConstantTimeCompare(want, got[:]) != 1 {
		return nil, "", true, s3Error(CodeInvalidArgument, "The calculated MD5 hash of the key did not match the hash that was provided.")
	}
	return key, sum, true, nil
}

// newEncryption decides how a new object (or upload) is encrypted: as its request asks, else
// by its bucket's default; nil for not at all. It returns the description to store and the
// data key to encrypt with.
func (s *Server) newEncryption(q *request, b fsstore.BucketInfo) (*fsstore.Encryption, []byte, error) {
	h := q.r.Header
	if h.Get(headerSSEKMSKey) != "" {
		return nil, nil, s3Error(CodeNotImplemented, "Server-side encryption with KMS keys is not implemented.")
	}
	ckey, sum, ssec, err := customerKey(h, ssecPrefix)
	if err != nil {
		return nil, nil, err
	}
	mode := h.Get(headerSSE)
	switch {
	case ssec && mode != "":
		return nil, nil, s3Error(CodeInvalidArgument, "Server Side Encryption with Customer provided key is incompatible with the encryption method specified")
	case mode == "" && !ssec:
		mode = b.Encryption
	case mode == "aws:kms" || mode == "aws:kms:dsse":
		return nil, nil, s3Error(CodeNotImplemented, "Server-side encryption with KMS keys is not implemented.")
	case mode != "" && mode != sseModeS3:
		return nil, nil, s3Error(CodeInvalidArgument, "The encryption method specified is not supported")
	}
	wrapping, enc := ckey, &fsstore.Encryption{Mode: sseModeC, KeyMD5: sum}
	switch {
	case ssec:
	case mode == sseModeS3:
		if len(s.masterKey) != sseKeyLen {
			return nil, nil, s3Error(CodeNotImplemented, errSSENoMasterKey)
		}
		wrapping, enc = s.masterKey, &fsstore.Encryption{Mode: sseModeS3}
	default:
		return nil, nil, nil
	}
	dataKey := make([]byte, sseKeyLen)
	if _, err := rand.Read(dataKey); err != nil {
		return nil, nil, err
	}
	if enc.WrappedKey, err = sealKey(wrapping, dataKey, enc.Mode); err != nil {
		return nil, nil, err
	}
	return enc, dataKey, nil
}

// sealKey seals a data key with wrapping under AES-256-GCM.
func sealKey(wrapping, dataKey []byte, mode string) ([]byte, error) {
	aead, err := newGCM(wrapping)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, dataKey, []byte(mode)), nil
}

func openKey(wrapping, wrapped []byte, mode string) ([]byte, error) {
	aead, err := newGCM(wrapping)
	if err != nil {
		return nil, err
	}
	if len(wrapped) < aead.NonceSize() {
		return nil, errSSECorrupt
	}
	key, err := aead.Open(nil, wrapped[:aead.NonceSize()], wrapped[aead.NonceSize():], []byte(mode))
	if err != nil {
		return nil, errSSECorrupt
	}
	return key, nil
}

// dataKey returns the data key of what enc describes (nil when unencrypted), for a request
// whose SSE-C headers carry prefix; they must be sent exactly for SSE-C objects, with the key
// the object was written with.
func (s *Server) dataKey(h http.Header, prefix string, enc *fsstore.Encryption) ([]byte, error) {
	ckey, sum, ssec, err := customerKey(h, prefix)
	if err != nil {
		return nil, err
	}
	switch {
	case enc == nil || enc.Mode == sseModeS3:
		if ssec {
			return nil, s3Error(CodeInvalidRequest, errSSENotApplied)
		}
		if enc == nil {
			return nil, nil
		}
		if len(s.masterKey) != sseKeyLen {
			return nil, s3Error(CodeInternalError, "The store's master key is not configured.")
		}
		return openKey(s.masterKey, enc.WrappedKey, enc.Mode)
	case !ssec:
		return nil, s3Error(CodeInvalidRequest, errSSECNeeded)
	case subtle.ConstantTimeCompare([]byte(sum), []byte(enc.KeyMD5)) != 1:
		return nil, s3Error(CodeAccessDenied, "The provided customer key does not match the key the object was encrypted with.")
	}
	key, err := openKey(ckey, enc.WrappedKey, enc.Mode)
	if err != nil {
		return nil, s3Error(CodeAccessDenied, "The provided customer key does not match the key the object was encrypted with.")
	}
	return key, nil
}

// setSSEHeaders tells the client how what it wrote or reads is encrypted.
func setSSEHeaders(h http.Header, enc *fsstore.Encryption) {
	switch {
	case enc == nil:
	case enc.Mode == sseModeS3:
		h.Set(headerSSE, sseModeS3)
	default:
		h.Set(ssecPrefix+"algorithm", sseModeS3)
		h.Set(ssecPrefix+"key-MD5", enc.KeyMD5)
	}
}

// sealBody encrypts a write's body as one segment when enc is set; length is the plaintext
// length when known (parts), else unknownLength. With SSE-S3 the stored data's ETag is the MD5
// of the plaintext, as in S3 (clients such as rclone compare it with their own MD5); with SSE-C
// it stays the MD5 of what is stored, which tells nothing of the plaintext.
func sealBody(body io.Reader, enc *fsstore.Encryption, key []byte, length uint64) (io.Reader, error) {
	if enc == nil {
		return body, nil
	}
	var sum hash.Hash
	if enc.Mode == sseModeS3 {
		sum = md5.New()
		body = io.TeeReader(body, sum)
	}
	sealed, err := newSealer(body, key, length)
	if err != nil || sum == nil {
		return sealed, err
	}
	return &plainETagReader{Reader: sealed, sum: sum}, nil
}

// plainETagReader is sealed data that gives the store the MD5 of its plaintext as its ETag
// (fsstore.ETagReader); the sealer has read all the plaintext when it ends.
type plainETagReader struct {
	io.Reader
	sum hash.Hash
}

func (r *plainETagReader) ETag() string { return hex.EncodeToString(r.sum.Sum(nil)) }

// plainInfo is an encrypted object's description as its reader sees it: size is its plaintext
// size and its parts' sizes are theirs (each part is one segment).
func plainInfo(info fsstore.ObjectInfo, size int64) fsstore.ObjectInfo {
	info.Size = size
	if info.Meta.Encryption == nil || len(info.PartList) == 0 {
		return info
	}
	parts := make([]fsstore.ObjectPart, len(info.PartList))
	for i, p := range info.PartList {
		p.Size = max(segmentPlainLen(p.Size), 0)
		parts[i] = p
	}
	info.PartList = parts
	return info
}

// plainObject is the plaintext view of an open object: its size and a reader of a range.
type plainObject struct {
	size    int64
	section func(off, n int64) (io.Reader, error)
}

// openPlain gives the plaintext of an open object to a request whose SSE-C headers carry
// prefix.
func (s *Server) openPlain(h http.Header, prefix string, obj *fsstore.Object) (plainObject, error) {
	enc := obj.Info.Meta.Encryption
	key, err := s.dataKey(h, prefix, enc)
	if err != nil {
		return plainObject{}, err
	}
	if enc == nil {
		return plainObject{size: obj.Info.Size, section: func(off, n int64) (io.Reader, error) { return obj.Section(off, n), nil }}, nil
	}
	ra := obj.ReaderAt()
	segs, err := segments(ra, obj.Info.Size, obj.Info.Parts)
	if err != nil {
		return plainObject{}, err
	}
	return plainObject{size: plainLength(segs), section: func(off, n int64) (io.Reader, error) {
		return newOpener(ra, key, segs, off, n)
	}}, nil
}

// plainSize is the plaintext size of a listed object (its stored size when unencrypted).
func (s *Server) plainSize(bucket string, info fsstore.ObjectInfo) int64 {
	if info.Meta.Encryption == nil || info.DeleteMarker {
		return info.Size
	}
	if info.Parts == 0 {
		return max(segmentPlainLen(info.Size), 0)
	}
	if len(info.PartList) == info.Parts {
		var n int64
		for _, p := range plainInfo(info, 0).PartList {
			n += p.Size
		}
		return n
	}
	obj, err := s.store.OpenVersion(bucket, info.Key, fsstore.VersionName(info.VersionID))
	if err != nil {
		return info.Size
	}
	defer obj.Close()
	segs, err := segments(obj.ReaderAt(), obj.Info.Size, obj.Info.Parts)
	if err != nil {
		s.log.Error(err, "Reading the segments of an encrypted object", "bucket", bucket, "key", info.Key)
		return info.Size
	}
	return plainLength(segs)
}

// plainSizes gives listed objects their plaintext sizes.
func (s *Server) plainSizes(bucket string, objs []fsstore.ObjectInfo) {
	for i := range objs {
		objs[i].Size = s.plainSize(bucket, objs[i])
	}
}

// asksEncryption reports whether a request names an encryption for what it writes.
func asksEncryption(h http.Header) bool {
	for name := range h {
		if l := strings.ToLower(name); l == headerSSE || strings.HasPrefix(l, ssecPrefix) {
			return true
		}
	}
	return false
}

// sealPart encrypts a part of length bytes as its upload is encrypted, with the upload's data
// key; an SSE-C upload needs its key with every part, as in S3.
func (s *Server) sealPart(q *request, up fsstore.UploadInfo, body io.Reader, length int64) (io.Reader, error) {
	enc := up.Meta.Encryption
	key, err := s.dataKey(q.r.Header, ssecPrefix, enc)
	if err != nil {
		return nil, err
	}
	setSSEHeaders(q.w.Header(), enc)
	return sealBody(body, enc, key, uint64(length))
}

// Bucket default encryption operations.
const (
	OpGetBucketEncryption    Operation = "GetBucketEncryption"
	OpPutBucketEncryption    Operation = "PutBucketEncryption"
	OpDeleteBucketEncryption Operation = "DeleteBucketEncryption"
)

// encryptionConfiguration is the XML of a bucket's default encryption.
type encryptionConfiguration struct {
	XMLName xml.Name `xml:"ServerSideEncryptionConfiguration"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	Rules   []struct {
		Default *struct {
			SSEAlgorithm   string  `xml:"SSEAlgorithm"`
			KMSMasterKeyID *string `xml:"KMSMasterKeyID"`
		} `xml:"ApplyServerSideEncryptionByDefault"`
		BucketKeyEnabled *bool `xml:"BucketKeyEnabled"`
	} `xml:"Rule"`
}

// encryptionOperation routes the encryption subresource of buckets; ok is false for a request
// that does not name it.
func encryptionOperation(method string, q url.Values) (op Operation, ok bool, err error) {
	if !q.Has("encryption") {
		return "", false, nil
	}
	switch method {
	case http.MethodGet:
		return OpGetBucketEncryption, true, nil
	case http.MethodPut:
		return OpPutBucketEncryption, true, nil
	case http.MethodDelete:
		return OpDeleteBucketEncryption, true, nil
	}
	return "", true, s3Error(CodeMethodNotAllowed)
}

// parseEncryptionConfiguration reads a PutBucketEncryption body: the default algorithm.
func parseEncryptionConfiguration(body []byte) (string, error) {
	var doc encryptionConfiguration
	if len(bytes.TrimSpace(body)) == 0 || xml.Unmarshal(body, &doc) != nil || len(doc.Rules) != 1 || doc.Rules[0].Default == nil {
		return "", s3Error(CodeMalformedXML)
	}
	d := doc.Rules[0].Default
	switch {
	case d.SSEAlgorithm == "aws:kms" || d.SSEAlgorithm == "aws:kms:dsse":
		return "", s3Error(CodeNotImplemented, "Server-side encryption with KMS keys is not implemented.")
	case d.SSEAlgorithm != sseModeS3 || d.KMSMasterKeyID != nil:
		return "", s3Error(CodeMalformedXML)
	}
	return sseModeS3, nil
}

func (s *Server) getBucketEncryption(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	if b.Encryption == "" {
		return s3Error(CodeNoSuchEncryptionConfiguration)
	}
	body := `<ServerSideEncryptionConfiguration xmlns="` + s3Namespace + `"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>` +
		b.Encryption + `</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>`
	h := q.w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(xml.Header)+len(body)))
	q.w.WriteHeader(http.StatusOK)
	_, _ = q.w.Write([]byte(xml.Header + body))
	return nil
}

func (s *Server) putBucketEncryption(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	body, err := readXMLBody(q)
	if err != nil {
		return err
	}
	algo, err := parseEncryptionConfiguration(body)
	if err != nil {
		return err
	}
	if len(s.masterKey) != sseKeyLen {
		return s3Error(CodeNotImplemented, errSSENoMasterKey)
	}
	return s.setBucketConfig(q, b.Name, http.StatusOK, func(bi *fsstore.BucketInfo) { bi.Encryption = algo })
}

func (s *Server) deleteBucketEncryption(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	return s.setBucketConfig(q, b.Name, http.StatusNoContent, func(bi *fsstore.BucketInfo) { bi.Encryption = "" })
}
