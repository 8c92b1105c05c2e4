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
	"crypto/tls"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/consoleclient"
	"pinet.io/pinet/internal/ids"
)

func newConsoleCmd(g *globals) *cobra.Command {
	var namespace string
	cmd := &cobra.Command{
		Use:   "console INSTANCE",
		Short: "Print the latest console output of an instance (by EC2 id or object name)",
		Long: `Print the last 64 KiB of an instance's console, read from its node agent with your
Kubernetes credentials (you need get on instances/console in the instance's namespace).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			loader := g.loader()
			restCfg, err := loader.ClientConfig()
			if err != nil {
				return fmt.Errorf("loading kubeconfig: %w", err)
			}
			if namespace == "" {
				if namespace, _, err = loader.Namespace(); err != nil {
					return err
				}
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			inst, err := findInstance(cmd, c, namespace, args[0])
			if err != nil {
				return err
			}
			if inst.Status.Hypervisor == "" {
				return fmt.Errorf("instance %s is not on a node yet", args[0])
			}
			creds, err := credentialsOf(restCfg)
			if err != nil {
				return err
			}
			data, _, err := consoleclient.Read(cmd.Context(), c, inst, creds)
			if err != nil {
				return err
			}
			_, err = g.out.Write(data)
			return err
		},
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", "Namespace (project) of the instance (default: the kubeconfig's).")
	return cmd
}

// findInstance finds an instance in the namespace by EC2 id or object name.
func findInstance(cmd *cobra.Command, c client.Client, namespace, ref string) (*cloudv1.Instance, error) {
	inst := &cloudv1.Instance{}
	if err := c.Get(cmd.Context(), client.ObjectKey{Namespace: namespace, Name: ref}, inst); err == nil {
		return inst, nil
	}
	if ids.Valid(ids.Instance, ref) {
		list := &cloudv1.InstanceList{}
		if err := c.List(cmd.Context(), list, client.InNamespace(namespace)); err != nil {
			return nil, err
		}
		for i := range list.Items {
			if list.Items[i].Status.InstanceID == ref {
				return &list.Items[i], nil
			}
		}
	}
	return nil, fmt.Errorf("no instance %s in namespace %s", ref, namespace)
}

// credentialsOf turns the kubeconfig's client certificate into what the node agent accepts. A
// node agent takes only certificates or tokens minted for its own audience: a kubeconfig's bearer
// token is good at the API server, and handing it to a node would let that node replay it there.
func credentialsOf(cfg *rest.Config) (consoleclient.Credentials, error) {
	if len(cfg.CertData) == 0 && cfg.CertFile == "" && (cfg.BearerToken != "" || cfg.BearerTokenFile != "" || cfg.ExecProvider != nil || cfg.AuthProvider != nil) {
		return consoleclient.Credentials{}, errors.New("this kubeconfig signs in with a token for the API server, which node agents " +
			"do not accept (a node must never hold a token it could replay); use a kubeconfig with a client certificate " +
			"(`pinetctl user credentials` writes one) or read the console with `aws ec2 get-console-output`")
	}
	certPEM, keyPEM := cfg.CertData, cfg.KeyData
	var err error
	if len(certPEM) == 0 && cfg.CertFile != "" {
		if certPEM, err = os.ReadFile(cfg.CertFile); err != nil {
			return consoleclient.Credentials{}, err
		}
	}
	if len(keyPEM) == 0 && cfg.KeyFile != "" {
		if keyPEM, err = os.ReadFile(cfg.KeyFile); err != nil {
			return consoleclient.Credentials{}, err
		}
	}
	if len(certPEM) == 0 {
		return consoleclient.Credentials{}, fmt.Errorf("the kubeconfig has neither a token nor a client certificate")
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return consoleclient.Credentials{}, fmt.Errorf("loading the client certificate: %w", err)
	}
	return consoleclient.Credentials{Certificate: &pair}, nil
}
