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

package nodeauthz

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/certfiles"
)

// The API server's AuthorizationConfiguration (apiserver.config.k8s.io/v1), the fields PiNet
// writes.
type authorizationConfiguration struct {
	APIVersion  string       `json:"apiVersion"`
	Kind        string       `json:"kind"`
	Authorizers []authorizer `json:"authorizers"`
}

type authorizer struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Webhook *webhook `json:"webhook,omitempty"`
}

type webhook struct {
	Timeout                                  string           `json:"timeout"`
	AuthorizedTTL                            string           `json:"authorizedTTL"`
	CacheAuthorizedRequests                  bool             `json:"cacheAuthorizedRequests"`
	UnauthorizedTTL                          string           `json:"unauthorizedTTL"`
	CacheUnauthorizedRequests                bool             `json:"cacheUnauthorizedRequests"`
	SubjectAccessReviewVersion               string           `json:"subjectAccessReviewVersion"`
	MatchConditionSubjectAccessReviewVersion string           `json:"matchConditionSubjectAccessReviewVersion"`
	FailurePolicy                            string           `json:"failurePolicy"`
	ConnectionInfo                           connectionInfo   `json:"connectionInfo"`
	MatchConditions                          []matchCondition `json:"matchConditions"`
}

type connectionInfo struct {
	Type           string `json:"type"`
	KubeConfigFile string `json:"kubeConfigFile"`
}

type matchCondition struct {
	Expression string `json:"expression"`
}

// AuthorizationConfig is the API server's authorization configuration (its
// --authorization-config) with PiNet's node authorizer, reached through the kubeconfig at
// webhookKubeconfig, first and then the named built-in authorizers in order (e.g. "Node",
// "RBAC"). The API server asks the webhook only about node agents' reads of Instances, Volumes
// and Snapshots (its match conditions), and refuses those reads while the webhook does not
// answer.
func AuthorizationConfig(webhookKubeconfig, systemNamespace string, then ...string) ([]byte, error) {
	cfg := authorizationConfiguration{
		APIVersion: "apiserver.config.k8s.io/v1",
		Kind:       "AuthorizationConfiguration",
		Authorizers: []authorizer{{
			Type: "Webhook",
			Name: "pinet-node-reads",
			Webhook: &webhook{
				Timeout: "5s",
				// The webhook never allows (it denies or leaves the request to RBAC), and a get's
				// answer follows the object's binding: no answer is reused.
				AuthorizedTTL: "1s", CacheAuthorizedRequests: false,
				UnauthorizedTTL: "1s", CacheUnauthorizedRequests: false,
				SubjectAccessReviewVersion: "v1", MatchConditionSubjectAccessReviewVersion: "v1",
				FailurePolicy:  "Deny",
				ConnectionInfo: connectionInfo{Type: "KubeConfigFile", KubeConfigFile: webhookKubeconfig},
				MatchConditions: []matchCondition{
					{Expression: fmt.Sprintf("has(request.resourceAttributes) && request.resourceAttributes.verb in ['get', 'list', 'watch']"+
						" && ((request.resourceAttributes.group == '%s'"+
						" && request.resourceAttributes.resource in ['instances', 'volumes', 'snapshots', 'keypairs', 'images', 'securitygroups'])"+
						" || (request.resourceAttributes.group == '' && request.resourceAttributes.resource == 'secrets'))", cloudv1.GroupVersion.Group)},
					{Expression: fmt.Sprintf("'%s' in request.groups || request.user == 'system:serviceaccount:%s:pinet-nodeagent'",
						NodeAgentsGroup, systemNamespace)},
				},
			},
		}},
	}
	for _, t := range then {
		cfg.Authorizers = append(cfg.Authorizers, authorizer{Type: t, Name: strings.ToLower(t)})
	}
	return yaml.Marshal(cfg)
}

// WriteWebhookKubeconfig writes the kubeconfig the API server reaches the authorizer with: its
// URL (ending in Path), the CA its serving certificate is checked against, and the client
// certificate and key the API server presents (none when certFile is empty).
func WriteWebhookKubeconfig(path, url, caFile, certFile, keyFile string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["pinet-node-authorizer"] = &clientcmdapi.Cluster{Server: url, CertificateAuthority: caFile}
	cfg.AuthInfos["kube-apiserver"] = &clientcmdapi.AuthInfo{ClientCertificate: certFile, ClientKey: keyFile}
	cfg.Contexts["webhook"] = &clientcmdapi.Context{Cluster: "pinet-node-authorizer", AuthInfo: "kube-apiserver"}
	cfg.CurrentContext = "webhook"
	return clientcmd.WriteToFile(*cfg, path)
}

// EnsureFiles makes in dir, keeping what exists, the authorizer's own CA (ca.crt, ca.key: its
// own, so that no certificate of the cluster CA — a node's, a user's — is answered), its serving
// certificate for localhost and 127.0.0.1 (tls.crt, tls.key: --node-authorizer-cert-dir) and the
// API server's client certificate (apiserver-client.crt, .key), and writes the API server's
// kubeconfig for the authorizer at url (ending in Path). It returns that kubeconfig's path.
func EnsureFiles(dir, url string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	ca, caKey, err := certfiles.LoadOrMakeCA(dir, "pinet-node-authorizer-ca")
	if err != nil {
		return "", fmt.Errorf("node authorizer CA: %w", err)
	}
	if err := certfiles.EnsureLeaf(dir, "tls", ca, caKey, pkix.Name{CommonName: "pinet-node-authorizer"},
		[]string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")}, x509.ExtKeyUsageServerAuth); err != nil {
		return "", fmt.Errorf("node authorizer certificate: %w", err)
	}
	if err := certfiles.EnsureLeaf(dir, "apiserver-client", ca, caKey, pkix.Name{CommonName: "kube-apiserver"},
		nil, nil, x509.ExtKeyUsageClientAuth); err != nil {
		return "", fmt.Errorf("the API server's node authorizer client certificate: %w", err)
	}
	kubeconfig := filepath.Join(dir, "webhook.kubeconfig")
	if err := WriteWebhookKubeconfig(kubeconfig, url, filepath.Join(dir, "ca.crt"),
		filepath.Join(dir, "apiserver-client.crt"), filepath.Join(dir, "apiserver-client.key")); err != nil {
		return "", err
	}
	return kubeconfig, nil
}
