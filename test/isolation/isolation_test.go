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

// Package isolation tries, as an attacker in a second project would, every front door of a whole
// cloud (the real API server, manager, EC2 API, object store and a node agent on libvirt's test
// driver): kubectl as a member identity, the EC2 API and S3. Project A's objects, bytes, domains
// and consoles must come out unchanged, and B must get a clear refusal or its own fresh id.
package isolation_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/minio/minio-go/v7"
	"golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/ids"
	"pinet.io/pinet/internal/s3client"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

const (
	shortWait = 30 * time.Second
	longWait  = 3 * time.Minute
)

// world is project A's cloud as the attacker finds it.
type world struct {
	cloud      *testcloud.Cloud
	node       *testcloud.Node
	a, b       testcloud.Credentials
	admin      testcloud.Credentials
	bKube      client.Client // kubectl as pinet:user:iso-bob in group pinet:project:iso-b
	secret     []byte        // the bytes of A's private image
	amiA       string
	keyA       string // key pair id
	sgA        string // group id
	volA       string // a volume
	allocA     string // an elastic IP
	instA      string // a running instance
	resA       string // its reservation
	domainUUID string
}

const (
	projectA, projectB = "iso-a", "iso-b"
	bucketA, bucketB   = "raw-iso-a", "raw-iso-b"
)

func setup(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	c, err := testcloud.Start(env, testcloud.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{cloud: c, secret: bytes.Repeat([]byte("project A's secret disk "), 4096)}
	w.node = c.AddNode(t, "iso-node", "pinet-1a", 8, 16384)
	c.AddProject(t, projectA)
	c.AddProject(t, projectB)
	w.a = c.AddUser(t, "iso-alice", false, projectA)
	w.b = c.AddUser(t, "iso-bob", false, projectB)
	w.admin = c.AddUser(t, "iso-admin", true, projectA)
	if w.bKube, err = env.ClientAs(cloudv1.UserPrefix+"iso-bob", cloudv1.ProjectGroupPrefix+projectB); err != nil {
		t.Fatal(err)
	}

	w.amiA = c.RegisterRawImage(t, w.a, projectA, "secret-img", w.secret, false)
	ea := c.EC2(w.a)
	kp, err := ea.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("alice-key")})
	if err != nil {
		t.Fatal(err)
	}
	w.keyA = aws.ToString(kp.KeyPairId)
	sg, err := ea.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("alice-web"), Description: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	w.sgA = aws.ToString(sg.GroupId)
	vol, err := ea.CreateVolume(ctx, &ec2.CreateVolumeInput{Size: aws.Int32(1), AvailabilityZone: aws.String("pinet-1a")})
	if err != nil {
		t.Fatal(err)
	}
	w.volA = aws.ToString(vol.VolumeId)
	pool := &cloudv1.AddressPool{ObjectMeta: metav1.ObjectMeta{Name: "iso-pool"},
		Spec: cloudv1.AddressPoolSpec{CIDRs: []string{"198.51.100.0/28"}, Default: true}}
	if err := env.Client.Create(ctx, pool); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "the address pool to be counted", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(pool), pool); err != nil {
			return err
		}
		if pool.Status.Total == 0 {
			return errors.New("not counted yet")
		}
		return nil
	})
	addr, err := ea.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: types.DomainTypeVpc})
	if err != nil {
		t.Fatal(err)
	}
	w.allocA = aws.ToString(addr.AllocationId)
	run, err := ea.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String(w.amiA), InstanceType: types.InstanceType("m1.tiny"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		KeyName: aws.String("alice-key"), SecurityGroupIds: []string{w.sgA},
	})
	if err != nil {
		t.Fatal(err)
	}
	w.instA, w.resA = aws.ToString(run.Instances[0].InstanceId), aws.ToString(run.ReservationId)
	w.waitState(t, ea, w.instA, types.InstanceStateNameRunning)
	d, ok := w.node.Domains(t)[w.instA]
	if !ok {
		t.Fatalf("no domain %s on the node", w.instA)
	}
	w.domainUUID = d.UUID
	return w
}

func TestTenantIsolation(t *testing.T) {
	w := setup(t)
	t.Run("kubectl image from another project's bucket is refused", w.rawFromOtherBucket)
	t.Run("kubectl image from the system image store is refused", w.rawFromSystemStore)
	t.Run("kubectl image is read as the user who made it", w.kubectlImageReadAsItsMaker)
	t.Run("images of another project's instance", w.imagesOfOthersInstance)
	t.Run("copies of another project's image", w.copiesOfOthersImage)
	t.Run("kubectl image named like another project's ami id", w.imageNamedLikeOthersID)
	t.Run("kubectl instance named like another project's instance id", w.instanceNamedLikeOthersID)
	t.Run("kubectl key pair, group, volume and address named like another project's ids", w.objectsNamedLikeOthersIDs)
	t.Run("kubectl key pair and group named like another project's next ids", w.objectsNamedLikeOthersNextIDs)
	t.Run("kubectl instance and volume named like another project's ClientToken ids", w.clientTokenIDsOfOthers)
	t.Run("kubectl instance referencing another project's objects", w.instanceReferencingOthers)
	t.Run("kubectl volume and snapshot placed on a node by their project", w.storagePlacedByProject)
	t.Run("kubectl reads and writes in another project's namespace", w.kubectlCrossNamespace)
	t.Run("EC2 calls naming another project's ids", w.ec2CrossProject)
	t.Run("S3 calls on another project's buckets", w.s3CrossProject)
	t.Run("snapshots through kubectl and the EC2 API", w.snapshotsCrossProject)
	t.Run("EC2 instance of an image naming another project's disk on the node", w.imageNamingOthersDisk)
	w.checkAUnchanged(t)
}

