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
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
)

// maxPolicySize is S3's bound on a bucket policy.
const maxPolicySize = 20 << 10

// bucketPolicy is a parsed bucket policy.
type bucketPolicy struct {
	statements []policyStatement
}

type policyStatement struct {
	allow bool
	// principals matches callers; notPrincipal inverts it (NotPrincipal).
	principals   principalSet
	notPrincipal bool
	actions      []string
	notAction    bool
	resources    []string
	notResource  bool
	conditions   []policyCondition
}

// principalSet is "*" (anyone, signed or not) or a list of canonical ids.
type principalSet struct {
	anyone bool
	ids    []string
}

type policyCondition struct {
	// op is the operator without an IfExists suffix.
	op       string
	ifExists bool
	key      string
	values   []string
	nets     []netip.Prefix
}

// The condition keys the store knows (lower-case), and the operators.
var (
	conditionKeys = []string{"aws:sourceip", "aws:securetransport", "aws:username", "aws:userid",
		"s3:prefix", "s3:delimiter", "s3:max-keys", "s3:x-amz-acl", "s3:versionid"}
	stringOperators = []string{"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase",
		"StringNotEqualsIgnoreCase", "StringLike", "StringNotLike"}
)

// s3Actions are the action names a policy may use (S3's, whether or not this store serves
// them: a policy written for S3 is accepted).
var s3Actions = []string{
	"AbortMultipartUpload", "CreateBucket", "DeleteBucket", "DeleteBucketPolicy", "DeleteObject",
	"DeleteObjectVersion", "DeleteObjectTagging", "DeleteObjectVersionTagging", "GetBucketAcl",
	"GetBucketCORS", "GetBucketLocation", "GetBucketPolicy", "GetBucketPolicyStatus",
	"GetBucketPublicAccessBlock", "GetBucketTagging", "GetBucketVersioning", "GetEncryptionConfiguration",
	"GetLifecycleConfiguration", "GetObject", "GetObjectAcl", "GetObjectAttributes", "GetObjectTagging",
	"GetObjectVersion", "GetObjectVersionAcl", "GetObjectVersionAttributes", "GetObjectVersionTagging",
	"ListAllMyBuckets", "ListBucket", "ListBucketMultipartUploads", "ListBucketVersions",
	"ListMultipartUploadParts", "PutBucketAcl", "PutBucketCORS", "PutBucketPolicy",
	"PutBucketPublicAccessBlock", "PutBucketTagging", "PutBucketVersioning", "PutEncryptionConfiguration",
	"PutLifecycleConfiguration", "PutObject", "PutObjectAcl", "PutObjectTagging", "PutObjectVersionAcl",
	"PutObjectVersionTagging", "RestoreObject",
}

func malformedPolicy(msg string) error { return s3Error(CodeMalformedPolicy, msg) }

// parsePolicy reads a bucket policy for bucket. Its errors are MalformedPolicy.
func parsePolicy(data []byte, bucket string) (*bucketPolicy, error) {
	if len(data) > maxPolicySize {
		return nil, malformedPolicy("Policies must be no larger than 20 KB.")
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, malformedPolicy("Policies must be valid JSON and the first byte must be '{'")
	}
	var doc struct {
		Version   string          `json:"Version"`
		ID        string          `json:"Id"`
		Statement json.RawMessage `json:"Statement"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil || dec.More() {
		return nil, malformedPolicy("This policy contains invalid Json")
	}
	if doc.Version != "" && doc.Version != "2012-10-17" && doc.Version != "2008-10-17" {
		return nil, malformedPolicy("The policy must contain a valid version string")
	}
	var raws []json.RawMessage
	if len(doc.Statement) > 0 && doc.Statement[0] == '{' {
		raws = []json.RawMessage{doc.Statement}
	} else if err := json.Unmarshal(doc.Statement, &raws); err != nil {
		return nil, malformedPolicy("Missing required field Statement")
	}
	if len(raws) == 0 {
		return nil, malformedPolicy("Could not parse the policy: Statement is empty!")
	}
	p := &bucketPolicy{}
	for _, raw := range raws {
		st, err := parseStatement(raw, bucket)
		if err != nil {
			return nil, err
		}
		p.statements = append(p.statements, st)
	}
	return p, nil
}

func parseStatement(raw json.RawMessage, bucket string) (policyStatement, error) {
	var doc struct {
		Sid          string                                `json:"Sid"`
		Effect       string                                `json:"Effect"`
		Principal    json.RawMessage                       `json:"Principal"`
		NotPrincipal json.RawMessage                       `json:"NotPrincipal"`
		Action       json.RawMessage                       `json:"Action"`
		NotAction    json.RawMessage                       `json:"NotAction"`
		Resource     json.RawMessage                       `json:"Resource"`
		NotResource  json.RawMessage                       `json:"NotResource"`
		Condition    map[string]map[string]json.RawMessage `json:"Condition"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return policyStatement{}, malformedPolicy("This policy contains invalid Json")
	}
	var st policyStatement
	switch doc.Effect {
	case "Allow":
		st.allow = true
	case "Deny":
	default:
		return policyStatement{}, malformedPolicy("Invalid effect: " + doc.Effect)
	}
	var err error
	if st.principals, st.notPrincipal, err = parsePrincipal(doc.Principal, doc.NotPrincipal); err != nil {
		return policyStatement{}, err
	}
	if st.actions, st.notAction, err = eitherList(doc.Action, doc.NotAction, "Action"); err != nil {
		return policyStatement{}, err
	}
	for _, a := range st.actions {
		if !validAction(a) {
			return policyStatement{}, malformedPolicy("Policy has invalid action")
		}
	}
	if st.resources, st.notResource, err = eitherList(doc.Resource, doc.NotResource, "Resource"); err != nil {
		return policyStatement{}, err
	}
	for _, r := range st.resources {
		if !validResource(r, bucket) {
			return policyStatement{}, malformedPolicy("Policy has invalid resource")
		}
	}
	if st.conditions, err = parseConditions(doc.Condition); err != nil {
		return policyStatement{}, err
	}
	return st, nil
}

