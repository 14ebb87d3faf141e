"""Which files are photos to sort, how large one may be, and why one cannot be sorted; which
files go with a photo (a Live Photo's video, a RAW beside its JPEG, an edit's sidecar) and which
are videos; a RAW file's embedded JPEG preview.

Light on purpose (no numpy, no PIL): the webhook decides what to queue with this alone, so its
cold start never pays for the image libraries.
"""
from __future__ import annotations

import hashlib
import struct
from pathlib import PurePosixPath
from typing import Literal

# Refused before decoding: a photo bigger than these is a mistake or an attack, not a photo.
MAX_BYTES = 50 * 1024 * 1024
MAX_PIXELS = 100_000_000

# A RAW file is read whole to find its preview; cameras write 20-80 MB ones.
MAX_RAW_BYTES = 200 * 1024 * 1024

# Dropbox hashes a file in blocks of this size (content_hash).
HASH_BLOCK_BYTES = 4 * 1024 * 1024

IMAGE_EXTENSIONS = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".gif", ".bmp", ".dib",
    ".tif", ".tiff", ".heic", ".heif", ".hif", ".avif",
})
# Camera RAW formats: each holds the sensor data and (nearly always) a full-size JPEG preview.
RAW_EXTENSIONS = frozenset({
    ".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".orf", ".rw2", ".raf",
    ".pef", ".srw", ".rwl", ".3fr", ".erf", ".kdc", ".mrw", ".x3f", ".iiq",
})
VIDEO_EXTENSIONS = frozenset({
    ".mov", ".mp4", ".m4v", ".3gp", ".avi", ".mkv", ".webm", ".mts", ".m2ts", ".mpg", ".mpeg", ".wmv",
})
# Files that only ever go with a photo: an iPhone edit (.aae), an editor's metadata (.xmp).
SIDECAR_EXTENSIONS = frozenset({".aae", ".xmp"})

Kind = Literal["photo", "raw", "video", "sidecar"]


class ImageError(ValueError):
    """A file that cannot be classified; `reason` is a stable short code for records and APIs."""

    reason = "bad_image"


class EmptyImage(ImageError):
    reason = "empty"


class ImageTooLarge(ImageError):
    reason = "too_large"


class DecompressionBomb(ImageError):
    reason = "too_many_pixels"


class NotAnImage(ImageError):
    reason = "not_an_image"


class CorruptImage(ImageError):
    reason = "corrupt"


class NoPreview(ImageError):
    """A RAW file without an embedded JPEG to sort it by."""

    reason = "no_preview"


class NotAPhoto(ImageError):
    """Skipped by its name alone, without reading it."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def is_image_name(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in IMAGE_EXTENSIONS


def kind_of(name: str) -> Kind | None:
    """What a file is by its extension: a photo to classify, a RAW, a video, a sidecar, or None."""
    suffix = PurePosixPath(name).suffix.lower()
    for kind, extensions in (("photo", IMAGE_EXTENSIONS), ("raw", RAW_EXTENSIONS), ("video", VIDEO_EXTENSIONS),
                             ("sidecar", SIDECAR_EXTENSIONS)):
        if suffix in extensions:
            return kind  # type: ignore[return-value]
    return None


def pair_key(path: str) -> str:
    """What the files of one shot share: the folder and the name without its extension, in any
    case ("/All/IMG_1.HEIC" and "/all/img_1.mov" -> "/all/img_1")."""
    pure = PurePosixPath(path)
    return str(pure.parent / pure.stem).casefold()


def not_a_photo(path: str) -> ImageError | None:
    """Why the file at `path` (relative to the inbox or absolute) is no photo to sort, or None.

    Hidden files and folders ("._x.jpg" AppleDouble files, thumbnail caches) are not photos, in
    Dropbox as in a local folder; neither is a file without an image extension.
    """
    return not_sortable(path, ("photo",))


def not_sortable(path: str, kinds: tuple[Kind, ...] = ("photo", "raw", "video", "sidecar")) -> ImageError | None:
    """Why the file at `path` is none of `kinds` (by default, anything sorting handles), or None."""
    parts = PurePosixPath(path).parts
    if any(part.startswith(".") for part in parts if part != "/"):
        return NotAPhoto("hidden", "a hidden file (its name or a folder's starts with '.')")
    if kind_of(path) not in kinds:
        return NotAPhoto("not_an_image_file", "not an image file (by its extension)")
    return None


def companions(paths: list[str]) -> dict[str, str]:
    """Of files listed together, each that goes with another of the same name (a video, a RAW or
    a sidecar beside a JPEG or HEIC; a video or sidecar beside a RAW), mapped to that one's path:
    the photo its shot is sorted by. A RAW with no photo beside it is sorted by its own preview."""
    leads: dict[str, str] = {}
    for path in paths:
        if kind_of(path) in ("photo", "raw"):
            key = pair_key(path)
            if key not in leads or _lead_order(path) < _lead_order(leads[key]):
                leads[key] = path
    return {path: leads[key] for path in paths
            if kind_of(path) in ("raw", "video", "sidecar") and leads.get(key := pair_key(path), path) != path}


def _lead_order(path: str) -> tuple[int, str]:
    """A shot's photo leads it before its RAW; of two photos (IMG_1.HEIC, IMG_1.JPG), the first by name."""
    return (0 if kind_of(path) == "photo" else 1, path)


