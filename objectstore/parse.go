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
	"encoding/xml"

	"pinet.io/pinet/objectstore/fsstore"
)

// maxDeleteObjects is how many keys one DeleteObjects request may name.
const maxDeleteObjects = 1000

// parseCompleteMultipartUpload reads a CompleteMultipartUpload body: the parts to assemble.
func parseCompleteMultipartUpload(body []byte) ([]fsstore.CompletePart, error) {
	var doc struct {
		XMLName xml.Name `xml:"CompleteMultipartUpload"`
		Parts   []struct {
			PartNumber *int    `xml:"PartNumber"`
			ETag       *string `xml:"ETag"`
		} `xml:"Part"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		return nil, s3Error(CodeMalformedXML)
	}
	if len(doc.Parts) == 0 || len(doc.Parts) > fsstore.MaxPartNumber {
		return nil, s3Error(CodeMalformedXML, "The XML you provided must name between 1 and 10000 parts.")
	}
	parts := make([]fsstore.CompletePart, len(doc.Parts))
	for i, p := range doc.Parts {
		if p.PartNumber == nil || p.ETag == nil {
			return nil, s3Error(CodeMalformedXML, "Every Part needs a PartNumber and an ETag.")
		}
		parts[i] = fsstore.CompletePart{Number: *p.PartNumber, ETag: *p.ETag}
	}
	return parts, nil
}

// objectToDelete is one Object of a DeleteObjects body; VersionID is "" when it names none.
type objectToDelete struct {
	Key       string
	VersionID string
}

// parseDeleteObjects reads a DeleteObjects body: the keys (and versions) to delete and whether
// to report only failures.
func parseDeleteObjects(body []byte) (objs []objectToDelete, quiet bool, err error) {
	var doc struct {
		XMLName xml.Name `xml:"Delete"`
		Quiet   bool     `xml:"Quiet"`
		Objects []struct {
			Key       *string `xml:"Key"`
			VersionID string  `xml:"VersionId"`
		} `xml:"Object"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		return nil, false, s3Error(CodeMalformedXML)
	}
	if len(doc.Objects) == 0 || len(doc.Objects) > maxDeleteObjects {
		return nil, false, s3Error(CodeMalformedXML, "The XML you provided must name between 1 and 1000 objects.")
	}
	objs = make([]objectToDelete, len(doc.Objects))
	for i, o := range doc.Objects {
		if o.Key == nil {
			return nil, false, s3Error(CodeMalformedXML, "Every Object needs a Key.")
		}
		objs[i] = objectToDelete{Key: *o.Key, VersionID: o.VersionID}
	}
	return objs, doc.Quiet, nil
}

// parseCreateBucketConfiguration reads CreateBucket's optional body: the location constraint,
// or "" when there is none.
func parseCreateBucketConfiguration(body []byte) (string, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return "", nil
	}
	var doc struct {
		XMLName            xml.Name `xml:"CreateBucketConfiguration"`
		LocationConstraint string   `xml:"LocationConstraint"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		return "", s3Error(CodeMalformedXML)
	}
	return doc.LocationConstraint, nil
}
