"""Shared pieces of the service benchmarks (bench/e2e.py, bench/coldstart.py, bench/bandwidth.py).

- `prepare_environment()`: fake AWS credentials and a local port for the fake Dropbox, set before
  the dropbox SDK is imported (it reads its hosts once, at import), as tests/conftest.py does.
- `photo_pool()`: real photos (local/sample_photos.py) as files of mixed formats and sizes, cached
  under the temp directory so that a run measures the pipeline, not the encoder.
- `Spans`: timing wrappers installed from outside around the app's boundaries (no app edits), and
  the arithmetic to turn what they saw into wall-clock shares.

Nothing here is a test: the scripts print figures.
"""
from __future__ import annotations

import functools
import os
import socket
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CACHE_VERSION = 1
# Sizes of the upscaled JPEGs; with the 8 variants() of each photo (0.1 to 0.9 MP, JPEG, PNG, WebP,
# EXIF-rotated) that is 14 files per photo, 140 in all.
UPSCALED_MEGAPIXELS = (0.3, 1, 2, 4, 8, 12)
VARIANT_KINDS = ("jpeg-q90", "jpeg-q70", "mirrored-q90", "smaller-q85", "png", "mirrored-webp",
                 "sideways-exif", "cropped-q92")
_EXTENSIONS = {b"\xff\xd8": "jpg", b"\x89P": "png", b"RI": "webp"}


# --- environment ---------------------------------------------------------------------------------

def prepare_environment() -> tuple[socket.socket, int]:
    """Fake AWS credentials; point the dropbox SDK at a free local port, as tests/conftest.py does.
    Returns (the socket holding the port, the port): close the socket right before the fake binds it."""
    from local.in_process import isolate_aws, point_sdk_at_free_port

    isolate_aws()
    hold = point_sdk_at_free_port()
    return hold, hold.getsockname()[1]


