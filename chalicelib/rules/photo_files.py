"""Which files are photos to sort, how large one may be, and why one cannot be sorted.

Light on purpose (no numpy, no PIL): the webhook decides what to queue with this alone, so its
cold start never pays for the image libraries.
"""
from __future__ import annotations

import hashlib
from pathlib import PurePosixPath

# Refused before decoding: a photo bigger than these is a mistake or an attack, not a photo.
MAX_BYTES = 50 * 1024 * 1024
MAX_PIXELS = 100_000_000

# Dropbox hashes a file in blocks of this size (content_hash).
HASH_BLOCK_BYTES = 4 * 1024 * 1024

IMAGE_EXTENSIONS = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".gif", ".bmp", ".dib",
    ".tif", ".tiff", ".heic", ".heif", ".hif", ".avif",
})


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


class NotAPhoto(ImageError):
    """Skipped by its name alone, without reading it."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def is_image_name(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in IMAGE_EXTENSIONS


def not_a_photo(path: str) -> ImageError | None:
    """Why the file at `path` (relative to the inbox or absolute) is no photo to sort, or None.

    Hidden files and folders ("._x.jpg" AppleDouble files, thumbnail caches) are not photos, in
    Dropbox as in a local folder; neither is a file without an image extension.
    """
    parts = PurePosixPath(path).parts
    if any(part.startswith(".") for part in parts if part != "/"):
        return NotAPhoto("hidden", "a hidden file (its name or a folder's starts with '.')")
    if not is_image_name(path):
        return NotAPhoto("not_an_image_file", "not an image file (by its extension)")
    return None


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