// eitherList reads exactly one of an element and its Not form.
func eitherList(pos, neg json.RawMessage, name string) ([]string, bool, error) {
	switch {
	case pos != nil && neg != nil:
		return nil, false, malformedPolicy("A statement may not have both " + name + " and Not" + name)
	case pos == nil && neg == nil:
		return nil, false, malformedPolicy("Missing required field " + name)
	case neg != nil:
		l, err := stringList(neg, "Not"+name)
		return l, true, err
	}
	l, err := stringList(pos, name)
	return l, false, err
}

// stringList reads a JSON string or a non-empty array of strings.
func stringList(raw json.RawMessage, name string) ([]string, error) {
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil || len(many) == 0 {
		return nil, malformedPolicy("Invalid " + name + " in policy")
	}
	return many, nil
}

// conditionValues reads a condition's values: strings, booleans or numbers, alone or in a
// non-empty list, as IAM accepts them.
func conditionValues(raw json.RawMessage) ([]string, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, malformedPolicy("Invalid condition value in policy")
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	if len(list) == 0 {
		return nil, malformedPolicy("Invalid condition value in policy")
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		switch x := item.(type) {
		case string:
			out = append(out, x)
		case bool, float64:
			out = append(out, fmt.Sprint(x))
		default:
			return nil, malformedPolicy("Invalid condition value in policy")
		}
	}
	return out, nil
}

func parsePrincipal(pos, neg json.RawMessage) (principalSet, bool, error) {
	raw, not := pos, false
	switch {
	case pos != nil && neg != nil:
		return principalSet{}, false, malformedPolicy("A statement may not have both Principal and NotPrincipal")
	case pos == nil && neg == nil:
		return principalSet{}, false, malformedPolicy("Missing required field Principal")
	case neg != nil:
		raw, not = neg, true
	}
	var star string
	if err := json.Unmarshal(raw, &star); err == nil {
		if star != "*" {
			return principalSet{}, false, malformedPolicy("Invalid principal in policy")
		}
		return principalSet{anyone: true}, not, nil
	}
	var byKind map[string]json.RawMessage
	if err := json.Unmarshal(raw, &byKind); err != nil || len(byKind) == 0 {
		return principalSet{}, false, malformedPolicy("Invalid principal in policy")
	}
	var set principalSet
	for kind, v := range byKind {
		if kind != "AWS" && kind != "CanonicalUser" {
			return principalSet{}, false, malformedPolicy("Invalid principal in policy")
		}
		ids, err := stringList(v, "principal")
		if err != nil {
			return principalSet{}, false, err
		}
		for _, id := range ids {
			switch {
			case id == "*" && kind == "AWS":
				set.anyone = true
			case validCanonicalID(id):
				set.ids = append(set.ids, id)
			default:
				return principalSet{}, false, malformedPolicy("Invalid principal in policy")
			}
		}
	}
	return set, not, nil
}

func validAction(a string) bool {
	if a == "*" {
		return true
	}
	service, name, ok := strings.Cut(a, ":")
	if !ok || !strings.EqualFold(service, "s3") || name == "" {
		return false
	}
	if strings.ContainsAny(name, "*?") {
		return true
	}
	for _, known := range s3Actions {
		if strings.EqualFold(known, name) {
			return true
		}
	}
	return false
}