// rawFromOtherBucket is the first reproduction: an Image in B made from A's private object.
func (w *world) rawFromOtherBucket(t *testing.T) {
	img := w.bImage(t, "steal-raw", bucketA+"/secret-img")
	w.waitImageFailed(t, img, cloudv1.ReasonSourceAccessDenied)
}

// rawFromSystemStore asks for A's verified, decrypted copy in the system bucket.
func (w *world) rawFromSystemStore(t *testing.T) {
	stored := w.imageA(t).Status.Stored
	img := w.bImage(t, "steal-store", stored.Bucket+"/"+stored.Key)
	w.waitImageFailed(t, img, cloudv1.ReasonSourceAccessDenied)
}

// imageNamedLikeOthersID is the second reproduction: B's own image named by A's ami id gets its
// own id, and neither it nor its deletion touches A's stored image.
func (w *world) imageNamedLikeOthersID(t *testing.T) {
	ctx := context.Background()
	w.uploadB(t, "bob-img", []byte("bob's own disk"))
	img := w.bImage(t, w.amiA, bucketB+"/bob-img")
	w.waitImage(t, img, cloudv1.ImageStateAvailable)
	if img.Status.ImageID == w.amiA {
		t.Fatalf("B's image got A's id %s", w.amiA)
	}
	waitEvent(t, img, "IDTaken") // tells B why its image has another id
	if err := w.bKube.Delete(ctx, img); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "B's image to be gone", func() error {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(img), img)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
	w.checkImageA(t)
}

// instanceNamedLikeOthersID is the third reproduction: B's instance named by A's running
// instance's id, launched and then deleted, leaves A's domain, files and console alone.
func (w *world) instanceNamedLikeOthersID(t *testing.T) {
	ctx := context.Background()
	w.uploadB(t, "bob-boot", []byte("bob's bootable disk"))
	bImg := w.bImage(t, "bob-boot", bucketB+"/bob-boot")
	w.waitImage(t, bImg, cloudv1.ImageStateAvailable)
	inst := &cloudv1.Instance{
		ObjectMeta: metav1.ObjectMeta{Name: w.instA, Namespace: projectB, Labels: map[string]string{cloudv1.LabelReservationID: w.resA}},
		Spec:       cloudv1.InstanceSpec{ImageID: "bob-boot", InstanceType: "m1.tiny"},
	}
	if err := w.bKube.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "B's instance to run", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), inst); err != nil {
			return err
		}
		if inst.Status.State != cloudv1.InstanceStateRunning {
			return fmt.Errorf("state %q, conditions %+v", inst.Status.State, inst.Status.Conditions)
		}
		return nil
	})
	if inst.Status.InstanceID == w.instA || inst.Status.ReservationID == w.resA {
		t.Fatalf("B's instance got A's ids: %s %s", inst.Status.InstanceID, inst.Status.ReservationID)
	}
	w.checkInstanceA(t)
	if err := w.bKube.Delete(ctx, inst); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "B's instance to be gone", func() error {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), inst)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
	w.checkInstanceA(t)
}

