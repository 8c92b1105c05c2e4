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

// Images are served by the cloud service (cloud/images.go); these are their wire shapes.

func (s *Server) imageRoutes() map[string]action {
	return map[string]action{
		"RegisterImage":          s.registerImage,
		"DeregisterImage":        s.deregisterImage,
		"DescribeImages":         s.describeImages,
		"DescribeImageAttribute": s.describeImageAttribute,
		"ModifyImageAttribute":   s.modifyImageAttribute,
		"ResetImageAttribute":    s.resetImageAttribute,
	}
}

// imageBlockDevice is EC2's BlockDeviceMapping in responses; PiNet images have none (their
// disks come from the instance type), so lists of it are always empty.
type imageBlockDevice struct {
	DeviceName  string `xml:"deviceName"`
	VirtualName string `xml:"virtualName,omitempty"`
}

// imageItem is EC2's Image.
type imageItem struct {
	ImageID            string                       `xml:"imageId"`
	ImageLocation      string                       `xml:"imageLocation"`
	ImageState         string                       `xml:"imageState"`
	ImageOwnerID       string                       `xml:"imageOwnerId"`
	CreationDate       string                       `xml:"creationDate,omitempty"`
	IsPublic           bool                         `xml:"isPublic"`
	Architecture       string                       `xml:"architecture"`
	ImageType          string                       `xml:"imageType"`
	KernelID           string                       `xml:"kernelId,omitempty"`
	RamdiskID          string                       `xml:"ramdiskId,omitempty"`
	Name               string                       `xml:"name,omitempty"`
	Description        string                       `xml:"description,omitempty"`
	RootDeviceType     string                       `xml:"rootDeviceType"`
	RootDeviceName     string                       `xml:"rootDeviceName,omitempty"`
	BlockDeviceMapping query.List[imageBlockDevice] `xml:"blockDeviceMapping"`
	VirtualizationType string                       `xml:"virtualizationType"`
	Hypervisor         string                       `xml:"hypervisor"`
	StateReason        *stateReason                 `xml:"stateReason,omitempty"`
	TagSet             *query.List[tagItem]         `xml:"tagSet,omitempty"`
}

func toImageItem(img cloud.Image) imageItem {
	item := imageItem{
		ImageID: img.ID, ImageLocation: img.Location, ImageState: img.State, ImageOwnerID: img.OwnerID,
		CreationDate: img.Created.UTC().Format(query.TimestampLayout), IsPublic: img.Public,
		Architecture: img.Architecture, ImageType: img.Type, KernelID: img.KernelID, RamdiskID: img.RamdiskID,
		Name: img.Name, Description: img.Description, RootDeviceType: img.RootDeviceType,
		RootDeviceName: img.RootDeviceName, BlockDeviceMapping: query.NewList[imageBlockDevice](),
		VirtualizationType: img.VirtualizationType, Hypervisor: img.Hypervisor, TagSet: tagList(img.Tags),
	}
	if img.StateReasonCode != "" {
		item.StateReason = &stateReason{Code: img.StateReasonCode, Message: img.StateReasonMessage}
	}
	return item
}

type describeImagesInput struct {
	ImageIDs          []string       `ec2:"ImageId,list"`
	Owners            []string       `ec2:"Owner,list"`
	ExecutableUsers   []string       `ec2:"ExecutableBy,list"`
	Filters           []query.Filter `ec2:"Filter,list"`
	IncludeDeprecated bool           `ec2:"IncludeDeprecated"`
	IncludeDisabled   bool           `ec2:"IncludeDisabled"`
	DryRun            bool           `ec2:"DryRun"`
	query.Paging
}

type describeImagesOutput struct {
	ImagesSet query.List[imageItem] `xml:"imagesSet"`
	NextToken string                `xml:"nextToken,omitempty"`
}

