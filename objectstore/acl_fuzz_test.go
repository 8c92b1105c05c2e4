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
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"

	"pinet.io/pinet/objectstore/fsstore"
)

// checkACL fails unless every grant of acl is one the store can hold.
func checkACL(t *testing.T, acl fsstore.ACL) {
	t.Helper()
	for _, g := range acl.Grants {
		if !validPermission(g.Permission) {
			t.Fatalf("grant with permission %q", g.Permission)
		}
		switch g.Type {
		case granteeUser:
			if !validCanonicalID(g.ID) || g.URI != "" {
				t.Fatalf("user grant %+v", g)
			}
		case granteeGroup:
			if g.URI != groupAllUsers && g.URI != groupAuthenticated || g.ID != "" {
				t.Fatalf("group grant %+v", g)
			}
		default:
			t.Fatalf("grant of type %q", g.Type)
		}
	}
	if len(acl.Grants) > maxGrants {
		t.Fatalf("%d grants", len(acl.Grants))
	}
}

func FuzzParseACL(f *testing.F) {
	owner := ProjectCanonicalID("proj-a")
	f.Add([]byte(`<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>` + owner + `</ID></Owner><AccessControlList>` +
		`<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>` + UserCanonicalID("bob") + `</ID></Grantee><Permission>READ</Permission></Grant>` +
		`<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>` + groupAllUsers + `</URI></Grantee><Permission>FULL_CONTROL</Permission></Grant>` +
		`</AccessControlList></AccessControlPolicy>`))
	f.Add([]byte(`<AccessControlPolicy><AccessControlList/></AccessControlPolicy>`))
	f.Add([]byte(`<AccessControlPolicy><AccessControlList><Grant><Grantee xsi:type="AmazonCustomerByEmail"><EmailAddress>a@b</EmailAddress></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>`))
	f.Add([]byte(`<AccessControlPolicy><Owner><ID>x</ID></Owner></AccessControlPolicy>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		acl, err := parseACL(body, "proj-a")
		knownError(t, err)
		if err != nil {
			return
		}
		checkACL(t, acl)
		// What the store answers parses back to the same grants.
		doc, err := xml.Marshal(aclDocument(acl))
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseACL(doc, "proj-a")
		if err != nil {
			t.Fatalf("the store's own ACL %s does not parse: %v", doc, err)
		}
		if !slices.Equal(again.Grants, acl.Grants) {
			t.Fatalf("round trip changed grants: %+v -> %+v", acl.Grants, again.Grants)
		}
	})
}

func FuzzGrantHeaders(f *testing.F) {
	f.Add("private", "")
	f.Add("", `id="`+UserCanonicalID("bob")+`", uri="`+groupAuthenticated+`"`)
	f.Add("public-read", `uri="x"`)
	f.Add("", `emailAddress="a@b", id=`)
	f.Fuzz(func(t *testing.T, canned, grant string) {
		h := map[string][]string{}
		if canned != "" {
			h["X-Amz-Acl"] = []string{canned}
		}
		if grant != "" {
			h["X-Amz-Grant-Read"] = []string{grant}
		}
		acl, present, err := aclFromHeaders(h, "proj-a", "proj-b", true)
		knownError(t, err)
		if err != nil {
			return
		}
		if present != (canned != "" || grant != "") {
			t.Fatalf("present = %v for %q %q", present, canned, grant)
		}
		checkACL(t, acl)
	})
}

func FuzzParsePolicy(f *testing.F) {
	f.Add(publicReadPolicy("fuzz-bucket"))
	f.Add(`{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{"CanonicalUser":["` + UserCanonicalID("bob") + `"]},"NotAction":"s3:Get*","NotResource":["arn:aws:s3:::fuzz-*/a?c"]}}`)
	f.Add(`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::fuzz-bucket","Condition":{"StringLikeIfExists":{"s3:prefix":["a/*","b"]},"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","::1"]},"Bool":{"aws:SecureTransport":"false"}}}]}`)
	f.Add(`{"Statement":[]}`)
	f.Add(`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}],"Id":"x"}`)
	callers := []identity{{anonymous: true}, {user: "bob", project: "proj-b"}, {user: "alice", project: "fuzz"}}
	f.Fuzz(func(t *testing.T, doc string) {
		pol, err := parsePolicy([]byte(doc), "fuzz-bucket")
		knownError(t, err)
		if err != nil {
			if pol != nil {
				t.Fatal("a policy with an error")
			}
			return
		}
		if len(pol.statements) == 0 {
			t.Fatal("a policy without statements")
		}
		for _, st := range pol.statements {
			if len(st.actions) == 0 || len(st.resources) == 0 {
				t.Fatalf("statement without actions or resources: %+v", st)
			}
			if !st.principals.anyone && len(st.principals.ids) == 0 {
				t.Fatalf("statement without principals: %+v", st)
			}
		}
		_ = pol.isPublic()
		for _, c := range callers {
			for _, action := range []string{"s3:GetObject", "s3:ListBucket"} {
				req := policyRequest{caller: c, action: action, resource: "arn:aws:s3:::fuzz-bucket/k", ip: netip.MustParseAddr("127.0.0.1"),
					context: map[string]string{"s3:prefix": "a/", "aws:securetransport": "false"}}
				allow, deny := pol.effect(req, true), pol.effect(req, false)
				// A policy that is all Allow (or all Deny) never says the other.
				if allow && !hasEffect(pol, true) || deny && !hasEffect(pol, false) {
					t.Fatal("an effect no statement has")
				}
			}
		}
	})
}

func hasEffect(p *bucketPolicy, allow bool) bool {
	for _, st := range p.statements {
		if st.allow == allow {
			return true
		}
	}
	return false
}

// FuzzWildcardMatch checks the matcher against regexp.
func FuzzWildcardMatch(f *testing.F) {
	f.Add("a*b?c", "axxbyc")
	f.Add("*", "")
	f.Add("**a", "ba")
	f.Add("arn:aws:s3:::b/*", "arn:aws:s3:::b/k/l")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if len(pattern) > 64 || len(s) > 256 || !isByteString(pattern, s) {
			return
		}
		var re strings.Builder
		re.WriteString(`(?s)^`)
		for i := 0; i < len(pattern); i++ {
			switch pattern[i] {
			case '*':
				re.WriteString(`.*`)
			case '?':
				re.WriteString(`.`)
			default:
				re.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
			}
		}
		re.WriteString(`$`)
		want := regexp.MustCompile(re.String()).MatchString(s)
		if got := wildcardMatch(pattern, s, false); got != want {
			t.Fatalf("wildcardMatch(%q, %q) = %v, regexp says %v", pattern, s, got, want)
		}
	})
}

// isByteString reports whether both strings are ASCII, where bytes and runes agree (the
// matcher works on bytes, regexp on runes).
func isByteString(ss ...string) bool {
	for _, s := range ss {
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 {
				return false
			}
		}
	}
	return true
}
