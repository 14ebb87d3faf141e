"""Turn the bytes of a photo into the model's input tensor, or a typed error saying why not.

Preprocessing follows how EfficientNet-Lite was trained (TensorFlow's reference pipeline, from
which the weights were converted): centre crop of 87.5 % of the shorter side, bicubic resize to
224 x 224, then (x - 127.5) / 127.5 per channel. model/README.md records the measurements behind
this choice.
"""
from __future__ import annotations

import io
import warnings
from functools import cache

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from chalicelib.rules.photo_files import (
    MAX_BYTES,
    MAX_PIXELS,
    CorruptImage,
    DecompressionBomb,
    EmptyImage,
    NotAnImage,
    too_large,
)

INPUT_SIZE = 224
CROP_FRACTION = 0.875
MEAN = 127.5
STD = 127.5
RESAMPLE = Image.Resampling.BICUBIC


@cache
def _register_heif() -> None:
    # Imported on first decode, not at import, so routes that never decode stay light.
    import pillow_heif

    pillow_heif.register_heif_opener()


def open_image(data: bytes, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open (header only) and check the limits; raises an ImageError subclass."""
    if not data:
        raise EmptyImage("the file is empty")
    if (error := too_large(len(data), max_bytes)) is not None:
        raise error
    _register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as e:
        raise DecompressionBomb(str(e)) from None
    except UnidentifiedImageError:
        raise NotAnImage("the file is not an image in a known format") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise CorruptImage(f"the image header is broken: {e}") from None
    width, height = image.size
    if width * height > max_pixels:
        raise DecompressionBomb(f"the image has {width}x{height} pixels, over the limit of {max_pixels}")
    if width == 0 or height == 0:
        raise CorruptImage("the image has no pixels")
    return image


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit and float greyscale: scale to 8 bits ourselves; Pillow's convert clips at 255.
        values = np.asarray(image, dtype=np.float32)
        top = 65535.0 if image.mode != "F" else max(float(values.max()), 1e-6)
        image = Image.fromarray(np.clip(values / top * 255.0, 0, 255).astype(np.uint8), "L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # Transparent areas read as white, as a viewer shows them.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB")


def load_rgb(data: bytes, min_side: int = INPUT_SIZE, max_bytes: int = MAX_BYTES,
             max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode to an upright RGB image whose shorter side is at least `min_side` where possible."""
    image = open_image(data, max_bytes, max_pixels)
    try:
        if image.format == "JPEG":
            # DCT-domain downscaling: a 12 MP JPEG decodes at 1/8 size, several times faster.
            image.draft("RGB", (min_side, min_side))
        image.seek(0)  # first frame of an animation
        image = ImageOps.exif_transpose(image)
        return _to_rgb(image)
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise CorruptImage(f"the image data is broken: {e}") from None


def preprocess(data: bytes, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Photo bytes -> float32 array (3, 224, 224), normalised for the model."""
    crop_side = round(INPUT_SIZE / CROP_FRACTION)
    image = load_rgb(data, crop_side, max_bytes, max_pixels)
    width, height = image.size
    side = min(width, height) * CROP_FRACTION
    left, top = (width - side) / 2, (height - side) / 2
    image = image.resize((INPUT_SIZE, INPUT_SIZE), RESAMPLE,
                         box=(left, top, left + side, top + side), reducing_gap=3.0)
    pixels = np.asarray(image, dtype=np.float32)
    return ((pixels - MEAN) / STD).transpose(2, 0, 1)