// objectsNamedLikeOthersIDs makes B's key pair, group, volume and address named by A's ids.
func (w *world) objectsNamedLikeOthersIDs(t *testing.T) {
	ctx := context.Background()
	vol := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: w.volA, Namespace: projectB},
		Spec: cloudv1.VolumeSpec{SizeGiB: 1, AvailabilityZone: "pinet-1a"}}
	addr := &cloudv1.Address{ObjectMeta: metav1.ObjectMeta{Name: w.allocA, Namespace: projectB}}
	for _, o := range []client.Object{vol, addr} {
		if err := w.bKube.Create(ctx, o); err != nil {
			t.Fatalf("creating %T: %v", o, err)
		}
	}
	testenv.Eventually(t, shortWait, "B's volume and address to get ids", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(vol), vol); err != nil {
			return err
		}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(addr), addr); err != nil {
			return err
		}
		if vol.Status.VolumeID == "" || addr.Status.AllocationID == "" {
			return errors.New("no ids yet")
		}
		return nil
	})
	if vol.Status.VolumeID == w.volA || addr.Status.AllocationID == w.allocA {
		t.Fatalf("B got A's ids: volume %s, allocation %s", vol.Status.VolumeID, addr.Status.AllocationID)
	}
	for _, o := range []client.Object{vol, addr} {
		if err := w.bKube.Delete(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	kp := &cloudv1.KeyPair{ObjectMeta: metav1.ObjectMeta{Name: w.keyA, Namespace: projectB},
		Spec: cloudv1.KeyPairSpec{PublicKey: publicKey(t)}}
	sg := &cloudv1.SecurityGroup{ObjectMeta: metav1.ObjectMeta{Name: w.sgA, Namespace: projectB},
		Spec: cloudv1.SecurityGroupSpec{Description: "bob's"}}
	for _, o := range []client.Object{kp, sg} {
		if err := w.bKube.Create(ctx, o); err != nil {
			t.Fatalf("creating %T: %v", o, err)
		}
	}
	testenv.Eventually(t, shortWait, "B's key pair and group to get ids", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(kp), kp); err != nil {
			return err
		}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(sg), sg); err != nil {
			return err
		}
		if kp.Status.KeyPairID == "" || sg.Status.GroupID == "" {
			return errors.New("no ids yet")
		}
		return nil
	})
	if kp.Status.KeyPairID == w.keyA || sg.Status.GroupID == w.sgA {
		t.Fatalf("B got A's ids: key pair %s, group %s", kp.Status.KeyPairID, sg.Status.GroupID)
	}
	eb := w.cloud.EC2(w.b)
	out, err := eb.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyPairIds: []string{w.keyA}})
	if err == nil && len(out.KeyPairs) > 0 {
		t.Fatalf("B describes A's key pair id: %+v", out.KeyPairs)
	}
	for _, o := range []client.Object{kp, sg} {
		if err := w.bKube.Delete(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	ea := w.cloud.EC2(w.a)
	if out, err := ea.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyPairIds: []string{w.keyA}}); err != nil || len(out.KeyPairs) != 1 {
		t.Fatalf("A's key pair after B's games: %v %+v", err, out)
	}
	if out, err := ea.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{w.sgA}}); err != nil || len(out.SecurityGroups) != 1 {
		t.Fatalf("A's group after B's games: %v %+v", err, out)
	}
	if out, err := ea.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{w.volA}}); err != nil || len(out.Volumes) != 1 {
		t.Fatalf("A's volume after B's games: %v %+v", err, out)
	}
	if out, err := ea.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{AllocationIds: []string{w.allocA}}); err != nil || len(out.Addresses) != 1 {
		t.Fatalf("A's address after B's games: %v %+v", err, out)
	}
}

// storagePlacedByProject: the labels that place a Volume or Snapshot on a node are PiNet's. A
// node agent plugs a volume labelled with its node into the instance its spec names, and
// counts a volume labelled as stored on it against its capacity: B setting them on its own
// objects is refused, at creation and after.
func (w *world) storagePlacedByProject(t *testing.T) {
	ctx := context.Background()
	forbidden := func(what string, err error) {
		t.Helper()
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "is set only by PiNet") {
			t.Fatalf("%s: %v, want the placement policy's refusal", what, err)
		}
	}
	for _, label := range []string{cloudv1.LabelStorageNode, cloudv1.LabelAttachNode} {
		vol := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "placed", Namespace: projectB,
			Labels: map[string]string{label: w.node.Name}},
			Spec: cloudv1.VolumeSpec{SizeGiB: 16384, AvailabilityZone: "nowhere",
				AttachTo: &cloudv1.VolumeAttachTarget{InstanceID: w.instA, Device: "/dev/sdz"}}}
		forbidden("B creating a volume labelled "+label, w.bKube.Create(ctx, vol))
	}
	snap := &cloudv1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: "placed", Namespace: projectB,
		Labels: map[string]string{cloudv1.LabelStorageNode: w.node.Name}}, Spec: cloudv1.SnapshotSpec{VolumeID: w.volA}}
	forbidden("B creating a snapshot labelled "+cloudv1.LabelStorageNode, w.bKube.Create(ctx, snap))

	// A volume of B's own, then labelled for the node of A's instance and pointed at it.
	vol := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: "intruder", Namespace: projectB},
		Spec: cloudv1.VolumeSpec{SizeGiB: 1, AvailabilityZone: "pinet-1a"}}
	if err := w.bKube.Create(ctx, vol); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.bKube.Delete(ctx, vol) }()
	for _, label := range []string{cloudv1.LabelAttachNode, cloudv1.LabelStorageNode} {
		err := testenv.Update(ctx, w.bKube, vol, func(v *cloudv1.Volume) {
			if v.Labels == nil {
				v.Labels = map[string]string{}
			}
			v.Labels[label] = w.node.Name
			v.Spec.AttachTo = &cloudv1.VolumeAttachTarget{InstanceID: w.instA, Device: "/dev/sdz"}
		})
		forbidden("B labelling its volume "+label, err)
	}
	// Naming A's instance in the spec alone is B's to write, and finds no instance of B's.
	if err := testenv.Update(ctx, w.bKube, vol, func(v *cloudv1.Volume) {
		v.Spec.AttachTo = &cloudv1.VolumeAttachTarget{InstanceID: w.instA, Device: "/dev/sdz"}
	}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, shortWait, "the volume controller to see B's change", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(vol), vol); err != nil {
			return err
		}
		if vol.Status.ObservedGeneration != vol.Generation {
			return fmt.Errorf("generation %d observed, %d made", vol.Status.ObservedGeneration, vol.Generation)
		}
		return nil
	})
	if at := vol.Labels[cloudv1.LabelAttachNode]; at != "" || vol.Status.Attachment != nil {
		t.Fatalf("B's volume naming A's instance: attach node %q, attachment %+v", at, vol.Status.Attachment)
	}
	w.checkInstanceA(t)
}

