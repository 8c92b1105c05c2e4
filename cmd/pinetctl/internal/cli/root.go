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

// Package cli holds the commands of the pinetctl CLI: operators manage users and projects and
// hand out credentials; users upload and register images and read consoles.
package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
)

// globals are the flags every command shares.
type globals struct {
	kubeconfig      string
	systemNamespace string
	out             io.Writer
}

// NewRoot returns the pinetctl command tree.
func NewRoot() *cobra.Command {
	g := &globals{out: os.Stdout}
	root := &cobra.Command{
		Use:           "pinetctl",
		Short:         "Operate and use a PiNet cloud",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.kubeconfig, "kubeconfig", "", "Path to the kubeconfig (default: $KUBECONFIG or ~/.kube/config).")
	root.PersistentFlags().StringVar(&g.systemNamespace, "system-namespace", cloudv1.DefaultSystemNamespace, "Namespace of PiNet's secrets.")
	root.AddCommand(newUserCmd(g), newProjectCmd(g), newConsoleCmd(g),
		newBundleImageCmd(g), newUploadBundleCmd(g), newRegisterCmd(g))
	return root
}

// loader loads the kubeconfig.
func (g *globals) loader() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if g.kubeconfig != "" {
		rules.ExplicitPath = g.kubeconfig
	}
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
}

// client builds a Kubernetes client from the kubeconfig.
func (g *globals) client() (client.Client, error) {
	cfg, err := g.loader().ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig: %w", err)
	}
	s := k8sruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := cloudv1.AddToScheme(s); err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: s})
}
