"""Classifier throughput: decode + preprocess + inference, ONNX Runtime vs PyTorch eager.

Needs PyTorch, so it runs in the model build environment: `make bench-classify`.
Prints photos per second at batch 1 and 16 for a small (~0.3 MP) and a large (~12 MP) JPEG made
from a real photo, and the ONNX/PyTorch ratio measured in the same process on the same inputs;
then the same ONNX runs with a class about people (adds the face detector), and with classes
about people, screenshots and documents (every detector), against the run without them (targets
at batch 16 for small JPEGs: >= 60 photos/s with every detector on, >= 150 without); and every
detector plus scenes (the scene head) against every detector alone (target: within 10 %).
`python bench/classify.py --signals` prints only these signal ratios, without PyTorch.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib.vision import images  # noqa: E402
from chalicelib.vision.classifier import Classifier  # noqa: E402
from local import rendered, sample_photos  # noqa: E402

CLASSES = ["cat", "dog", "truck"]
WITH_FACES = ["people", "cat", "dog", "truck"]
WITH_EVERY_DETECTOR = ["people", "screenshot", "document", "cat", "dog", "truck"]
WITH_EVERY_SIGNAL = [*WITH_EVERY_DETECTOR, "landscape", "beach", "city", "flowers"]
MIN_SECONDS = 3.0


def rate(step: Callable[[list[bytes]], object], photo: bytes, batch: int) -> float:
    """Photos per second of `step` on batches of copies of `photo`, after one warm-up call."""
    photos = [photo] * batch
    step(photos)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < MIN_SECONDS:
        step(photos)
        done += batch
    return done / (time.perf_counter() - start)


def run(torch_model=None) -> str:
    import torch

    if torch_model is None:
        sys.path.insert(0, str(ROOT / "model"))
        from build import load_torch_model

        torch_model = load_torch_model()
    torch.set_num_threads(os.cpu_count() or 1)
    classifier = Classifier.load()

    def onnx_step(photos: list[bytes]) -> object:
        return classifier.classify_batch(photos, CLASSES)

    def torch_step(photos: list[bytes]) -> object:
        batch = np.stack([images.preprocess(p) for p in photos])
        with torch.no_grad():
            logits = torch_model(torch.from_numpy(batch))[0].double().numpy()
        probs = np.exp(logits - logits.max(1, keepdims=True))
        return classifier.decide(probs / probs.sum(1, keepdims=True), CLASSES)

    inputs = {
        "small JPEG 0.3 MP": sample_photos.upscaled_jpeg("chelsea", 0.3),
        "large JPEG 12 MP": sample_photos.upscaled_jpeg("chelsea", 12),
    }
    lines = [f"machine: {os.cpu_count()} cores; onnxruntime threads {os.cpu_count()}; "
             f"PyTorch {torch.__version__} threads {torch.get_num_threads()}",
             f"{'input':<20}{'batch':>6}{'ONNX photos/s':>15}{'PyTorch photos/s':>18}{'ratio':>8}"]
    for title, photo in inputs.items():
        for batch in (1, 16):
            onnx_rate = rate(onnx_step, photo, batch)
            torch_rate = rate(torch_step, photo, batch)
            lines.append(f"{title:<20}{batch:>6}{onnx_rate:>15.1f}{torch_rate:>18.1f}{onnx_rate / torch_rate:>7.2f}x")
    blank = np.zeros((16, 3, images.INPUT_SIZE, images.INPUT_SIZE), np.float32)
    onnx_inference = rate(lambda _: classifier.probabilities(blank), b"", 16)
    with torch.no_grad():
        torch_inference = rate(lambda _: torch_model(torch.from_numpy(blank)), b"", 16)
    lines.append(f"{'inference only':<20}{16:>6}{onnx_inference:>15.1f}{torch_inference:>18.1f}"
                 f"{onnx_inference / torch_inference:>7.2f}x")
    return "\n".join([*lines, signals(classifier, inputs)])


def signals(classifier: Classifier, inputs: dict[str, bytes]) -> str:
    """Each added signal's cost: the classes that need it against the classes before it."""
    # A photo of a scene is not read for text (too few equal pixels); a screenshot is, at 960 px.
    detector_inputs = {**inputs, "screenshot PNG 1 MP": rendered.screenshot()}
    lines = []
    for heading, classes, without in (("with faces", WITH_FACES, CLASSES),
                                      ("every detector", WITH_EVERY_DETECTOR, CLASSES),
                                      ("+ scene head", WITH_EVERY_SIGNAL, WITH_EVERY_DETECTOR)):
        lines.append(f"{'input':<20}{'batch':>6}{heading:>15}{'without':>18}{'ratio':>8}")
        for title, photo in detector_inputs.items():
            # Alternated, best of three each: a busy machine slows one of a pair, not the ratio.
            pairs = [(rate(lambda photos: classifier.classify_batch(photos, classes), photo, 16),
                      rate(lambda photos: classifier.classify_batch(photos, without), photo, 16)) for _ in range(3)]
            with_rate, plain_rate = max(w for w, _ in pairs), max(p for _, p in pairs)
            lines.append(f"{title:<20}{16:>6}{with_rate:>15.1f}{plain_rate:>18.1f}{with_rate / plain_rate:>7.2f}x")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--signals"]:  # without PyTorch: the project's own environment will do
        print(signals(Classifier.load(), {"small JPEG 0.3 MP": sample_photos.upscaled_jpeg("chelsea", 0.3),
                                           "large JPEG 12 MP": sample_photos.upscaled_jpeg("chelsea", 12)}))
    else:
        print(run())
