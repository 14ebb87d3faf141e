"""Real photos that ship inside packages (scikit-image, scikit-learn, matplotlib), as encoded files.

Shared by the tests, the benchmarks and the model build, which all need the same labelled photos.
"""
from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

# What a person sees in each photo. None: nothing a photo classifier should name with confidence.
PHOTOS = {
    "chelsea": "a tabby cat",
    "coffee": "a cup of coffee",
    "rocket": "a rocket on its launch pad",
    "astronaut": "a portrait of an astronaut",
    "motorcycle": "a motorcycle",
    "china": "a Chinese temple",
    "flower": "a flower",
    "grace_hopper": "a portrait in uniform",
    "camera": "a photographer with a tripod (greyscale)",
    "hubble": "a deep field of galaxies",
}

# The photos of people (each shows one face).
PEOPLE = ["astronaut", "grace_hopper", "camera"]

# The five-class scenario: where a person would put each photo.
SCENARIO_CLASSES = ["cat", "food", "vehicle", "building", "flower"]
SCENARIO_EXPECTED = {
    "chelsea": "cat",
    "coffee": "food",
    "rocket": "vehicle",
    "motorcycle": "vehicle",
    "china": "building",
    "flower": "flower",
    "astronaut": None,
    "grace_hopper": None,
    "camera": None,
    "hubble": None,
}
# Photos whose every variant() the model places well away from the default threshold (rocket,
# flower and astronaut sit near it, so a re-encode can flip them): for tests of the plumbing.
CLEAR_CUT = ["chelsea", "coffee", "motorcycle", "china", "grace_hopper", "camera", "hubble"]
# Classes that match none of the photos: everything should come out unsorted.
UNRELATED_CLASSES = ["fish", "musical instrument", "insect"]


# Photos from Debian's lxqt-themes, which `make system-packages` installs: Valendas.png is a
# landscape (mountain ridges), cloud.png a blue sky with clouds, flowers.png meadow flowers.
WALLPAPERS = Path("/usr/share/lxqt/wallpapers")
LANDSCAPE = WALLPAPERS / "Valendas.png"


def wallpaper(name: str) -> bytes:
    path = WALLPAPERS / name
    if not path.exists():
        raise RuntimeError(f"{path} is missing: run `make system-packages` (Debian package lxqt-themes)")
    return path.read_bytes()


def landscape() -> bytes:
    return wallpaper(LANDSCAPE.name)


def _skimage(name: str) -> np.ndarray:
    import skimage.data

    return getattr(skimage.data, name)()


def _sklearn(name: str) -> np.ndarray:
    from sklearn.datasets import load_sample_image

    return load_sample_image(name)


@cache
def _sources() -> dict[str, Path | np.ndarray]:
    import matplotlib.cbook

    return {
        "chelsea": _skimage("chelsea"),
        "coffee": _skimage("coffee"),
        "rocket": _skimage("rocket"),
        "astronaut": _skimage("astronaut"),
        "motorcycle": _skimage("stereo_motorcycle")[0],
        "china": _sklearn("china.jpg"),
        "flower": _sklearn("flower.jpg"),
        "grace_hopper": Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)),
        "camera": _skimage("camera"),
        "hubble": _skimage("hubble_deep_field"),
    }


def image(name: str) -> Image.Image:
    """The photo as a Pillow image (RGB or L)."""
    source = _sources()[name]
    if isinstance(source, Path):
        with Image.open(source) as opened:
            return opened.convert("RGB")
    return Image.fromarray(source)


