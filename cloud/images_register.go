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
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/go-logr/logr"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/ec2shim/query"
	"pinet.io/pinet/internal/bundle"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/quota"
)

const (
	// maxImageDescription and maxImageLocation are the Image CRD's limits.
	maxImageDescription = 255
	maxImageLocation    = 1024
	// maxRootDeviceName is the Image CRD's limit on spec.rootDeviceName.
	maxRootDeviceName = 32
)

var (
	// imageNamePattern is EC2's rule for AMI names.
	imageNamePattern = regexp.MustCompile(`^[A-Za-z0-9()\[\] ./\-'@_]{3,128}$`)
	// imageLocationPattern is the Image CRD's: bucket/key.
	imageLocationPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+$`)
	rootDevicePattern    = regexp.MustCompile(`^/dev/[a-z][a-z0-9]*$`)
	// architectures an Image may have.
	architectures = []string{"x86_64", "i386", "arm64"}
)

// ImageBlockDevice is a block device mapping of a registration. Only instance-store mappings are
// accepted (and not recorded); EBS says the request had an Ebs part.
type ImageBlockDevice struct {
	DeviceName string
	EBS        bool
	// NoDevice says the request mapped the device to nothing.
	NoDevice bool
}

// RegisterImageInput registers the bundle whose manifest is at Location (bucket/key).
type RegisterImageInput struct {
	Location, Name, Description string
	// Architecture, KernelID and RamdiskID default to the manifest's.
	Architecture, KernelID, RamdiskID  string
	RootDeviceName, VirtualizationType string
	BlockDeviceMappings                []ImageBlockDevice
	TagSpecifications                  []TagSpecification
	DryRun                             bool
}

// RegisterImage registers a bundle and returns the new image's id. The service reads the manifest
// as the caller, so a caller can only register a bundle it may read, and learns the image's type
// from it; the image controller then verifies the signature and digests and stores the image. The
// answer comes at once, with the image pending.
func (s *Service) RegisterImage(ctx context.Context, c Caller, in RegisterImageInput) (string, error) {
	if err := s.authorize(ctx, c, "create", "images", in.DryRun); err != nil {
		return "", err
	}
	if err := validateRegistration(&in); err != nil {
		return "", err
	}
	tags, err := SpecTags(in.TagSpecifications, "image")
	if err != nil {
		return "", err
	}
	if err := s.imageNameFree(ctx, c, in.Name); err != nil {
		return "", err
	}
	m, err := s.readManifest(ctx, c, in.Location)
	if err != nil {
		return "", err
	}
	spec, err := s.registeredSpec(ctx, c, &in, m)
	if err != nil {
		return "", err
	}
	return s.createImage(ctx, c, "", spec, tags, nil)
}

// createImage makes the caller's Image of spec, tagged, registered by the caller, held to the
// project's image quota, and claims its name in the project: of two calls with one name, exactly
// one keeps an image.
//
// The image is named name, or by a new id when name is empty, and carries annotations besides
// its tags.
func (s *Service) createImage(ctx context.Context, c Caller, name string, spec *cloudv1.ImageSpec, tags, annotations map[string]string) (string, error) {
	q, err := s.ProjectQuota(ctx, c.Project())
	if err != nil {
		return "", err
	}
	gate := quota.Images(c.Project(), q)
	overQuota := BadRequest(CodeResourceLimit, "The image quota of project %s is used up (%d images); deregister one first.",
		c.Project(), ptr.Deref(q.Images, 0))
	if fit, _, err := gate.Room(ctx, s.cfg.Client, []int64{1}, 1, 1); err != nil || fit == 0 {
		return "", cmp.Or(err, error(overQuota))
	}
	if name == "" {
		name = ids.New(imagePrefix(spec.Type))
	}
	img := &cloudv1.Image{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.Project(), Annotations: maps.Clone(annotations)},
		Spec:       *spec,
	}
	SetTags(img, tags)
	img.Annotations[cloudv1.AnnotationRegisteredBy] = c.Principal.User
	if !gate.Unlimited() {
		quota.MarkPending(img)
	}
	if err := s.cfg.Client.Create(ctx, img); err != nil {
		return "", APIError(err, "image "+spec.Name)
	}
	if err := s.admitOrWithdraw(ctx, gate, img, overQuota); err != nil {
		return "", err
	}
	if err := s.claimImageName(ctx, c, spec.Name, img); err != nil {
		if derr := s.Withdraw(ctx, img); derr != nil {
			return "", fmt.Errorf("withdrawing image %s: %w (after: %w)", img.Name, derr, err)
		}
		return "", err
	}
	s.AwaitCache(ctx, img)
	return img.Name, nil
}

// malformedImageName is EC2's answer to a name it does not take.
func malformedImageName() error {
	return BadRequest(CodeAMINameMalformed, "AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/', '_', spaces, '[', ']', ''' and '@'")
}

// refuseEBS refuses EBS block device mappings, which PiNet's images have none of; instance-store
// ones are accepted and not recorded: an instance's disks come from its instance type.
func refuseEBS(mappings []ImageBlockDevice, why string) error {
	for _, m := range mappings {
		if m.EBS {
			return InvalidParam("EBS block device mappings are not supported (BlockDeviceMapping %s): %s", m.DeviceName, why)
		}
	}
	return nil
}

// validateRegistration checks what needs no lookups. PiNet registers bundles only: there are no
// EBS snapshots to register an image from. Instance-store mappings (VirtualName, NoDevice) are
// accepted and not recorded: an instance's disks come from its instance type.
func validateRegistration(in *RegisterImageInput) error {
	if err := refuseEBS(in.BlockDeviceMappings, "PiNet registers instance-store images from bundles only"); err != nil {
		return err
	}
	switch {
	case in.Location == "" && (in.RootDeviceName != "" || len(in.BlockDeviceMappings) > 0):
		return InvalidParam("Registering an image from a snapshot is not supported: give ImageLocation, the bundle's bucket/manifest.xml")
	case in.Location == "":
		return BadRequest(CodeMissingParameter, "The request must contain the parameter ImageLocation")
	case len(in.Location) > maxImageLocation || !imageLocationPattern.MatchString(in.Location):
		return InvalidParam("Value (%s) for parameter ImageLocation is invalid. Expected bucket/path/name.manifest.xml.", clipID(in.Location))
	case !imageNamePattern.MatchString(in.Name):
		return malformedImageName()
	case len(in.Description) > maxImageDescription:
		return InvalidParam("The description is longer than %d characters", maxImageDescription)
	case in.Architecture != "" && !slices.Contains(architectures, in.Architecture):
		return InvalidParam("Value (%s) for parameter architecture is invalid. Valid values: %s.", in.Architecture, strings.Join(architectures, ", "))
	case in.VirtualizationType != "" && in.VirtualizationType != "hvm":
		return InvalidParam("Value (%s) for parameter virtualizationType is invalid. PiNet runs hvm guests only.", in.VirtualizationType)
	case in.RootDeviceName != "" && (len(in.RootDeviceName) > maxRootDeviceName || !rootDevicePattern.MatchString(in.RootDeviceName)):
		return InvalidParam("Value (%s) for parameter rootDeviceName is invalid. Expected a device such as /dev/sda1.", clipID(in.RootDeviceName))
	}
	return nil
}

// imageNameFree refuses a name another image of the project has, whoever made it (this catches
// images made with kubectl, which hold no claim on their name).
func (s *Service) imageNameFree(ctx context.Context, c Caller, name string) error {
	list := &cloudv1.ImageList{}
	if err := s.cfg.Client.List(ctx, list, client.InNamespace(c.Project())); err != nil {
		return fmt.Errorf("listing images: %w", err)
	}
	for i := range list.Items {
		if other := &list.Items[i]; other.DeletionTimestamp.IsZero() && imageName(other) == name {
			return duplicateImageName(name, other)
		}
	}
	return nil
}

func duplicateImageName(name string, holder *cloudv1.Image) error {
	id := ImageID(holder)
	if id == "" {
		id = holder.Name
	}
	return BadRequest(CodeAMINameDuplicate, "AMI name %s is already in use by AMI %s", name, id)
}

// An image name is claimed in its project with a Lease named by the name, held by the Image
// object's name: creating it is what the API server makes exclusive, so of two concurrent
// registrations of one name exactly one keeps it. The Image is created first, so a claim whose
// holder is gone (deleted with kubectl, say), being deleted or renamed is stale and is taken over.
const imageNameClaimPrefix = "pinet-image-name-"

func imageNameClaimKey(project, name string) client.ObjectKey {
	sum := sha256.Sum256([]byte(name))
	return client.ObjectKey{Namespace: project, Name: imageNameClaimPrefix + hex.EncodeToString(sum[:12])}
}

// claimImageName claims name for img, an Image just created in the caller's project.
func (s *Service) claimImageName(ctx context.Context, c Caller, name string, img *cloudv1.Image) error {
	key := imageNameClaimKey(c.Project(), name)
	for attempt := 0; attempt < 3; attempt++ {
		claim := &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace,
				Labels: map[string]string{cloudv1.LabelManagedBy: cloudv1.ManagedByPiNet}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(img.Name)},
		}
		err := s.cfg.Client.Create(ctx, claim)
		if err == nil {
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("claiming the image name %q: %w", name, err)
		}
		held := &coordinationv1.Lease{}
		if err := s.cfg.APIReader.Get(ctx, key, held); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return fmt.Errorf("reading the claim on the image name %q: %w", name, err)
		}
		holder, err := s.nameHolder(ctx, c.Project(), ptr.Deref(held.Spec.HolderIdentity, ""), name)
		if err != nil {
			return err
		}
		if holder != nil {
			return duplicateImageName(name, holder)
		}
		// Stale: remove exactly the claim that was read, then try again.
		uid, rv := held.UID, held.ResourceVersion
		err = s.cfg.Client.Delete(ctx, held, client.Preconditions{UID: &uid, ResourceVersion: &rv})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("removing a stale claim on the image name %q: %w", name, err)
		}
	}
	return query.Errorf(CodeIncorrectResource, http.StatusConflict, "The AMI name %s is being claimed concurrently; try again", name)
}

// nameHolder returns the Image named holder in the project if it still holds name.
func (s *Service) nameHolder(ctx context.Context, project, holder, name string) (*cloudv1.Image, error) {
	if holder == "" {
		return nil, nil
	}
	img := &cloudv1.Image{}
	if err := s.cfg.APIReader.Get(ctx, client.ObjectKey{Namespace: project, Name: holder}, img); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading image %s: %w", holder, err)
	}
	if !img.DeletionTimestamp.IsZero() || imageName(img) != name {
		return nil, nil
	}
	return img, nil
}

// releaseImageName drops the claim a deregistered image held. A claim left behind (the call
// failing here) is stale and is taken over by the next registration of the name.
func (s *Service) releaseImageName(ctx context.Context, img *cloudv1.Image) {
	key := imageNameClaimKey(img.Namespace, imageName(img))
	held := &coordinationv1.Lease{}
	err := s.cfg.APIReader.Get(ctx, key, held)
	if err == nil && ptr.Deref(held.Spec.HolderIdentity, "") == img.Name {
		uid := held.UID
		err = s.cfg.Client.Delete(ctx, held, client.Preconditions{UID: &uid})
	}
	if client.IgnoreNotFound(err) != nil {
		logr.FromContextOrDiscard(ctx).Info("Leaving a stale image name claim", "claim", key.String(), "error", err.Error())
	}
}

// readManifest fetches and parses the manifest acting as the caller in the object store, with
// the secret of the access key the caller signed with.
func (s *Service) readManifest(ctx context.Context, c Caller, location string) (*bundle.Manifest, error) {
	if s.cfg.Credentials == nil || s.cfg.ObjectStoreURL == "" {
		return nil, BadRequest(CodeUnsupported, "This cloud has no object store to register images from")
	}
	cred, err := s.cfg.Credentials.Lookup(ctx, c.AccessKeyID)
	if err != nil {
		return nil, fmt.Errorf("finding the caller's secret: %w", err)
	}
	u, err := url.Parse(s.cfg.ObjectStoreURL)
	if err != nil {
		return nil, fmt.Errorf("object store URL %q: %w", s.cfg.ObjectStoreURL, err)
	}
	mc, err := minio.New(u.Host, &minio.Options{
		Creds:  miniocreds.NewStaticV4(cred.AccessKeyID, cred.SecretAccessKey, ""),
		Secure: u.Scheme == "https", Region: s.cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("object store client: %w", err)
	}
	bucket, key, _ := strings.Cut(location, "/")
	obj, err := mc.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	var data []byte
	if err == nil {
		data, err = io.ReadAll(io.LimitReader(obj, bundle.MaxManifestSize+1))
		obj.Close()
	}
	if err != nil {
		switch minio.ToErrorResponse(err).Code {
		case "NoSuchKey", "NoSuchBucket":
			return nil, BadRequest(CodeManifestNotFound, "The manifest %s does not exist", location)
		case "AccessDenied":
			return nil, BadRequest(CodeManifestNotFound, "You may not read the manifest %s", location)
		}
		return nil, fmt.Errorf("reading the manifest %s: %w", location, err)
	}
	m, err := bundle.ParseManifest(data)
	if err != nil {
		return nil, BadRequest(CodeManifestNotFound, "The manifest %s is not a valid bundle manifest: %v", location, err)
	}
	return m, nil
}

// registeredSpec builds the Image's spec from the request and the manifest: the manifest gives
// the type, and the architecture, kernel and ramdisk unless the request names them.
func (s *Service) registeredSpec(ctx context.Context, c Caller, in *RegisterImageInput, m *bundle.Manifest) (*cloudv1.ImageSpec, error) {
	spec := &cloudv1.ImageSpec{
		ImageLocation:  in.Location,
		Format:         cloudv1.ImageFormatBundle,
		Type:           cloudv1.ImageType(m.Type),
		Name:           in.Name,
		Description:    in.Description,
		Architecture:   in.Architecture,
		KernelID:       in.KernelID,
		RamdiskID:      in.RamdiskID,
		RootDeviceName: in.RootDeviceName,
	}
	if spec.Type == "" {
		spec.Type = cloudv1.ImageTypeMachine
	}
	if spec.Architecture == "" {
		spec.Architecture = m.Arch
		if spec.Architecture == "" {
			spec.Architecture = bundle.DefaultArch
		}
		if !slices.Contains(architectures, spec.Architecture) {
			return nil, InvalidParam("The manifest's architecture %s is not supported; give Architecture (%s)", m.Arch, strings.Join(architectures, ", "))
		}
	}
	if spec.Type != cloudv1.ImageTypeMachine {
		if in.KernelID != "" || in.RamdiskID != "" {
			return nil, InvalidParam("Only machine images take a kernel or ramdisk; the manifest says this is a %s image", spec.Type)
		}
		return spec, nil
	}
	// A manifest may name them; Eucalyptus writes "true" there in kernel and ramdisk bundles.
	if spec.KernelID == "" && ids.Prefix(m.KernelID) == ids.Kernel {
		spec.KernelID = m.KernelID
	}
	if spec.RamdiskID == "" && ids.Prefix(m.RamdiskID) == ids.Ramdisk {
		spec.RamdiskID = m.RamdiskID
	}
	return spec, s.checkDefaultImages(ctx, c, spec)
}

// checkDefaultImages checks a machine image's default kernel and ramdisk are images of that type
// the caller can see.
func (s *Service) checkDefaultImages(ctx context.Context, c Caller, spec *cloudv1.ImageSpec) error {
	for _, ref := range []struct {
		id, prefix string
		typ        cloudv1.ImageType
	}{{spec.KernelID, ids.Kernel, cloudv1.ImageTypeKernel}, {spec.RamdiskID, ids.Ramdisk, cloudv1.ImageTypeRamdisk}} {
		if ref.id == "" {
			continue
		}
		if !ids.Valid(ref.prefix, ref.id) {
			return BadRequest(CodeAMIMalformed, "Invalid id: \"%s\" (expecting \"%s-...\")", ref.id, ref.prefix)
		}
		img, err := s.visibleImage(ctx, c, ref.id)
		if err != nil {
			return err
		}
		if img.Spec.Type != ref.typ {
			return BadRequest(CodeAMINotFound, "The %s image id '[%s]' does not exist", ref.typ, ref.id)
		}
	}
	return nil
}