def quiet_logging() -> None:
    """The app logs one INFO line per photo; show warnings (retries) only, without the INFO cost of
    formatting and writing 500 lines to a terminal."""
    import logging

    handler = logging.StreamHandler()
    handler.setLevel(logging.WARNING)  # app.py sets chalicelib's loggers to INFO: filter at the handler
    handler.setFormatter(logging.Formatter("  [%(levelname)s %(name)s] %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])


def machine() -> str:
    import onnxruntime
    import PIL

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"machine: {os.cpu_count()} cores, load average {load:.1f} at start; Python "
            f"{sys.version.split()[0]}, onnxruntime {onnxruntime.__version__}, Pillow {PIL.__version__}")


# --- photos ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Photo:
    name: str          # the sample photo (local/sample_photos.py PHOTOS)
    kind: str          # which variant: "jpeg-q90", ..., "12MP"
    path: Path         # the cached file
    ext: str
    width: int
    height: int
    size: int          # bytes

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6

    def read(self) -> bytes:
        return self.path.read_bytes()


def cache_dir() -> Path:
    import PIL

    return Path(tempfile.gettempdir()) / f"image-categorizer-bench-v{CACHE_VERSION}-pillow{PIL.__version__}"


def _store(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # atomic: a concurrent run sees the whole file or none


def photo_pool(upscaled: Sequence[float] = UPSCALED_MEGAPIXELS, with_variants: bool = True) -> list[Photo]:
    """Every sample photo as its variants() and upscaled_jpeg()s, generated once and cached."""
    from PIL import Image

    from local import sample_photos

    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    variants = functools.cache(sample_photos.variants)  # encoded only when a file is missing
    pool = []
    for name in sample_photos.PHOTOS:
        wanted: list[tuple[str, Callable[[], bytes]]] = []
        if with_variants:
            for i, kind in enumerate(VARIANT_KINDS):
                wanted.append((kind, functools.partial(lambda n, i: variants(n)[i], name, i)))
        for mp in upscaled:
            wanted.append((f"{mp:g}MP", functools.partial(sample_photos.upscaled_jpeg, name, mp)))
        for kind, make in wanted:
            existing = sorted(folder.glob(f"{name}.{kind}.*"))
            if existing:
                path = existing[0]
            else:
                data = make()
                path = folder / f"{name}.{kind}.{_EXTENSIONS[data[:2]]}"
                _store(path, data)
            with Image.open(path) as header:
                width, height = header.size
            pool.append(Photo(name, kind, path, path.suffix[1:], width, height, path.stat().st_size))
    return pool


def spread(pool: Sequence[Photo], n: int) -> list[Photo]:
    """n photos cycling through the pool in a fixed interleaved order (every size early and often),
    so any n gets about the same mix; no randomness, so every run sees the same files."""
    by_kind: dict[str, list[Photo]] = defaultdict(list)
    for photo in pool:
        by_kind[photo.kind].append(photo)
    order = [p for group in zip(*by_kind.values()) for p in group]  # kind-major round robin
    return [order[i % len(order)] for i in range(n)]


def mix_summary(photos: Sequence[Photo]) -> str:
    buckets = [(0, 0.5, "< 0.5 MP"), (0.5, 1.5, "0.5-1.5 MP"), (1.5, 5, "1.5-5 MP"), (5, 100, ">= 5 MP")]
    parts = []
    for lo, hi, title in buckets:
        count = sum(lo <= p.megapixels < hi for p in photos)
        parts.append(f"{title}: {count}")
    formats = defaultdict(int)
    for p in photos:
        formats[p.ext] += 1
    mp = sum(p.megapixels for p in photos) / len(photos)
    mb = sum(p.size for p in photos) / len(photos) / 1e6
    return (f"{len(photos)} photos, mean {mp:.1f} MP and {mb:.2f} MB per file; " + ", ".join(parts)
            + "; " + ", ".join(f"{k} {v}" for k, v in sorted(formats.items())))


# --- timing at the boundaries ----------------------------------------------------------------------

class Spans:
    """Timing wrappers around functions and methods, each call recorded as (category, op, start, end).

    A wrapper times what the caller waits for, including time in other threads of this process
    (the fake Dropbox and moto run in-process too). Categories are added up as wall-clock unions:
    the time during which at least one call of the category was in flight, so 8 parallel downloads
    of 0.1 s in the same 0.1 s count 0.1 s.
    """

    def __init__(self) -> None:
        self.records: list[tuple[str, str, float, float]] = []
        self._undo: list[tuple[object, str, object]] = []
        self.enabled = True

    def wrap(self, owner: object, attr: str, category: str | Callable[..., str | None],
             op: str | None = None) -> None:
        """Replace owner.attr with a timed version. `category` may be a function of the call's
        arguments, returning the category or None to leave that call out."""
        original = getattr(owner, attr)
        records, name = self.records, op or attr

        @functools.wraps(original)
        def timed(*args, **kwargs):
            if not self.enabled:
                return original(*args, **kwargs)
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                end = time.perf_counter()
                if callable(category):
                    found = category(*args, **kwargs)
                    if found is not None:
                        records.append((found[0], found[1], start, end) if isinstance(found, tuple)
                                       else (found, name, start, end))
                else:
                    records.append((category, name, start, end))

        setattr(owner, attr, timed)
        self._undo.append((owner, attr, original))

    def restore(self) -> None:
        for owner, attr, original in reversed(self._undo):
            setattr(owner, attr, original)
        self._undo.clear()

    def clear(self) -> None:
        self.records.clear()

    def of(self, categories: Iterable[str], t0: float, t1: float) -> list[tuple[float, float]]:
        wanted = set(categories)
        return [(max(s, t0), min(e, t1)) for c, _, s, e in list(self.records) if c in wanted and e > t0 and s < t1]

    def calls(self, category: str) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for c, op, _, _ in list(self.records):
            if c == category:
                counts[op] += 1
        return dict(counts)

    def summed(self, category: str) -> float:
        return sum(e - s for c, _, s, e in list(self.records) if c == category)


def union(intervals: Iterable[tuple[float, float]]) -> float:
    """Total length covered by at least one interval."""
    total, end = 0.0, float("-inf")
    for s, e in sorted(intervals):
        if e <= end:
            continue
        total += e - max(s, end)
        end = e
    return total


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], aligns: str | None = None) -> str:
    """A plain-text table; `aligns` is one of '<' or '>' per column (default: first left, rest right)."""
    aligns = aligns or "<" + ">" * (len(headers) - 1)
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(f"{c:{a}{w}}" for c, a, w in zip(row, aligns, widths)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


_print_lock = threading.Lock()


def say(*parts: object) -> None:
    with _print_lock:
        print(*parts, flush=True)
