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
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"time"
)

// Namespace is the XML namespace of EC2 API version 2016-11-15 responses.
const Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"

// TimestampLayout is how EC2 prints times: UTC with milliseconds.
const TimestampLayout = "2006-01-02T15:04:05.000Z"

const xmlContentType = "text/xml;charset=UTF-8"

// bodyElement wraps the body while it is marshalled; its tags are cut off again.
const bodyElement = "body"

// WriteResponse writes <{Action}Response xmlns=Namespace><requestId>…</requestId>…body fields…</…>
// body is a struct with encoding/xml tags (lists as <instancesSet><item>…</item></instancesSet>).
//
// body may be a struct, a pointer to one, or nil for a response with only the request id; its
// fields become the response element's children (an XMLName field is ignored; attributes are not
// allowed). The response is marshalled completely before anything is written, so on error
// nothing has been sent and the caller can still write an error.
func WriteResponse(w http.ResponseWriter, action, requestID string, body any) error {
	if !isXMLName(action) {
		return fmt.Errorf("query: action %q is not a valid XML element name", action)
	}
	inner, err := marshalFields(body)
	if err != nil {
		return fmt.Errorf("query: marshalling the %s response: %w", action, err)
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	fmt.Fprintf(&buf, "<%sResponse xmlns=\"%s\">", action, Namespace)
	buf.WriteString("<requestId>")
	if err := xml.EscapeText(&buf, []byte(requestID)); err != nil {
		return fmt.Errorf("query: escaping the request id: %w", err)
	}
	buf.WriteString("</requestId>")
	buf.Write(inner)
	fmt.Fprintf(&buf, "</%sResponse>", action)
	return writeXML(w, http.StatusOK, buf.Bytes())
}

// marshalFields marshals body's fields without an element of its own.
func marshalFields(body any) ([]byte, error) {
	if body == nil {
		return nil, nil
	}
	t := reflect.TypeOf(body)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("body is a %T, not a struct", body)
	}
	var buf bytes.Buffer
	start := xml.StartElement{Name: xml.Name{Local: bodyElement}}
	if err := xml.NewEncoder(&buf).EncodeElement(body, start); err != nil {
		return nil, err
	}
	out := buf.Bytes()
	open, end := "<"+bodyElement+">", "</"+bodyElement+">"
	switch {
	case len(out) == 0: // a nil pointer
		return nil, nil
	case !bytes.HasPrefix(out, []byte(open)) || !bytes.HasSuffix(out, []byte(end)):
		return nil, fmt.Errorf("body %T has XML attributes; a response element takes none", body)
	}
	return out[len(open) : len(out)-len(end)], nil
}

// WriteError writes <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>
// with the error's HTTP status. A nil error, or one without a valid status, is sent as an
// InternalError with status 500.
func WriteError(w http.ResponseWriter, err *Error, requestID string) {
	if err == nil {
		err = ErrorFrom(nil)
	}
	status := err.Status
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	doc := struct {
		XMLName   xml.Name `xml:"Response"`
		Code      string   `xml:"Errors>Error>Code"`
		Message   string   `xml:"Errors>Error>Message"`
		RequestID string   `xml:"RequestID"`
	}{Code: err.Code, Message: err.Message, RequestID: requestID}
	out, merr := xml.Marshal(doc)
	if merr != nil {
		// Strings always marshal; keep a well-formed answer regardless.
		out = []byte("<Response><Errors><Error><Code>InternalError</Code></Error></Errors></Response>")
	}
	_ = writeXML(w, status, append([]byte(xml.Header), out...))
}

func writeXML(w http.ResponseWriter, status int, body []byte) error {
	w.Header().Set("Content-Type", xmlContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("query: writing the response: %w", err)
	}
	return nil
}

// isXMLName accepts the ASCII names EC2 actions have: a letter, then letters and digits.
func isXMLName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// List is an EC2 list: the field's tag names the set (`xml:"instancesSet"`) and every element is
// an <item>. An empty List still prints the set element, as EC2 does; use *List with omitempty
// to leave it out.
type List[T any] struct {
	Items []T `xml:"item"`
}

// NewList returns a List of the items.
func NewList[T any](items ...T) List[T] {
	return List[T]{Items: items}
}

// Timestamp prints a time as EC2 does (2006-01-02T15:04:05.000Z, UTC). The zero time prints no
// element at all, so optional times need no pointer.
type Timestamp struct {
	time.Time
}

// NewTimestamp wraps t.
func NewTimestamp(t time.Time) Timestamp {
	return Timestamp{Time: t}
}

// MarshalXML implements xml.Marshaler.
func (t Timestamp) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if t.IsZero() {
		return nil
	}
	return e.EncodeElement(t.UTC().Format(TimestampLayout), start)
}

// UnmarshalText implements encoding.TextUnmarshaler for RFC 3339 times with any fraction, so a
// Timestamp also decodes from XML and from request parameters.
func (t *Timestamp) UnmarshalText(b []byte) error {
	parsed, err := time.Parse(time.RFC3339, string(b))
	if err != nil {
		return err
	}
	t.Time = parsed.UTC()
	return nil
}

// AttributeBoolean is EC2's boxed boolean (AttributeBooleanValue), <x><value>true</value></x>,
// which DescribeInstanceAttribute, DescribeVolumeAttribute and others return.
type AttributeBoolean struct {
	Value bool `xml:"value"`
}

// AttributeValue is EC2's boxed string (AttributeValue), <x><value>…</value></x>.
type AttributeValue struct {
	Value string `xml:"value"`
}
