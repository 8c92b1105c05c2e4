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

func FuzzParseCORS(f *testing.F) {
	f.Add([]byte(`<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><CORSRule><ID>a</ID><AllowedOrigin>https://*.example.com</AllowedOrigin>`+
		`<AllowedMethod>GET</AllowedMethod><AllowedHeader>x-amz-*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>60</MaxAgeSeconds></CORSRule></CORSConfiguration>`),
		"https://a.example.com", "GET")
	f.Add([]byte(`<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>`), "x", "PATCH")
	f.Add([]byte(`<CORSConfiguration><CORSRule><AllowedOrigin>**</AllowedOrigin><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>-5</MaxAgeSeconds></CORSRule></CORSConfiguration>`), "", "")
	f.Fuzz(func(t *testing.T, body []byte, origin, method string) {
		rules, err := parseCORS(body)
		knownError(t, err)
		if err != nil {
			return
		}
		if len(rules) == 0 || len(rules) > maxCORSRules {
			t.Fatalf("accepted %d rules", len(rules))
		}
		for _, r := range rules {
			if len(r.AllowedOrigins) == 0 || len(r.AllowedMethods) == 0 {
				t.Fatalf("accepted rule %+v", r)
			}
			for _, m := range r.AllowedMethods {
				if !contains(corsMethods, m) {
					t.Fatalf("accepted method %q", m)
				}
			}
		}
		doc, err := xml.Marshal(corsDocument(rules))
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseCORS(doc)
		if err != nil {
			t.Fatalf("the store's own CORS configuration %s does not parse: %v", doc, err)
		}
		if len(again) != len(rules) {
			t.Fatalf("%d rules came back as %d", len(rules), len(again))
		}
		// Matching never allows a method the rule does not name.
		if r, ok := corsMatch(rules, origin, method, nil); ok && !contains(r.AllowedMethods, method) {
			t.Fatalf("rule %+v matched method %q", r, method)
		}
	})
}

func FuzzParseLifecycle(f *testing.F) {
	f.Add([]byte(`<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ID>a</ID><Filter><And><Prefix>logs/</Prefix>` +
		`<Tag><Key>k</Key><Value>v</Value></Tag><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></And></Filter><Status>Enabled</Status>` +
		`<Expiration><Days>3</Days></Expiration><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays><NewerNoncurrentVersions>2</NewerNoncurrentVersions>` +
		`</NoncurrentVersionExpiration></Rule></LifecycleConfiguration>`))
	f.Add([]byte(`<LifecycleConfiguration><Rule><Prefix>x</Prefix><Status>Disabled</Status><Expiration><Date>2027-01-01T00:00:00Z</Date></Expiration>` +
		`<AbortIncompleteMultipartUpload><DaysAfterInitiation>2</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>`))
	f.Add([]byte(`<LifecycleConfiguration><Rule><Filter/><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule></LifecycleConfiguration>`))
	f.Add([]byte(`<LifecycleConfiguration><Rule><Filter><ObjectSizeLessThan>5</ObjectSizeLessThan></Filter><Status>Enabled</Status><Transition><Days>1</Days></Transition></Rule></LifecycleConfiguration>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		rules, err := parseLifecycle(body)
		knownError(t, err)
		if err != nil {
			return
		}
		for _, r := range rules {
			if r.ExpirationDays < 0 || r.NoncurrentDays < 0 || r.AbortUploadDays < 0 || r.NewerNoncurrent < 0 || r.NewerNoncurrent > maxNewerNoncurrent {
				t.Fatalf("accepted rule %+v", r)
			}
			if r.ExpirationDays == 0 && r.ExpirationDate == nil && !r.ExpiredDeleteMarker && r.NoncurrentDays == 0 && r.AbortUploadDays == 0 {
				t.Fatalf("accepted a rule with no action: %+v", r)
			}
		}
		doc, err := xml.Marshal(lifecycleDocument(rules))
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseLifecycle(doc)
		if err != nil {
			t.Fatalf("the store's own lifecycle configuration %s does not parse: %v", doc, err)
		}
		if len(again) != len(rules) {
			t.Fatalf("%d rules came back as %d", len(rules), len(again))
		}
		for i := range rules {
			a, b := rules[i], again[i]
			if a.Prefix != b.Prefix || !slices.Equal(a.Tags, b.Tags) || a.ExpirationDays != b.ExpirationDays || a.NoncurrentDays != b.NoncurrentDays ||
				a.NewerNoncurrent != b.NewerNoncurrent || a.AbortUploadDays != b.AbortUploadDays || a.SizeGreaterThan != b.SizeGreaterThan ||
				a.SizeLessThan != b.SizeLessThan || a.Enabled != b.Enabled || a.ExpiredDeleteMarker != b.ExpiredDeleteMarker {
				t.Fatalf("rule %+v came back as %+v", a, b)
			}
		}
	})
}
