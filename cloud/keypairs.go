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

package cloud

import (
	"context"
	"errors"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"

	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/refs"
	"pinet.io/pinet/internal/sshkey"
)

const (
	// maxKeyName is EC2's limit on key names.
	maxKeyName = 255
	// maxPublicKey is the KeyPair CRD's limit on spec.publicKey.
	maxPublicKey = 16384
)

// KeyPair is a key pair as EC2 shows it.
type KeyPair struct {
	ID          string
	Name        string
	Type        string
	Fingerprint string
	// PublicKey is set when a Describe asked for it.
	PublicKey string
	Created   time.Time
	Tags      map[string]string
}

// CreateKeyPairInput asks for a new key pair.
type CreateKeyPairInput struct {
	Name string
	// Type is rsa (the default) or ed25519; Format is pem (the default).
	Type, Format      string
	TagSpecifications []TagSpecification
	DryRun            bool
}

// CreatedKeyPair is a new key pair and its private key, which is kept nowhere else.
type CreatedKeyPair struct {
	KeyPair
	PrivateKeyPEM string
}

// CreateKeyPair generates a key pair. The private key is in the answer and nowhere else; its
// fingerprint (computed from the private key) rides on the object for the controller.
func (s *Service) CreateKeyPair(ctx context.Context, c Caller, in CreateKeyPairInput) (*CreatedKeyPair, error) {
	if err := s.startKeyPair(ctx, c, in.Name, in.DryRun); err != nil {
		return nil, err
	}
	keyType := sshkey.RSA
	switch in.Type {
	case "", sshkey.RSA:
	case sshkey.ED25519:
		keyType = sshkey.ED25519
	default:
		return nil, InvalidParam("Value (%s) for parameter KeyType is invalid. Valid values: rsa, ed25519.", in.Type)
	}
	switch in.Format {
	case "", "pem":
	case "ppk":
		return nil, InvalidParam("KeyFormat ppk is not supported: PiNet returns private keys in pem format only (puttygen converts them).")
	default:
		return nil, InvalidParam("Value (%s) for parameter KeyFormat is invalid. Valid values: pem.", in.Format)
	}
	tags, err := s.newKeyPairTags(ctx, c, in.Name, in.TagSpecifications)
	if err != nil {
		return nil, err
	}
	gen, err := sshkey.Generate(keyType, in.Name)
	if err != nil {
		return nil, err
	}
	kp, err := s.storeKeyPair(ctx, c, in.Name, gen.Public, gen.Fingerprint, tags)
	if err != nil {
		return nil, err
	}
	return &CreatedKeyPair{KeyPair: toKeyPair(kp, false), PrivateKeyPEM: gen.PrivateKeyPEM}, nil
}

// ImportKeyPairInput brings a public key the caller made.
type ImportKeyPairInput struct {
	Name string
	// PublicKey is an OpenSSH authorized_keys line.
	PublicKey         []byte
	TagSpecifications []TagSpecification
	DryRun            bool
}

// ImportKeyPair stores a public key the caller made: RSA of 2048 bits or more, or ed25519.
func (s *Service) ImportKeyPair(ctx context.Context, c Caller, in ImportKeyPairInput) (*KeyPair, error) {
	if err := s.startKeyPair(ctx, c, in.Name, in.DryRun); err != nil {
		return nil, err
	}
	if len(in.PublicKey) > maxPublicKey {
		return nil, BadRequest(CodeKeyFormat, "Key is not in valid OpenSSH public key format: it is longer than %d bytes", maxPublicKey)
	}
	key, err := sshkey.Parse(in.PublicKey)
	switch {
	case errors.Is(err, sshkey.ErrUnsupported):
		return nil, BadRequest(CodeKeyFormat, "Key is not supported: %v. Import an RSA key of 2048 bits or more, or an ed25519 key.", err)
	case err != nil:
		return nil, BadRequest(CodeKeyFormat, "Key is not in valid OpenSSH public key format")
	}
	tags, err := s.newKeyPairTags(ctx, c, in.Name, in.TagSpecifications)
	if err != nil {
		return nil, err
	}
	kp, err := s.storeKeyPair(ctx, c, in.Name, key.Public, "", tags)
	if err != nil {
		return nil, err
	}
	out := toKeyPair(kp, false)
	return &out, nil
}

// startKeyPair is how creating and importing a key pair start: the caller may create key pairs
// (DryRun ends here) and the name is a valid one.
func (s *Service) startKeyPair(ctx context.Context, c Caller, name string, dryRun bool) error {
	if err := s.authorize(ctx, c, "create", "keypairs", dryRun); err != nil {
		return err
	}
	return validateKeyName(name)
}

// newKeyPairTags checks a new key pair's tags and that its name is free, and returns the tags.
func (s *Service) newKeyPairTags(ctx context.Context, c Caller, name string, specs []TagSpecification) (map[string]string, error) {
	tags, err := SpecTags(specs, "key-pair")
	if err != nil {
		return nil, err
	}
	if err := s.keyNameFree(ctx, c, name); err != nil {
		return nil, err
	}
	return tags, nil
}