// describeImages lists the visible images. PiNet images are never deprecated or disabled, so
// IncludeDeprecated and IncludeDisabled change nothing.
func (s *Server) describeImages(ctx context.Context, c *call) (any, error) {
	var in describeImagesInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	imgs, next, err := s.svc.DescribeImages(ctx, c.caller(), cloud.DescribeImagesInput{IDs: in.ImageIDs,
		Owners: in.Owners, ExecutableBy: in.ExecutableUsers, Filters: in.Filters,
		Page: cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken}, DryRun: in.DryRun})
	if err != nil {
		return nil, err
	}
	out := &describeImagesOutput{ImagesSet: query.NewList[imageItem](), NextToken: next}
	for _, img := range imgs {
		out.ImagesSet.Items = append(out.ImagesSet.Items, toImageItem(img))
	}
	return out, nil
}

type deregisterImageInput struct {
	ImageID                   string `ec2:"ImageId,required"`
	DeleteAssociatedSnapshots bool   `ec2:"DeleteAssociatedSnapshots"`
	DryRun                    bool   `ec2:"DryRun"`
}

func (s *Server) deregisterImage(ctx context.Context, c *call) (any, error) {
	var in deregisterImageInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := s.svc.DeregisterImage(ctx, c.caller(), cloud.DeregisterImageInput{ID: in.ImageID, DryRun: in.DryRun}); err != nil {
		return nil, err
	}
	return &returnOutput{Return: true}, nil
}

// launchPermissionItem is EC2's LaunchPermission, in requests and responses.
type launchPermissionItem struct {
	Group  string `xml:"group,omitempty" ec2:"Group"`
	UserID string `xml:"userId,omitempty" ec2:"UserId"`
}

type productCodeItem struct {
	ProductCode string `xml:"productCode"`
	Type        string `xml:"type"`
}

type describeImageAttributeInput struct {
	ImageID   string `ec2:"ImageId,required"`
	Attribute string `ec2:"Attribute,required"`
	DryRun    bool   `ec2:"DryRun"`
}

type imageAttributeOutput struct {
	ImageID                  string                            `xml:"imageId"`
	LaunchPermission         *query.List[launchPermissionItem] `xml:"launchPermission,omitempty"`
	ProductCodes             *query.List[productCodeItem]      `xml:"productCodes,omitempty"`
	BlockDeviceMapping       *query.List[imageBlockDevice]     `xml:"blockDeviceMapping,omitempty"`
	Description              *query.AttributeValue             `xml:"description,omitempty"`
	Kernel                   *query.AttributeValue             `xml:"kernel,omitempty"`
	Ramdisk                  *query.AttributeValue             `xml:"ramdisk,omitempty"`
	SriovNetSupport          *query.AttributeValue             `xml:"sriovNetSupport,omitempty"`
	BootMode                 *query.AttributeValue             `xml:"bootMode,omitempty"`
	TpmSupport               *query.AttributeValue             `xml:"tpmSupport,omitempty"`
	UefiData                 *query.AttributeValue             `xml:"uefiData,omitempty"`
	LastLaunchedTime         *query.AttributeValue             `xml:"lastLaunchedTime,omitempty"`
	ImdsSupport              *query.AttributeValue             `xml:"imdsSupport,omitempty"`
	DeregistrationProtection *query.AttributeValue             `xml:"deregistrationProtection,omitempty"`
}

func (s *Server) describeImageAttribute(ctx context.Context, c *call) (any, error) {
	var in describeImageAttributeInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	attr, err := s.svc.DescribeImageAttribute(ctx, c.caller(), cloud.DescribeImageAttributeInput{ID: in.ImageID,
		Attribute: in.Attribute, DryRun: in.DryRun})
	if err != nil {
		return nil, err
	}
	return toImageAttributeOutput(attr), nil
}

