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
	"maps"
	"slices"

	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
)

// tagItem is EC2's Tag on the wire.
type tagItem struct {
	Key   string `xml:"key" ec2:"Key"`
	Value string `xml:"value" ec2:"Value"`
}

// tagSpecification is EC2's TagSpecification input.
type tagSpecification struct {
	ResourceType string    `ec2:"ResourceType"`
	Tags         []tagItem `ec2:"Tag,list"`
}

// tagList renders tags for a response, sorted by key.
func tagList(tags map[string]string) *query.List[tagItem] {
	if len(tags) == 0 {
		return nil
	}
	l := listOf(slices.Sorted(maps.Keys(tags)), func(k string) tagItem { return tagItem{Key: k, Value: tags[k]} })
	return &l
}

func toTags(items []tagItem) []cloud.Tag {
	out := make([]cloud.Tag, len(items))
	for i, t := range items {
		out[i] = cloud.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

func toTagSpecifications(specs []tagSpecification) []cloud.TagSpecification {
	out := make([]cloud.TagSpecification, len(specs))
	for i, s := range specs {
		out[i] = cloud.TagSpecification{ResourceType: s.ResourceType, Tags: toTags(s.Tags)}
	}
	return out
}

type createTagsInput struct {
	Resources []string  `ec2:"ResourceId,list,required"`
	Tags      []tagItem `ec2:"Tag,list,required"`
	DryRun    bool      `ec2:"DryRun"`
}

func (s *Server) createTags(ctx context.Context, who cloud.Caller, in *createTagsInput) (any, error) {
	return done(s.svc.CreateTags(ctx, who, cloud.CreateTagsInput{ResourceIDs: in.Resources, Tags: toTags(in.Tags),
		DryRun: in.DryRun}))
}

type deleteTagInput struct {
	Key   string  `ec2:"Key"`
	Value *string `ec2:"Value"`
}

type deleteTagsInput struct {
	Resources []string         `ec2:"ResourceId,list,required"`
	Tags      []deleteTagInput `ec2:"Tag,list"`
	DryRun    bool             `ec2:"DryRun"`
}

func (s *Server) deleteTags(ctx context.Context, who cloud.Caller, in *deleteTagsInput) (any, error) {
	tags := make([]cloud.TagToDelete, len(in.Tags))
	for i, t := range in.Tags {
		tags[i] = cloud.TagToDelete(t)
	}
	return done(s.svc.DeleteTags(ctx, who, cloud.DeleteTagsInput{ResourceIDs: in.Resources, Tags: tags, DryRun: in.DryRun}))
}

type describeTagsInput struct {
	pagedDescribeInput
}

type tagDescription struct {
	ResourceID   string `xml:"resourceId"`
	ResourceType string `xml:"resourceType"`
	Key          string `xml:"key"`
	Value        string `xml:"value"`
}

type describeTagsOutput struct {
	Tags      query.List[tagDescription] `xml:"tagSet"`
	NextToken string                     `xml:"nextToken,omitempty"`
}

func toDescribeTagsOutput(tags []cloud.TagDescription, next string) *describeTagsOutput {
	return &describeTagsOutput{Tags: listOf(tags, func(t cloud.TagDescription) tagDescription { return tagDescription(t) }),
		NextToken: next}
}

func (s *Server) describeTags(ctx context.Context, who cloud.Caller, in *describeTagsInput) (any, error) {
	return encodedPage(toDescribeTagsOutput)(s.svc.DescribeTags(ctx, who, cloud.DescribeTagsInput{Filters: in.Filters,
		DryRun: in.DryRun, Page: page(in.Paging)}))
}
