/*
Copyright 2026 The PiNet Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package objectstore

import (
	"encoding/xml"
	"net/http"
	"slices"
	"testing"

	"pinet.io/pinet/objectstore/fsstore"
)

// checkTags fails unless tags is a set S3 would accept, and the store's answer of it parses
// back to the same tags.
func checkTags(t *testing.T, tags []fsstore.Tag, forBucket bool) {
	t.Helper()
	if err := validTags(tags, forBucket); err != nil {
		t.Fatalf("accepted tags %q fail validation: %v", tags, err)
	}
	doc, err := xml.Marshal(taggingDocument(tags))
	if err != nil {
		t.Fatal(err)
	}
	again, err := parseTagging(doc, forBucket)
	if err != nil {
		t.Fatalf("the store's own tag set %s does not parse: %v", doc, err)
	}
	if !slices.Equal(again, tags) {
		t.Fatalf("tags %q came back as %q", tags, again)
	}
}

func FuzzParseTagging(f *testing.F) {
	f.Add([]byte(taggingXML("a", "1", "b", "two words")), false)
	f.Add([]byte(`<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet/></Tagging>`), true)
	f.Add([]byte(taggingXML("aws:x", "1")), true)
	f.Add([]byte(`<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>`), false)
	f.Fuzz(func(t *testing.T, body []byte, forBucket bool) {
		tags, err := parseTagging(body, forBucket)
		knownError(t, err)
		if err != nil {
			return
		}
		checkTags(t, tags, forBucket)
	})
}

func FuzzTagsFromHeader(f *testing.F) {
	f.Add("a=1&b=two%20words")
	f.Add("a=1&a=2")
	f.Add("=&&=x")
	f.Add("k=%zz")
	f.Fuzz(func(t *testing.T, v string) {
		tags, err := tagsFromHeader(http.Header{"X-Amz-Tagging": {v}})
		knownError(t, err)
		if err != nil {
			return
		}
		checkTags(t, tags, false)
	})
}
