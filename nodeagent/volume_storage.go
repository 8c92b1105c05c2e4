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

package nodeagent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/minio/minio-go/v7"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/source"

	cloudv1 "pinet.io/pinet/api/v1alpha1"
	"pinet.io/pinet/internal/s3client"
)

// storageStatus is the storage role reported in the Hypervisor's status; nil for a node that
// stores no volumes.
func storageStatus(cfg Config) *cloudv1.StorageStatus {
	if cfg.StorageCapacityGiB <= 0 {
		return nil
	}
	return &cloudv1.StorageStatus{CapacityGiB: cfg.StorageCapacityGiB, Interface: cfg.StorageInterface}
}

// setupStorage adds the storage role to the agent: its own cache of the Volumes and Snapshots
// labelled with this node (cloud.pinet.io/storage-node), the volume sync serving them over AoE,
// and the snapshot copier. Its cache is separate from the manager's, whose Volumes are those
// attached on this node.
func setupStorage(ctx context.Context, mgr ctrl.Manager, restCfg *rest.Config, cfg Config, clk clock.PassiveClock) error {
	if err := os.MkdirAll(cfg.StorageDir, 0o700); err != nil {
		return fmt.Errorf("creating the storage dir: %w", err)
	}
	mine := labels.SelectorFromSet(labels.Set{cloudv1.LabelStorageNode: cfg.NodeName})
	storageCache, err := cache.New(restCfg, cache.Options{
		Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(), DefaultLabelSelector: mine,
		DefaultTransform: cache.TransformStripManagedFields(),
	})
	if err != nil {
		return fmt.Errorf("creating the storage cache: %w", err)
	}
	if err := mgr.Add(storageCache); err != nil {
		return err
	}
	// Writes go to the API server; reads (the patch helper's, after a conflict) to this cache.
	c, err := client.New(restCfg, client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(),
		Cache: &client.CacheOptions{Reader: storageCache}})
	if err != nil {
		return err
	}
	var store func(context.Context) (*minio.Client, error)
	if cfg.ObjectStoreURL != "" {
		storeCfg := s3client.Config{Endpoint: cfg.ObjectStoreURL, Region: cfg.Region,
			SystemNamespace: cfg.SystemNamespace, User: s3client.NodeUser(cfg.NodeName)}
		reader := mgr.GetAPIReader()
		store = func(ctx context.Context) (*minio.Client, error) { return s3client.New(ctx, reader, storeCfg) }
	}
	restarts := make(chan event.TypedGenericEvent[*cloudv1.Volume], 16)
	ex := &exports{
		ctx: ctx, dir: cfg.StorageDir, iface: cfg.StorageInterface, netns: cfg.StorageNetNS, listen: cfg.ListenAoE,
		log: mgr.GetLogger().WithName("aoe"), m: map[types.UID]*export{}, observer: cfg.metrics,
	}
	vs := &volumeSync{reader: storageCache, client: c, node: cfg.NodeName, exports: ex, clock: clk, store: store,
		uids: map[types.NamespacedName]types.UID{}}
	// A target that stopped on its own (its socket failed) is served again.
	ex.stopped = func(key types.NamespacedName) {
		v := &cloudv1.Volume{}
		v.Name, v.Namespace = key.Name, key.Namespace
		select {
		case restarts <- event.TypedGenericEvent[*cloudv1.Volume]{Object: v}:
		default:
		}
	}
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		if err := vs.sweep(ctx, mgr.GetAPIReader()); err != nil {
			mgr.GetLogger().Error(err, "Sweeping the backing files of gone volumes")
		}
		return nil
	})); err != nil {
		return err
	}
	if err := ctrl.NewControllerManagedBy(mgr).Named("storage-volumes").
		WatchesRawSource(source.Kind(storageCache, &cloudv1.Volume{}, &handler.TypedEnqueueRequestForObject[*cloudv1.Volume]{})).
		WatchesRawSource(source.Channel(restarts, &handler.TypedEnqueueRequestForObject[*cloudv1.Volume]{})).
		Complete(vs); err != nil {
		return err
	}
	sc := &snapshotCopy{reader: storageCache, live: mgr.GetAPIReader(), client: c, node: cfg.NodeName, exports: ex, clock: clk, store: store}
	return ctrl.NewControllerManagedBy(mgr).Named("storage-snapshots").
		WatchesRawSource(source.Kind(storageCache, &cloudv1.Snapshot{}, &handler.TypedEnqueueRequestForObject[*cloudv1.Snapshot]{})).
		Complete(sc)
}

// defaultStorageDir is where backing files live unless configured.
func defaultStorageDir(stateDir string) string { return filepath.Join(stateDir, "volumes") }
