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
	"encoding/binary"
	"errors"
	"strings"
)

// ATA commands the target understands.
const (
	ataReadSectors     = 0x20
	ataReadSectorsExt  = 0x24
	ataWriteSectors    = 0x30
	ataWriteSectorsExt = 0x34
	ataCheckPowerMode  = 0xe5
	ataFlushCache      = 0xe7
	ataFlushCacheExt   = 0xea
	ataIdentifyDevice  = 0xec
)

// ATA status and error register bits.
const (
	statusDRDY = 0x40
	statusDF   = 0x20
	statusDRQ  = 0x08
	statusERR  = 0x01
	statusBSY  = 0x80

	errorIDNF = 0x10
	errorABRT = 0x04
)

// maxLBA28 is the largest sector count a 28-bit IDENTIFY field holds.
const maxLBA28 = 0x0fffffff

// IDENTIFY DEVICE word numbers.
const (
	idWordSerial        = 10
	idWordFirmware      = 23
	idWordModel         = 27
	idWordMultiple      = 47
	idWordCapabilities  = 49
	idWordCapabilities2 = 50
	idWordLBA28         = 60
	idWordSupported     = 83
	idWordSupported2    = 84
	idWordEnabled       = 86
	idWordEnabled2      = 87
	idWordLBA48         = 100
)

// Bits of the command-set words 83 and 86.
const (
	cmdSetValid    = 1 << 14
	cmdSetFlushExt = 1 << 13
	cmdSetFlush    = 1 << 12
	cmdSetLBA48    = 1 << 10
)

// Identity is what an IDENTIFY DEVICE answer says about a device.
type Identity struct {
	// Serial (20 characters), Firmware (8) and Model (40) are the ATA strings,
	// without their space padding.
	Serial, Firmware, Model string
	// LBA28Sectors is the 28-bit capacity (capped at 2^28-1 sectors).
	LBA28Sectors uint32
	// LBA48 says the device supports and enabled the 48-bit feature set, and
	// LBA48Sectors is then its capacity.
	LBA48        bool
	LBA48Sectors uint64
	// FlushCache and FlushCacheExt say which flush commands it supports.
	FlushCache, FlushCacheExt bool
}

// Sectors is the device's capacity in sectors.
func (id Identity) Sectors() uint64 {
	if id.LBA48 {
		return id.LBA48Sectors
	}
	return uint64(id.LBA28Sectors)
}

// identify builds the 512-byte IDENTIFY DEVICE answer of a device of the
// given number of sectors that supports 48-bit LBA and both flushes.
func identify(sectors uint64, serial, firmware, model string) []byte {
	w := make([]uint16, 256)
	w[idWordMultiple] = 0x8000
	w[idWordCapabilities] = 1 << 9 // LBA
	w[idWordCapabilities2] = 0x4000
	w[idWordSupported] = cmdSetValid | cmdSetFlushExt | cmdSetFlush | cmdSetLBA48
	w[idWordSupported2] = cmdSetValid
	w[idWordEnabled] = cmdSetFlushExt | cmdSetFlush | cmdSetLBA48
	w[idWordEnabled2] = cmdSetValid
	lba28 := min(sectors, maxLBA28)
	w[idWordLBA28] = uint16(lba28)
	w[idWordLBA28+1] = uint16(lba28 >> 16)
	for i := 0; i < 4; i++ {
		w[idWordLBA48+i] = uint16(sectors >> (16 * i))
	}
	b := make([]byte, SectorSize)
	for i, v := range w {
		binary.LittleEndian.PutUint16(b[2*i:], v)
	}
	putATAString(b[2*idWordSerial:2*idWordSerial+20], serial)
	putATAString(b[2*idWordFirmware:2*idWordFirmware+8], firmware)
	putATAString(b[2*idWordModel:2*idWordModel+40], model)
	return b
}

// putATAString writes s into an ATA string field: space padded, the two
// characters of each word swapped.
func putATAString(field []byte, s string) {
	for i := range field {
		c := byte(' ')
		if i < len(s) {
			c = s[i]
		}
		field[i^1] = c
	}
}

func getATAString(field []byte) string {
	b := make([]byte, len(field))
	for i := range field {
		b[i] = field[i^1]
	}
	return strings.TrimRight(string(b), " \x00")
}

// ParseIdentity decodes IDENTIFY DEVICE data.
func ParseIdentity(b []byte) (Identity, error) {
	if len(b) < SectorSize {
		return Identity{}, errors.New("aoe: IDENTIFY DEVICE data shorter than 512 bytes")
	}
	word := func(i int) uint16 { return binary.LittleEndian.Uint16(b[2*i:]) }
	id := Identity{
		Serial:       getATAString(b[2*idWordSerial : 2*idWordSerial+20]),
		Firmware:     getATAString(b[2*idWordFirmware : 2*idWordFirmware+8]),
		Model:        getATAString(b[2*idWordModel : 2*idWordModel+40]),
		LBA28Sectors: uint32(word(idWordLBA28)) | uint32(word(idWordLBA28+1))<<16,
	}
	sup, en := word(idWordSupported), word(idWordEnabled)
	if sup&0xc000 == cmdSetValid {
		cmds := sup | en
		id.LBA48 = cmds&cmdSetLBA48 != 0
		id.FlushCache = cmds&cmdSetFlush != 0
		id.FlushCacheExt = cmds&cmdSetFlushExt != 0
	}
	if id.LBA48 {
		for i := 3; i >= 0; i-- {
			id.LBA48Sectors = id.LBA48Sectors<<16 | uint64(word(idWordLBA48+i))
		}
	}
	return id, nil
}
