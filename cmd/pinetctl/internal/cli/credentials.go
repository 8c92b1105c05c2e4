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
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/cloudca"
	usercreds "pinet.io/pinet/internal/credentials"
)

// credentialsOptions are the settings of `pinetctl user credentials`.
type credentialsOptions struct {
	project    string
	output     string
	dir        string
	ec2URL     string
	s3URL      string
	region     string
	kubeconfig string
	// kubeconfigOut also writes the user's kubeconfig there; certValidity is how long its
	// certificate is valid.
	kubeconfigOut string
	certValidity  time.Duration
}

// bundleFiles are the files of a credentials bundle, like the original cloud's novarc and certs.
type bundleFiles map[string][]byte

func newCredentialsCmd(g *globals) *cobra.Command {
	o := &credentialsOptions{}
	cmd := &cobra.Command{
		Use:   "credentials NAME",
		Short: "Write a user's credentials: pinetrc (EC2/S3 endpoints and keys), kubeconfig, certificate, key and the cloud certificate",
		Long: `Write a user's credentials as a zip (--output) or into a directory (--dir): pinetrc exports the
AWS_* and EC2_* variables the AWS CLI, SDKs and euca2ools read, and KUBECONFIG; user.kubeconfig
lets kubectl act as the user (pinet:user:NAME in the groups of its projects), with a new client
certificate requested through the CertificateSigningRequest API, approved by you (an admin) and
signed by the cluster; cert.pem and pk.pem are the user's certificate and key (for bundling
images); cloud-cert.pem is the cloud's certificate bundles are encrypted to. The access key acts in
the user's first project; with --project naming another, pinetrc says KEY:project.

The kubeconfig certificate carries the user's project groups until it expires (--cert-validity):
after removing a user from a project, let it expire or rotate the cluster's trust.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (o.output == "") == (o.dir == "") {
				return fmt.Errorf("give exactly one of --output FILE.zip and --dir DIR")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			restCfg, err := g.loader().ClientConfig()
			if err != nil {
				return fmt.Errorf("loading kubeconfig: %w", err)
			}
			files, err := credentialFiles(cmd.Context(), c, g.systemNamespace, args[0], o)
			if err != nil {
				return err
			}
			kubeconfig, err := userKubeconfig(cmd.Context(), restCfg, files.user, files.project, o.certValidity)
			if err != nil {
				return err
			}
			files.files[userKubeconfigFile] = kubeconfig
			if o.kubeconfigOut != "" {
				if err := os.WriteFile(o.kubeconfigOut, kubeconfig, 0o600); err != nil {
					return fmt.Errorf("writing the kubeconfig: %w", err)
				}
			}
			if o.dir != "" {
				return writeDir(o.dir, files.files)
			}
			return writeZip(o.output, files.files)
		},
	}
	cmd.Flags().StringVar(&o.project, "project", "", "Project the credentials act in (default: the user's first).")
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "Write a zip file.")
	cmd.Flags().StringVar(&o.dir, "dir", "", "Write the files into a directory.")
	cmd.Flags().StringVar(&o.ec2URL, "ec2-url", "http://127.0.0.1:8773", "The EC2 API endpoint.")
	cmd.Flags().StringVar(&o.s3URL, "s3-url", "http://127.0.0.1:3333", "The S3 endpoint.")
	cmd.Flags().StringVar(&o.region, "region", "pinet", "The region name.")
	cmd.Flags().StringVar(&o.kubeconfig, "rc-kubeconfig", "", "Export KUBECONFIG=PATH in pinetrc instead of the user's own kubeconfig.")
	cmd.Flags().StringVar(&o.kubeconfigOut, "kubeconfig-out", "", "Also write the user's kubeconfig to this file.")
	cmd.Flags().DurationVar(&o.certValidity, "cert-validity", 30*24*time.Hour, "How long the kubeconfig's certificate is valid (the cluster may cap it).")
	return cmd
}

// credentials are a user's files, the user, and the project they act in.
type credentials struct {
	files   bundleFiles
	user    *cloudv1.User
	project string
}

func credentialFiles(ctx context.Context, c client.Client, systemNS, name string, o *credentialsOptions) (*credentials, error) {
	u := &cloudv1.User{}
	if err := c.Get(ctx, client.ObjectKey{Name: name}, u); err != nil {
		return nil, fmt.Errorf("reading user %s: %w", name, err)
	}
	project := o.project
	if project != "" && !u.Spec.Admin && !slices.Contains(u.Spec.Projects, project) {
		return nil, fmt.Errorf("user %s is not a member of project %s", name, project)
	}
	if project == "" {
		if len(u.Spec.Projects) == 0 {
			return nil, fmt.Errorf("user %s is in no project; give --project", name)
		}
		project = u.Spec.Projects[0]
	}
	sec := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: systemNS, Name: usercreds.SecretName(name)}, sec); err != nil {
		return nil, fmt.Errorf("reading the credentials of %s (are they issued yet?): %w", name, err)
	}
	keys, err := usercreds.ReadKeys(sec)
	if err != nil {
		return nil, err
	}
	var active *usercreds.StoredKey
	for i := range keys {
		if keys[i].State == string(cloudv1.AccessKeyActive) {
			active = &keys[i]
		}
	}
	if active == nil {
		return nil, fmt.Errorf("user %s has no active access key yet", name)
	}
	caSec := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: systemNS, Name: cloudca.SecretName}, caSec); err != nil {
		return nil, fmt.Errorf("reading the cloud certificate: %w", err)
	}
	accessKey := rcAccessKey(u, active.AccessKeyID, o.project)
	rc := renderRC(rcValues{
		AccessKey: accessKey, SecretKey: active.SecretAccessKey, Project: project, User: name,
		EC2URL: o.ec2URL, S3URL: o.s3URL, Region: o.region, Kubeconfig: o.kubeconfig,
	})
	return &credentials{user: u, project: project, files: bundleFiles{
		"pinetrc":        []byte(rc),
		"cert.pem":       sec.Data[usercreds.SecretCertKey],
		"pk.pem":         sec.Data[usercreds.SecretCertKeyKey],
		"cloud-cert.pem": caSec.Data[corev1.TLSCertKey],
	}}, nil
}

// rcAccessKey is the access key pinetrc exports: the plain key, which acts in the user's first
// project, or KEY:project when another project was chosen.
func rcAccessKey(u *cloudv1.User, key, chosen string) string {
	if chosen == "" || slices.Equal(u.Spec.Projects, []string{chosen}) {
		return key
	}
	return key + ":" + chosen
}

type rcValues struct {
	AccessKey, SecretKey, Project, User, EC2URL, S3URL, Region, Kubeconfig string
}

func renderRC(v rcValues) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# PiNet credentials of user %s in project %s. Source this file.\n", v.User, v.Project)
	b.WriteString(`PINET_KEY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)` + "\n")
	exports := [][2]string{
		{"EC2_URL", v.EC2URL},
		{"S3_URL", v.S3URL},
		{"AWS_ACCESS_KEY_ID", v.AccessKey},
		{"AWS_SECRET_ACCESS_KEY", v.SecretKey},
		{"AWS_DEFAULT_REGION", v.Region},
		{"EC2_ACCESS_KEY", v.AccessKey},
		{"EC2_SECRET_KEY", v.SecretKey},
		{"EC2_USER_ID", v.Project},
	}
	if v.Kubeconfig != "" {
		exports = append(exports, [2]string{"KUBECONFIG", v.Kubeconfig})
	}
	for _, e := range exports {
		fmt.Fprintf(&b, "export %s=%s\n", e[0], shellQuote(e[1]))
	}
	if v.Kubeconfig == "" {
		b.WriteString("export KUBECONFIG=${PINET_KEY_DIR}/" + userKubeconfigFile + "\n")
	}
	b.WriteString("export EC2_CERT=${PINET_KEY_DIR}/cert.pem\n")
	b.WriteString("export EC2_PRIVATE_KEY=${PINET_KEY_DIR}/pk.pem\n")
	b.WriteString("export EUCALYPTUS_CERT=${PINET_KEY_DIR}/cloud-cert.pem\n")
	b.WriteString("export PINET_CLOUD_CERT=${PINET_KEY_DIR}/cloud-cert.pem\n")
	return b.String()
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func writeDir(dir string, files bundleFiles) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return nil
}

func writeZip(path string, files bundleFiles) error {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			return err
		}
		if _, err := w.Write(files[n]); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o600)
}
