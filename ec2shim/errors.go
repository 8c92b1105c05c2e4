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

package ec2shim

import (
	"errors"
	"net/http"

	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/awsauth"
)

// EC2 error codes, as the service names them.
const (
	codeAuthFailure          = cloud.CodeAuthFailure
	codeSignatureMismatch    = cloud.CodeSignatureMismatch
	codeRequestExpired       = cloud.CodeRequestExpired
	codeInvalidClientTokenID = cloud.CodeInvalidClientTokenID
	codeIncompleteSignature  = cloud.CodeIncompleteSignature
	codeMissingAuthToken     = cloud.CodeMissingAuthToken
	codeKeyFormat            = cloud.CodeKeyFormat
)

// authError maps an authentication failure to EC2's code. A failure of the credential store
// itself is an internal error.
func authError(err error) *query.Error {
	switch {
	case errors.Is(err, awsauth.ErrMissingAuth):
		return query.Errorf(codeMissingAuthToken, http.StatusUnauthorized, "Request is missing Authentication Token")
	case errors.Is(err, awsauth.ErrMalformed):
		return query.Errorf(codeIncompleteSignature, http.StatusBadRequest, "%s", authDetail(err))
	case errors.Is(err, awsauth.ErrUnknownKey):
		return query.Errorf(codeInvalidClientTokenID, http.StatusUnauthorized, "The security token included in the request is invalid.")
	case errors.Is(err, awsauth.ErrRetiredKey):
		return query.Errorf(codeAuthFailure, http.StatusUnauthorized, "AWS was not able to validate the provided access credentials")
	case errors.Is(err, awsauth.ErrSignatureMismatch), errors.Is(err, awsauth.ErrPayloadMismatch):
		return query.Errorf(codeSignatureMismatch, http.StatusForbidden,
			"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
	case errors.Is(err, awsauth.ErrExpired):
		return query.Errorf(codeRequestExpired, http.StatusBadRequest, "Request has expired.")
	case errors.Is(err, awsauth.ErrBodyTooLarge):
		return query.Errorf(query.CodeRequestTooLarge, http.StatusRequestEntityTooLarge, "%s", authDetail(err))
	}
	return query.Errorf(query.CodeInternalError, http.StatusInternalServerError, "An internal error has occurred")
}

// authDetail is the verifier's message, which says what is wrong without leaking secrets.
func authDetail(err error) string { return err.Error() }

func badRequest(code, format string, args ...any) *query.Error {
	return cloud.BadRequest(code, format, args...)
}