def encode(picture: Image.Image, fmt: str = "JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def crop(name: str, box: tuple[float, float, float, float], quality: int = 85) -> bytes:
    """Part of a photo (left, top, right, bottom as fractions) as JPEG: another shot of the same
    subject, as the examples of a class are."""
    picture = image(name)
    w, h = picture.size
    left, top, right, bottom = box
    return encode(picture.crop((round(left * w), round(top * h), round(right * w), round(bottom * h))).convert("RGB"),
                  "JPEG", quality=quality)


# Three shots of a subject for a class's examples, and a fourth for the photo to sort.
EXAMPLE_CROPS = [(0, 0, 0.75, 0.75), (0.25, 0, 1, 0.75), (0, 0.25, 0.75, 1)]
NEW_CROP = (0.125, 0.125, 0.875, 0.875)


@cache
def jpeg(name: str, quality: int = 90) -> bytes:
    """The photo as JPEG bytes, as a camera or phone would upload it."""
    return encode(image(name).convert("RGB"), "JPEG", quality=quality)


@cache
def dated_jpeg(name: str, taken: str, quality: int = 90) -> bytes:
    """The photo as JPEG bytes with an EXIF DateTimeOriginal (`taken`, "2019:05:04 10:00:00"), as a
    camera writes it."""
    exif = Image.Exif()
    exif.get_ifd(0x8769)[36867] = taken  # the Exif IFD's DateTimeOriginal
    return encode(image(name).convert("RGB"), "JPEG", quality=quality, exif=exif)


def upscaled_jpeg(name: str, megapixels: float, quality: int = 90) -> bytes:
    """A large JPEG made by upscaling a real photo (for size and speed tests)."""
    picture = image(name).convert("RGB")
    scale = (megapixels * 1e6 / (picture.width * picture.height)) ** 0.5
    size = (round(picture.width * scale), round(picture.height * scale))
    return encode(picture.resize(size, Image.Resampling.BILINEAR), "JPEG", quality=quality)


def variants(name: str) -> list[bytes]:
    """Distinct files of one photo, as a phone, an editor or a screenshot tool would save it."""
    picture = image(name).convert("RGB")
    mirrored = picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    smaller = picture.resize((picture.width * 4 // 5, picture.height * 4 // 5), Image.Resampling.LANCZOS)
    # Stored sideways with an EXIF orientation tag, as phones do.
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways = encode(picture.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=90, exif=exif.tobytes())
    w, h = picture.size
    cropped = picture.crop((w // 20, h // 20, w - w // 20, h - h // 20))
    return [jpeg(name), encode(picture, "JPEG", quality=70), encode(mirrored, "JPEG", quality=90),
            encode(smaller, "JPEG", quality=85), encode(picture, "PNG"), encode(mirrored, "WEBP", quality=85),
            sideways, encode(cropped, "JPEG", quality=92)]


def raw_file(name: str, preview: bool = True, preview_size: tuple[int, int] | None = None) -> bytes:
    """A camera RAW file of the photo, laid out as TIFF/EP RAW formats are (NEF, ORF, PEF, DNG):
    a TIFF header, an IFD describing 12-bit sensor data (noise here: no sensor took it), a 160x120
    JPEG thumbnail, and (with `preview`) the full-size JPEG preview the camera embeds, pointed at
    by JPEGInterchangeFormat as in those formats (`preview_size`: scaled to a camera's, e.g.
    (4000, 3000); default the photo's own). The sensor data is stored as a lossless JPEG
    stream's markers would begin (FFD8 FFC3), as CR2 does, so a reader must pass it over."""
    import struct

    picture = image(name).convert("RGB")
    thumbnail = encode(picture.resize((160, 120)), "JPEG", quality=75)
    full = encode(picture.resize(preview_size) if preview_size else picture, "JPEG", quality=92) if preview else b""
    sensor = b"\xff\xd8\xff\xc3\x00\x0b\x0c\x00\x10\x00\x10\x01\x01\x11\x00" + np.random.default_rng(1).bytes(200_000)
    blobs = [thumbnail, sensor, full]
    header_and_ifd = 8 + 2 + 12 * 6 + 4
    offsets, at = [], header_and_ifd
    for blob in blobs:
        offsets.append(at)
        at += len(blob)
    entries = [(256, 4, 1, picture.width), (257, 4, 1, picture.height), (259, 3, 1, 7),  # width, height, JPEG
               (273, 4, 1, offsets[1]),  # StripOffsets: the sensor data
               (513, 4, 1, offsets[2] if preview else offsets[0]),  # JPEGInterchangeFormat: the preview
               (514, 4, 1, len(full) if preview else len(thumbnail))]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *entry) for entry in entries)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + b"".join(blobs)
