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
	"encoding/base64"
	"errors"
	"fmt"
	"sort"

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

func (s *Server) keyPairRoutes() map[string]action {
	return map[string]action{
		"CreateKeyPair":    s.createKeyPair,
		"ImportKeyPair":    s.importKeyPair,
		"DeleteKeyPair":    s.deleteKeyPair,
		"DescribeKeyPairs": s.describeKeyPairs,
	}
}

type createKeyPairInput struct {
	KeyName           string             `ec2:"KeyName,required"`
	KeyType           string             `ec2:"KeyType"`
	KeyFormat         string             `ec2:"KeyFormat"`
	TagSpecifications []tagSpecification `ec2:"TagSpecification,list"`
	DryRun            bool               `ec2:"DryRun"`
}

type createKeyPairOutput struct {
	KeyPairID      string               `xml:"keyPairId"`
	KeyName        string               `xml:"keyName"`
	KeyFingerprint string               `xml:"keyFingerprint"`
	KeyMaterial    string               `xml:"keyMaterial"`
	TagSet         *query.List[tagItem] `xml:"tagSet,omitempty"`
}

type importKeyPairInput struct {
	KeyName string `ec2:"KeyName,required"`
	// PublicKeyMaterial is base64; it is decoded here so that bad base64 is InvalidKey.Format.
	PublicKeyMaterial string             `ec2:"PublicKeyMaterial,required"`
	TagSpecifications []tagSpecification `ec2:"TagSpecification,list"`
	DryRun            bool               `ec2:"DryRun"`
}

type importKeyPairOutput struct {
	KeyPairID      string               `xml:"keyPairId"`
	KeyName        string               `xml:"keyName"`
	KeyFingerprint string               `xml:"keyFingerprint"`
	TagSet         *query.List[tagItem] `xml:"tagSet,omitempty"`
}

// createKeyPair generates a key pair. The private key is in the answer and nowhere else; its
// fingerprint (computed from the private key) rides on the object for the controller.
func (s *Server) createKeyPair(ctx context.Context, c *call) (any, error) {
	var in createKeyPairInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "create", "keypairs", in.DryRun); err != nil {
		return nil, err
	}
	if err := validateKeyName(in.KeyName); err != nil {
		return nil, err
	}
	keyType := sshkey.RSA
	switch in.KeyType {
	case "", sshkey.RSA:
	case sshkey.ED25519:
		keyType = sshkey.ED25519
	default:
		return nil, invalidParam("Value (%s) for parameter KeyType is invalid. Valid values: rsa, ed25519.", in.KeyType)
	}
	switch in.KeyFormat {
	case "", "pem":
	case "ppk":
		return nil, invalidParam("KeyFormat ppk is not supported: PiNet returns private keys in pem format only (puttygen converts them).")
	default:
		return nil, invalidParam("Value (%s) for parameter KeyFormat is invalid. Valid values: pem.", in.KeyFormat)
	}
	tags, err := specTags(in.TagSpecifications, "key-pair")
	if err != nil {
		return nil, err
	}
	if err := s.keyNameFree(ctx, c, in.KeyName); err != nil {
		return nil, err
	}
	gen, err := sshkey.Generate(keyType, in.KeyName)
	if err != nil {
		return nil, err
	}
	kp, err := s.storeKeyPair(ctx, c, in.KeyName, gen.Public, gen.Fingerprint, tags)
	if err != nil {
		return nil, err
	}
	return &createKeyPairOutput{KeyPairID: kp.Name, KeyName: in.KeyName, KeyFingerprint: gen.Fingerprint,
		KeyMaterial: gen.PrivateKeyPEM, TagSet: tagList(tags)}, nil
}

// importKeyPair stores a public key the caller made (an OpenSSH authorized_keys line, base64):
// RSA of 2048 bits or more, or ed25519.
func (s *Server) importKeyPair(ctx context.Context, c *call) (any, error) {
	var in importKeyPairInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "create", "keypairs", in.DryRun); err != nil {
		return nil, err
	}
	if err := validateKeyName(in.KeyName); err != nil {
		return nil, err
	}
	material, err := base64.StdEncoding.DecodeString(in.PublicKeyMaterial)
	if err != nil {
		return nil, badRequest(codeKeyFormat, "Key is not in valid OpenSSH public key format: PublicKeyMaterial is not base64")
	}
	if len(material) > maxPublicKey {
		return nil, badRequest(codeKeyFormat, "Key is not in valid OpenSSH public key format: it is longer than %d bytes", maxPublicKey)
	}
	key, err := sshkey.Parse(material)
	switch {
	case errors.Is(err, sshkey.ErrUnsupported):
		return nil, badRequest(codeKeyFormat, "Key is not supported: %v. Import an RSA key of 2048 bits or more, or an ed25519 key.", err)
	case err != nil:
		return nil, badRequest(codeKeyFormat, "Key is not in valid OpenSSH public key format")
	}
	fingerprint, err := key.ImportedFingerprint()
	if err != nil {
		return nil, err
	}
	tags, err := specTags(in.TagSpecifications, "key-pair")
	if err != nil {
		return nil, err
	}
	if err := s.keyNameFree(ctx, c, in.KeyName); err != nil {
		return nil, err
	}
	kp, err := s.storeKeyPair(ctx, c, in.KeyName, key.Public, "", tags)
	if err != nil {
		return nil, err
	}
	return &importKeyPairOutput{KeyPairID: kp.Name, KeyName: in.KeyName, KeyFingerprint: fingerprint, TagSet: tagList(tags)}, nil
}

