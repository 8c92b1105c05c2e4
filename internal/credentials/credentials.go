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

// Package credentials looks up PiNet access keys for the request verifier: it finds the User that
// holds a key (through the cache's index of users by access key id) and reads the key's secret from
// the user's credentials Secret. An access key id may carry a project after a colon
// ("AKIA…:research"), as in the original cloud, to act in that project; without one the user's
// first project is used.
package credentials

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/awsauth"
	"pinet.io/pinet/internal/index"
)

// Store implements awsauth.CredentialStore on a (cached) client.
type Store struct {
	Client          client.Reader
	SystemNamespace string
	// NoProject, when set, names the system users who act in no project (the nodes' users);
	// what they may do is the object store's grants. Their keys name no project.
	NoProject func(user string) bool
}

var _ awsauth.CredentialStore = (*Store)(nil)

// SplitKey separates an access key id from the project it names, if any.
func SplitKey(accessKeyID string) (key, project string) {
	key, project, _ = strings.Cut(accessKeyID, ":")
	return key, project
}

// Lookup returns the credential for accessKeyID.
func (s *Store) Lookup(ctx context.Context, accessKeyID string) (awsauth.Credential, error) {
	key, project := SplitKey(accessKeyID)
	users := &cloudv1.UserList{}
	if err := s.Client.List(ctx, users, client.MatchingFields{index.AccessKeyID: key}); err != nil {
		return awsauth.Credential{}, fmt.Errorf("looking up access key: %w", err)
	}
	if len(users.Items) != 1 {
		return awsauth.Credential{}, fmt.Errorf("access key %s: %w", key, awsauth.ErrUnknownKey)
	}
	u := &users.Items[0]
	sec := &corev1.Secret{}
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: s.SystemNamespace, Name: SecretName(u.Name)}, sec); err != nil {
		return awsauth.Credential{}, fmt.Errorf("access key %s: reading its secret: %w", key, err)
	}
	keys, err := ReadKeys(sec)
	if err != nil {
		return awsauth.Credential{}, err
	}
	i := slices.IndexFunc(keys, func(k StoredKey) bool { return k.AccessKeyID == key })
	if i < 0 {
		return awsauth.Credential{}, fmt.Errorf("access key %s: %w", key, awsauth.ErrUnknownKey)
	}
	if keys[i].State != string(cloudv1.AccessKeyActive) {
		return awsauth.Credential{}, fmt.Errorf("access key %s: %w", key, awsauth.ErrRetiredKey)
	}
	if !u.Spec.Admin && s.NoProject != nil && s.NoProject(u.Name) {
		if project != "" {
			return awsauth.Credential{}, fmt.Errorf("access key %s acts in no project, not %q: %w", key, project, awsauth.ErrUnknownKey)
		}
		return awsauth.Credential{
			AccessKeyID:     accessKeyID,
			SecretAccessKey: keys[i].SecretAccessKey,
			Principal:       awsauth.Principal{User: u.Name},
		}, nil
	}
	if project == "" && len(u.Spec.Projects) > 0 {
		project = u.Spec.Projects[0]
	}
	if !u.Spec.Admin && (project == "" || !slices.Contains(u.Spec.Projects, project)) {
		// A key naming a project its user is not in is no valid key at all. Admins may act in
		// any project, or (PiNet's system user) in none.
		return awsauth.Credential{}, fmt.Errorf("access key %s is not valid for project %q: %w", key, project, awsauth.ErrUnknownKey)
	}
	return awsauth.Credential{
		AccessKeyID:     accessKeyID,
		SecretAccessKey: keys[i].SecretAccessKey,
		Principal:       awsauth.Principal{User: u.Name, Project: project, Admin: u.Spec.Admin},
	}, nil
}
