"""Where the bundled model lives and what its card says, read without numpy or onnxruntime:
/configure resolves class names from the vocabulary alone, and stays fast and light."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from chalicelib.rules.vocabulary import Vocabulary

if TYPE_CHECKING:
    import onnxruntime

MODEL_DIR = Path(__file__).resolve().parents[2] / "model"


class DetectorCard(TypedDict):
    file: str
    sha256: str


class FacesCard(DetectorCard):
    threshold: float


class ModelCard(TypedDict):
    """model.json (model/build.py writes it): the files, by name in the model folder, and the
    classifier's default threshold."""

    file: str
    vocabulary: str
    concepts: str
    default_threshold: float
    sha256: str
    faces: FacesCard
    text: DetectorCard
    scenes: DetectorCard


def model_card(model_dir: Path = MODEL_DIR) -> ModelCard:
    """model.json: the ONNX file, the vocabulary file, the default threshold."""
    card: ModelCard = json.loads((model_dir / "model.json").read_text())
    return card


def detector_session(path: Path, threads: int = 1) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session for a detector that runs one photo per decoder thread, side by side
    with the others (hence one thread each, and no spinning while idle). Imports onnxruntime."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def load_vocabulary(model_dir: Path = MODEL_DIR, card: ModelCard | None = None) -> Vocabulary:
    """The class-name vocabulary and the everyday-word concepts, without any ONNX session."""
    card = card or model_card(model_dir)
    return Vocabulary.load(model_dir / card["vocabulary"], model_dir / card["concepts"])
