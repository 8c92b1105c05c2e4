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

	"pinet.io/pinet/cloud"
	"pinet.io/pinet/ec2shim/query"
)

// Images are served by the cloud service (cloud/images.go); these are their wire shapes.

// imageBlockDevice is EC2's BlockDeviceMapping in responses: an image's volumes (its instance
// stores come from the instance type and are not listed).
type imageBlockDevice struct {
	DeviceName  string         `xml:"deviceName"`
	VirtualName string         `xml:"virtualName,omitempty"`
	EBS         *imageEBSShape `xml:"ebs,omitempty"`
}

// imageEBSShape is EC2's EbsBlockDevice of an image's mapping.
type imageEBSShape struct {
	SnapshotID          string `xml:"snapshotId"`
	VolumeSize          int32  `xml:"volumeSize,omitempty"`
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
	VolumeType          string `xml:"volumeType"`
	Iops                int32  `xml:"iops,omitempty"`
	Throughput          int32  `xml:"throughput,omitempty"`
	Encrypted           bool   `xml:"encrypted"`
}

func toImageBlockDevices(vols []cloud.ImageVolume) query.List[imageBlockDevice] {
	out := query.NewList[imageBlockDevice]()
	for _, v := range vols {
		out.Items = append(out.Items, imageBlockDevice{DeviceName: v.DeviceName, EBS: &imageEBSShape{
			SnapshotID: v.SnapshotID, VolumeSize: v.VolumeSize, DeleteOnTermination: v.DeleteOnTermination, VolumeType: v.VolumeType,
			Iops: v.Iops, Throughput: v.Throughput}})
	}
	return out
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
	// DeregistrationProtection is disabled, enabled-with(out)-cooldown or disabled-until.
	DeregistrationProtection string `xml:"deregistrationProtection,omitempty"`
}

func toImageItem(img cloud.Image) imageItem {
	item := imageItem{
		ImageID: img.ID, ImageLocation: img.Location, ImageState: img.State, ImageOwnerID: img.OwnerID,
		CreationDate: img.Created.UTC().Format(query.TimestampLayout), IsPublic: img.Public,
		Architecture: img.Architecture, ImageType: img.Type, KernelID: img.KernelID, RamdiskID: img.RamdiskID,
		Name: img.Name, Description: img.Description, RootDeviceType: img.RootDeviceType,
		RootDeviceName: img.RootDeviceName, BlockDeviceMapping: toImageBlockDevices(img.Volumes),
		VirtualizationType: img.VirtualizationType, Hypervisor: img.Hypervisor, TagSet: tagList(img.Tags),
		DeregistrationProtection: img.DeregistrationProtection,
	}
	if img.StateReasonCode != "" {
		item.StateReason = &stateReason{Code: img.StateReasonCode, Message: img.StateReasonMessage}
	}
	return item
}

type registerImageInput struct {
	ImageLocation       string                    `ec2:"ImageLocation"`
	Name                string                    `ec2:"Name,required"`
	Description         string                    `ec2:"Description"`
	Architecture        string                    `ec2:"Architecture"`
	KernelID            string                    `ec2:"KernelId"`
	RamdiskID           string                    `ec2:"RamdiskId"`
	RootDeviceName      string                    `ec2:"RootDeviceName"`
	VirtualizationType  string                    `ec2:"VirtualizationType"`
	BlockDeviceMappings []blockDeviceMappingInput `ec2:"BlockDeviceMapping,list"`
	TagSpecifications   []tagSpecification        `ec2:"TagSpecification,list"`
	DryRun              bool                      `ec2:"DryRun"`
}

type registerImageOutput struct {
	ImageID string `xml:"imageId"`
}

func toRegisterImageOutput(id string) *registerImageOutput { return &registerImageOutput{ImageID: id} }

// registerImage registers a bundle (cloud.Service.RegisterImage reads its manifest as the caller).
func (s *Server) registerImage(ctx context.Context, who cloud.Caller, in *registerImageInput) (any, error) {
	devices := imageDevices(in.BlockDeviceMappings)
	return encoded(toRegisterImageOutput)(s.svc.RegisterImage(ctx, who, cloud.RegisterImageInput{Location: in.ImageLocation,
		Name: in.Name, Description: in.Description, Architecture: in.Architecture, KernelID: in.KernelID,
		RamdiskID: in.RamdiskID, RootDeviceName: in.RootDeviceName, VirtualizationType: in.VirtualizationType,
		BlockDeviceMappings: devices, TagSpecifications: toTagSpecifications(in.TagSpecifications), DryRun: in.DryRun}))
}

