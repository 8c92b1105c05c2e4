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
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// roundTrip sends f to dst with a fresh tag, retransmitting until the answer
// arrives, the command times out, ctx ends or the Device is closed.
func (d *Device) roundTrip(ctx context.Context, dst net.HardwareAddr, f *Frame) (*Frame, error) {
	select {
	case d.sem <- struct{}{}:
		defer func() { <-d.sem }()
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-d.done:
		return nil, ErrClosed
	}
	ch := make(chan []byte, 1)
	d.mu.Lock()
	d.tag++
	for d.pending[d.tag] != nil {
		d.tag++
	}
	tag := d.tag
	d.pending[tag] = ch
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.pending, tag)
		d.mu.Unlock()
	}()

	f.Dst, f.Src, f.Version, f.Shelf, f.Slot, f.Tag = dst, d.conn.HardwareAddr(), Version, d.shelf, d.slot, tag
	b, err := f.Marshal()
	if err != nil {
		return nil, err
	}
	deadline := time.NewTimer(d.timeout)
	defer deadline.Stop()
	interval := d.rto
	var sendErr error
	for {
		if err := d.conn.write(b); err != nil {
			sendErr = err // Perhaps passing (no buffer space): retried below.
		}
		retry := time.NewTimer(interval)
		select {
		case rb := <-ch:
			retry.Stop()
			return Decode(rb)
		case <-retry.C:
			interval = min(2*interval, maxRetransmit)
		case <-deadline.C:
			retry.Stop()
			if sendErr != nil {
				return nil, fmt.Errorf("%w within %s (last send error: %v)", ErrTimeout, d.timeout, sendErr)
			}
			return nil, fmt.Errorf("%w within %s", ErrTimeout, d.timeout)
		case <-ctx.Done():
			retry.Stop()
			return nil, ctx.Err()
		case <-d.done:
			retry.Stop()
			return nil, ErrClosed
		}
	}
}

// ata runs one ATA command on the target and checks its status.
func (d *Device) ata(ctx context.Context, a *ATAArg) (*ATAArg, error) {
	resp, err := d.roundTrip(ctx, d.target, &Frame{Header: Header{Command: CommandATA}, ATA: a})
	if err != nil {
		return nil, err
	}
	if resp.Error {
		return nil, &ProtocolError{Shelf: d.shelf, Slot: d.slot, Command: CommandATA, Code: resp.Code}
	}
	if resp.ATA == nil {
		return nil, fmt.Errorf("aoe %s: ATA answer without an ATA argument", d)
	}
	if st := resp.ATA.CmdStatus; st&(statusBSY|statusDF|statusDRQ|statusERR) != 0 {
		lba := a.LBA & 0xffffffffffff
		if !a.Extended {
			lba &= maxLBA28 // without the device register's bits
		}
		return nil, &ATAError{
			Shelf: d.shelf, Slot: d.slot, Command: a.CmdStatus, LBA: lba,
			Sectors: int(a.SectorCount), Status: st, Err: resp.ATA.ErrFeature,
		}
	}
	return resp.ATA, nil
}

// sectorCommand builds a READ or WRITE SECTORS (EXT) command.
func (d *Device) sectorCommand(write bool, lba uint64, sectors int) (*ATAArg, error) {
	a := &ATAArg{Write: write, SectorCount: uint8(sectors), LBA: lba, Extended: d.lba48}
	switch {
	case d.lba48 && write:
		a.CmdStatus = ataWriteSectorsExt
	case d.lba48:
		a.CmdStatus = ataReadSectorsExt
	case lba+uint64(sectors) > maxLBA28+1:
		return nil, fmt.Errorf("aoe %s: LBA %d is beyond 28-bit addressing", d, lba)
	case write:
		a.CmdStatus, a.LBA = ataWriteSectors, LBA28(lba)
	default:
		a.CmdStatus, a.LBA = ataReadSectors, LBA28(lba)
	}
	return a, nil
}

// ReadSectors reads len(p)/512 sectors from lba. It does not check the
// device's size: the target answers sectors beyond its end with an ATAError.
func (d *Device) ReadSectors(ctx context.Context, lba uint64, p []byte) error {
	if len(p)%SectorSize != 0 {
		return fmt.Errorf("aoe %s: read of %d bytes is not whole sectors", d, len(p))
	}
	return d.parallel(ctx, lba, p, func(ctx context.Context, lba uint64, p []byte) error {
		a, err := d.sectorCommand(false, lba, len(p)/SectorSize)
		if err != nil {
			return err
		}
		r, err := d.ata(ctx, a)
		d.observe(false, len(p), err)
		if err != nil {
			return err
		}
		if len(r.Data) < len(p) {
			return fmt.Errorf("aoe %s: target answered a read of %d bytes with %d", d, len(p), len(r.Data))
		}
		copy(p, r.Data)
		return nil
	})
}