// objectsNamedLikeOthersNextIDs: the EC2 API names a new key pair or group by an id derived from
// its name, so that racing calls for one name meet. B, computing the ids A's next key pair and
// group would get, makes objects of those names first: to take the ids (A's calls would answer
// ids that are B's), or to learn from its own objects' ids which names A uses. The derivation is
// keyed by A's namespace UID, which B cannot read; and should B's objects hold A's derived ids
// anyway (made here by a test that can read the UID), A is answered the ids it holds.
func (w *world) objectsNamedLikeOthersNextIDs(t *testing.T) {
	ctx := context.Background()
	ns := &corev1.Namespace{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: projectA}, ns); err != nil {
		t.Fatal(err)
	}
	for i, seed := range []string{projectA, string(ns.UID)} {
		name := fmt.Sprintf("alice-next-%d", i)
		kp := &cloudv1.KeyPair{ObjectMeta: metav1.ObjectMeta{Name: ids.Derive(ids.KeyPair, seed+"/"+name), Namespace: projectB},
			Spec: cloudv1.KeyPairSpec{PublicKey: publicKey(t)}}
		sg := &cloudv1.SecurityGroup{ObjectMeta: metav1.ObjectMeta{Name: ids.Derive(ids.SecurityGroup, seed+"/"+name), Namespace: projectB},
			Spec: cloudv1.SecurityGroupSpec{Description: "bob's"}}
		// A probe of a name A has had since the start: by the derivation B can compute.
		probe := &cloudv1.SecurityGroup{ObjectMeta: metav1.ObjectMeta{Name: ids.Derive(ids.SecurityGroup, seed+"/alice-web"), Namespace: projectB},
			Spec: cloudv1.SecurityGroupSpec{Description: "bob's probe"}}
		objs := []client.Object{kp, sg}
		if i == 0 {
			objs = append(objs, probe)
		}
		for _, o := range objs {
			if err := w.bKube.Create(ctx, o); err != nil {
				t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
			}
		}
		testenv.Eventually(t, shortWait, "B's objects to get ids", func() error {
			for _, o := range objs {
				if err := env.Client.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
					return err
				}
			}
			if kp.Status.KeyPairID == "" || sg.Status.GroupID == "" || (i == 0 && probe.Status.GroupID == "") {
				return errors.New("no ids yet")
			}
			return nil
		})
		if i == 0 && probe.Status.GroupID != probe.Name {
			t.Fatalf("B's probe named like A's group got id %s, not its name %s: it tells B that A has the group", probe.Status.GroupID, probe.Name)
		}

		ea := w.cloud.EC2(w.a)
		created, err := ea.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		group, err := ea.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(name), Description: aws.String("alice's")})
		if err != nil {
			t.Fatal(err)
		}
		keyID, groupID := aws.ToString(created.KeyPairId), aws.ToString(group.GroupId)
		if keyID == kp.Status.KeyPairID || groupID == sg.Status.GroupID {
			t.Fatalf("A was answered B's ids: key pair %s, group %s", keyID, groupID)
		}
		// The ids A was answered are A's to use.
		if out, err := ea.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyPairIds: []string{keyID}}); err != nil || len(out.KeyPairs) != 1 || aws.ToString(out.KeyPairs[0].KeyName) != name {
			t.Fatalf("A describing its new key pair %s: %v %+v", keyID, err, out)
		}
		if _, err := ea.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(groupID),
			IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), CidrIp: aws.String("192.0.2.0/24")}); err != nil {
			t.Fatalf("A authorizing on its new group %s: %v", groupID, err)
		}
		if _, err := ea.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(groupID)}); err != nil {
			t.Fatalf("A deleting its new group %s: %v", groupID, err)
		}
		if _, err := ea.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyPairId: aws.String(keyID)}); err != nil {
			t.Fatalf("A deleting its new key pair %s: %v", keyID, err)
		}
		for _, o := range objs {
			if err := w.bKube.Delete(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// clientTokenIDsOfOthers makes, with kubectl in B, the instance and the volume that A's
// RunInstances and CreateVolume with a ClientToken B can guess would be named by were the names
// derived from the project (public: the owner of public images) and the token alone, and lets
// them take their ids first: A's calls are still answered ids of A's own.
func (w *world) clientTokenIDsOfOthers(t *testing.T) {
	ctx := context.Background()
	const token = "alice-deploy-1"
	inst := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: ids.Derive(ids.Instance, projectA+"/"+token+"/0"), Namespace: projectB},
		Spec: cloudv1.InstanceSpec{ImageID: "bob-none", InstanceType: "m1.tiny", DesiredState: cloudv1.DesiredStopped}}
	vol := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: ids.Derive(ids.Volume, projectA+"/"+token), Namespace: projectB},
		Spec: cloudv1.VolumeSpec{SizeGiB: 1, AvailabilityZone: "pinet-1a"}}
	for _, o := range []client.Object{inst, vol} {
		if err := w.bKube.Create(ctx, o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
		t.Cleanup(func() {
			if err := w.bKube.Delete(context.Background(), o); err != nil {
				t.Errorf("deleting B's %T %s: %v", o, o.GetName(), err)
			}
		})
	}
	testenv.Eventually(t, shortWait, "B's instance and volume to get ids", func() error {
		for _, o := range []client.Object{inst, vol} {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
				return err
			}
		}
		if inst.Status.InstanceID == "" || vol.Status.VolumeID == "" {
			return errors.New("no ids yet")
		}
		return nil
	})

	ea := w.cloud.EC2(w.a)
	run, err := ea.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(w.amiA), InstanceType: types.InstanceType("m1.tiny"),
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), ClientToken: aws.String(token)})
	if err != nil {
		t.Fatal(err)
	}
	v, err := ea.CreateVolume(ctx, &ec2.CreateVolumeInput{Size: aws.Int32(1), AvailabilityZone: aws.String("pinet-1a"), ClientToken: aws.String(token)})
	if err != nil {
		t.Fatal(err)
	}
	instID, volID := aws.ToString(run.Instances[0].InstanceId), aws.ToString(v.VolumeId)
	if instID == inst.Status.InstanceID || volID == vol.Status.VolumeID {
		t.Fatalf("A was answered B's ids: instance %s, volume %s", instID, volID)
	}
	// The ids A was answered are A's to use.
	w.waitState(t, ea, instID, types.InstanceStateNameRunning)
	if _, err := ea.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{instID}}); err != nil {
		t.Fatalf("A terminating its instance %s: %v", instID, err)
	}
	if out, err := ea.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{volID}}); err != nil || len(out.Volumes) != 1 {
		t.Fatalf("A describing its volume %s: %v %+v", volID, err, out)
	}
	if _, err := ea.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(volID)}); err != nil {
		t.Fatalf("A deleting its volume %s: %v", volID, err)
	}
}

