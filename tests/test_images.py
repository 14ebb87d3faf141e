"""Decoding: every supported format and mode, EXIF orientation, and a typed error for bad input."""
import io

import numpy as np
import pytest
from PIL import Image

from chalicelib.rules import photo_files
from chalicelib.vision import images
from chalicelib.vision.classifier import Classifier
from local import sample_photos


@pytest.fixture(scope="module")
def classifier():
    return Classifier.load()


@pytest.fixture(scope="module")
def chelsea():
    return sample_photos.image("chelsea")


def classify(classifier, data):
    return classifier.classify(data, ["cat", "dog", "truck"])


# --- bad input: a typed error, raised before any expensive work --------------------------------

def test_empty_file(classifier):
    with pytest.raises(photo_files.EmptyImage):
        classify(classifier, b"")


def test_truncated_jpeg(classifier):
    data = sample_photos.jpeg("chelsea")
    with pytest.raises(photo_files.CorruptImage) as raised:
        classify(classifier, data[: len(data) // 2])
    assert raised.value.reason == "corrupt"


def test_corrupt_jpeg_body(classifier):
    data = bytearray(sample_photos.jpeg("chelsea"))
    data[200:] = bytes(len(data) - 200)  # header kept, scan data zeroed
    with pytest.raises(photo_files.CorruptImage):
        classify(classifier, bytes(data))


@pytest.mark.parametrize("data", [b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n", b"just some text\n" * 50])
def test_not_an_image(classifier, data):
    with pytest.raises(photo_files.NotAnImage) as raised:
        classify(classifier, data)
    assert raised.value.reason == "not_an_image"


def test_decompression_bomb_is_refused_from_the_header():
    # 30000 x 30000 one-bit PNG: a few KB on disk, 900 MP decoded.
    bomb = sample_photos.encode(Image.new("1", (30000, 30000)), "PNG")
    assert len(bomb) < 200_000
    with pytest.raises(photo_files.DecompressionBomb) as raised:
        images.preprocess(bomb)
    assert raised.value.reason == "too_many_pixels"


def test_pixel_cap_is_configurable(chelsea):
    with pytest.raises(photo_files.DecompressionBomb, match="over the limit of 1000"):
        images.preprocess(sample_photos.encode(chelsea, "PNG"), max_pixels=1000)


def test_file_over_the_size_cap(classifier):
    with pytest.raises(photo_files.ImageTooLarge) as raised:
        classify(classifier, b"\xff\xd8" + bytes(photo_files.MAX_BYTES))
    assert raised.value.reason == "too_large"


# --- formats and modes ---------------------------------------------------------------------------

def heic(picture):
    import pillow_heif

    pillow_heif.register_heif_opener()
    return sample_photos.encode(picture, "HEIF", quality=90)


@pytest.mark.parametrize("encode", [
    lambda p: sample_photos.encode(p, "JPEG", quality=90),
    lambda p: sample_photos.encode(p, "PNG"),
    lambda p: sample_photos.encode(p, "WEBP", quality=90),
    lambda p: sample_photos.encode(p, "GIF"),
    lambda p: sample_photos.encode(p, "BMP"),
    lambda p: sample_photos.encode(p, "TIFF"),
    heic,
    lambda p: sample_photos.encode(p, "AVIF", quality=90),
], ids=["jpeg", "png", "webp", "gif", "bmp", "tiff", "heic", "avif"])
def test_every_format_is_read(classifier, chelsea, encode):
    assert classify(classifier, encode(chelsea)).label == "cat"


def test_gif_uses_the_first_frame(classifier, chelsea):
    buffer = io.BytesIO()
    chelsea.save(buffer, "GIF", save_all=True, append_images=[sample_photos.image("coffee")])
    assert Image.open(io.BytesIO(buffer.getvalue())).n_frames == 2
    assert classify(classifier, buffer.getvalue()).label == "cat"


@pytest.mark.parametrize("mode", ["RGBA", "P", "L", "CMYK", "LA", "1"])
def test_every_mode_becomes_rgb(classifier, chelsea, mode):
    fmt = "TIFF" if mode == "CMYK" else "PNG"
    data = sample_photos.encode(chelsea.convert(mode), fmt)
    assert images.preprocess(data).shape == (3, 224, 224)
    if mode in ("RGBA", "P", "CMYK"):
        assert classify(classifier, data).label == "cat"


def test_sixteen_bit_greyscale_is_scaled_not_clipped(chelsea):
    grey = np.asarray(chelsea.convert("L"), dtype=np.uint16)
    sixteen = sample_photos.encode(Image.fromarray(grey * 257), "PNG")
    assert Image.open(io.BytesIO(sixteen)).mode.startswith("I")
    eight = sample_photos.encode(Image.fromarray(grey.astype(np.uint8)), "PNG")
    assert np.abs(images.preprocess(sixteen) - images.preprocess(eight)).max() < 0.02


def test_transparency_reads_as_white():
    clear = sample_photos.encode(Image.new("RGBA", (300, 300), (0, 0, 0, 0)), "PNG")
    assert np.allclose(images.preprocess(clear), 1.0)


# --- orientation and speed ------------------------------------------------------------------------

@pytest.mark.parametrize("orientation, stored", [(6, Image.Transpose.ROTATE_90), (8, Image.Transpose.ROTATE_270),
                                                 (3, Image.Transpose.ROTATE_180)])
def test_exif_orientation_is_honoured(classifier, chelsea, orientation, stored):
    exif = Image.Exif()
    exif[0x0112] = orientation
    rotated = sample_photos.encode(chelsea.transpose(stored), "JPEG", quality=95, exif=exif)
    upright = sample_photos.encode(chelsea, "JPEG", quality=95)
    assert np.abs(images.preprocess(rotated) - images.preprocess(upright)).mean() < 0.05
    a, b = classify(classifier, rotated), classify(classifier, upright)
    assert a.label == b.label == "cat"
    assert a.score == pytest.approx(b.score, abs=0.02)


def test_large_jpegs_decode_at_reduced_size(classifier):
    large = sample_photos.upscaled_jpeg("chelsea", 12)
    decoded = images.load_rgb(large, 256)
    assert min(decoded.size) < 3000 / 4  # draft mode decoded at 1/4 or 1/8 scale
    assert min(decoded.size) >= 256
    assert classify(classifier, large).label == "cat"
