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

package ec2shim

import (
	"context"
	"encoding/base64"

	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
)

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

func toCreateKeyPairOutput(kp *cloud.CreatedKeyPair) *createKeyPairOutput {
	return &createKeyPairOutput{KeyPairID: kp.ID, KeyName: kp.Name, KeyFingerprint: kp.Fingerprint,
		KeyMaterial: kp.PrivateKeyPEM, TagSet: tagList(kp.Tags)}
}

func (s *Server) createKeyPair(ctx context.Context, who cloud.Caller, in *createKeyPairInput) (any, error) {
	return encoded(toCreateKeyPairOutput)(s.svc.CreateKeyPair(ctx, who, cloud.CreateKeyPairInput{Name: in.KeyName,
		Type: in.KeyType, Format: in.KeyFormat, TagSpecifications: toTagSpecifications(in.TagSpecifications), DryRun: in.DryRun}))
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

func toImportKeyPairOutput(kp *cloud.KeyPair) *importKeyPairOutput {
	return &importKeyPairOutput{KeyPairID: kp.ID, KeyName: kp.Name, KeyFingerprint: kp.Fingerprint, TagSet: tagList(kp.Tags)}
}

func (s *Server) importKeyPair(ctx context.Context, who cloud.Caller, in *importKeyPairInput) (any, error) {
	material, err := base64.StdEncoding.DecodeString(in.PublicKeyMaterial)
	if err != nil {
		return nil, badRequest(codeKeyFormat, "Key is not in valid OpenSSH public key format: PublicKeyMaterial is not base64")
	}
	return encoded(toImportKeyPairOutput)(s.svc.ImportKeyPair(ctx, who, cloud.ImportKeyPairInput{Name: in.KeyName,
		PublicKey: material, TagSpecifications: toTagSpecifications(in.TagSpecifications), DryRun: in.DryRun}))
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

func toDeleteKeyPairOutput(id string) *deleteKeyPairOutput {
	return &deleteKeyPairOutput{Return: true, KeyPairID: id}
}

func (s *Server) deleteKeyPair(ctx context.Context, who cloud.Caller, in *deleteKeyPairInput) (any, error) {
	return encoded(toDeleteKeyPairOutput)(s.svc.DeleteKeyPair(ctx, who, cloud.DeleteKeyPairInput{Name: in.KeyName,
		ID: in.KeyPairID, DryRun: in.DryRun}))
}

type describeKeyPairsInput struct {
	KeyNames         []string `ec2:"KeyName,list"`
	KeyPairIDs       []string `ec2:"KeyPairId,list"`
	IncludePublicKey bool     `ec2:"IncludePublicKey"`
	describeInput
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

func toKeyPairItem(kp cloud.KeyPair) keyPairItem {
	return keyPairItem{KeyPairID: kp.ID, KeyType: kp.Type, TagSet: tagList(kp.Tags), PublicKey: kp.PublicKey,
		CreateTime: query.NewTimestamp(kp.Created), KeyName: kp.Name, KeyFingerprint: kp.Fingerprint}
}

func toDescribeKeyPairsOutput(kps []cloud.KeyPair) *describeKeyPairsOutput {
	return &describeKeyPairsOutput{KeySet: listOf(kps, toKeyPairItem)}
}

func (s *Server) describeKeyPairs(ctx context.Context, who cloud.Caller, in *describeKeyPairsInput) (any, error) {
	return encoded(toDescribeKeyPairsOutput)(s.svc.DescribeKeyPairs(ctx, who, cloud.DescribeKeyPairsInput{
		Names: in.KeyNames, IDs: in.KeyPairIDs, Filters: in.Filters, IncludePublicKey: in.IncludePublicKey, DryRun: in.DryRun}))
}