// instanceReferencingOthers names A's private image, key pair and group in B's instances.
func (w *world) instanceReferencingOthers(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		spec   cloudv1.InstanceSpec
		reason string
	}{
		{"steal-image", cloudv1.InstanceSpec{ImageID: w.amiA, InstanceType: "m1.tiny"}, cloudv1.ReasonImageNotFound},
		{"steal-key", cloudv1.InstanceSpec{ImageID: "bob-boot", InstanceType: "m1.tiny", KeyName: "alice-key"}, cloudv1.ReasonKeyPairNotFound},
		{"steal-group", cloudv1.InstanceSpec{ImageID: "bob-boot", InstanceType: "m1.tiny", SecurityGroups: []string{w.sgA}}, cloudv1.ReasonSecurityGroupNotFound},
	} {
		inst := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: tc.name, Namespace: projectB}, Spec: tc.spec}
		if err := w.bKube.Create(ctx, inst); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		testenv.Eventually(t, shortWait, tc.name+" to be refused", func() error {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), inst); err != nil {
				return err
			}
			c := conditions.Get(inst, cloudv1.InstanceReferencesResolved)
			if c == nil || c.Status != metav1.ConditionFalse || c.Reason != tc.reason {
				return fmt.Errorf("ReferencesResolved %+v", c)
			}
			return nil
		})
		if inst.Status.Hypervisor != "" {
			t.Fatalf("%s was scheduled to %s", tc.name, inst.Status.Hypervisor)
		}
		if err := w.bKube.Delete(ctx, inst); err != nil {
			t.Fatal(err)
		}
	}
}