// validateKeyName applies EC2's rules: 1 to 255 ASCII characters. PiNet also refuses control
// characters, which no client can type and which would break the public key's comment.
func validateKeyName(name string) error {
	if name == "" {
		return BadRequest(CodeMissingParameter, "The request must contain the parameter KeyName")
	}
	if len(name) > maxKeyName {
		return InvalidParam("Value for parameter KeyName is invalid. Length exceeds maximum of %d.", maxKeyName)
	}
	for i := 0; i < len(name); i++ {
		if name[i] < 0x20 || name[i] > 0x7e {
			return InvalidParam("Value for parameter KeyName is invalid. Character sets beyond printable ASCII are not supported.")
		}
	}
	return nil
}

func duplicateKeyName(name string) error {
	return BadRequest(CodeKeyPairDuplicate, "The keypair '%s' already exists.", name)
}

// keyNameFree refuses a name another key pair of the project already has, whoever made it.
func (s *Service) keyNameFree(ctx context.Context, c Caller, name string) error {
	_, err := refs.KeyPair(ctx, s.cfg.Client, c.Project(), name)
	switch {
	case err == nil:
		return duplicateKeyName(name)
	case errors.Is(err, refs.ErrNotFound):
		return nil
	}
	return err
}

// storeKeyPair creates the KeyPair and waits for the cache to show it.
func (s *Service) storeKeyPair(ctx context.Context, c Caller, keyName, publicKey, generatedFingerprint string, tags map[string]string) (*cloudv1.KeyPair, error) {
	// Named by a derivation of the key name (nameFor): two concurrent calls for one name meet at
	// the API server and one of them fails.
	name, err := s.nameFor(ctx, c, ids.KeyPair, keyName)
	if err != nil {
		return nil, err
	}
	kp := &cloudv1.KeyPair{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.Project()},
		Spec:       cloudv1.KeyPairSpec{KeyName: keyName, PublicKey: publicKey},
	}
	SetTags(kp, tags)
	if generatedFingerprint != "" {
		kp.Annotations[cloudv1.AnnotationGeneratedFingerprint] = generatedFingerprint
	}
	if err := s.cfg.Client.Create(ctx, kp); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, duplicateKeyName(keyName)
		}
		return nil, APIError(err, "key pair "+keyName)
	}
	// The answer names the id the key claimed (its name unless another object held that): wait
	// (bounded) for the controller to record it.
	cached := &cloudv1.KeyPair{}
	s.AwaitCacheUntil(ctx, client.ObjectKeyFromObject(kp), cached, func(found bool) bool {
		return found && cached.Status.KeyPairID != ""
	})
	if cached.UID == kp.UID {
		kp.Status = cached.Status
	}
	return kp, nil
}

// DeleteKeyPairInput names the key pair to delete, by name or id.
type DeleteKeyPairInput struct {
	Name, ID string
	DryRun   bool
}

// DeleteKeyPair deletes by name (a name nothing has is no error, as in EC2) or by id (an unknown
// id is). Deleting by name removes every key pair of the project with that name, including
// namesakes made with kubectl. It returns the id of a key pair it deleted, if any.
func (s *Service) DeleteKeyPair(ctx context.Context, c Caller, in DeleteKeyPairInput) (string, error) {
	if err := s.authorize(ctx, c, "delete", "keypairs", in.DryRun); err != nil {
		return "", err
	}
	if in.Name == "" && in.ID == "" {
		return "", BadRequest(CodeMissingParameter, "The request must contain the parameter KeyName or KeyPairId")
	}
	all, err := s.projectKeyPairs(ctx, c)
	if err != nil {
		return "", err
	}
	var targets []*cloudv1.KeyPair
	for _, kp := range all {
		if (in.ID == "" || keyPairID(kp) == in.ID) && (in.Name == "" || kp.EffectiveKeyName() == in.Name) {
			targets = append(targets, kp)
		}
	}
	if len(targets) == 0 && in.ID != "" {
		return "", BadRequest(CodeKeyPairNotFound, "The key pair '%s' does not exist", in.ID)
	}
	deleted := ""
	for _, kp := range targets {
		if err := s.cfg.Client.Delete(ctx, kp); client.IgnoreNotFound(err) != nil {
			return "", APIError(err, "key pair "+kp.EffectiveKeyName())
		}
		if deleted == "" {
			deleted = keyPairID(kp)
		}
	}
	for _, kp := range targets {
		s.AwaitDeleted(ctx, kp)
	}
	return deleted, nil
}

// DescribeKeyPairsInput selects key pairs: by name, by id, by filter.
type DescribeKeyPairsInput struct {
	Names, IDs       []string
	Filters          []query.Filter
	IncludePublicKey bool
	DryRun           bool
}

var keyPairFilters = []string{"key-name", "key-pair-id", "fingerprint", "key-type"}