// imageDevices are a registration's or image creation's block device mappings as the service
// judges them.
func imageDevices(in []blockDeviceMappingInput) []cloud.ImageBlockDevice {
	devices := make([]cloud.ImageBlockDevice, 0, len(in))
	for _, m := range in {
		devices = append(devices, cloud.ImageBlockDevice{DeviceName: m.DeviceName, EBS: m.EBS != nil, NoDevice: m.NoDevice != nil})
	}
	return devices
}

type createImageInput struct {
	InstanceID          string                    `ec2:"InstanceId,required"`
	Name                string                    `ec2:"Name,required"`
	Description         string                    `ec2:"Description"`
	NoReboot            bool                      `ec2:"NoReboot"`
	BlockDeviceMappings []blockDeviceMappingInput `ec2:"BlockDeviceMapping,list"`
	TagSpecifications   []tagSpecification        `ec2:"TagSpecification,list"`
	DryRun              bool                      `ec2:"DryRun"`
}

// createImage makes an image of an instance (cloud.Service.CreateImage).
func (s *Server) createImage(ctx context.Context, who cloud.Caller, in *createImageInput) (any, error) {
	devices := imageDevices(in.BlockDeviceMappings)
	return encoded(toRegisterImageOutput)(s.svc.CreateImage(ctx, who, cloud.CreateImageInput{InstanceID: in.InstanceID,
		Name: in.Name, Description: in.Description, NoReboot: in.NoReboot, BlockDeviceMappings: devices,
		TagSpecifications: toTagSpecifications(in.TagSpecifications), DryRun: in.DryRun}))
}

type copyImageInput struct {
	SourceImageID                         string             `ec2:"SourceImageId,required"`
	SourceRegion                          string             `ec2:"SourceRegion,required"`
	Name                                  string             `ec2:"Name,required"`
	Description                           string             `ec2:"Description"`
	ClientToken                           string             `ec2:"ClientToken"`
	CopyImageTags                         bool               `ec2:"CopyImageTags"`
	Encrypted                             bool               `ec2:"Encrypted"`
	KmsKeyID                              string             `ec2:"KmsKeyId"`
	DestinationOutpostArn                 string             `ec2:"DestinationOutpostArn"`
	DestinationAvailabilityZone           string             `ec2:"DestinationAvailabilityZone"`
	DestinationAvailabilityZoneID         string             `ec2:"DestinationAvailabilityZoneId"`
	SnapshotCopyCompletionDurationMinutes *int64             `ec2:"SnapshotCopyCompletionDurationMinutes"`
	TagSpecifications                     []tagSpecification `ec2:"TagSpecification,list"`
	DryRun                                bool               `ec2:"DryRun"`
}

// copyImage copies an image the caller may launch into its project (cloud.Service.CopyImage).
func (s *Server) copyImage(ctx context.Context, who cloud.Caller, in *copyImageInput) (any, error) {
	return encoded(toRegisterImageOutput)(s.svc.CopyImage(ctx, who, cloud.CopyImageInput{SourceImageID: in.SourceImageID,
		SourceRegion: in.SourceRegion, Name: in.Name, Description: in.Description, ClientToken: in.ClientToken,
		CopyImageTags: in.CopyImageTags, Encrypted: in.Encrypted, KmsKeyID: in.KmsKeyID,
		DestinationOutpostArn: in.DestinationOutpostArn, DestinationAvailabilityZone: in.DestinationAvailabilityZone,
		DestinationAvailabilityZoneID:         in.DestinationAvailabilityZoneID,
		SnapshotCopyCompletionDurationMinutes: in.SnapshotCopyCompletionDurationMinutes,
		TagSpecifications:                     toTagSpecifications(in.TagSpecifications), DryRun: in.DryRun}))
}

type describeImagesInput struct {
	ImageIDs          []string `ec2:"ImageId,list"`
	Owners            []string `ec2:"Owner,list"`
	ExecutableUsers   []string `ec2:"ExecutableBy,list"`
	IncludeDeprecated bool     `ec2:"IncludeDeprecated"`
	IncludeDisabled   bool     `ec2:"IncludeDisabled"`
	pagedDescribeInput
}

type describeImagesOutput struct {
	ImagesSet query.List[imageItem] `xml:"imagesSet"`
	NextToken string                `xml:"nextToken,omitempty"`
}

func toDescribeImagesOutput(imgs []cloud.Image, next string) *describeImagesOutput {
	return &describeImagesOutput{ImagesSet: listOf(imgs, toImageItem), NextToken: next}
}

// describeImages lists the visible images. PiNet images are never deprecated or disabled, so
// IncludeDeprecated and IncludeDisabled change nothing.
func (s *Server) describeImages(ctx context.Context, who cloud.Caller, in *describeImagesInput) (any, error) {
	return encodedPage(toDescribeImagesOutput)(s.svc.DescribeImages(ctx, who, cloud.DescribeImagesInput{IDs: in.ImageIDs,
		Owners: in.Owners, ExecutableBy: in.ExecutableUsers, Filters: in.Filters, Page: page(in.Paging), DryRun: in.DryRun}))
}

