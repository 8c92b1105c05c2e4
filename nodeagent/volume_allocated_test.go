// Copyright 2026 The PiNet Authors.
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//     http://www.apache.org/licenses/LICENSE-2.0
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

package nodeagent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/conditions"
	"pinet.io/pinet/internal/testcloud"
	"pinet.io/pinet/internal/testenv"
)

// waitAllocated waits until the storage node reports want GiB allocated to volumes.
func waitAllocated(t *testing.T, node string, want int64) {
	t.Helper()
	testenv.Eventually(t, longWait, fmt.Sprintf("%s to report %d GiB allocated", node, want), func() error {
		hv := &cloudv1.Hypervisor{}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Name: node}, hv); err != nil {
			return err
		}
		if s := hv.Status.Storage; s == nil || s.AllocatedGiB != want {
			return fmt.Errorf("storage %+v", s)
		}
		return nil
	})
}

// A storage node reports the GiB its volumes take (status.storage.allocatedGiB, a column of
// `kubectl get hypervisors`), and the volume controller places by the same sum: a volume that
// does not fit in what is left waits, and is placed once a volume's deletion frees room.
func TestStorageNodeReportsAllocatedGiB(t *testing.T) {
	ctx := context.Background()
	c := startCloud(t)
	ns := "allocated"
	c.AddProjectWithQuota(t, ns, testcloud.NoQuota())
	node, _, _ := storageNode(t, c, "alloc-store", "zone-alloc", 10)
	waitAllocated(t, node.Name, 0)

	newVol := func(name string, gib int32) *cloudv1.Volume {
		v := &cloudv1.Volume{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: cloudv1.VolumeSpec{SizeGiB: gib, AvailabilityZone: "zone-alloc"}}
		if err := env.Client.Create(ctx, v); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), v) })
		return v
	}
	four := waitVolume(t, newVol("four", 4), cloudv1.VolumeStateAvailable)
	waitVolume(t, newVol("five", 5), cloudv1.VolumeStateAvailable)
	waitAllocated(t, node.Name, 9)

	// 1 GiB is left: a 2 GiB volume waits for room.
	two := newVol("two", 2)
	testenv.Eventually(t, shortWait, "the 2 GiB volume to wait for a node", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(two), two); err != nil {
			return err
		}
		if c := conditions.Get(two, cloudv1.ReadyCondition); c == nil || c.Reason != cloudv1.ReasonNoStorageNode || two.Status.AoE != nil {
			return fmt.Errorf("ready %+v aoe %+v", c, two.Status.AoE)
		}
		return nil
	})
	checkPrinterColumns(t, node.Name, "10", "9")

	// Deleting the 4 GiB volume frees room for it.
	if err := env.Client.Delete(ctx, four); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, longWait, "the 4 GiB volume to go", func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(four), four); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
	waitVolume(t, two, cloudv1.VolumeStateAvailable)
	waitAllocated(t, node.Name, 7)
}

// checkPrinterColumns reads the Hypervisor as `kubectl get` does (a Table from the API server)
// and checks its storage columns.
func checkPrinterColumns(t *testing.T, node, capacity, allocated string) {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, strings.TrimSuffix(cfg.Host, "/")+"/apis/cloud.pinet.io/v1alpha1/hypervisors/"+node, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var table metav1.Table
	if err := json.NewDecoder(resp.Body).Decode(&table); err != nil || len(table.Rows) != 1 {
		t.Fatalf("table: %v %+v", err, table)
	}
	got := map[string]string{}
	for i, col := range table.ColumnDefinitions {
		got[col.Name] = fmt.Sprint(table.Rows[0].Cells[i])
	}
	if got["Storage GiB"] != capacity || got["Allocated GiB"] != allocated {
		t.Fatalf("printer columns %v, want Storage GiB %s and Allocated GiB %s", got, capacity, allocated)
	}
}
