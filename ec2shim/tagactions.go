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

	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
)

func (s *Server) tagRoutes() map[string]action {
	return map[string]action{
		"CreateTags":   s.createTags,
		"DeleteTags":   s.deleteTags,
		"DescribeTags": s.describeTags,
	}
}

type createTagsInput struct {
	Resources []string  `ec2:"ResourceId,list,required"`
	Tags      []tagItem `ec2:"Tag,list,required"`
	DryRun    bool      `ec2:"DryRun"`
}

func (s *Server) createTags(ctx context.Context, c *call) (any, error) {
	var in createTagsInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	err := s.svc.CreateTags(ctx, c.caller(), cloud.CreateTagsInput{ResourceIDs: in.Resources, Tags: toTags(in.Tags), DryRun: in.DryRun})
	if err != nil {
		return nil, err
	}
	return &returnOutput{Return: true}, nil
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

func (s *Server) deleteTags(ctx context.Context, c *call) (any, error) {
	var in deleteTagsInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	tags := make([]cloud.TagToDelete, len(in.Tags))
	for i, t := range in.Tags {
		tags[i] = cloud.TagToDelete{Key: t.Key, Value: t.Value}
	}
	if err := s.svc.DeleteTags(ctx, c.caller(), cloud.DeleteTagsInput{ResourceIDs: in.Resources, Tags: tags, DryRun: in.DryRun}); err != nil {
		return nil, err
	}
	return &returnOutput{Return: true}, nil
}

type describeTagsInput struct {
	Filters []query.Filter `ec2:"Filter,list"`
	DryRun  bool           `ec2:"DryRun"`
	query.Paging
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

func (s *Server) describeTags(ctx context.Context, c *call) (any, error) {
	var in describeTagsInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	tags, next, err := s.svc.DescribeTags(ctx, c.caller(), cloud.DescribeTagsInput{Filters: in.Filters, DryRun: in.DryRun,
		Page: cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken}})
	if err != nil {
		return nil, err
	}
	out := &describeTagsOutput{Tags: query.NewList[tagDescription](), NextToken: next}
	for _, t := range tags {
		out.Tags.Items = append(out.Tags.Items, tagDescription{ResourceID: t.ResourceID, ResourceType: t.ResourceType, Key: t.Key, Value: t.Value})
	}
	return out, nil
}