// WriteSectors writes len(p)/512 sectors at lba, like ReadSectors.
func (d *Device) WriteSectors(ctx context.Context, lba uint64, p []byte) error {
	if len(p)%SectorSize != 0 {
		return fmt.Errorf("aoe %s: write of %d bytes is not whole sectors", d, len(p))
	}
	return d.parallel(ctx, lba, p, func(ctx context.Context, lba uint64, p []byte) error {
		a, err := d.sectorCommand(true, lba, len(p)/SectorSize)
		if err != nil {
			return err
		}
		a.Data = p
		_, err = d.ata(ctx, a)
		d.observe(true, len(p), err)
		return err
	})
}

// observe tells the Device's observer of one read or write command.
func (d *Device) observe(write bool, bytes int, err error) {
	if d.observer != nil {
		d.observer.ObserveIO("initiator", write, bytes, err)
	}
}

// parallel splits p into commands of at most MaxSectors sectors and runs
// them concurrently; it returns the first error.
func (d *Device) parallel(ctx context.Context, lba uint64, p []byte, op func(context.Context, uint64, []byte) error) error {
	chunk := d.maxSectors * SectorSize
	count := (len(p) + chunk - 1) / chunk
	if count <= 1 {
		if len(p) == 0 {
			return nil
		}
		return op(ctx, lba, p)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		once     sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	for range min(count, cap(d.sem)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= count || ctx.Err() != nil {
					return
				}
				part := p[i*chunk : min((i+1)*chunk, len(p))]
				if err := op(ctx, lba+uint64(i*d.maxSectors), part); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

// FlushContext asks the target to write its cache to stable storage
// (FLUSH CACHE).
func (d *Device) FlushContext(ctx context.Context) error {
	_, err := d.ata(ctx, &ATAArg{CmdStatus: ataFlushCache})
	return err
}

// Flush is FlushContext without a deadline beyond the Dialer's Timeout.
func (d *Device) Flush() error { return d.FlushContext(context.Background()) }

// ReadAt implements io.ReaderAt: a read reaching past the device's end reads
// what there is and returns io.EOF.
func (d *Device) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("aoe %s: negative offset %d", d, off)
	}
	size := d.Size()
	if off >= size {
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), size)
	n := int(end - off)
	first, last := off/SectorSize, (end+SectorSize-1)/SectorSize
	ctx := context.Background()
	if off%SectorSize == 0 && n%SectorSize == 0 {
		if err := d.ReadSectors(ctx, uint64(first), p[:n]); err != nil {
			return 0, err
		}
	} else {
		buf := make([]byte, (last-first)*SectorSize)
		if err := d.ReadSectors(ctx, uint64(first), buf); err != nil {
			return 0, err
		}
		copy(p[:n], buf[off-first*SectorSize:])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// errBeyondEnd is returned for writes past the device's end.
var errBeyondEnd = errors.New("beyond the end of the device")

// WriteAt implements io.WriterAt. A write reaching past the device's end
// fails whole, writing nothing.
func (d *Device) WriteAt(p []byte, off int64) (int, error) {
	size := d.Size()
	if off < 0 || off+int64(len(p)) > size {
		return 0, fmt.Errorf("aoe %s: write of %d bytes at offset %d of a %d-byte device: %w", d, len(p), off, size, errBeyondEnd)
	}
	ctx := context.Background()
	end := off + int64(len(p))
	if off%SectorSize == 0 && end%SectorSize == 0 {
		if err := d.WriteSectors(ctx, uint64(off/SectorSize), p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	// Partial sectors: read, modify and write back, one such write at a time
	// so that two of them in one sector cannot undo each other.
	d.rmw.Lock()
	defer d.rmw.Unlock()
	first, last := off/SectorSize, (end+SectorSize-1)/SectorSize
	buf := make([]byte, (last-first)*SectorSize)
	if off%SectorSize != 0 {
		if err := d.ReadSectors(ctx, uint64(first), buf[:SectorSize]); err != nil {
			return 0, err
		}
	}
	if end%SectorSize != 0 && (last-1 != first || off%SectorSize == 0) {
		if err := d.ReadSectors(ctx, uint64(last-1), buf[len(buf)-SectorSize:]); err != nil {
			return 0, err
		}
	}
	copy(buf[off-first*SectorSize:], p)
	if err := d.WriteSectors(ctx, uint64(first), buf); err != nil {
		return 0, err
	}
	return len(p), nil
}
