#!/usr/bin/env python3
"""Rewrites fields of a muse-format(5) stream the way a hostile writer
would, then (unless told otherwise) recomputes every checksum, so that a
reader meets the claim itself and not a checksum mismatch first.  For
tests/limits.bats.

    streamedit.py IN OUT EDIT...
    streamedit.py --unpack IN      the payload of every block of every
                                   stream of IN, decompressed, to stdout

EDIT is one of
    nrec=N       the first data block's record count
    rawsz=N      the first data block's raw (decompressed) size
    size=N       the first data block's stored size (the payload is kept)
    records=N    the record count of the trailer and of the footer (store
                 or delta), and a delta footer's target record count
    nosums       leave the checksums as they are (after the edits)
Numbers may be given as 2**62 and the like.
"""
import struct
import subprocess
import sys

M64 = (1 << 64) - 1
P1, P2, P3, P4, P5 = (0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F,
                      0x165667B19E3779F9, 0x85EBCA77C2B2AE63,
                      0x27D4EB2F165667C5)


def rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & M64


def rnd(acc, v):
    acc = (acc + v * P2) & M64
    return (rotl(acc, 31) * P1) & M64


def xxh64(data, seed=0):
    n, i = len(data), 0
    if n >= 32:
        v = [(seed + P1 + P2) & M64, (seed + P2) & M64, seed,
             (seed - P1) & M64]
        while i + 32 <= n:
            for k in range(4):
                v[k] = rnd(v[k], struct.unpack_from('<Q', data, i)[0])
                i += 8
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) +
             rotl(v[3], 18)) & M64
        for k in range(4):
            h = (((h ^ rnd(0, v[k])) * P1) + P4) & M64
    else:
        h = (seed + P5) & M64
    h = (h + n) & M64
    while i + 8 <= n:
        h ^= rnd(0, struct.unpack_from('<Q', data, i)[0])
        h = (rotl(h, 27) * P1 + P4) & M64
        i += 8
    if i + 4 <= n:
        h ^= (struct.unpack_from('<I', data, i)[0] * P1) & M64
        h = (rotl(h, 23) * P2 + P3) & M64
        i += 4
    while i < n:
        h ^= (data[i] * P5) & M64
        h = (rotl(h, 11) * P1) & M64
        i += 1
    h ^= h >> 33
    h = (h * P2) & M64
    h ^= h >> 29
    h = (h * P3) & M64
    return h ^ (h >> 32)


def unpack(src):
    """Walks the streams of src (concatenated) by their block headers
    alone, without checking anything, and writes every payload, zstd
    frames decompressed with the zstd command."""
    b = open(src, 'rb').read()
    out = sys.stdout.buffer
    off = 0
    while off + 64 <= len(b) and b[off:off + 4] == b'\x8aMUS':
        off += 64
        while off + 24 <= len(b) and b[off] in b'BS':
            size = struct.unpack_from('<I', b, off + 12)[0]
            payload = b[off + 24:off + 24 + size]
            if b[off] == ord('B'):
                payload = subprocess.run(['zstd', '-dcq'], input=payload,
                                         stdout=subprocess.PIPE,
                                         check=True).stdout
            out.write(payload)
            off += 24 + size
        off += 32   # the trailer
    if off != len(b):
        sys.exit('streamedit: %s: not a sequence of streams (byte %d)'
                 % (src, off))


def main():
    if sys.argv[1] == '--unpack':
        unpack(sys.argv[2])
        return
    src, dst, edits = sys.argv[1], sys.argv[2], sys.argv[3:]
    b = bytearray(open(src, 'rb').read())
    blocks, off, trailer = [], 64, None
    while off < len(b):
        if b[off] == ord('E'):
            trailer = off
            break
        size = struct.unpack_from('<I', b, off + 12)[0]
        blocks.append(off)
        off += 24 + size
    if trailer is None or not blocks:
        sys.exit('streamedit: not a one-stream file with a block')
    first = blocks[0]
    footer = None
    for bo in blocks:
        size = struct.unpack_from('<I', b, bo + 12)[0]
        p = bo + 24
        if (b[bo] == ord('S') and size >= 64 and b[p] in (1, 2) and
                b[p + size - 8:p + size] == b'MUSEFOOT'):
            footer = p
    sums = True
    for ed in edits:
        if ed == 'nosums':
            sums = False
            continue
        name, val = ed.split('=')
        v = eval(val, {'__builtins__': {}})
        if name == 'nrec':
            struct.pack_into('<I', b, first + 4, v)
        elif name == 'rawsz':
            struct.pack_into('<I', b, first + 8, v)
        elif name == 'size':
            struct.pack_into('<I', b, first + 12, v)
        elif name == 'records':
            struct.pack_into('<Q', b, trailer + 8, v)
            if footer is not None:
                struct.pack_into('<Q', b, footer + 32, v)
                if b[footer] == 2:
                    struct.pack_into('<Q', b, footer + 80, v)
        else:
            sys.exit('streamedit: unknown edit ' + name)
    if sums:
        digest = bytearray()
        for bo in blocks:
            size = struct.unpack_from('<I', b, bo + 12)[0]
            if bo == first and 'size=' in ' '.join(edits):
                size = len(b)  # cannot recompute a lie about the size
                break
            s = xxh64(bytes(b[bo:bo + 16]) + bytes(b[bo + 24:bo + 24 + size]))
            struct.pack_into('<Q', b, bo + 16, s)
            digest += b[bo + 16:bo + 24]
        struct.pack_into('<Q', b, trailer + 16, xxh64(bytes(digest)))
        struct.pack_into('<Q', b, trailer + 24, xxh64(bytes(b[trailer:trailer + 24])))
    open(dst, 'wb').write(b)


main()