// imageNamingOthersDisk: B uploads a qcow2 image whose backing file is A's running instance's
// root disk on the node (its path is no secret: the state directory's layout is documented) and
// registers it. Booted, B's guest would read A's disk. The image door refuses it at
// registration; and for an image stored before the door looked at headers, the node agent
// refuses it before it makes any disk, and says why.
func (w *world) imageNamingOthersDisk(t *testing.T) {
	ctx := context.Background()
	victim := filepath.Join(w.node.StateDir(), "instances", w.instA, "root.qcow2")
	if _, err := os.Stat(victim); err != nil {
		t.Fatalf("A's root disk is not where the attack expects it: %v", err)
	}
	data := qcow2Image(t, "-F", "qcow2", "-b", victim)
	w.uploadB(t, "bob-overlay", data)
	refused := w.bImage(t, "bob-overlay", bucketB+"/bob-overlay")
	w.waitImageFailed(t, refused, cloudv1.ReasonUnsupportedImage)
	eb := w.cloud.EC2(w.b)
	_, err := eb.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(refused.Status.ImageID),
		InstanceType: types.InstanceType("m1.tiny"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	expectCode(t, err, "InvalidAMIID.Unavailable")

	// An image stored before: B's self-contained qcow2 registers, and then its stored copy is the
	// overlay (replaced as an admin, with the digest and size its status records).
	w.uploadB(t, "bob-plain", qcow2Image(t))
	img := w.bImage(t, "bob-plain", bucketB+"/bob-plain")
	w.waitImage(t, img, cloudv1.ImageStateAvailable)
	if _, err := w.cloud.S3(t, w.admin).PutObject(ctx, img.Status.Stored.Bucket, img.Status.Stored.Key, bytes.NewReader(data),
		int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(data)
	img.Status.Stored.MD5, img.Status.Stored.SizeBytes = hex.EncodeToString(sum[:]), int64(len(data))
	if err := env.Client.Status().Update(ctx, img); err != nil {
		t.Fatal(err)
	}
	run, err := eb.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(img.Status.ImageID),
		InstanceType: types.InstanceType("m1.tiny"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	inst := &cloudv1.Instance{}
	testenv.Eventually(t, longWait, id+" to be refused its image", func() error {
		list := &cloudv1.InstanceList{}
		if err := env.Client.List(ctx, list, client.InNamespace(projectB)); err != nil {
			return err
		}
		for i := range list.Items {
			if list.Items[i].Status.InstanceID == id {
				inst = &list.Items[i]
			}
		}
		c := conditions.Get(inst, cloudv1.InstanceGuestRunning)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != cloudv1.ReasonImageUnusable {
			return fmt.Errorf("GuestRunning %+v", c)
		}
		return nil
	})
	if inst.Status.State == cloudv1.InstanceStateRunning {
		t.Fatalf("%s runs over A's disk", id)
	}
	if _, ok := w.node.Domains(t)[id]; ok {
		t.Fatalf("a domain was defined for %s", id)
	}
	if _, err := os.Stat(filepath.Join(w.node.StateDir(), "instances", id, "root.qcow2")); !os.IsNotExist(err) {
		t.Fatalf("a root disk was made for %s: %v", id, err)
	}
	waitEvent(t, inst, "ImageUnusable")
	if _, err := eb.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	w.waitState(t, eb, id, types.InstanceStateNameTerminated)
	w.checkInstanceA(t)
}

// qcow2Image returns the bytes of a 1 GiB qcow2 image qemu-img makes with args.
func qcow2Image(t *testing.T, args ...string) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "image.qcow2")
	args = append(append([]string{"create", "-q", "-f", "qcow2"}, args...), path, "1G")
	if out, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img %v: %v: %s", args, err, out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// kubectlCrossNamespace: B's member identity reaches nothing in A's namespace.
func (w *world) kubectlCrossNamespace(t *testing.T) {
	ctx := context.Background()
	for _, list := range []client.ObjectList{&cloudv1.InstanceList{}, &cloudv1.ImageList{}, &cloudv1.KeyPairList{}, &cloudv1.SecurityGroupList{}} {
		if err := w.bKube.List(ctx, list, client.InNamespace(projectA)); !apierrors.IsForbidden(err) {
			t.Fatalf("listing %T in A's namespace: %v, want Forbidden", list, err)
		}
	}
	inst := &cloudv1.Instance{ObjectMeta: metav1.ObjectMeta{Name: "planted", Namespace: projectA},
		Spec: cloudv1.InstanceSpec{ImageID: w.amiA, InstanceType: "m1.tiny"}}
	if err := w.bKube.Create(ctx, inst); !apierrors.IsForbidden(err) {
		t.Fatalf("creating an instance in A's namespace: %v, want Forbidden", err)
	}
}

// ec2CrossProject: B names A's ids through the EC2 API.
func (w *world) ec2CrossProject(t *testing.T) {
	ctx := context.Background()
	eb := w.cloud.EC2(w.b)
	run := func(in *ec2.RunInstancesInput) error {
		in.InstanceType, in.MinCount, in.MaxCount = types.InstanceType("m1.tiny"), aws.Int32(1), aws.Int32(1)
		_, err := eb.RunInstances(ctx, in)
		return err
	}
	expectCode(t, run(&ec2.RunInstancesInput{ImageId: aws.String(w.amiA)}), "InvalidAMIID.NotFound")
	bImage := w.bImageID(t, "bob-boot")
	expectCode(t, run(&ec2.RunInstancesInput{ImageId: aws.String(bImage), SecurityGroupIds: []string{w.sgA}}), "InvalidGroupId.NotFound")
	expectCode(t, run(&ec2.RunInstancesInput{ImageId: aws.String(bImage), KeyName: aws.String("alice-key")}), "InvalidKeyPair.NotFound")
	_, err := eb.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{w.instA}})
	expectCode(t, err, "InvalidInstanceID.NotFound")
	_, err = eb.GetConsoleOutput(ctx, &ec2.GetConsoleOutputInput{InstanceId: aws.String(w.instA)})
	expectCode(t, err, "InvalidInstanceID.NotFound")
	_, err = eb.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{w.instA}})
	expectCode(t, err, "InvalidInstanceID.NotFound")
	_, err = eb.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{w.instA}})
	expectCode(t, err, "InvalidInstanceID.NotFound")
	_, err = eb.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(w.amiA)})
	expectCode(t, err, "InvalidAMIID.NotFound")
	_, err = eb.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(w.amiA),
		LaunchPermission: &types.LaunchPermissionModifications{Add: []types.LaunchPermission{{Group: types.PermissionGroupAll}}}})
	expectCode(t, err, "InvalidAMIID.NotFound")
	_, err = eb.EnableImageDeregistrationProtection(ctx, &ec2.EnableImageDeregistrationProtectionInput{ImageId: aws.String(w.amiA)})
	expectCode(t, err, "InvalidAMIID.NotFound")
	_, err = eb.DisableImageDeregistrationProtection(ctx, &ec2.DisableImageDeregistrationProtectionInput{ImageId: aws.String(w.amiA)})
	expectCode(t, err, "InvalidAMIID.NotFound")
	_, err = eb.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(w.sgA)})
	expectCode(t, err, "InvalidGroup.NotFound")
	_, err = eb.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{w.volA}})
	expectCode(t, err, "InvalidVolume.NotFound")
	_, err = eb.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(w.volA)})
	expectCode(t, err, "InvalidVolume.NotFound")
	_, err = eb.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: aws.String(w.allocA)})
	expectCode(t, err, "InvalidAllocationID.NotFound")
	_, err = eb.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: aws.String(w.allocA), InstanceId: aws.String(w.instA)})
	if err == nil {
		t.Fatal("B associated A's address with A's instance")
	}
	_, err = eb.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{w.instA}, Tags: []types.Tag{{Key: aws.String("owned"), Value: aws.String("bob")}}})
	if err == nil {
		t.Fatal("B tagged A's instance")
	}
	_, err = eb.RegisterImage(ctx, &ec2.RegisterImageInput{Name: aws.String("stolen"), ImageLocation: aws.String(bucketA + "/secret-img.manifest.xml")})
	if err == nil {
		t.Fatal("B registered an image from A's bucket")
	}
}

