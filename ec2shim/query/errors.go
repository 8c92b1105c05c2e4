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

package query

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"unicode/utf8"
)

// EC2 error codes this package returns. Handlers add their own (InvalidInstanceID.NotFound, …).
const (
	CodeMissingParameter      = "MissingParameter"
	CodeInvalidParameterValue = "InvalidParameterValue"
	CodeUnknownParameter      = "UnknownParameter"
	CodeMissingAction         = "MissingAction"
	CodeInvalidAction         = "InvalidAction"
	CodeMalformedQueryString  = "MalformedQueryString"
	CodeInvalidQueryParameter = "InvalidQueryParameter"
	CodeFilterLimitExceeded   = "FilterLimitExceeded"
	CodeRequestTooLarge       = "RequestEntityTooLarge"
	CodeUnsupportedHTTPVerb   = "UnsupportedHttpVerb"
	CodeUnsupportedMediaType  = "UnsupportedMediaType"
	CodeInternalError         = "InternalError"
	CodeUnavailable           = "Unavailable"
)

// maxQuotedValue bounds how much of a client's value an error message echoes.
const maxQuotedValue = 128

// Error is an EC2 API error: the code and message a client sees and the HTTP status it arrives
// with. WriteError renders it.
type Error struct {
	Code    string
	Message string
	Status  int
}

// Error implements error.
func (e *Error) Error() string {
	return e.Code + ": " + e.Message
}

// Errorf returns an *Error with the code, HTTP status and formatted message.
func Errorf(code string, status int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Status: status}
}

// ErrorFrom returns the *Error in err's chain, or an InternalError that hides err's text: other
// errors come from inside the cloud (Kubernetes, programming errors) and must not reach clients.
//
// A network failure inside the cloud (the API server cannot be reached, a deadline passed) is
// Unavailable with status 503 instead: nothing is wrong with the request, and clients retry.
func ErrorFrom(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return Errorf(CodeUnavailable, http.StatusServiceUnavailable, "The service is unavailable; try again.")
	}
	return Errorf(CodeInternalError, http.StatusInternalServerError,
		"An internal error has occurred")
}

func missingParameter(name string) *Error {
	return Errorf(CodeMissingParameter, http.StatusBadRequest,
		"The request must contain the parameter %s", name)
}

func unknownParameter(name string) *Error {
	return Errorf(CodeUnknownParameter, http.StatusBadRequest,
		"The parameter %s is not recognized", clip(name))
}

// invalidValue is EC2's wording for a value that does not parse; why says what was expected.
func invalidValue(name, value, why string) *Error {
	return Errorf(CodeInvalidParameterValue, http.StatusBadRequest,
		"Value (%s) for parameter %s is invalid. %s", clip(value), clip(name), why)
}

// clip shortens a client-supplied string for an error message, on a rune boundary.
func clip(s string) string {
	if len(s) <= maxQuotedValue {
		return s
	}
	cut := maxQuotedValue
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
