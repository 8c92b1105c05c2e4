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

package ec2shim_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

// TestImageDeregistrationProtection turns an image's deregistration protection on and off with
// aws-sdk-go-v2: while it is on — and, enabled with a cooldown, until the cooldown after it is
// turned off has ended — neither DeregisterImage nor a member's kubectl delete removes the image.
// Another project can neither change nor see the protection of an image it cannot see, and is
// refused it on one shared with it.
func TestImageDeregistrationProtection(t *testing.T) {
	const project = "imgprotect"
	c, creds, cl := tenant(t, project)
	_, _, other := tenant(t, "imgprotect-other")
	ctx := context.Background()
	ami := c.RegisterRawImage(t, creds, project, "protected", []byte(strings.Repeat("keep", 1024)), false)
	kube, err := c.Env.ClientAs(cloudv1.UserPrefix+project+"-user", cloudv1.ProjectGroupPrefix+project)
	if err != nil {
		t.Fatal(err)
	}
	protection := func() string {
		t.Helper()
		return aws.ToString(describeImage(t, cl, ami).DeregistrationProtection)
	}
	waitProtection := func(want string) {
		t.Helper()
		testenv.Eventually(t, shortWait, "protection "+want, func() error {
			if got := protection(); !strings.HasPrefix(got, want) {
				return fmt.Errorf("protection %q", got)
			}
			return nil
		})
	}
	enable := func(cooldown bool) {
		t.Helper()
		if _, err := cl.EnableImageDeregistrationProtection(ctx, &ec2.EnableImageDeregistrationProtectionInput{
			ImageId: aws.String(ami), WithCooldown: aws.Bool(cooldown)}); err != nil {
			t.Fatal(err)
		}
	}
	disable := func() {
		t.Helper()
		if _, err := cl.DisableImageDeregistrationProtection(ctx, &ec2.DisableImageDeregistrationProtectionInput{ImageId: aws.String(ami)}); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(why string) {
		t.Helper()
		_, err := cl.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(ami)})
		expectCode(t, err, "OperationNotPermitted")
		img := &cloudv1.Image{ObjectMeta: metav1.ObjectMeta{Name: "protected", Namespace: project}}
		if err := kube.Delete(ctx, img); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "has deregistration protection") {
			t.Fatalf("kubectl delete of an image %s: %v", why, err)
		}
		describeImage(t, cl, ami)
	}
	if got := protection(); got != "disabled" {
		t.Fatalf("a new image's protection: %q", got)
	}

	// Without a cooldown: protected while on.
	for _, dry := range []*ec2.EnableImageDeregistrationProtectionInput{{ImageId: aws.String(ami), DryRun: aws.Bool(true)}} {
		_, err := cl.EnableImageDeregistrationProtection(ctx, dry)
		expectCode(t, err, "DryRunOperation")
	}
	if got := protection(); got != "disabled" {
		t.Fatalf("a dry run enabled the protection: %q", got)
	}
	enable(false)
	waitProtection("enabled-without-cooldown")
	attr, err := cl.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: aws.String(ami), Attribute: types.ImageAttributeNameDeregistrationProtection})
	if err != nil || aws.ToString(attr.DeregistrationProtection.Value) != "enabled-without-cooldown" {
		t.Fatalf("the protection attribute: %+v, %v", attr, err)
	}
	refused("protected")

	// Another project: not found while private; refused (AuthFailure) once shared with it.
	_, err = other.EnableImageDeregistrationProtection(ctx, &ec2.EnableImageDeregistrationProtectionInput{ImageId: aws.String(ami)})
	expectCode(t, err, "InvalidAMIID.NotFound")
	_, err = other.DisableImageDeregistrationProtection(ctx, &ec2.DisableImageDeregistrationProtectionInput{ImageId: aws.String(ami)})
	expectCode(t, err, "InvalidAMIID.NotFound")
	if _, err := cl.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(ami),
		LaunchPermission: &types.LaunchPermissionModifications{Add: []types.LaunchPermission{{UserId: aws.String("imgprotect-other")}}}}); err != nil {
		t.Fatal(err)
	}
	_, err = other.DisableImageDeregistrationProtection(ctx, &ec2.DisableImageDeregistrationProtectionInput{ImageId: aws.String(ami)})
	expectCode(t, err, "AuthFailure")
	_, err = other.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(ami)})
	expectCode(t, err, "InvalidAMIID.NotFound")

	// With a cooldown: still protected after it is turned off, until the cooldown ends.
	enable(true)
	waitProtection("enabled-with-cooldown")
	disable()
	waitProtection("disabled-until ")
	until, err := time.Parse(time.RFC3339, strings.TrimPrefix(protection(), "disabled-until "))
	if err != nil || time.Until(until) > testcloud.ImageProtectionCooldown+time.Second {
		t.Fatalf("the cooldown ends at %v (%v)", until, err)
	}
	refused("in its cooldown")
	testenv.Eventually(t, shortWait, "the cooldown to end", func() error {
		if got := protection(); got != "disabled" {
			return fmt.Errorf("protection %q", got)
		}
		return nil
	})

	// Off: deregistered.
	if _, err := cl.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(ami)}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "the image to go", func() error {
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: project, Name: "protected"}, &cloudv1.Image{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
}