// s3CrossProject: B reads and writes A's buckets, and the system store, through S3.
func (w *world) s3CrossProject(t *testing.T) {
	ctx := context.Background()
	mb := w.cloud.S3(t, w.b)
	stored := w.imageA(t).Status.Stored
	for _, o := range []struct{ bucket, key string }{{bucketA, "secret-img"}, {stored.Bucket, stored.Key}} {
		obj, err := mb.GetObject(ctx, o.bucket, o.key, minio.GetObjectOptions{})
		if err == nil {
			_, err = io.ReadAll(obj)
		}
		if code := minio.ToErrorResponse(err).Code; code != "AccessDenied" {
			t.Fatalf("B reading %s/%s: %v, want AccessDenied", o.bucket, o.key, err)
		}
	}
	// Claiming to act as A's project is for PiNet's own components only.
	opts := minio.GetObjectOptions{}
	opts.Set(cloudv1.HeaderActAsProject, projectA)
	obj, err := mb.GetObject(ctx, bucketA, "secret-img", opts)
	if err == nil {
		_, err = io.ReadAll(obj)
	}
	if code := minio.ToErrorResponse(err).Code; code != "AccessDenied" {
		t.Fatalf("B acting as A: %v, want AccessDenied", err)
	}
	_, err = mb.PutObject(ctx, bucketA, "secret-img", bytes.NewReader([]byte("overwritten")), 11, minio.PutObjectOptions{})
	if code := minio.ToErrorResponse(err).Code; code != "AccessDenied" {
		t.Fatalf("B overwriting A's object: %v, want AccessDenied", err)
	}
	err = mb.RemoveObject(ctx, stored.Bucket, stored.Key, minio.RemoveObjectOptions{})
	if code := minio.ToErrorResponse(err).Code; code != "AccessDenied" {
		t.Fatalf("B deleting A's stored image: %v, want AccessDenied", err)
	}
	// The system's buckets are made when first needed (the snapshot bucket at the first
	// snapshot, which comes later in this test): a bucket B made by their names first would
	// receive every project's images or snapshots.
	for _, name := range []string{s3client.ImageStoreBucket, s3client.SnapshotBucket} {
		err := mb.MakeBucket(ctx, name, minio.MakeBucketOptions{})
		if code := minio.ToErrorResponse(err).Code; code != "BucketAlreadyExists" {
			t.Fatalf("B making system bucket %s: %v, want BucketAlreadyExists", name, err)
		}
	}
}

// checkAUnchanged checks all of A's objects at the end.
func (w *world) checkAUnchanged(t *testing.T) {
	w.checkImageA(t)
	w.checkInstanceA(t)
}

