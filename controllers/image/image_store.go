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

package image

import (
	"context"
	"crypto/md5"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/minio/minio-go/v7"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/bundle"
	"pinet.io/pinet/internal/cloudca"
	"pinet.io/pinet/internal/credentials"
	"pinet.io/pinet/internal/diskformat"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/s3client"
)

// failure is a verdict on what was registered: the image fails for good.
type failure struct {
	reason, message string
}

func (f *failure) Error() string { return f.reason + ": " + f.message }

func failed(reason, format string, args ...any) *failure {
	return &failure{reason: reason, message: fmt.Sprintf(format, args...)}
}

// store verifies what the image's location holds and writes the plain image to the store bucket.
func (r *Reconciler) store(ctx context.Context, img *cloudv1.Image) (*cloudv1.StoredImage, error) {
	src := source{project: img.Namespace}
	var err error
	if src.user, err = r.registrar(ctx, img); err != nil {
		return nil, err
	}
	src.bucket, src.key, _ = strings.Cut(img.Spec.ImageLocation, "/")
	// Only a machine image becomes a disk; a kernel or ramdisk is handed to QEMU as a file.
	disk := img.EffectiveType() == cloudv1.ImageTypeMachine
	return r.storeFrom(ctx, img, func(mc *minio.Client, tmp string) (int64, string, error) {
		src.mc = mc
		if img.Spec.Format == cloudv1.ImageFormatRaw {
			return r.copyRaw(ctx, mc, src, tmp, disk)
		}
		return r.unbundle(ctx, mc, img, src, tmp, disk)
	})
}

// storeFrom has fill write the plain image to a temporary key of the store bucket, and moves it
// into place only when everything checked out, so a failure leaves nothing usable.
func (r *Reconciler) storeFrom(ctx context.Context, img *cloudv1.Image, fill func(mc *minio.Client, tmp string) (int64, string, error)) (*cloudv1.StoredImage, error) {
	mc, err := r.Store(ctx)
	if err != nil {
		return nil, err
	}
	if err := s3client.EnsureSystemBucket(ctx, mc, r.StoreBucket); err != nil {
		return nil, err
	}
	// The stored copy is keyed by the image's UID as well as its id: nothing another object does
	// with the same id (were it ever to have one) can touch it.
	final := img.Status.ImageID + "." + string(img.UID)
	tmp := "incoming/" + final + "-" + ids.New("tmp")
	size, sum, err := fill(mc, tmp)
	if err != nil {
		_ = mc.RemoveObject(ctx, r.StoreBucket, tmp, minio.RemoveObjectOptions{})
		return nil, err
	}
	defer func() { _ = mc.RemoveObject(ctx, r.StoreBucket, tmp, minio.RemoveObjectOptions{}) }()
	if _, err := mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: r.StoreBucket, Object: final},
		minio.CopySrcOptions{Bucket: r.StoreBucket, Object: tmp}); err != nil {
		return nil, fmt.Errorf("moving the verified image into place: %w", err)
	}
	return &cloudv1.StoredImage{Bucket: r.StoreBucket, Key: final, MD5: sum, SizeBytes: size}, nil
}

// source is a registered image's location, read with the rights of the user who registered the
// image in the image's project, or of the project itself when no PiNet user made it, and no more:
// the store judges every read so (cloudv1.HeaderActAsProject, cloudv1.HeaderActAsUser), so an
// image can only be made from objects its maker may read.
type source struct {
	mc            *minio.Client
	project, user string
	bucket, key   string
}

func (s source) options() minio.GetObjectOptions {
	var o minio.GetObjectOptions
	o.Set(cloudv1.HeaderActAsProject, s.project)
	if s.user != "" {
		o.Set(cloudv1.HeaderActAsUser, s.user)
	}
	return o
}

// get opens key of the source's bucket as the user or project.
func (s source) get(ctx context.Context, key string) (*minio.Object, error) {
	return s.mc.GetObject(ctx, s.bucket, key, s.options())
}

// err classifies an error reading the registered location: missing or forbidden is the user's to
// fix.
func (s source) err(what string, err error) error {
	switch minio.ToErrorResponse(err).Code {
	case "NoSuchKey", "NoSuchBucket":
		return failed(cloudv1.ReasonSourceNotFound, "%s does not exist", what)
	case "AccessDenied":
		if s.user != "" {
			return failed(cloudv1.ReasonSourceAccessDenied, "%s cannot be read by user %s of project %s", what, s.user, s.project)
		}
		return failed(cloudv1.ReasonSourceAccessDenied, "%s cannot be read by project %s", what, s.project)
	}
	return fmt.Errorf("reading %s: %w", what, err)
}

