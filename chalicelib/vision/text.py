"""Text in a photo, and the marks of a screen capture: what decides "document" and "screenshot"
(model/concepts.json).

The bundled PP-OCRv4 text detector (ONNX) gives, for each pixel, how likely it is text. Rows
holding text are grouped into bands, one per line of text; a page or a dialog has many, a photo
with a sign or a logo has a few. A screen capture is told apart by its pixels: large areas of one
exact colour (window and page backgrounds), and no camera named in its EXIF. A photo of a scene
has few equal pixels and is not read at all. The model loads on first use, only when a
configured class needs text.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from chalicelib.rules.text_rules import FLAT, Text
from chalicelib.vision.bundled_model import detector_session

# Longest side the detector sees: lines of text must stay about 6 px high. A photo's text (a sign,
# a page photographed) is large; a screen's is 10-16 px at full size, so a computer-made image
# is seen at twice the side, at four times the cost (model/README.md).
PHOTO_SIDE = 480
SCREEN_SIDE = 960
TEXT_PROBABILITY = 0.3
MIN_LINE_ROWS = 3        # a band of text rows thinner than this is noise
MIN_ROW_PIXELS = 4       # a row holds text when this many of its pixels do
FLAT_SIDE = 256          # colours are counted on a nearest-neighbour thumbnail of this side
FLAT_COLOURS = 4         # a screen's few background colours cover most of it
EXIF_MAKE, EXIF_MODEL = 0x010F, 0x0110
MEAN = STD = 0.5
# Below this flat share an image is a photo of a scene, and the detector does not run: on the tune
# set every screenshot and page is at 0.36 or more, and 22 of 28 photos under it (model/README.md).
SCENE_FLAT = 0.3


class TextDetector:
    def __init__(self, path: Path, threads: int = 1):
        self._session = detector_session(path, threads)
        self._input = self._session.get_inputs()[0].name

    def read(self, glance: Image.Image, full: Callable[[], Image.Image], camera: bool) -> Text:
        """The lines of text in a photo, and the marks of a screen capture. `glance` is the photo
        decoded small (enough for its colours); `full` decodes it large enough to read, and is only
        called for an image that is not a photo of a scene."""
        flat = flat_share(glance)
        aspect = glance.height / glance.width
        if flat < SCENE_FLAT:
            return Text(lines=0, share=0.0, flat=flat, camera=camera, aspect=aspect)
        image = full()
        scale = min(1.0, (SCREEN_SIDE if flat >= FLAT else PHOTO_SIDE) / max(image.size))
        width, height = (max(32, round(side * scale / 32) * 32) for side in image.size)
        pixels = np.asarray(image.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)
        pixels = (pixels / 255.0 - MEAN) / STD
        probability = self._session.run(None, {self._input: pixels.transpose(2, 0, 1)[None]})[0][0, 0]
        text = probability > TEXT_PROBABILITY
        return Text(lines=_bands(text.sum(axis=1) >= MIN_ROW_PIXELS), share=float(text.mean()),
                    flat=flat, camera=camera, aspect=aspect)


def _bands(rows: np.ndarray) -> int:
    """How many runs of at least MIN_LINE_ROWS consecutive True rows."""
    edges = np.diff(np.concatenate([[0], rows.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int(np.count_nonzero(ends - starts >= MIN_LINE_ROWS))


def flat_share(image: Image.Image) -> float:
    """Share of the image in its FLAT_COLOURS most common exact colours: near 1 for a screen
    capture or a rendered page, low for a photo, whose sensor noise leaves few equal pixels.
    Colours are compared at 5 bits a channel, which JPEG's small errors do not cross."""
    scale = min(1.0, FLAT_SIDE / max(image.size))
    thumb = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                         Image.Resampling.NEAREST)
    rgb = np.asarray(thumb, dtype=np.uint32) >> 3
    codes = (rgb[..., 0] << 10) | (rgb[..., 1] << 5) | rgb[..., 2]
    counts = np.bincount(codes.ravel(), minlength=1 << 15)
    return float(np.sort(counts)[-FLAT_COLOURS:].sum() / codes.size)


def camera_named(image: Image.Image) -> bool:
    """True when the EXIF names the camera (make or model) that took the photo."""
    exif = image.getexif()
    return bool(exif.get(EXIF_MAKE) or exif.get(EXIF_MODEL))


_lock = threading.Lock()
_loaded: dict[Path, TextDetector] = {}


def load(path: Path) -> TextDetector:
    """The process-wide detector for `path`, created on first call (thread-safe)."""
    with _lock:
        if path not in _loaded:
            _loaded[path] = TextDetector(path)
        return _loaded[path]