// validResource reports whether r is an S3 ARN that can name bucket or objects in it.
func validResource(r, bucket string) bool {
	rest, ok := strings.CutPrefix(r, "arn:aws:s3:::")
	if !ok {
		return r == "*"
	}
	b, _, _ := strings.Cut(rest, "/")
	return b != "" && wildcardMatch(b, bucket, false)
}

func parseConditions(doc map[string]map[string]json.RawMessage) ([]policyCondition, error) {
	var out []policyCondition
	for op, byKey := range doc {
		base, ifExists := strings.CutSuffix(op, "IfExists")
		ipOp := base == "IpAddress" || base == "NotIpAddress"
		if !ipOp && base != "Bool" && !contains(stringOperators, base) {
			return nil, malformedPolicy("Invalid Condition type : " + op)
		}
		for key, raw := range byKey {
			lk := strings.ToLower(key)
			if !contains(conditionKeys, lk) {
				return nil, malformedPolicy("Policy has an invalid condition key")
			}
			if ipOp != (lk == "aws:sourceip") {
				return nil, malformedPolicy("Invalid Condition type : " + op + " for key " + key)
			}
			vals, err := conditionValues(raw)
			if err != nil {
				return nil, err
			}
			c := policyCondition{op: base, ifExists: ifExists, key: lk, values: vals}
			if ipOp {
				for _, v := range vals {
					pfx, err := parseCIDR(v)
					if err != nil {
						return nil, malformedPolicy("Invalid IP address or CIDR: " + v)
					}
					c.nets = append(c.nets, pfx)
				}
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// parseCIDR reads an address or a CIDR block.
func parseCIDR(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// policyRequest is what a statement is matched against.
type policyRequest struct {
	caller   identity
	action   string
	resource string
	// context holds the condition keys' values (lower-case keys); a key absent is not set.
	context map[string]string
	ip      netip.Addr
}

// effect says whether any statement of the policy allows (or denies) the request.
func (p *bucketPolicy) effect(req policyRequest, allow bool) bool {
	for _, st := range p.statements {
		if st.allow == allow && st.matches(req) {
			return true
		}
	}
	return false
}

func (st *policyStatement) matches(req policyRequest) bool {
	if st.principals.matches(req.caller) == st.notPrincipal {
		return false
	}
	if anyMatch(st.actions, req.action, true) == st.notAction {
		return false
	}
	if anyMatch(st.resources, req.resource, false) == st.notResource {
		return false
	}
	for _, c := range st.conditions {
		if !c.holds(req) {
			return false
		}
	}
	return true
}

func anyMatch(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if p == "*" || wildcardMatch(p, s, fold) {
			return true
		}
	}
	return false
}

func (ps principalSet) matches(c identity) bool {
	if ps.anyone {
		return true
	}
	for _, id := range ps.ids {
		if c.is(id) {
			return true
		}
	}
	return false
}

// holds evaluates a condition. Negated operators hold when the key is absent, as in IAM.
func (c policyCondition) holds(req policyRequest) bool {
	if c.key == "aws:sourceip" {
		in := false
		for _, n := range c.nets {
			if req.ip.IsValid() && n.Contains(req.ip.Unmap()) {
				in = true
			}
		}
		return in == (c.op == "IpAddress")
	}
	v, present := req.context[c.key]
	negated := strings.Contains(c.op, "Not")
	if !present {
		return c.ifExists || negated
	}
	match := false
	for _, want := range c.values {
		switch c.op {
		case "StringEquals", "StringNotEquals", "Bool":
			match = match || v == want
		case "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase":
			match = match || strings.EqualFold(v, want)
		case "StringLike", "StringNotLike":
			match = match || wildcardMatch(want, v, false)
		}
	}
	return match != negated
}

// isPublic reports whether the policy allows anyone outside named principals, as S3 judges
// for Block Public Access: an Allow to "*" (or a NotPrincipal) not fixed by an aws:SourceIp
// condition to networks of at least /8 (IPv4) or /32 (IPv6).
func (p *bucketPolicy) isPublic() bool {
	for _, st := range p.statements {
		if !st.allow || !(st.principals.anyone || st.notPrincipal) {
			continue
		}
		if !st.fixedSource() {
			return true
		}
	}
	return false
}

func (st *policyStatement) fixedSource() bool {
	for _, c := range st.conditions {
		if c.key != "aws:sourceip" || c.op != "IpAddress" || c.ifExists {
			continue
		}
		narrow := true
		for _, n := range c.nets {
			if n.Addr().Is4() && n.Bits() < 8 || !n.Addr().Is4() && n.Bits() < 32 {
				narrow = false
			}
		}
		if narrow {
			return true
		}
	}
	return false
}

// wildcardMatch matches s against pattern, where * is any run and ? any one character, in
// time linear in their lengths times the number of stars.
func wildcardMatch(pattern, s string, fold bool) bool {
	if fold {
		pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	}
	p, i, star, mark := 0, 0, -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
