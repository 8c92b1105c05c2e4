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

package disks

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// The meta-data disk is a small ext2 filesystem the agent lays out itself: one block group of
// 4 KiB blocks, no journal, files in direct blocks and one indirect block. Running mke2fs for it
// cost a process start per instance; the layout is the second extended filesystem's revision 1,
// which the guest mounts with its ext4 driver and e2fsck checks clean.
const (
	extBlockSize  = 4096
	extInodeSize  = 128
	extMagic      = 0xef53
	extRootInode  = 2
	extFirstInode = 11 // lost+found; the ones before are reserved
	extDirect     = 12
	// extMaxBlocks is what one group's block bitmap covers.
	extMaxBlocks = extBlockSize * 8
	// extMaxFileBlocks is what the direct blocks and one indirect block address.
	extMaxFileBlocks = extDirect + extBlockSize/4

	extFeatureFiletype = 0x0002 // directory entries carry the file's type
	extModeDir         = 0o040000
	extModeFile        = 0o100000
	extTypeFile        = 1
	extTypeDir         = 2

	// Fixed blocks: 0 holds the superblock (at byte 1024), then the group descriptors, the two
	// bitmaps and the inode table.
	extDescBlock        = 1
	extBlockBitmapBlock = 2
	extInodeBitmapBlock = 3
	extInodeTableBlock  = 4
)

// extNode is a file or directory of the filesystem being laid out.
type extNode struct {
	name     string
	data     []byte
	dir      bool
	children []*extNode
	parent   *extNode
	inode    uint32
	blocks   []uint32 // data blocks, then the indirect block if there is one
	nData    int      // how many of blocks hold data
	bytes    []byte   // what the blocks hold: content(), once the inodes are numbered
}

// ext2Image lays out an ext2 filesystem labelled label holding files (slash-separated paths
// relative to its root; directories are made as the paths need them) and returns its bytes.
func ext2Image(label string, files map[string][]byte) ([]byte, error) {
	if len(label) > 16 {
		return nil, fmt.Errorf("label %q is longer than 16 bytes", label)
	}
	root, err := extTree(files)
	if err != nil {
		return nil, err
	}
	l, err := layOut(root)
	if err != nil {
		return nil, err
	}
	img := make([]byte, int(l.blocksCount)*extBlockSize)
	now := uint32(time.Now().Unix())
	for _, n := range l.nodes {
		l.writeNode(img, n, now)
	}
	l.writeGroup(img)
	if err := l.writeSuperblock(img, label, now); err != nil {
		return nil, err
	}
	return img, nil
}

// extTree makes the tree of the filesystem's root: lost+found (which e2fsck expects) and files.
func extTree(files map[string][]byte) (*extNode, error) {
	root := &extNode{dir: true, inode: extRootInode}
	root.parent = root
	root.children = append(root.children, &extNode{name: "lost+found", dir: true, parent: root, inode: extFirstInode})
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := root.add(name, files[name]); err != nil {
			return nil, err
		}
	}
	return root, nil
}

// extLayout is where everything of a filesystem goes.
type extLayout struct {
	nodes                                []*extNode // depth first from the root
	usedInodes, inodesCount, blocksCount uint32
	dirs                                 int
}

// layOut numbers the tree's inodes (the root and lost+found have theirs, the rest follow depth
// first) and gives every node its blocks, in order after the inode table.
func layOut(root *extNode) (*extLayout, error) {
	l := &extLayout{}
	next := uint32(extFirstInode + 1)
	var walk func(n *extNode)
	walk = func(n *extNode) {
		l.nodes = append(l.nodes, n)
		if n.dir {
			l.dirs++
		}
		for _, c := range n.children {
			if c.inode == 0 {
				c.inode = next
				next++
			}
			walk(c)
		}
	}
	walk(root)
	l.usedInodes = next - 1
	perTableBlock := uint32(extBlockSize / extInodeSize)
	l.inodesCount = (l.usedInodes + perTableBlock - 1) / perTableBlock * perTableBlock

	block := uint32(extInodeTableBlock) + l.inodesCount/perTableBlock
	for _, n := range l.nodes {
		n.bytes = n.content()
		size := len(n.bytes)
		n.nData = (size + extBlockSize - 1) / extBlockSize
		if n.nData > extMaxFileBlocks {
			return nil, fmt.Errorf("%s is %d bytes, more than the meta-data disk holds in a file", n.path(), size)
		}
		total := n.nData
		if n.nData > extDirect {
			total++ // the indirect block
		}
		for range total {
			n.blocks = append(n.blocks, block)
			block++
		}
	}
	if block > extMaxBlocks {
		return nil, fmt.Errorf("the files need %d blocks, more than one block group holds", block)
	}
	l.blocksCount = block
	return l, nil
}