// checkImageA: A's image is available, its id its own, and its stored bytes are A's.
func (w *world) checkImageA(t *testing.T) {
	t.Helper()
	img := w.imageA(t)
	if img.Status.State != cloudv1.ImageStateAvailable || img.Status.ImageID != w.amiA {
		t.Fatalf("A's image is %s with id %s", img.Status.State, img.Status.ImageID)
	}
	obj, err := w.cloud.S3(t, w.admin).GetObject(context.Background(), img.Status.Stored.Bucket, img.Status.Stored.Key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("reading A's stored image: %v", err)
	}
	if !bytes.Equal(data, w.secret) {
		t.Fatalf("A's stored image holds %d other bytes", len(data))
	}
}

// checkInstanceA: A's domain runs with its UUID, its files are there, its console answers.
func (w *world) checkInstanceA(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	d, ok := w.node.Domains(t)[w.instA]
	if !ok || d.UUID != w.domainUUID || d.State != "running" {
		t.Fatalf("A's domain %s: present %v, UUID %s (want %s), state %s", w.instA, ok, d.UUID, w.domainUUID, d.State)
	}
	dir := filepath.Join(w.node.StateDir(), "instances", w.instA)
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("A's instance files: %v", err)
	}
	ea := w.cloud.EC2(w.a)
	if _, err := ea.GetConsoleOutput(ctx, &ec2.GetConsoleOutputInput{InstanceId: aws.String(w.instA)}); err != nil {
		t.Fatalf("A's console: %v", err)
	}
	w.waitState(t, ea, w.instA, types.InstanceStateNameRunning)
}

func (w *world) imageA(t *testing.T) *cloudv1.Image {
	t.Helper()
	img := &cloudv1.Image{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: projectA, Name: "secret-img"}, img); err != nil {
		t.Fatal(err)
	}
	return img
}

func (w *world) bImageID(t *testing.T, name string) string {
	t.Helper()
	img := &cloudv1.Image{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: projectB, Name: name}, img); err != nil {
		t.Fatal(err)
	}
	return img.Status.ImageID
}

// uploadB puts an object into B's own bucket.
func (w *world) uploadB(t *testing.T, key string, data []byte) {
	t.Helper()
	ctx := context.Background()
	mb := w.cloud.S3(t, w.b)
	if ok, _ := mb.BucketExists(ctx, bucketB); !ok {
		if err := mb.MakeBucket(ctx, bucketB, minio.MakeBucketOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := mb.PutObject(ctx, bucketB, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
}

// bImage creates a raw machine image in B's project with kubectl's identity.
func (w *world) bImage(t *testing.T, name, location string) *cloudv1.Image {
	t.Helper()
	img := &cloudv1.Image{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: projectB},
		Spec:       cloudv1.ImageSpec{ImageLocation: location, Format: cloudv1.ImageFormatRaw, Type: cloudv1.ImageTypeMachine},
	}
	if err := w.bKube.Create(context.Background(), img); err != nil {
		t.Fatal(err)
	}
	return img
}

func (w *world) waitImage(t *testing.T, img *cloudv1.Image, state cloudv1.ImageState) {
	t.Helper()
	testenv.Eventually(t, longWait, fmt.Sprintf("image %s to be %s", img.Name, state), func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(img), img); err != nil {
			return err
		}
		if img.Status.State != state {
			return fmt.Errorf("state %q: %+v", img.Status.State, img.Status.Conditions)
		}
		return nil
	})
}

func (w *world) waitImageFailed(t *testing.T, img *cloudv1.Image, reason string) {
	t.Helper()
	w.waitImage(t, img, cloudv1.ImageStateFailed)
	if c := conditions.Get(img, cloudv1.ReadyCondition); c == nil || c.Reason != reason {
		t.Fatalf("image %s failed with %+v, want reason %s", img.Name, c, reason)
	}
	if img.Status.Stored != nil {
		t.Fatalf("a refused image has a stored copy: %+v", img.Status.Stored)
	}
}

func (w *world) waitState(t *testing.T, cl *ec2.Client, id string, want types.InstanceStateName) {
	t.Helper()
	testenv.Eventually(t, longWait, fmt.Sprintf("%s to be %s", id, want), func() error {
		out, err := cl.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			return err
		}
		if got := out.Reservations[0].Instances[0].State.Name; got != want {
			return fmt.Errorf("state %s", got)
		}
		return nil
	})
}

// waitEvent waits for an event of reason about obj.
func waitEvent(t *testing.T, obj client.Object, reason string) {
	t.Helper()
	testenv.Eventually(t, shortWait, "an event "+reason, func() error {
		list := &eventsv1.EventList{}
		if err := env.Client.List(context.Background(), list, client.InNamespace(obj.GetNamespace())); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Regarding.UID == obj.GetUID() && e.Reason == reason {
				return nil
			}
		}
		return errors.New("none yet")
	})
}

func expectCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

func publicKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(ssh.MarshalAuthorizedKey(k))
}