def too_large(size: int, max_bytes: int | None = None) -> ImageTooLarge | None:
    """The one size check, before a byte is read: over the limit, the file is left where it is."""
    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    if size > max_bytes:
        return ImageTooLarge(f"the file has {size} bytes, over the {max_bytes // 2**20} MiB limit")
    return None


def content_hash(data: bytes) -> str:
    """Dropbox's content_hash of a file's bytes (the SHA-256 of its 4 MiB blocks' SHA-256s), so a
    local folder tells exact copies the way Dropbox does."""
    blocks = (hashlib.sha256(data[i:i + HASH_BLOCK_BYTES]).digest() for i in range(0, len(data), HASH_BLOCK_BYTES))
    return hashlib.sha256(b"".join(blocks)).hexdigest()


def preview_of(raw: bytes) -> bytes:
    """What a RAW file is sorted and learned by: its embedded preview (raw_preview); NoPreview
    when it has none."""
    preview = raw_preview(raw)
    if preview is None:
        raise NoPreview("a RAW file without an embedded JPEG preview to sort it by")
    return preview


def raw_preview(data: bytes, max_candidates: int = 1024) -> bytes | None:
    """The largest JPEG a RAW file embeds (its preview; most cameras write a full-size one), or
    None. Found by its markers alone, so it serves every RAW format: lossless JPEGs (sensor data in
    some formats) are passed over, as Pillow cannot decode them. The candidates looked at and the
    segments walked in each are bounded, so a file crafted to look like many JPEGs costs little."""
    best: tuple[int, int, int] | None = None  # (pixels, start, end)
    start = data.find(b"\xff\xd8\xff")
    for _ in range(max_candidates):
        if start < 0:
            break
        found = _jpeg_at(data, start)
        if found is not None and (best is None or found[0] > best[0]):
            best = (found[0], start, found[1])
        start = data.find(b"\xff\xd8\xff", start + 3)
    return data[best[1]:best[2]] if best is not None else None


def _jpeg_at(data: bytes, start: int) -> tuple[int, int] | None:
    """The pixels and end of a baseline or progressive JPEG starting at `start`, by walking its
    segments to its first scan, then to its end marker; None when it is none or cut short."""
    at, pixels, tables = start + 2, 0, False
    for _ in range(MAX_HEADER_SEGMENTS):
        if at + 4 > len(data) or data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker not in _HEADER_MARKERS:
            return None  # lossless or hierarchical (not a preview), or bytes that only began like a JPEG
        length = struct.unpack(">H", data[at + 2:at + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2) and at + 9 <= len(data):
            height, width = struct.unpack(">HH", data[at + 5:at + 9])
            pixels = width * height
        tables = tables or marker == 0xDB
        if marker == 0xDA:  # the first scan: what follows ends at the end marker
            end = data.find(b"\xff\xd9", at + 2 + length)
            return (pixels, end + 2) if pixels and tables and end >= 0 else None
        at += 2 + length
    return None


MAX_HEADER_SEGMENTS = 100  # cameras write fewer than 30 before the first scan
# What a baseline or progressive JPEG's header holds: APPn, comments, quantisation and Huffman
# tables, restart interval, its frame (SOF0-2) and its first scan.
_HEADER_MARKERS = frozenset({*range(0xE0, 0xF0), 0xFE, 0xDB, 0xC4, 0xDD, 0xC0, 0xC1, 0xC2, 0xDA})
