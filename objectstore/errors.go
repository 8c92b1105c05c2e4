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
	"fmt"
	"io"
	"net/http"

	"pinet.io/pinet/internal/awsauth"
	"pinet.io/pinet/objectstore/fsstore"
)

// S3 error codes this store answers with.
const (
	CodeAccessDenied                    = "AccessDenied"
	CodeAccessForbidden                 = "AccessForbidden"
	CodeBadDigest                       = "BadDigest"
	CodeBadRequest                      = "BadRequest"
	CodeBucketAlreadyExists             = "BucketAlreadyExists"
	CodeBucketAlreadyOwnedByYou         = "BucketAlreadyOwnedByYou"
	CodeBucketNotEmpty                  = "BucketNotEmpty"
	CodeOperationAborted                = "OperationAborted"
	CodeConditionalRequestConflict      = "ConditionalRequestConflict"
	CodeInvalidPartNumber               = "InvalidPartNumber"
	CodeEntityTooLarge                  = "EntityTooLarge"
	CodeEntityTooSmall                  = "EntityTooSmall"
	CodeIncompleteBody                  = "IncompleteBody"
	CodeInternalError                   = "InternalError"
	CodeInvalidAccessKeyID              = "InvalidAccessKeyId"
	CodeInvalidArgument                 = "InvalidArgument"
	CodeInvalidBucketName               = "InvalidBucketName"
	CodeInvalidDigest                   = "InvalidDigest"
	CodeInvalidEncryptionAlgorithm      = "InvalidEncryptionAlgorithmError"
	CodeInvalidLocationConstraint       = "InvalidLocationConstraint"
	CodeInvalidPart                     = "InvalidPart"
	CodeInvalidPartOrder                = "InvalidPartOrder"
	CodeInvalidRange                    = "InvalidRange"
	CodeInvalidRequest                  = "InvalidRequest"
	CodeInvalidTag                      = "InvalidTag"
	CodeKeyTooLong                      = "KeyTooLongError"
	CodeMalformedXML                    = "MalformedXML"
	CodeMalformedACLError               = "MalformedACLError"
	CodeMalformedPolicy                 = "MalformedPolicy"
	CodeNoSuchBucketPolicy              = "NoSuchBucketPolicy"
	CodeNoSuchCORSConfiguration         = "NoSuchCORSConfiguration"
	CodeNoSuchLifecycleConfiguration    = "NoSuchLifecycleConfiguration"
	CodeNoSuchTagSet                    = "NoSuchTagSet"
	CodeNoSuchPublicAccessBlock         = "NoSuchPublicAccessBlockConfiguration"
	CodeUnresolvableGrantByEmailAddress = "UnresolvableGrantByEmailAddress"
	CodeUnexpectedContent               = "UnexpectedContent"
	CodeMetadataTooLarge                = "MetadataTooLarge"
	CodeMethodNotAllowed                = "MethodNotAllowed"
	CodeMissingContentLength            = "MissingContentLength"
	CodeNoSuchBucket                    = "NoSuchBucket"
	CodeNoSuchKey                       = "NoSuchKey"
	CodeNoSuchUpload                    = "NoSuchUpload"
	CodeNoSuchVersion                   = "NoSuchVersion"
	CodeNotImplemented                  = "NotImplemented"
	CodePreconditionFailed              = "PreconditionFailed"
	CodeRequestTimeTooSkewed            = "RequestTimeTooSkewed"
	CodeSignatureDoesNotMatch           = "SignatureDoesNotMatch"
	CodeNoSuchEncryptionConfiguration   = "ServerSideEncryptionConfigurationNotFoundError"
	CodeXAmzContentSHA256Mismatch       = "XAmzContentSHA256Mismatch"
)

// codeInfo is an error code's HTTP status and default message.
type codeInfo struct {
	status  int
	message string
}

