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

package aoe

import (
	"context"
	"errors"
	"io"

	"sigs.k8s.io/controller-runtime/pkg/log"
)

// syncer is a Backing that can flush its writes to stable storage.
type syncer interface{ Sync() error }

// ata executes one ATA command and fills resp.ATA. An ATA failure (an LBA out
// of range, an I/O error, an unknown command) is reported in the status and
// error registers; a malformed request gets the returned AoE error instead.
func (s *server) ata(ctx context.Context, a *ATAArg, resp *Frame) ErrorCode {
	r := &ATAArg{
		Extended: a.Extended, Device: a.Device, Async: a.Async, Write: a.Write,
		SectorCount: a.SectorCount, LBA: a.LBA, CmdStatus: statusDRDY,
	}
	resp.ATA = r
	switch a.CmdStatus {
	case ataIdentifyDevice:
		if a.SectorCount != 1 {
			return ErrorBadArgument
		}
		r.Data, r.SectorCount = s.ident, 0
	case ataFlushCache, ataFlushCacheExt:
		if b, ok := s.backing.(syncer); ok {
			if err := b.Sync(); err != nil {
				log.FromContext(ctx).Error(err, "Flushing the AoE backing failed", "shelf", s.shelf, "slot", s.slot)
				r.CmdStatus, r.ErrFeature = statusDRDY|statusERR, errorABRT
			}
		}
	case ataCheckPowerMode:
		r.SectorCount = 0xff // active or idle
	case ataReadSectors, ataReadSectorsExt, ataWriteSectors, ataWriteSectorsExt:
		return s.readWrite(ctx, a, r)
	default:
		r.CmdStatus, r.ErrFeature = statusDRDY|statusERR, errorABRT
	}
	return 0
}

func (s *server) readWrite(ctx context.Context, a, r *ATAArg) ErrorCode {
	lba := a.LBA & 0xffffffffffff
	if a.CmdStatus == ataReadSectors || a.CmdStatus == ataWriteSectors {
		lba &= maxLBA28
	}
	write := a.CmdStatus == ataWriteSectors || a.CmdStatus == ataWriteSectorsExt
	n := int(a.SectorCount)
	if n > s.maxSectors || (write && len(a.Data) < n*SectorSize) {
		return ErrorBadArgument
	}
	if lba+uint64(n) > s.sectors {
		r.CmdStatus, r.ErrFeature = statusDRDY|statusERR, errorIDNF
		return 0
	}
	off := int64(lba) * SectorSize
	var err error
	if write {
		_, err = s.backing.WriteAt(a.Data[:n*SectorSize], off)
	} else {
		r.Data = make([]byte, n*SectorSize)
		var got int
		got, err = s.backing.ReadAt(r.Data, off)
		if errors.Is(err, io.EOF) {
			// A backing shorter than its advertised size reads as zeros.
			clear(r.Data[got:])
			err = nil
		}
	}
	if s.observer != nil {
		s.observer.ObserveIO("target", write, n*SectorSize, err)
	}
	if err != nil {
		log.FromContext(ctx).Error(err, "AoE backing I/O failed", "shelf", s.shelf, "slot", s.slot, "lba", lba, "write", write)
		r.Data = nil
		r.CmdStatus, r.ErrFeature = statusDRDY|statusERR, errorABRT
		return 0
	}
	r.SectorCount = 0
	return 0
}
