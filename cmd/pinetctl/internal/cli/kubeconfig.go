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

package cli

import (
	"context"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/certificate/csr"
	"k8s.io/client-go/util/keyutil"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// userKubeconfigFile is the kubeconfig's name in a credentials bundle.
const userKubeconfigFile = "user.kubeconfig"

// userGroups are the Kubernetes groups of a user: one per project, and the admins' group.
func userGroups(u *cloudv1.User) []string {
	groups := make([]string, 0, len(u.Spec.Projects)+1)
	for _, p := range u.Spec.Projects {
		groups = append(groups, cloudv1.ProjectGroupPrefix+p)
	}
	slices.Sort(groups)
	groups = slices.Compact(groups)
	if u.Spec.Admin {
		groups = append(groups, cloudv1.AdminsGroup)
	}
	return groups
}

// userKubeconfig issues the user a client certificate through the CertificateSigningRequest API
// (signer kubernetes.io/kube-apiserver-client: the caller, an admin, approves the request and the
// cluster's controller manager signs it) and returns a kubeconfig for the cluster of restCfg with
// that certificate, in namespace project.
func userKubeconfig(ctx context.Context, restCfg *rest.Config, u *cloudv1.User, project string, validity time.Duration) ([]byte, error) {
	cs, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return nil, err
	}
	keyPEM, err := keyutil.MakeEllipticPrivateKeyPEM()
	if err != nil {
		return nil, err
	}
	key, err := keyutil.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, err
	}
	subject := pkix.Name{CommonName: cloudv1.UserPrefix + u.Name, Organization: userGroups(u)}
	request, err := cert.MakeCSR(key, &subject, nil, nil)
	if err != nil {
		return nil, err
	}
	name := "pinet-user-" + u.Name + "-" + utilrand.String(5)
	usages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}
	name, uid, err := csr.RequestCertificateWithContext(ctx, cs, request, name, certificatesv1.KubeAPIServerClientSignerName, &validity, usages, key)
	if err != nil {
		return nil, fmt.Errorf("requesting a certificate for %s: %w", subject.CommonName, err)
	}
	// The request has served its purpose once the certificate is out (or never will be).
	defer func() {
		_ = cs.CertificatesV1().CertificateSigningRequests().Delete(context.WithoutCancel(ctx), name, metav1.DeleteOptions{})
	}()
	if err := approve(ctx, cs, name, subject.CommonName); err != nil {
		return nil, err
	}
	waitCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	certPEM, err := csr.WaitForCertificate(waitCtx, cs, name, uid)
	if err != nil {
		return nil, fmt.Errorf("waiting for the certificate of %s (request %s; does the cluster sign %s requests?): %w",
			subject.CommonName, name, certificatesv1.KubeAPIServerClientSignerName, err)
	}
	if err := checkIssued(certPEM, subject); err != nil {
		return nil, err
	}
	caPEM, err := clusterCA(restCfg)
	if err != nil {
		return nil, err
	}
	return kubeconfigFor(restCfg.Host, caPEM, u.Name, project, certPEM, keyPEM)
}

// approve approves request name, as the admin running pinetctl.
func approve(ctx context.Context, cs kubernetes.Interface, name, identity string) error {
	req, err := cs.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading certificate request %s: %w", name, err)
	}
	req.Status.Conditions = append(req.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type:           certificatesv1.CertificateApproved,
		Status:         corev1.ConditionTrue,
		Reason:         "PinetctlUserCredentials",
		Message:        "Approved by pinetctl user credentials for " + identity,
		LastUpdateTime: metav1.Now(),
	})
	if _, err := cs.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, name, req, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("approving certificate request %s: %w", name, err)
	}
	return nil
}

// checkIssued makes sure the signer issued the identity that was asked for.
func checkIssued(certPEM []byte, want pkix.Name) error {
	certs, err := cert.ParseCertsPEM(certPEM)
	if err != nil {
		return fmt.Errorf("parsing the issued certificate: %w", err)
	}
	got := certs[0].Subject
	// The signer may order the groups its own way.
	if got.CommonName != want.CommonName || !slices.Equal(sorted(got.Organization), sorted(want.Organization)) {
		return fmt.Errorf("the issued certificate is for %s in %v, not %s in %v",
			got.CommonName, got.Organization, want.CommonName, want.Organization)
	}
	return nil
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

// clusterCA returns the PEM certificates pinetctl's own kubeconfig trusts for the API server.
func clusterCA(restCfg *rest.Config) ([]byte, error) {
	cfg := rest.CopyConfig(restCfg)
	if err := rest.LoadTLSFiles(cfg); err != nil {
		return nil, fmt.Errorf("reading the cluster's CA: %w", err)
	}
	if len(cfg.CAData) == 0 {
		return nil, errors.New("the kubeconfig names no certificate authority for the API server; a user kubeconfig needs one")
	}
	if block, _ := pem.Decode(cfg.CAData); block == nil {
		return nil, errors.New("the kubeconfig's certificate authority is not PEM")
	}
	return cfg.CAData, nil
}

// kubeconfigFor renders a kubeconfig for user with its certificate and key embedded.
func kubeconfigFor(server string, caPEM []byte, user, namespace string, certPEM, keyPEM []byte) ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["pinet"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	authName := cloudv1.UserPrefix + user
	cfg.AuthInfos[authName] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	ctxName := user + "@pinet"
	cfg.Contexts[ctxName] = &clientcmdapi.Context{Cluster: "pinet", AuthInfo: authName, Namespace: namespace}
	cfg.CurrentContext = ctxName
	return clientcmd.Write(*cfg)
}
