#!/usr/bin/env python3
"""Writes a large test library: N tiny WAV files (0.05 s, 48 kHz stereo), each with its own
content, in subdirectories of 100 files, for timing Library::scan on 10,000 tracks.

    bench/make_library.py DIR N

Files are named DIR/dNNN/tNNNNN.wav. Existing files of the same name are overwritten.
"""

import argparse
import math
import struct
import sys
from pathlib import Path

RATE = 48000
FRAMES = RATE // 20  # 0.05 s
FILES_PER_DIRECTORY = 100


def wav_bytes(seed: int) -> bytes:
    # A tone whose pitch and phase depend on the seed: every file hashes differently.
    frequency = 200.0 + (seed % 5000) * 0.7
    samples = bytearray()
    for i in range(FRAMES):
        value = int(8000 * math.sin(2 * math.pi * frequency * i / RATE + seed))
        samples += struct.pack("<hh", value, value)
    data = bytes(samples)
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 2, RATE, RATE * 4, 4, 16)
    header += b"data" + struct.pack("<I", len(data))
    return header + data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("n", type=int)
    args = parser.parse_args()
    for seed in range(args.n):
        directory = args.dir / f"d{seed // FILES_PER_DIRECTORY:03}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"t{seed:05}.wav").write_bytes(wav_bytes(seed))
    print(f"{args.n} files in {args.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