// extBlockOf is block b of img.
func extBlockOf(img []byte, b uint32) []byte {
	return img[int(b)*extBlockSize : int(b+1)*extBlockSize]
}

// writeNode writes a node's data, its indirect block and its inode.
func (l *extLayout) writeNode(img []byte, n *extNode, now uint32) {
	le := binary.LittleEndian
	content := n.bytes
	for i := range n.nData {
		copy(extBlockOf(img, n.blocks[i]), content[i*extBlockSize:])
	}
	if n.nData > extDirect {
		ind := extBlockOf(img, n.blocks[n.nData])
		for i, b := range n.blocks[extDirect:n.nData] {
			le.PutUint32(ind[4*i:], b)
		}
	}
	ino := img[extInodeTableBlock*extBlockSize+int(n.inode-1)*extInodeSize:][:extInodeSize]
	mode, links := uint16(extModeFile|0o644), uint16(1)
	if n.dir {
		mode, links = extModeDir|0o755, 2 // its "." and its parent's entry
		for _, c := range n.children {
			if c.dir {
				links++ // the child's ".."
			}
		}
	}
	le.PutUint16(ino[0:], mode)
	le.PutUint32(ino[4:], uint32(len(content)))
	le.PutUint32(ino[8:], now)  // atime
	le.PutUint32(ino[12:], now) // ctime
	le.PutUint32(ino[16:], now) // mtime
	le.PutUint16(ino[26:], links)
	le.PutUint32(ino[28:], uint32(len(n.blocks)*extBlockSize/512))
	for i, b := range n.blocks[:min(n.nData, extDirect)] {
		le.PutUint32(ino[40+4*i:], b)
	}
	if n.nData > extDirect {
		le.PutUint32(ino[40+4*extDirect:], n.blocks[n.nData])
	}
}

// writeGroup writes the one group's descriptor and bitmaps: everything laid out is in use, and
// so are the bits past the ends, as ext2 has them.
func (l *extLayout) writeGroup(img []byte) {
	setBits(extBlockOf(img, extBlockBitmapBlock), 0, l.blocksCount)
	setBits(extBlockOf(img, extBlockBitmapBlock), l.blocksCount, extMaxBlocks)
	setBits(extBlockOf(img, extInodeBitmapBlock), 0, l.usedInodes)
	setBits(extBlockOf(img, extInodeBitmapBlock), l.inodesCount, extBlockSize*8)

	le := binary.LittleEndian
	desc := extBlockOf(img, extDescBlock)
	le.PutUint32(desc[0:], extBlockBitmapBlock)
	le.PutUint32(desc[4:], extInodeBitmapBlock)
	le.PutUint32(desc[8:], extInodeTableBlock)
	le.PutUint16(desc[12:], 0) // free blocks
	le.PutUint16(desc[14:], uint16(l.inodesCount-l.usedInodes))
	le.PutUint16(desc[16:], uint16(l.dirs))
}