// registrar is the PiNet user the image's location is read as: the one who registered it
// (cloudv1.AnnotationRegisteredBy, which admission keeps true), or "" — the project — when it was
// made by someone who is not a PiNet user. A user who has since gone, or left the project, reads
// nothing for it.
func (r *Reconciler) registrar(ctx context.Context, img *cloudv1.Image) (string, error) {
	name := img.Annotations[cloudv1.AnnotationRegisteredBy]
	if name == "" {
		return "", nil
	}
	u := &cloudv1.User{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: name}, u); err != nil {
		if apierrors.IsNotFound(err) {
			return "", failed(cloudv1.ReasonSourceAccessDenied, "user %s, who registered the image, does not exist", name)
		}
		return "", fmt.Errorf("reading user %s, who registered the image: %w", name, err)
	}
	if !u.Spec.Admin && !slices.Contains(u.Spec.Projects, img.Namespace) {
		return "", failed(cloudv1.ReasonSourceAccessDenied, "user %s, who registered the image, is not a member of project %s", name, img.Namespace)
	}
	return name, nil
}

// copyRaw streams a plain image object into the store, hashing it, and checking it when it is
// to be a disk.
func (r *Reconciler) copyRaw(ctx context.Context, mc *minio.Client, src source, tmp string, disk bool) (int64, string, error) {
	what := src.bucket + "/" + src.key
	st, err := mc.StatObject(ctx, src.bucket, src.key, src.options())
	if err != nil {
		return 0, "", src.err(what, err)
	}
	if st.Size > r.MaxImageBytes {
		return 0, "", failed(cloudv1.ReasonUnsupportedImage, "%s is %d bytes, over the limit of %d", what, st.Size, r.MaxImageBytes)
	}
	obj, err := src.get(ctx, src.key)
	if err != nil {
		return 0, "", src.err(what, err)
	}
	defer obj.Close()
	h := md5.New()
	check := &headerCheck{r: io.TeeReader(obj, h), skip: !disk}
	info, err := mc.PutObject(ctx, r.StoreBucket, tmp, check, st.Size, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if fail := check.verdict(); fail != nil {
		return 0, "", fail
	}
	if err != nil {
		return 0, "", fmt.Errorf("copying %s into the store: %w", what, err)
	}
	return info.Size, hex.EncodeToString(h.Sum(nil)), nil
}

// unbundle checks and unpacks a bundle into the store, checking the image when it is to be a
// disk.
func (r *Reconciler) unbundle(ctx context.Context, mc *minio.Client, img *cloudv1.Image, src source, tmp string, disk bool) (int64, string, error) {
	what := src.bucket + "/" + src.key
	obj, err := src.get(ctx, src.key)
	if err != nil {
		return 0, "", src.err(what, err)
	}
	data, err := io.ReadAll(io.LimitReader(obj, bundle.MaxManifestSize+1))
	obj.Close()
	if err != nil {
		return 0, "", src.err(what, err)
	}
	m, err := bundle.ParseManifest(data)
	if err != nil {
		return 0, "", failed(cloudv1.ReasonBadManifest, "%v", err)
	}
	if want := string(img.Spec.Type); m.Type != "" && m.Type != want {
		return 0, "", failed(cloudv1.ReasonBadManifest, "the bundle is a %s image, registered as %s", m.Type, want)
	}
	if m.Size > r.MaxImageBytes {
		return 0, "", failed(cloudv1.ReasonUnsupportedImage, "the image is %d bytes, over the limit of %d", m.Size, r.MaxImageBytes)
	}
	if err := r.verifySigner(ctx, img, m); err != nil {
		return 0, "", err
	}
	ca, err := r.CA(ctx)
	if err != nil {
		return 0, "", err
	}
	aesKey, iv, err := m.DecryptKey(ca.Key)
	if err != nil {
		return 0, "", failed(cloudv1.ReasonNotForThisCloud, "the bundle's key is not encrypted to this cloud's certificate")
	}
	dir := path.Dir(src.key)
	open := func(name string) (io.ReadCloser, error) {
		partKey := path.Join(dir, name)
		if dir == "." {
			partKey = name
		}
		o, err := src.get(ctx, partKey)
		if err == nil {
			_, err = o.Stat()
		}
		if err != nil {
			if minio.ToErrorResponse(err).Code == "NoSuchKey" {
				return nil, fmt.Errorf("part %s: %w", name, fs.ErrNotExist)
			}
			return nil, err
		}
		return o, nil
	}

	pr, pw := io.Pipe()
	type result struct {
		size int64
		sum  string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		size, sum, err := bundle.Unbundle(m, aesKey, iv, open, pw)
		pw.CloseWithError(err)
		done <- result{size, sum, err}
	}()
	// The unpacked size is not known until the stream checks out, so the client uploads it in
	// parts it buffers one at a time: a part size of its own choosing would be a buffer of
	// hundreds of megabytes.
	check := &headerCheck{r: pr, skip: !disk}
	_, putErr := mc.PutObject(ctx, r.StoreBucket, tmp, check, -1, minio.PutObjectOptions{ContentType: "application/octet-stream",
		PartSize: uploadPartSize(m.Size)})
	pr.CloseWithError(putErr)
	res := <-done
	// A refused header stops the upload, and so the unbundling, early: it is the verdict.
	if fail := check.verdict(); fail != nil {
		return 0, "", fail
	}
	if res.err != nil {
		return 0, "", classify(res.err)
	}
	if putErr != nil {
		return 0, "", fmt.Errorf("storing the unbundled image: %w", putErr)
	}
	return res.size, res.sum, nil
}

// headerCheck passes a machine image's plain bytes through and judges the first of them
// (diskformat.ProbeSize) as they go by: an image a node could not use as a root disk's base —
// one that names another file of the node, or in a format other than raw and qcow2 — fails its
// registration with the reason, and its upload stops there.
type headerCheck struct {
	r      io.Reader
	skip   bool
	prefix []byte
	judged bool
	fail   *failure
}

func (c *headerCheck) Read(p []byte) (int, error) {
	if c.fail != nil {
		return 0, c.fail
	}
	n, err := c.r.Read(p)
	if !c.skip && !c.judged {
		c.prefix = append(c.prefix, p[:min(n, diskformat.ProbeSize-len(c.prefix))]...)
		if len(c.prefix) == diskformat.ProbeSize || err == io.EOF {
			if c.judge(); c.fail != nil {
				return 0, c.fail
			}
		}
	}
	return n, err
}

func (c *headerCheck) judge() {
	c.judged = true
	if _, err := diskformat.Identify(c.prefix); err != nil {
		c.fail = failed(cloudv1.ReasonUnsupportedImage, "%v", err)
	}
}

// verdict is the check's failure, once the stream has gone by (a reader that was given exactly
// the image's size may not have read to the end of a short one).
func (c *headerCheck) verdict() error {
	if !c.skip && !c.judged {
		c.judge()
	}
	if c.fail != nil {
		return c.fail
	}
	return nil
}

// storePartSize is the part size the unpacked image is uploaded in, and so the most of it the
// manager holds at a time (minio-go buffers one part).
const storePartSize = 16 << 20

// maxStoreParts is S3's limit on the parts of one upload.
const maxStoreParts = 10000

// uploadPartSize is the part size for an image of size bytes: storePartSize, or larger when the
// image would need more than maxStoreParts parts.
func uploadPartSize(size int64) uint64 {
	return uint64(max(storePartSize, (size+maxStoreParts-1)/maxStoreParts))
}

// classify turns the bundle package's verdicts into image failure reasons; other errors are
// transient and retried.
func classify(err error) error {
	for _, c := range []struct {
		target error
		reason string
	}{
		{bundle.ErrMissingPart, cloudv1.ReasonMissingPart},
		{fs.ErrNotExist, cloudv1.ReasonMissingPart},
		{bundle.ErrPartDigest, cloudv1.ReasonDigestMismatch},
		{bundle.ErrImageDigest, cloudv1.ReasonDigestMismatch},
		{bundle.ErrCorrupt, cloudv1.ReasonDigestMismatch},
		{bundle.ErrBadManifest, cloudv1.ReasonBadManifest},
	} {
		if errors.Is(err, c.target) {
			return failed(c.reason, "%v", err)
		}
	}
	return err
}

// verifySigner checks the manifest's signature against the certificates of the owning project's
// members and the admins, the user who registered the image first.
func (r *Reconciler) verifySigner(ctx context.Context, img *cloudv1.Image, m *bundle.Manifest) error {
	users := &cloudv1.UserList{}
	if err := r.Client.List(ctx, users); err != nil {
		return err
	}
	registeredBy := img.Annotations[cloudv1.AnnotationRegisteredBy]
	var candidates []string
	for _, u := range users.Items {
		switch {
		case !u.Spec.Admin && !slices.Contains(u.Spec.Projects, img.Namespace):
			// Only the owning project's members (and admins) may sign its images.
		case u.Name == registeredBy:
			candidates = append([]string{u.Name}, candidates...)
		default:
			candidates = append(candidates, u.Name)
		}
	}
	ca, err := r.CA(ctx)
	if err != nil {
		return err
	}
	for _, name := range candidates {
		cert, err := r.userCert(ctx, name)
		if err != nil || ca.Verify(cert) != nil {
			continue
		}
		if m.VerifySignature(cert) == nil {
			return nil
		}
	}
	return failed(cloudv1.ReasonBadSignature, "the manifest is not signed by a user of project %s", img.Namespace)
}

func (r *Reconciler) userCert(ctx context.Context, name string) (*x509.Certificate, error) {
	sec := &corev1.Secret{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: r.SystemNamespace, Name: credentials.SecretName(name)}, sec); err != nil {
		return nil, err
	}
	return cloudca.ParseCertificate(sec.Data[credentials.SecretCertKey])
}