// toImageAttributeOutput puts the one attribute asked for in its element.
func toImageAttributeOutput(attr *cloud.ImageAttribute) *imageAttributeOutput {
	out := &imageAttributeOutput{ImageID: attr.ImageID}
	switch attr.Attribute {
	case "launchPermission":
		perms := query.NewList[launchPermissionItem]()
		for _, p := range attr.LaunchPermissions {
			perms.Items = append(perms.Items, launchPermissionItem{Group: p.Group, UserID: p.UserID})
		}
		out.LaunchPermission = &perms
		return out
	case "blockDeviceMapping":
		out.BlockDeviceMapping = &query.List[imageBlockDevice]{}
		return out
	case "productCodes":
		out.ProductCodes = &query.List[productCodeItem]{}
		return out
	}
	values := map[string]**query.AttributeValue{
		"description": &out.Description, "kernel": &out.Kernel, "ramdisk": &out.Ramdisk,
		"sriovNetSupport": &out.SriovNetSupport, "bootMode": &out.BootMode, "tpmSupport": &out.TpmSupport,
		"uefiData": &out.UefiData, "lastLaunchedTime": &out.LastLaunchedTime, "imdsSupport": &out.ImdsSupport,
		"deregistrationProtection": &out.DeregistrationProtection,
	}
	if field := values[attr.Attribute]; field != nil {
		*field = &query.AttributeValue{Value: attr.Value}
	}
	return out
}

type launchPermissionModifications struct {
	Add    []launchPermissionItem `ec2:"Add,list"`
	Remove []launchPermissionItem `ec2:"Remove,list"`
}

type modifyImageAttributeInput struct {
	ImageID          string                         `ec2:"ImageId,required"`
	Attribute        string                         `ec2:"Attribute"`
	OperationType    string                         `ec2:"OperationType"`
	UserGroups       []string                       `ec2:"UserGroup,list"`
	UserIDs          []string                       `ec2:"UserId,list"`
	Value            *string                        `ec2:"Value"`
	Description      *query.AttributeValue          `ec2:"Description"`
	LaunchPermission *launchPermissionModifications `ec2:"LaunchPermission"`
	ProductCodes     []string                       `ec2:"ProductCode,list"`
	DryRun           bool                           `ec2:"DryRun"`
}

func (s *Server) modifyImageAttribute(ctx context.Context, c *call) (any, error) {
	var in modifyImageAttributeInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	mod := cloud.ModifyImageAttributeInput{ID: in.ImageID, Attribute: in.Attribute, OperationType: in.OperationType,
		UserGroups: in.UserGroups, UserIDs: in.UserIDs, Value: in.Value, ProductCodes: in.ProductCodes, DryRun: in.DryRun}
	if in.Description != nil {
		mod.Description = &in.Description.Value
	}
	if in.LaunchPermission != nil {
		mod.LaunchPermission = &cloud.LaunchPermissionChanges{Add: toLaunchPermissions(in.LaunchPermission.Add),
			Remove: toLaunchPermissions(in.LaunchPermission.Remove)}
	}
	if err := s.svc.ModifyImageAttribute(ctx, c.caller(), mod); err != nil {
		return nil, err
	}
	return &returnOutput{Return: true}, nil
}

func toLaunchPermissions(items []launchPermissionItem) []cloud.LaunchPermission {
	var out []cloud.LaunchPermission
	for _, p := range items {
		out = append(out, cloud.LaunchPermission{Group: p.Group, UserID: p.UserID})
	}
	return out
}

type resetImageAttributeInput struct {
	ImageID   string `ec2:"ImageId,required"`
	Attribute string `ec2:"Attribute,required"`
	DryRun    bool   `ec2:"DryRun"`
}

func (s *Server) resetImageAttribute(ctx context.Context, c *call) (any, error) {
	var in resetImageAttributeInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	err := s.svc.ResetImageAttribute(ctx, c.caller(), cloud.ResetImageAttributeInput{ID: in.ImageID,
		Attribute: in.Attribute, DryRun: in.DryRun})
	if err != nil {
		return nil, err
	}
	return &returnOutput{Return: true}, nil
}