// writeSuperblock writes the superblock, at byte 1024 of block 0.
func (l *extLayout) writeSuperblock(img []byte, label string, now uint32) error {
	le := binary.LittleEndian
	sb := img[1024:2048]
	le.PutUint32(sb[0:], l.inodesCount)
	le.PutUint32(sb[4:], l.blocksCount)
	le.PutUint32(sb[12:], 0) // free blocks
	le.PutUint32(sb[16:], l.inodesCount-l.usedInodes)
	le.PutUint32(sb[20:], 0) // first data block: the superblock is inside block 0
	le.PutUint32(sb[24:], 2) // block size 1024 << 2
	le.PutUint32(sb[28:], 2) // fragment size, the same
	le.PutUint32(sb[32:], extMaxBlocks)
	le.PutUint32(sb[36:], extMaxBlocks)
	le.PutUint32(sb[40:], l.inodesCount)
	le.PutUint32(sb[44:], now) // mount time
	le.PutUint32(sb[48:], now) // write time
	le.PutUint16(sb[54:], 0xffff)
	le.PutUint16(sb[56:], extMagic)
	le.PutUint16(sb[58:], 1) // clean
	le.PutUint16(sb[60:], 1) // on errors, continue
	le.PutUint32(sb[64:], now)
	le.PutUint32(sb[76:], 1) // revision 1: the fields below count
	le.PutUint32(sb[84:], extFirstInode)
	le.PutUint16(sb[88:], extInodeSize)
	le.PutUint32(sb[96:], extFeatureFiletype)
	if _, err := rand.Read(sb[104:120]); err != nil {
		return err
	}
	sb[104+6] = sb[104+6]&0x0f | 0x40 // a random (version 4) UUID
	sb[104+8] = sb[104+8]&0x3f | 0x80
	copy(sb[120:136], label)
	return nil
}

// add puts the file at name (slash-separated) under n, making its directories.
func (n *extNode) add(name string, data []byte) error {
	parts := strings.Split(name, "/")
	for i, part := range parts {
		if part == "" || part == "." || part == ".." || len(part) > 255 {
			return fmt.Errorf("%q is not a file name the meta-data disk can hold", name)
		}
		var child *extNode
		for _, c := range n.children {
			if c.name == part {
				child = c
			}
		}
		last := i == len(parts)-1
		switch {
		case child == nil:
			child = &extNode{name: part, dir: !last, parent: n}
			if last {
				child.data = data
			}
			n.children = append(n.children, child)
		case last || !child.dir:
			return fmt.Errorf("%q is both a file and a directory", path.Join(parts[:i+1]...))
		}
		n = child
	}
	return nil
}

// content is a file's data, or a directory's entries: ".", "..", then its children, none
// crossing a block's end, the last of each block running to its end.
func (n *extNode) content() []byte {
	if !n.dir {
		return n.data
	}
	type entry struct {
		inode uint32
		name  string
		typ   byte
	}
	entries := []entry{{n.inode, ".", extTypeDir}, {n.parent.inode, "..", extTypeDir}}
	for _, c := range n.children {
		typ := byte(extTypeFile)
		if c.dir {
			typ = extTypeDir
		}
		entries = append(entries, entry{c.inode, c.name, typ})
	}
	var out []byte
	last := -1 // offset of the block's last entry so far
	for _, e := range entries {
		size := 8 + (len(e.name)+3)/4*4
		if len(out)%extBlockSize+size > extBlockSize {
			// Stretch the block's last entry to its end and start the next block.
			pad := extBlockSize - len(out)%extBlockSize
			binary.LittleEndian.PutUint16(out[last+4:], uint16(recLen(out[last:])+pad))
			out = append(out, make([]byte, pad)...)
		}
		last = len(out)
		rec := make([]byte, size)
		binary.LittleEndian.PutUint32(rec[0:], e.inode)
		binary.LittleEndian.PutUint16(rec[4:], uint16(size))
		rec[6] = byte(len(e.name))
		rec[7] = e.typ
		copy(rec[8:], e.name)
		out = append(out, rec...)
	}
	if rest := len(out) % extBlockSize; rest != 0 {
		binary.LittleEndian.PutUint16(out[last+4:], uint16(recLen(out[last:])+extBlockSize-rest))
		out = append(out, make([]byte, extBlockSize-rest)...)
	}
	return out
}

// recLen is the record length of the directory entry at the start of b.
func recLen(b []byte) int { return int(binary.LittleEndian.Uint16(b[4:])) }

// path is the node's path from the root, for errors.
func (n *extNode) path() string {
	if n.parent == n {
		return "/"
	}
	return path.Join(n.parent.path(), n.name)
}

// setBits sets bits [from, to) of a bitmap.
func setBits(bitmap []byte, from, to uint32) {
	for i := from; i < to; i++ {
		bitmap[i/8] |= 1 << (i % 8)
	}
}
