"""model/text_detector.onnx from the `rapidocr-onnxruntime` wheel, and its measured figures.

PP-OCRv4's text detector (DB, "differentiable binarisation") ships in PyPI
`rapidocr-onnxruntime==1.4.4` (Apache-2.0) as `ch_PP-OCRv4_det_infer.onnx`, already with dynamic
batch and sides; the build copies it unchanged and checks its sha256. Run by model/build.py.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

RAPIDOCR = "rapidocr-onnxruntime==1.4.4"
MEMBER = "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx"
FILE = "text_detector.onnx"


def build(model_dir: Path) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", RAPIDOCR, "-d", tmp],
                       check=True)
        [wheel] = Path(tmp).glob("rapidocr_onnxruntime-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(MEMBER)
    path = model_dir / FILE
    path.write_bytes(data)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
