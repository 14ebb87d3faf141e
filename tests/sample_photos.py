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
# Classes that match none of the photos: everything should come out unsorted.
UNRELATED_CLASSES = ["fish", "musical instrument", "insect"]


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


@cache
def jpeg(name: str, quality: int = 90) -> bytes:
    """The photo as JPEG bytes, as a camera or phone would upload it."""
    return encode(image(name).convert("RGB"), "JPEG", quality=quality)


def upscaled_jpeg(name: str, megapixels: float, quality: int = 90) -> bytes:
    """A large JPEG made by upscaling a real photo (for size and speed tests)."""
    picture = image(name).convert("RGB")
    scale = (megapixels * 1e6 / (picture.width * picture.height)) ** 0.5
    size = (round(picture.width * scale), round(picture.height * scale))
    return encode(picture.resize(size, Image.Resampling.BILINEAR), "JPEG", quality=quality)