type deregisterImageInput struct {
	ImageID                   string `ec2:"ImageId,required"`
	DeleteAssociatedSnapshots bool   `ec2:"DeleteAssociatedSnapshots"`
	DryRun                    bool   `ec2:"DryRun"`
}

func (s *Server) deregisterImage(ctx context.Context, who cloud.Caller, in *deregisterImageInput) (any, error) {
	return done(s.svc.DeregisterImage(ctx, who, cloud.DeregisterImageInput{ID: in.ImageID, DryRun: in.DryRun}))
}

type imageProtectionInput struct {
	ImageID      string `ec2:"ImageId,required"`
	WithCooldown bool   `ec2:"WithCooldown"`
	DryRun       bool   `ec2:"DryRun"`
}

type disableImageProtectionInput struct {
	ImageID string `ec2:"ImageId,required"`
	DryRun  bool   `ec2:"DryRun"`
}

// returnStringOutput is the answer of the actions whose model gives "return" as a string.
type returnStringOutput struct {
	Return string `xml:"return"`
}

func (s *Server) enableImageProtection(ctx context.Context, who cloud.Caller, in *imageProtectionInput) (any, error) {
	err := s.svc.EnableImageDeregistrationProtection(ctx, who, cloud.ImageProtectionInput{ID: in.ImageID,
		WithCooldown: in.WithCooldown, DryRun: in.DryRun})
	if err != nil {
		return nil, err
	}
	return &returnStringOutput{Return: "true"}, nil
}

func (s *Server) disableImageProtection(ctx context.Context, who cloud.Caller, in *disableImageProtectionInput) (any, error) {
	err := s.svc.DisableImageDeregistrationProtection(ctx, who, cloud.ImageProtectionInput{ID: in.ImageID, DryRun: in.DryRun})
	if err != nil {
		return nil, err
	}
	return &returnStringOutput{Return: "true"}, nil
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

func (s *Server) describeImageAttribute(ctx context.Context, who cloud.Caller, in *describeImageAttributeInput) (any, error) {
	return encoded(toImageAttributeOutput)(s.svc.DescribeImageAttribute(ctx, who, cloud.DescribeImageAttributeInput{
		ID: in.ImageID, Attribute: in.Attribute, DryRun: in.DryRun}))
}

// toImageAttributeOutput puts the one attribute asked for in its element.
func toImageAttributeOutput(attr *cloud.ImageAttribute) *imageAttributeOutput {
	out := &imageAttributeOutput{ImageID: attr.ImageID}
	switch attr.Attribute {
	case "launchPermission":
		perms := listOf(attr.LaunchPermissions, func(p cloud.LaunchPermission) launchPermissionItem {
			return launchPermissionItem(p)
		})
		out.LaunchPermission = &perms
		return out
	case "blockDeviceMapping":
		devices := toImageBlockDevices(attr.Volumes)
		out.BlockDeviceMapping = &devices
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

func (s *Server) modifyImageAttribute(ctx context.Context, who cloud.Caller, in *modifyImageAttributeInput) (any, error) {
	mod := cloud.ModifyImageAttributeInput{ID: in.ImageID, Attribute: in.Attribute, OperationType: in.OperationType,
		UserGroups: in.UserGroups, UserIDs: in.UserIDs, Value: in.Value, ProductCodes: in.ProductCodes, DryRun: in.DryRun}
	if in.Description != nil {
		mod.Description = &in.Description.Value
	}
	if in.LaunchPermission != nil {
		mod.LaunchPermission = &cloud.LaunchPermissionChanges{Add: toLaunchPermissions(in.LaunchPermission.Add),
			Remove: toLaunchPermissions(in.LaunchPermission.Remove)}
	}
	return done(s.svc.ModifyImageAttribute(ctx, who, mod))
}

func toLaunchPermissions(items []launchPermissionItem) []cloud.LaunchPermission {
	var out []cloud.LaunchPermission
	for _, p := range items {
		out = append(out, cloud.LaunchPermission(p))
	}
	return out
}

type resetImageAttributeInput struct {
	ImageID   string `ec2:"ImageId,required"`
	Attribute string `ec2:"Attribute,required"`
	DryRun    bool   `ec2:"DryRun"`
}

func (s *Server) resetImageAttribute(ctx context.Context, who cloud.Caller, in *resetImageAttributeInput) (any, error) {
	return done(s.svc.ResetImageAttribute(ctx, who, cloud.ResetImageAttributeInput{ID: in.ImageID,
		Attribute: in.Attribute, DryRun: in.DryRun}))
}