// DescribeKeyPairs shows the project's key pairs, one per key name (the oldest, as the key pair
// controller decides between namesakes made with kubectl), sorted by name. A key pair the
// controller has not reached yet is shown with what is known: its id from its name when the API
// made it, and the type and fingerprint computed from its public key with the controller's own
// functions, so the answer never lags. One whose public key is invalid (the controller marks it
// not Ready) is shown without type or fingerprint, so kubectl users see it is there.
func (s *Service) DescribeKeyPairs(ctx context.Context, c Caller, in DescribeKeyPairsInput) ([]KeyPair, error) {
	matcher, _, err := s.startDescribe(ctx, c, listing{resource: "keypairs", filters: keyPairFilters}, in.DryRun, in.Filters, Page{}, 0)
	if err != nil {
		return nil, err
	}
	all, err := s.projectKeyPairs(ctx, c)
	if err != nil {
		return nil, err
	}
	byName := map[string]*cloudv1.KeyPair{}
	var holders []*cloudv1.KeyPair
	for _, kp := range all {
		if _, seen := byName[kp.EffectiveKeyName()]; !seen {
			byName[kp.EffectiveKeyName()] = kp
			holders = append(holders, kp)
		}
	}
	if len(in.Names) > 0 || len(in.IDs) > 0 {
		if holders, err = selectKeyPairs(holders, byName, in.Names, in.IDs); err != nil {
			return nil, err
		}
	}
	sort.SliceStable(holders, func(i, j int) bool { return holders[i].EffectiveKeyName() < holders[j].EffectiveKeyName() })
	var out []KeyPair
	for _, kp := range holders {
		k := toKeyPair(kp, in.IncludePublicKey)
		attrs := func(name string) []string {
			return map[string][]string{
				"key-name": {k.Name}, "key-pair-id": {k.ID}, "fingerprint": {k.Fingerprint}, "key-type": {k.Type},
			}[name]
		}
		if matcher.Match(attrs, k.Tags) {
			out = append(out, k)
		}
	}
	return out, nil
}

// selectKeyPairs returns the key pairs named by name or id; each must exist.
func selectKeyPairs(holders []*cloudv1.KeyPair, byName map[string]*cloudv1.KeyPair, names, keyIDs []string) ([]*cloudv1.KeyPair, error) {
	wanted := map[*cloudv1.KeyPair]bool{}
	for _, name := range names {
		kp, ok := byName[name]
		if !ok {
			return nil, BadRequest(CodeKeyPairNotFound, "The key pair '%s' does not exist", name)
		}
		wanted[kp] = true
	}
	for _, id := range keyIDs {
		found := false
		for _, kp := range holders {
			if id != "" && keyPairID(kp) == id {
				wanted[kp], found = true, true
			}
		}
		if !found {
			return nil, BadRequest(CodeKeyPairNotFound, "The key pair '%s' does not exist", id)
		}
	}
	var out []*cloudv1.KeyPair
	for _, kp := range holders {
		if wanted[kp] {
			out = append(out, kp)
		}
	}
	return out, nil
}

// projectKeyPairs lists the project's key pairs, oldest first (ties by object name).
func (s *Service) projectKeyPairs(ctx context.Context, c Caller) ([]*cloudv1.KeyPair, error) {
	return liveInProject(ctx, s, c, &cloudv1.KeyPairList{}, "key pairs", func(kp *cloudv1.KeyPair) string { return kp.Name }, nil)
}

// keyPairID is the key pair's EC2 id: the controller's, or the object's name when the API made
// it and the controller has not caught up.
func keyPairID(kp *cloudv1.KeyPair) string { return idOr(kp.Status.KeyPairID, kp.Name, ids.KeyPair) }

// keyPairFacts returns the key's type and EC2 fingerprint: the controller's, else computed as
// the controller computes them.
func keyPairFacts(kp *cloudv1.KeyPair) (keyType, fingerprint string) {
	if kp.Status.Fingerprint != "" {
		return string(kp.Status.KeyType), kp.Status.Fingerprint
	}
	key, err := sshkey.Parse([]byte(kp.Spec.PublicKey))
	if err != nil {
		return "", ""
	}
	fingerprint = kp.Annotations[cloudv1.AnnotationGeneratedFingerprint]
	if fingerprint == "" {
		if fingerprint, err = key.ImportedFingerprint(); err != nil {
			return key.Type, ""
		}
	}
	return key.Type, fingerprint
}

func toKeyPair(kp *cloudv1.KeyPair, includePublicKey bool) KeyPair {
	keyType, fingerprint := keyPairFacts(kp)
	out := KeyPair{
		ID: keyPairID(kp), Name: kp.EffectiveKeyName(), Type: keyType, Fingerprint: fingerprint,
		Created: kp.CreationTimestamp.Time, Tags: TagsOf(kp),
	}
	if includePublicKey {
		out.PublicKey = kp.Spec.PublicKey
	}
	return out
}