// validateKeyName applies EC2's rules: 1 to 255 ASCII characters. PiNet also refuses control
// characters, which no client can type and which would break the public key's comment.
func validateKeyName(name string) error {
	if name == "" {
		return badRequest(codeMissingParameter, "The request must contain the parameter KeyName")
	}
	if len(name) > maxKeyName {
		return invalidParam("Value for parameter KeyName is invalid. Length exceeds maximum of %d.", maxKeyName)
	}
	for i := 0; i < len(name); i++ {
		if name[i] < 0x20 || name[i] > 0x7e {
			return invalidParam("Value for parameter KeyName is invalid. Character sets beyond printable ASCII are not supported.")
		}
	}
	return nil
}

func duplicateKeyName(name string) error {
	return badRequest(codeKeyPairDuplicate, "The keypair '%s' already exists.", name)
}

// keyNameFree refuses a name another key pair of the project already has, whoever made it.
func (s *Server) keyNameFree(ctx context.Context, c *call, name string) error {
	_, err := refs.KeyPair(ctx, s.cfg.Client, c.project, name)
	switch {
	case err == nil:
		return duplicateKeyName(name)
	case errors.Is(err, refs.ErrNotFound):
		return nil
	}
	return err
}

// keyPairObjectName names the object of a key the API makes: derived from the project and key
// name, so that two concurrent calls for one name meet at the API server and one of them fails.
func keyPairObjectName(project, keyName string) string {
	return ids.Derive(ids.KeyPair, project+"/"+keyName)
}

// storeKeyPair creates the KeyPair and waits for the cache to show it.
func (s *Server) storeKeyPair(ctx context.Context, c *call, keyName, publicKey, generatedFingerprint string, tags map[string]string) (*cloudv1.KeyPair, error) {
	kp := &cloudv1.KeyPair{
		ObjectMeta: metav1.ObjectMeta{Name: keyPairObjectName(c.project, keyName), Namespace: c.project},
		Spec:       cloudv1.KeyPairSpec{KeyName: keyName, PublicKey: publicKey},
	}
	setTags(kp, tags)
	if generatedFingerprint != "" {
		kp.Annotations[cloudv1.AnnotationGeneratedFingerprint] = generatedFingerprint
	}
	if err := s.cfg.Client.Create(ctx, kp); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, duplicateKeyName(keyName)
		}
		return nil, apiError(err, "key pair "+keyName)
	}
	s.awaitCache(ctx, kp)
	return kp, nil
}

type deleteKeyPairInput struct {
	KeyName   string `ec2:"KeyName"`
	KeyPairID string `ec2:"KeyPairId"`
	DryRun    bool   `ec2:"DryRun"`
}

type deleteKeyPairOutput struct {
	Return    bool   `xml:"return"`
	KeyPairID string `xml:"keyPairId,omitempty"`
}

// deleteKeyPair deletes by name (a name nothing has is no error, as in EC2) or by id (an unknown
// id is). Deleting by name removes every key pair of the project with that name, including
// namesakes made with kubectl.
func (s *Server) deleteKeyPair(ctx context.Context, c *call) (any, error) {
	var in deleteKeyPairInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "delete", "keypairs", in.DryRun); err != nil {
		return nil, err
	}
	if in.KeyName == "" && in.KeyPairID == "" {
		return nil, badRequest(codeMissingParameter, "The request must contain the parameter KeyName or KeyPairId")
	}
	all, err := s.projectKeyPairs(ctx, c)
	if err != nil {
		return nil, err
	}
	var targets []*cloudv1.KeyPair
	for _, kp := range all {
		if in.KeyPairID != "" && keyPairID(kp) != in.KeyPairID {
			continue
		}
		if in.KeyName != "" && kp.EffectiveKeyName() != in.KeyName {
			continue
		}
		targets = append(targets, kp)
	}
	if len(targets) == 0 && in.KeyPairID != "" {
		return nil, badRequest(codeKeyPairNotFound, "The key pair '%s' does not exist", in.KeyPairID)
	}
	out := &deleteKeyPairOutput{Return: true}
	for _, kp := range targets {
		if err := s.cfg.Client.Delete(ctx, kp); client.IgnoreNotFound(err) != nil {
			return nil, apiError(err, "key pair "+kp.EffectiveKeyName())
		}
		if out.KeyPairID == "" {
			out.KeyPairID = keyPairID(kp)
		}
	}
	for _, kp := range targets {
		s.awaitDeleted(ctx, kp)
	}
	return out, nil
}

