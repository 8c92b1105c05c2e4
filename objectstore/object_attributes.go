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
	"net/http"
	"strconv"
	"strings"

	"pinet.io/pinet/objectstore/fsstore"
)

// readSpan is the part of an object a GET or HEAD reads: the part partNumber names (of an
// object made by a multipart upload; part 1 of any other is all of it), else what Range
// names. It tells the client how many parts a multipart object has.
func readSpan(q *request, info fsstore.ObjectInfo) (start, length int64, partial bool, err error) {
	h := q.w.Header()
	query := q.r.URL.Query()
	if !query.Has("partNumber") {
		start, length, partial, err = parseRange(q.r.Header.Get("Range"), info.Size)
		if err != nil {
			h.Set("Content-Range", "bytes */"+strconv.FormatInt(info.Size, 10))
		}
		return start, length, partial, err
	}
	if q.r.Header.Get("Range") != "" {
		return 0, 0, false, s3Error(CodeInvalidRequest, "Cannot specify both Range header and partNumber query parameter.")
	}
	n, err := partNumber(query)
	if err != nil {
		return 0, 0, false, err
	}
	if info.Parts == 0 {
		if n != 1 {
			return 0, 0, false, s3Error(CodeInvalidPartNumber)
		}
		return 0, info.Size, false, nil
	}
	h.Set("x-amz-mp-parts-count", strconv.Itoa(info.Parts))
	if n > info.Parts {
		return 0, 0, false, s3Error(CodeInvalidPartNumber)
	}
	if len(info.PartList) != info.Parts {
		return 0, 0, false, s3Error(CodeInvalidRequest, "The parts of this object were not recorded when it was made; read it by Range instead.")
	}
	for _, p := range info.PartList[:n-1] {
		start += p.Size
	}
	length = info.PartList[n-1].Size
	if length == 0 {
		return 0, 0, false, nil
	}
	return start, length, true, nil
}

// setReadChecksum tells a reader that asked (x-amz-checksum-mode: ENABLED) the checksum of
// what it reads: the object's for a whole object, the part's for a part; nothing for a range.
func setReadChecksum(q *request, info fsstore.ObjectInfo, partial bool) {
	if !strings.EqualFold(q.r.Header.Get(headerChecksumMode), "ENABLED") {
		return
	}
	h := q.w.Header()
	if q.r.URL.Query().Has("partNumber") && info.Parts > 0 {
		n, err := partNumber(q.r.URL.Query())
		if err == nil && n <= len(info.PartList) {
			if cs := info.PartList[n-1].Checksum; cs != nil && cs.Value != "" {
				h.Set(checksumHeader(cs.Algorithm), cs.Value)
			}
		}
		return
	}
	if !partial {
		setChecksumHeaders(h, info.Meta.Checksum)
	}
}

// Object attributes GetObjectAttributes can be asked for.
var objectAttributes = []string{"ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"}

type objectAttributesResult struct {
	XMLName      xml.Name            `xml:"GetObjectAttributesResponse"`
	Xmlns        string              `xml:"xmlns,attr"`
	ETag         string              `xml:"ETag,omitempty"`
	Checksum     *attributesChecksum `xml:"Checksum,omitempty"`
	ObjectParts  *attributesParts    `xml:"ObjectParts,omitempty"`
	StorageClass string              `xml:"StorageClass,omitempty"`
	ObjectSize   *int64              `xml:"ObjectSize,omitempty"`
}

type attributesChecksum struct {
	checksumFields
	ChecksumType string `xml:"ChecksumType,omitempty"`
}

type attributesParts struct {
	TotalPartsCount      int              `xml:"PartsCount"`
	PartNumberMarker     int              `xml:"PartNumberMarker"`
	NextPartNumberMarker int              `xml:"NextPartNumberMarker"`
	MaxParts             int              `xml:"MaxParts"`
	IsTruncated          bool             `xml:"IsTruncated"`
	Parts                []attributesPart `xml:"Part"`
}

type attributesPart struct {
	PartNumber int   `xml:"PartNumber"`
	Size       int64 `xml:"Size"`
	checksumFields
}

// parseObjectAttributes reads x-amz-object-attributes: a comma-separated list of attributes.
func parseObjectAttributes(v string) (map[string]bool, error) {
	want := map[string]bool{}
	for _, a := range strings.Split(v, ",") {
		a = strings.TrimSpace(a)
		found := false
		for _, known := range objectAttributes {
			if strings.EqualFold(a, known) {
				want[known], found = true, true
			}
		}
		if !found {
			return nil, s3Error(CodeInvalidArgument, "Invalid attribute name specified.")
		}
	}
	return want, nil
}

// intHeader reads a non-negative integer header, def when absent.
func intHeader(h http.Header, name string, def int) (int, error) {
	v := h.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, s3Error(CodeInvalidArgument, "Provided "+name+" not an integer or within integer range.")
	}
	return n, nil
}

func (s *Server) getObjectAttributes(q *request) error {
	b, err := s.bucket(q)
	if err != nil {
		return err
	}
	want, err := parseObjectAttributes(strings.Join(q.r.Header.Values("x-amz-object-attributes"), ","))
	if err != nil {
		return err
	}
	maxParts, err := intHeader(q.r.Header, "x-amz-max-parts", maxListParts)
	if err != nil {
		return err
	}
	marker, err := intHeader(q.r.Header, "x-amz-part-number-marker", 0)
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
	// Sizes are of the plaintext: an SSE-C object's attributes need its key, as in S3.
	plain, err := s.openPlain(q.r.Header, ssecPrefix, obj)
	if err != nil {
		return err
	}
	info := plainInfo(obj.Info, plain.size)
	setSSEHeaders(q.w.Header(), info.Meta.Encryption)
	q.w.Header().Set("Last-Modified", info.Modified.UTC().Format(http.TimeFormat))
	res := objectAttributesResult{Xmlns: s3Namespace}
	if want["ETag"] {
		res.ETag = info.ETag
	}
	if want["Checksum"] && info.Meta.Checksum != nil && info.Meta.Checksum.Value != "" {
		res.Checksum = &attributesChecksum{checksumFields: newChecksumFields(info.Meta.Checksum), ChecksumType: info.Meta.Checksum.Type}
	}
	if want["ObjectParts"] && info.Parts > 0 {
		res.ObjectParts = objectPartsPage(info, marker, min(maxParts, maxListParts))
	}
	if want["StorageClass"] {
		res.StorageClass = storageClass
	}
	if want["ObjectSize"] {
		res.ObjectSize = &info.Size
	}
	s.writeXML(q, http.StatusOK, res)
	return nil
}

// objectPartsPage is the page of a multipart object's parts after marker.
func objectPartsPage(info fsstore.ObjectInfo, marker, maxParts int) *attributesParts {
	out := &attributesParts{TotalPartsCount: info.Parts, PartNumberMarker: marker, MaxParts: maxParts}
	for _, p := range info.PartList {
		if p.Number <= marker {
			continue
		}
		if len(out.Parts) == maxParts {
			out.IsTruncated = true
			break
		}
		out.Parts = append(out.Parts, attributesPart{PartNumber: p.Number, Size: p.Size, checksumFields: newChecksumFields(p.Checksum)})
		out.NextPartNumberMarker = p.Number
	}
	return out
}
