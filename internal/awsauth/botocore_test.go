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

package awsauth

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// botocoreScript signs requests with botocore's own signers and sends them with its own
// HTTP session. Each request names its case in X-Test-Case; each line of output is
// {"case": …, "status": …}.
const botocoreScript = `
import hashlib, json, sys
from urllib.parse import quote
import botocore.auth
from botocore.auth import (SigV4Auth, SigV4QueryAuth, S3SigV4Auth, S3SigV4QueryAuth,
                           SigV2Auth, HmacV1Auth, HmacV1QueryAuth)
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.httpsession import URLLib3Session

ec2, s3, skewed, key, secret, wrong, region = sys.argv[1:8]
good, bad = Credentials(key, secret), Credentials(key, wrong)
session = URLLib3Session()
form = {'Action': 'DescribeRegions', 'Version': '2016-11-15', 'RegionName.1': 'a b/ü*~'}
obj = s3 + '/bucket/' + quote('dir/some key+ü (1).txt', safe='/~')

class SigV2HmacSHA1(SigV2Auth):
    """botocore's SigV2 signer with HmacSHA1, which it only uses for HmacSHA256 itself."""
    def calc_signature(self, request, params):
        params['SignatureMethod'] = 'HmacSHA1'
        saved, botocore.auth.sha256 = botocore.auth.sha256, hashlib.sha1
        try:
            return super().calc_signature(request, params)
        finally:
            botocore.auth.sha256 = saved

def run(case, signer, method, url, data=None, params=None, headers=None):
    h = {'X-Test-Case': case}
    h.update(headers or {})
    req = AWSRequest(method=method, url=url, data=data, params=params or {}, headers=h)
    signer.add_auth(req)
    resp = session.send(req.prepare())
    print(json.dumps({'case': case, 'status': resp.status_code}))

formtype = {'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8'}
run('ec2-v4-post', SigV4Auth(good, 'ec2', region), 'POST', ec2 + '/',
    data='&'.join(quote(k, safe='') + '=' + quote(v, safe='-_.~') for k, v in form.items()), headers=formtype)
run('ec2-v4-presigned', SigV4QueryAuth(good, 'ec2', region, expires=300), 'GET', ec2 + '/', params=dict(form))
run('ec2-v2-post', SigV2Auth(good), 'POST', ec2 + '/', data=dict(form), headers=formtype)
run('ec2-v2-get', SigV2Auth(good), 'GET', ec2 + '/', params=dict(form))
run('ec2-v2-sha1', SigV2HmacSHA1(good), 'POST', ec2 + '/', data=dict(form), headers=formtype)
run('ec2-v2-skewed', SigV2Auth(good), 'POST', skewed + '/', data=dict(form), headers=formtype)
run('ec2-v4-skewed', SigV4Auth(good, 'ec2', region), 'GET', skewed + '/', params=dict(form))
run('ec2-v2-wrong-secret', SigV2Auth(bad), 'POST', ec2 + '/', data=dict(form), headers=formtype)
run('ec2-v4-wrong-secret', SigV4Auth(bad, 'ec2', region), 'POST', ec2 + '/', data='Action=DescribeRegions&Version=2016-11-15', headers=formtype)

meta = {'Content-Type': 'text/plain', 'X-Amz-Meta-Color': '  blue  and green ', 'Content-MD5': 'M0nkHJUqBAhCD7lxEbS8Vw=='}
run('s3-v4-put', S3SigV4Auth(good, 's3', region), 'PUT', obj, data=b'botocore payload\n', headers=meta)
run('s3-v4-presigned', S3SigV4QueryAuth(good, 's3', region, expires=300), 'GET', obj + '?response-content-type=text%2Fplain')
run('s3-v2-put', HmacV1Auth(good), 'PUT', obj, data=b'botocore payload\n', headers=meta)
run('s3-v2-get-subresource', HmacV1Auth(good), 'GET', s3 + '/bucket?acl')
run('s3-v2-presigned', HmacV1QueryAuth(good, expires=300), 'GET', obj + '?response-content-type=text%2Fplain&versionId=v%201')
run('s3-v2-wrong-secret', HmacV1Auth(bad), 'PUT', obj, data=b'botocore payload\n', headers=meta)
`

// TestBotocore signs with botocore (SigV4, SigV4 presigned, EC2 SigV2 form and query, S3 SigV2
// header and presigned) and checks what the server made of each request.
func TestBotocore(t *testing.T) {
	if err := exec.Command("python3", "-c", "import botocore").Run(); err != nil {
		t.Skipf("python3 with botocore is not available: %v", err)
	}
	ec2 := newAuthServer(t, ServiceEC2, false)
	s3 := newAuthServer(t, ServiceS3, false)
	// skewed's clock runs 20 minutes ahead: botocore's requests look too old to it.
	skewed := newAuthServer(t, ServiceEC2, false, func(v *Verifier) {
		v.Now = func() time.Time { return time.Now().Add(20 * time.Minute) }
	})
	cmd := exec.Command("python3", "-c", botocoreScript, ec2.URL, s3.URL, skewed.URL, testKey, testSecret, wrongSecret, testRegion)
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("botocore: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	status := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r struct {
			Case   string `json:"case"`
			Status int    `json:"status"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("botocore printed %q: %v", line, err)
		}
		status[r.Case] = r.Status
	}

	for _, tc := range []struct {
		server      *authServer
		name        string
		method      string
		payloadHash string
		kind        error
	}{
		{server: ec2, name: "ec2-v4-post", method: MethodSigV4Header},
		{server: ec2, name: "ec2-v4-presigned", method: MethodSigV4Query},
		{server: ec2, name: "ec2-v2-post", method: MethodSigV2Query},
		{server: ec2, name: "ec2-v2-get", method: MethodSigV2Query},
		{server: ec2, name: "ec2-v2-sha1", method: MethodSigV2Query},
		{server: skewed, name: "ec2-v2-skewed", kind: ErrExpired},
		{server: skewed, name: "ec2-v4-skewed", kind: ErrExpired},
		{server: ec2, name: "ec2-v2-wrong-secret", kind: ErrSignatureMismatch},
		{server: ec2, name: "ec2-v4-wrong-secret", kind: ErrSignatureMismatch},
		{server: s3, name: "s3-v4-put", method: MethodSigV4Header, payloadHash: hexSHA256Bytes([]byte("botocore payload\n"))},
		{server: s3, name: "s3-v4-presigned", method: MethodSigV4Query, payloadHash: UnsignedPayload},
		{server: s3, name: "s3-v2-put", method: MethodSigV2Header},
		{server: s3, name: "s3-v2-get-subresource", method: MethodSigV2Header},
		{server: s3, name: "s3-v2-presigned", method: MethodSigV2Query},
		{server: s3, name: "s3-v2-wrong-secret", kind: ErrSignatureMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.server.byCase(t, tc.name)
			if tc.kind != nil {
				expectKind(t, o, tc.kind)
				if status[tc.name] < 400 {
					t.Errorf("botocore got status %d", status[tc.name])
				}
				return
			}
			expectOK(t, o)
			if status[tc.name] != 200 {
				t.Errorf("botocore got status %d", status[tc.name])
			}
			if o.id.Method != tc.method || tc.server == s3 && o.id.PayloadHash != tc.payloadHash {
				t.Errorf("method %q, payload hash %q; want %q, %q", o.id.Method, o.id.PayloadHash, tc.method, tc.payloadHash)
			}
			if o.method == "PUT" && string(o.body) != "botocore payload\n" {
				t.Errorf("the handler read %q", o.body)
			}
		})
	}
}
