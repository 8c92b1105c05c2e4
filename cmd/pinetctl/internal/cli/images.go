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

package cli

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/spf13/cobra"

	"pinet.io/pinet/internal/bundle"
	"pinet.io/pinet/internal/cloudca"
	"pinet.io/pinet/internal/sdkhttp"
)

// env returns the first set environment variable of names.
func env(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

func newBundleImageCmd(g *globals) *cobra.Command {
	var o struct {
		image, kernel, ramdisk, typ, prefix, dest, cert, key, cloudCert, user, arch string
	}
	cmd := &cobra.Command{
		Use:   "bundle-image --image FILE",
		Short: "Bundle an image for upload: tar, gzip, encrypt to the cloud and to you, split into parts, sign",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			userCert, err := readCert(o.cert, "--cert / EC2_CERT")
			if err != nil {
				return err
			}
			cloudCert, err := readCert(o.cloudCert, "--ec2cert / EUCALYPTUS_CERT")
			if err != nil {
				return err
			}
			keyPEM, err := os.ReadFile(o.key)
			if err != nil {
				return fmt.Errorf("reading --privatekey / EC2_PRIVATE_KEY: %w", err)
			}
			userKey, err := cloudca.ParsePrivateKey(keyPEM)
			if err != nil {
				return fmt.Errorf("parsing the private key: %w", err)
			}
			if o.dest == "" {
				o.dest = filepath.Join(os.TempDir(), "pinet-bundle")
			}
			if err := os.MkdirAll(o.dest, 0o755); err != nil {
				return err
			}
			bar := newProgress(cmd.ErrOrStderr(), "bundling "+filepath.Base(o.image))
			manifest, parts, err := bundle.Create(bundle.Params{
				ImagePath: o.image, Prefix: o.prefix, Type: o.typ, Arch: o.arch,
				KernelID: o.kernel, RamdiskID: o.ramdisk, AccountID: o.user,
				UserCert: userCert, UserKey: userKey, CloudCert: cloudCert, Progress: bar.update,
			}, o.dest)
			bar.done()
			if err != nil {
				return err
			}
			fmt.Fprintf(g.out, "%s (%d parts)\n", manifest, len(parts))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.image, "image", "i", "", "The image file to bundle.")
	f.StringVar(&o.kernel, "kernel", "", "Kernel (aki- id) a machine image boots with.")
	f.StringVar(&o.ramdisk, "ramdisk", "", "Ramdisk (ari- id) a machine image boots with.")
	f.StringVar(&o.typ, "type", "machine", "machine, kernel or ramdisk.")
	f.StringVarP(&o.prefix, "prefix", "p", "", "Name of the manifest and parts (default: the image's file name).")
	f.StringVarP(&o.dest, "destination", "d", "", "Directory for the bundle.")
	f.StringVarP(&o.cert, "cert", "c", env("EC2_CERT"), "Your certificate.")
	f.StringVarP(&o.key, "privatekey", "k", env("EC2_PRIVATE_KEY"), "Your private key.")
	f.StringVar(&o.cloudCert, "ec2cert", env("EUCALYPTUS_CERT", "PINET_CLOUD_CERT"), "The cloud's certificate.")
	f.StringVarP(&o.user, "user", "u", env("EC2_USER_ID"), "Your account (project).")
	f.StringVarP(&o.arch, "arch", "r", "x86_64", "Architecture.")
	_ = cmd.MarkFlagRequired("image")
	return cmd
}

func readCert(path, what string) (*x509.Certificate, error) {
	if path == "" {
		return nil, fmt.Errorf("%s is required", what)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	return cloudca.ParseCertificate(data)
}

// s3FromEnv builds a minio client from S3_URL and the AWS_* credentials.
func s3FromEnv(endpoint string) (*minio.Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--url / S3_URL %q is not a URL", endpoint)
	}
	id, secret := env("AWS_ACCESS_KEY_ID", "EC2_ACCESS_KEY"), env("AWS_SECRET_ACCESS_KEY", "EC2_SECRET_KEY")
	if id == "" || secret == "" {
		return nil, fmt.Errorf("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set (source your pinetrc)")
	}
	return minio.New(u.Host, &minio.Options{
		Creds: miniocreds.NewStaticV4(id, secret, ""), Secure: u.Scheme == "https",
		Region: env("AWS_DEFAULT_REGION", "AWS_REGION"),
	})
}

func newUploadBundleCmd(g *globals) *cobra.Command {
	var bucket, manifest, prefix, endpoint string
	cmd := &cobra.Command{
		Use:   "upload-bundle --bucket BUCKET --manifest MANIFEST",
		Short: "Upload a bundle (its parts, then its manifest) to a bucket of your project",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, err := os.ReadFile(manifest)
			if err != nil {
				return err
			}
			m, err := bundle.ParseManifest(data)
			if err != nil {
				return err
			}
			mc, err := s3FromEnv(endpoint)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if ok, err := mc.BucketExists(ctx, bucket); err != nil {
				return fmt.Errorf("checking bucket %s: %w", bucket, err)
			} else if !ok {
				if err := mc.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
					return fmt.Errorf("creating bucket %s: %w", bucket, err)
				}
			}
			dir := filepath.Dir(manifest)
			files := make([]string, 0, len(m.Parts)+1)
			var total int64
			for _, p := range m.Parts {
				files = append(files, filepath.Join(dir, p.Filename))
				if st, err := os.Stat(files[len(files)-1]); err == nil {
					total += st.Size()
				}
			}
			files = append(files, manifest) // last: a registered manifest finds its parts in place
			bar := newProgress(cmd.ErrOrStderr(), "uploading to "+bucket)
			var done int64
			for _, f := range files {
				n, err := uploadFile(ctx, mc, bucket, path.Join(prefix, filepath.Base(f)), f, func(k int64) { bar.update(done+k, total) })
				if err != nil {
					bar.done()
					return err
				}
				done += n
			}
			bar.done()
			fmt.Fprintf(g.out, "%s\n", path.Join(bucket, prefix, filepath.Base(manifest)))
			return nil
		},
	}
	cmd.Flags().StringVarP(&bucket, "bucket", "b", "", "Bucket to upload to (made if missing).")
	cmd.Flags().StringVarP(&manifest, "manifest", "m", "", "The bundle's manifest file.")
	cmd.Flags().StringVar(&prefix, "prefix", "", "Key prefix (folder) inside the bucket.")
	cmd.Flags().StringVar(&endpoint, "url", env("S3_URL"), "The S3 endpoint.")
	_ = cmd.MarkFlagRequired("bucket")
	_ = cmd.MarkFlagRequired("manifest")
	return cmd
}

