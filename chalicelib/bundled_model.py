"""Where the bundled model lives and what its card says, read without numpy or onnxruntime:
/configure resolves class names from the vocabulary alone, and stays fast and light."""
from __future__ import annotations

import json
from pathlib import Path

from .vocabulary import Vocabulary

MODEL_DIR = Path(__file__).resolve().parent.parent / "model"


def model_card(model_dir: Path = MODEL_DIR) -> dict:
    """model.json: the ONNX file, the vocabulary file, the default threshold."""
    return json.loads((model_dir / "model.json").read_text())


def load_vocabulary(model_dir: Path = MODEL_DIR, card: dict | None = None) -> Vocabulary:
    """The class-name vocabulary and the everyday-word concepts, without any ONNX session."""
    card = card or model_card(model_dir)
    return Vocabulary.load(model_dir / card["vocabulary"], model_dir / card["concepts"])