var codes = map[string]codeInfo{
	CodeAccessDenied:                    {http.StatusForbidden, "Access Denied."},
	CodeAccessForbidden:                 {http.StatusForbidden, "CORSResponse: This CORS request is not allowed."},
	CodeBadDigest:                       {http.StatusBadRequest, "The Content-MD5 you specified did not match what we received."},
	CodeBadRequest:                      {http.StatusBadRequest, "Bad Request."},
	CodeBucketAlreadyExists:             {http.StatusConflict, "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again."},
	CodeBucketAlreadyOwnedByYou:         {http.StatusConflict, "Your previous request to create the named bucket succeeded and you already own it."},
	CodeBucketNotEmpty:                  {http.StatusConflict, "The bucket you tried to delete is not empty."},
	CodeOperationAborted:                {http.StatusConflict, "A conflicting conditional operation is currently in progress against this resource. Please try again."},
	CodeConditionalRequestConflict:      {http.StatusConflict, "A conflicting operation occurred. If using PutObject you can retry the request. If using multipart upload you should initiate another CreateMultipartUpload request and re-upload each part."},
	CodeInvalidPartNumber:               {http.StatusRequestedRangeNotSatisfiable, "The requested partnumber is not satisfiable"},
	CodeEntityTooLarge:                  {http.StatusBadRequest, "Your proposed upload exceeds the maximum allowed object size."},
	CodeEntityTooSmall:                  {http.StatusBadRequest, "Your proposed upload is smaller than the minimum allowed object size."},
	CodeIncompleteBody:                  {http.StatusBadRequest, "You did not provide the number of bytes specified by the Content-Length HTTP header."},
	CodeInternalError:                   {http.StatusInternalServerError, "We encountered an internal error. Please try again."},
	CodeInvalidAccessKeyID:              {http.StatusForbidden, "The AWS Access Key Id you provided does not exist in our records."},
	CodeInvalidArgument:                 {http.StatusBadRequest, "Invalid Argument."},
	CodeInvalidBucketName:               {http.StatusBadRequest, "The specified bucket is not valid."},
	CodeInvalidDigest:                   {http.StatusBadRequest, "The Content-MD5 you specified is not valid."},
	CodeInvalidEncryptionAlgorithm:      {http.StatusBadRequest, "The Encryption request you specified is not valid. Supported value: AES256."},
	CodeInvalidLocationConstraint:       {http.StatusBadRequest, "The specified location constraint is not valid."},
	CodeInvalidPart:                     {http.StatusBadRequest, "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."},
	CodeInvalidPartOrder:                {http.StatusBadRequest, "The list of parts was not in ascending order. Parts must be ordered by part number."},
	CodeInvalidRange:                    {http.StatusRequestedRangeNotSatisfiable, "The requested range is not satisfiable."},
	CodeInvalidRequest:                  {http.StatusBadRequest, "Invalid Request."},
	CodeInvalidTag:                      {http.StatusBadRequest, "The tag provided was not a valid tag."},
	CodeKeyTooLong:                      {http.StatusBadRequest, "Your key is too long."},
	CodeMalformedXML:                    {http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema."},
	CodeMalformedACLError:               {http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema."},
	CodeMalformedPolicy:                 {http.StatusBadRequest, "Policies must be valid JSON and the first byte must be '{'"},
	CodeNoSuchBucketPolicy:              {http.StatusNotFound, "The bucket policy does not exist"},
	CodeNoSuchCORSConfiguration:         {http.StatusNotFound, "The CORS configuration does not exist"},
	CodeNoSuchLifecycleConfiguration:    {http.StatusNotFound, "The lifecycle configuration does not exist"},
	CodeNoSuchTagSet:                    {http.StatusNotFound, "The TagSet does not exist"},
	CodeNoSuchPublicAccessBlock:         {http.StatusNotFound, "The public access block configuration was not found"},
	CodeUnexpectedContent:               {http.StatusBadRequest, "This request does not support content."},
	CodeUnresolvableGrantByEmailAddress: {http.StatusBadRequest, "The email address you provided does not match any account on record."},
	CodeMetadataTooLarge:                {http.StatusBadRequest, "Your metadata headers exceed the maximum allowed metadata size."},
	CodeMethodNotAllowed:                {http.StatusMethodNotAllowed, "The specified method is not allowed against this resource."},
	CodeMissingContentLength:            {http.StatusLengthRequired, "You must provide the Content-Length HTTP header."},
	CodeNoSuchBucket:                    {http.StatusNotFound, "The specified bucket does not exist."},
	CodeNoSuchKey:                       {http.StatusNotFound, "The specified key does not exist."},
	CodeNoSuchUpload:                    {http.StatusNotFound, "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."},
	CodeNoSuchVersion:                   {http.StatusNotFound, "The specified version does not exist."},
	CodeNotImplemented:                  {http.StatusNotImplemented, "A header or parameter you provided implies functionality that is not implemented."},
	CodePreconditionFailed:              {http.StatusPreconditionFailed, "At least one of the pre-conditions you specified did not hold."},
	CodeRequestTimeTooSkewed:            {http.StatusForbidden, "The difference between the request time and the server's time is too large."},
	CodeSignatureDoesNotMatch:           {http.StatusForbidden, "The request signature we calculated does not match the signature you provided. Check your key and signing method."},
	CodeNoSuchEncryptionConfiguration:   {http.StatusNotFound, "The server side encryption configuration was not found"},
	CodeXAmzContentSHA256Mismatch:       {http.StatusBadRequest, "The provided 'x-amz-content-sha256' header does not match what was computed."},
}

// apiError is an S3 error response.
type apiError struct {
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func (e *apiError) status() int { return codes[e.code].status }

// s3Error makes an error with code's default message, or msg when given.
func s3Error(code string, msg ...any) *apiError {
	info, ok := codes[code]
	if !ok {
		panic("objectstore: unknown error code " + code)
	}
	e := &apiError{code: code, message: info.message}
	if len(msg) > 0 {
		e.message = fmt.Sprint(msg...)
	}
	return e
}

// authErrors maps awsauth's error kinds to S3 codes; the first kind an error wraps decides.
// A presigned URL that expired is AccessDenied in S3, not a clock skew, hence the second code.
var authErrors = []struct {
	kind      error
	code      string
	presigned string
}{
	{awsauth.ErrMissingAuth, CodeAccessDenied, CodeAccessDenied},
	{awsauth.ErrMalformed, CodeInvalidArgument, CodeInvalidArgument},
	{awsauth.ErrUnknownKey, CodeInvalidAccessKeyID, CodeInvalidAccessKeyID},
	{awsauth.ErrRetiredKey, CodeInvalidAccessKeyID, CodeInvalidAccessKeyID},
	{awsauth.ErrSignatureMismatch, CodeSignatureDoesNotMatch, CodeSignatureDoesNotMatch},
	{awsauth.ErrExpired, CodeRequestTimeTooSkewed, CodeAccessDenied},
	{awsauth.ErrPayloadMismatch, CodeXAmzContentSHA256Mismatch, CodeXAmzContentSHA256Mismatch},
}

// authError maps an authentication failure to its S3 error, or nil if err is no known kind.
func authError(err error, presigned bool) *apiError {
	for _, a := range authErrors {
		if errors.Is(err, a.kind) {
			code := a.code
			if presigned {
				code = a.presigned
			}
			if a.kind == awsauth.ErrExpired && presigned {
				return s3Error(code, "Request has expired.")
			}
			return s3Error(code)
		}
	}
	return nil
}

// storeErrors maps the filesystem store's errors to S3 codes.
var storeErrors = []struct {
	kind error
	code string
}{
	{fsstore.ErrNoSuchBucket, CodeNoSuchBucket},
	{fsstore.ErrNoSuchKey, CodeNoSuchKey},
	{fsstore.ErrNoSuchUpload, CodeNoSuchUpload},
	{fsstore.ErrBucketNotEmpty, CodeBucketNotEmpty},
	{fsstore.ErrDeletionInProgress, CodeOperationAborted},
	{fsstore.ErrInvalidKey, CodeInvalidArgument},
	{fsstore.ErrKeyTooLong, CodeKeyTooLong},
	{fsstore.ErrInvalidPart, CodeInvalidPart},
	{fsstore.ErrInvalidPartOrder, CodeInvalidPartOrder},
	{fsstore.ErrEntityTooSmall, CodeEntityTooSmall},
	{fsstore.ErrEntityTooLarge, CodeEntityTooLarge},
	{fsstore.ErrInvalidPartNum, CodeInvalidArgument},
	{fsstore.ErrNoSuchVersion, CodeNoSuchVersion},
	{fsstore.ErrInvalidVersionID, CodeInvalidArgument},
	{fsstore.ErrVersionMarkerWithoutKey, CodeInvalidArgument},
	{io.ErrUnexpectedEOF, CodeIncompleteBody},
}

// toAPIError turns any handler error into the S3 error to send; internal is true when the
// error is the server's fault (and must be logged, not shown).
func toAPIError(err error) (apiErr *apiError, internal bool) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae, false
	}
	var re *fsstore.ReadError
	if errors.As(err, &re) {
		// A body failure is the client's: its payload signature, its length, its digest.
		if ae := authError(re.Err, false); ae != nil {
			return ae, false
		}
	}
	for _, s := range storeErrors {
		if errors.Is(err, s.kind) {
			return s3Error(s.code, messageFor(s.code, err)), false
		}
	}
	if re != nil {
		return s3Error(CodeIncompleteBody), false
	}
	return s3Error(CodeInternalError), true
}

// messageFor keeps the default message of codes whose error text adds nothing a client can use.
func messageFor(code string, err error) string {
	switch code {
	case CodeInvalidArgument, CodeInvalidPart, CodeEntityTooSmall, CodeKeyTooLong:
		switch {
		case errors.Is(err, fsstore.ErrInvalidVersionID):
			return "Invalid version id specified"
		case errors.Is(err, fsstore.ErrVersionMarkerWithoutKey):
			return "A version-id marker cannot be specified without a key marker."
		}
		return err.Error()
	}
	return codes[code].message
}
