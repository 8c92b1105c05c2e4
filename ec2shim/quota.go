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

package ec2shim

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/quota"
)

// Quota admission is the cloud service's (cloud/quota.go); these delegates serve the actions that
// have not moved into it yet (instances).

func (s *Server) ledger() *quota.Ledger { return s.svc.Ledger() }

func (c *call) projectQuota(ctx context.Context) (cloudv1.ProjectQuota, error) {
	return c.srv.svc.ProjectQuota(ctx, c.project)
}

func (s *Server) unmark(ctx context.Context, obj client.Object) { s.svc.Unmark(ctx, obj) }