type describeKeyPairsInput struct {
	KeyNames         []string       `ec2:"KeyName,list"`
	KeyPairIDs       []string       `ec2:"KeyPairId,list"`
	Filters          []query.Filter `ec2:"Filter,list"`
	IncludePublicKey bool           `ec2:"IncludePublicKey"`
	DryRun           bool           `ec2:"DryRun"`
}

type keyPairItem struct {
	KeyPairID      string               `xml:"keyPairId,omitempty"`
	KeyType        string               `xml:"keyType,omitempty"`
	TagSet         *query.List[tagItem] `xml:"tagSet,omitempty"`
	PublicKey      string               `xml:"publicKey,omitempty"`
	CreateTime     query.Timestamp      `xml:"createTime"`
	KeyName        string               `xml:"keyName"`
	KeyFingerprint string               `xml:"keyFingerprint,omitempty"`
}

type describeKeyPairsOutput struct {
	KeySet query.List[keyPairItem] `xml:"keySet"`
}

var keyPairFilters = []string{"key-name", "key-pair-id", "fingerprint", "key-type"}

// describeKeyPairs shows the project's key pairs, one per key name (the oldest, as the key pair
// controller decides between namesakes made with kubectl). A key pair the controller has not
// reached yet is shown with what is known: its id from its name when the API made it, and the
// type and fingerprint computed from its public key with the controller's own functions, so the
// answer never lags. One whose public key is invalid (the controller marks it not Ready) is
// shown without type or fingerprint, so kubectl users see it is there.
func (s *Server) describeKeyPairs(ctx context.Context, c *call) (any, error) {
	var in describeKeyPairsInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := c.authorize(ctx, "list", "keypairs", in.DryRun); err != nil {
		return nil, err
	}
	matcher, err := query.NewMatcher(in.Filters, keyPairFilters)
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
	if len(in.KeyNames) > 0 || len(in.KeyPairIDs) > 0 {
		if holders, err = selectKeyPairs(holders, byName, in.KeyNames, in.KeyPairIDs); err != nil {
			return nil, err
		}
	}
	sort.SliceStable(holders, func(i, j int) bool { return holders[i].EffectiveKeyName() < holders[j].EffectiveKeyName() })
	out := &describeKeyPairsOutput{KeySet: query.NewList[keyPairItem]()}
	for _, kp := range holders {
		item := toKeyPairItem(kp, in.IncludePublicKey)
		attrs := func(name string) []string {
			return map[string][]string{
				"key-name": {item.KeyName}, "key-pair-id": {item.KeyPairID},
				"fingerprint": {item.KeyFingerprint}, "key-type": {item.KeyType},
			}[name]
		}
		if matcher.Match(attrs, tagsOf(kp)) {
			out.KeySet.Items = append(out.KeySet.Items, item)
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
			return nil, badRequest(codeKeyPairNotFound, "The key pair '%s' does not exist", name)
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
			return nil, badRequest(codeKeyPairNotFound, "The key pair '%s' does not exist", id)
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
func (s *Server) projectKeyPairs(ctx context.Context, c *call) ([]*cloudv1.KeyPair, error) {
	list := &cloudv1.KeyPairList{}
	if err := s.cfg.Client.List(ctx, list, client.InNamespace(c.project)); err != nil {
		return nil, fmt.Errorf("listing key pairs: %w", err)
	}
	out := make([]*cloudv1.KeyPair, 0, len(list.Items))
	for i := range list.Items {
		if list.Items[i].DeletionTimestamp.IsZero() {
			out = append(out, &list.Items[i])
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		ti, tj := out[i].CreationTimestamp, out[j].CreationTimestamp
		if !ti.Equal(&tj) {
			return ti.Before(&tj)
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// keyPairID is the key pair's EC2 id: the controller's, or the object's name when the API made
// it and the controller has not caught up.
func keyPairID(kp *cloudv1.KeyPair) string {
	if kp.Status.KeyPairID != "" {
		return kp.Status.KeyPairID
	}
	if ids.Valid(ids.KeyPair, kp.Name) {
		return kp.Name
	}
	return ""
}

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

func toKeyPairItem(kp *cloudv1.KeyPair, includePublicKey bool) keyPairItem {
	keyType, fingerprint := keyPairFacts(kp)
	item := keyPairItem{
		KeyPairID:      keyPairID(kp),
		KeyType:        keyType,
		TagSet:         tagList(tagsOf(kp)),
		CreateTime:     query.NewTimestamp(kp.CreationTimestamp.Time),
		KeyName:        kp.EffectiveKeyName(),
		KeyFingerprint: fingerprint,
	}
	if includePublicKey {
		item.PublicKey = kp.Spec.PublicKey
	}
	return item
}