func uploadFile(ctx context.Context, mc *minio.Client, bucket, key, file string, progress func(int64)) (int64, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	r := &countingReader{r: f, progress: progress}
	if _, err := mc.PutObject(ctx, bucket, key, r, st.Size(), minio.PutObjectOptions{ContentType: "application/octet-stream"}); err != nil {
		return 0, fmt.Errorf("uploading %s: %w", key, err)
	}
	return st.Size(), nil
}

type countingReader struct {
	r        io.Reader
	n        int64
	progress func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.progress(c.n)
	return n, err
}

func newRegisterCmd(g *globals) *cobra.Command {
	var name, description, kernel, ramdisk, endpoint string
	cmd := &cobra.Command{
		Use:   "register BUCKET/PATH/MANIFEST.xml",
		Short: "Register an uploaded bundle as an image (through the EC2 API)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if name == "" {
				name = strings.TrimSuffix(path.Base(args[0]), ".manifest.xml")
			}
			cl := ec2.New(ec2.Options{
				BaseEndpoint: aws.String(endpoint),
				Region:       env("AWS_DEFAULT_REGION", "AWS_REGION"),
				Credentials: awscreds.NewStaticCredentialsProvider(env("AWS_ACCESS_KEY_ID", "EC2_ACCESS_KEY"),
					env("AWS_SECRET_ACCESS_KEY", "EC2_SECRET_KEY"), ""),
				HTTPClient: sdkhttp.New(),
			})
			in := &ec2.RegisterImageInput{ImageLocation: aws.String(args[0]), Name: aws.String(name)}
			if description != "" {
				in.Description = aws.String(description)
			}
			if kernel != "" {
				in.KernelId = aws.String(kernel)
			}
			if ramdisk != "" {
				in.RamdiskId = aws.String(ramdisk)
			}
			out, err := cl.RegisterImage(cmd.Context(), in)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.out, "IMAGE\t%s\n", aws.ToString(out.ImageId))
			return nil
		},
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", "Image name (default: the manifest's).")
	cmd.Flags().StringVarP(&description, "description", "d", "", "Description.")
	cmd.Flags().StringVar(&kernel, "kernel", "", "Default kernel (aki-).")
	cmd.Flags().StringVar(&ramdisk, "ramdisk", "", "Default ramdisk (ari-).")
	cmd.Flags().StringVar(&endpoint, "url", env("EC2_URL"), "The EC2 endpoint.")
	return cmd
}

// progress prints a one-line progress bar to a terminal, or a line per 25% elsewhere.
type progress struct {
	w     io.Writer
	label string
	tty   bool
	mu    sync.Mutex
	last  time.Time
	shown int64
}

func newProgress(w io.Writer, label string) *progress {
	p := &progress{w: w, label: label}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) update(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if total <= 0 {
		return
	}
	pct := done * 100 / total
	switch {
	case p.tty && time.Since(p.last) > 100*time.Millisecond:
		const width = 30
		fill := int(pct * width / 100)
		fmt.Fprintf(p.w, "\r%s [%s%s] %3d%% %s/%s", p.label, strings.Repeat("=", fill), strings.Repeat(" ", width-fill),
			pct, mib(done), mib(total))
		p.last = time.Now()
	case !p.tty && pct >= p.shown+25:
		fmt.Fprintf(p.w, "%s: %d%%\n", p.label, pct)
		p.shown = pct - pct%25
	}
}

func (p *progress) done() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
