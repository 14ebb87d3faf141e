"""What sorting a RAW file on its own costs beyond a JPEG: finding its embedded preview.

    .venv/bin/python -m bench.raw_preview

A RAW file (local/sample_photos.raw_file: TIFF/EP layout, a thumbnail, lossless sensor data and
the full JPEG preview) padded to a camera's size with noise that holds a false JPEG start every
MB (compressed sensor data begins JPEG-like by chance now and then). Printed per size: the median
time to find the preview (photo_files.raw_preview) against the baseline of decoding that preview
with Pillow, which classifying it costs anyway, and their ratio.
"""
from __future__ import annotations

import io
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from chalicelib.rules.photo_files import raw_preview  # noqa: E402
from local.sample_photos import raw_file  # noqa: E402


def padded(raw: bytes, megabytes: int) -> bytes:
    noise = bytearray(np.random.default_rng(1).bytes(megabytes * 1_000_000))
    for at in range(0, len(noise), 1_000_000):
        noise[at:at + 3] = b"\xff\xd8\xff"
    half = len(noise) // 2
    return bytes(noise[:half]) + raw + bytes(noise[half:])


def median_ms(work, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    raw = raw_file("chelsea", preview_size=(4000, 3000))  # a 12 MP camera's preview
    print(f"{'RAW size':>10} {'find preview':>13} {'decode preview':>15} {'ratio':>6}")
    for megabytes in (0, 25, 60):
        data = padded(raw, megabytes) if megabytes else raw
        preview = raw_preview(data)
        assert preview is not None
        find = median_ms(lambda: raw_preview(data))
        decode = median_ms(lambda: Image.open(io.BytesIO(preview)).convert("RGB"))
        print(f"{len(data) / 1e6:>8.1f} MB {find:>10.2f} ms {decode:>12.2f} ms {find / decode:>6.2f}")


if __name__ == "__main__":
    main()
