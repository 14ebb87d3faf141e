"""One cold start of a Lambda function, in this fresh process; prints one JSON report line.

    python -I -S -B deploy/cold_start.py webhook  TASK RUNTIME [EVENT.json]
    python -I -S -B deploy/cold_start.py classify TASK RUNTIME [EVENT.json | PHOTO ...]

TASK is the unpacked package (or the repository, for the venv figures), RUNTIME a folder with what
the Lambda runtime adds (boto3), or "" for none. Phases, each timed: `import app`; for classify,
the classifier's model loaded; then the first request (the face and text detectors load with
the first batch, whose classes need them): the API Gateway or SQS EVENT
handled as Lambda hands it over, or else (no services around: deploy/bytecode.py) the PHOTOs, or
ten made here, classified with classes that need every model. The report also lists the modules
under TASK that were imported (those need bytecode) and the SDK namespaces left unloaded.
Standard library only before the clock starts.
"""
from __future__ import annotations

import json
import resource
import sys
import time

CLASSES = ["people", "screenshots", "documents", "cat", "building", "landscape"]  # one per bundled model


class Context:
    """What the handlers read of Lambda's context object."""
    function_name, aws_request_id, memory_limit_in_mb = "cold-start", "cold-start", 2048

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def _photos(paths: list[str]) -> list[bytes]:
    if paths:
        return [open(p, "rb").read() for p in paths]
    import io

    from PIL import Image, ImageDraw
    made = []
    for i in range(10):  # half like photos, half like screenshots (flat, with lines of "text")
        if i % 2:
            picture = Image.effect_noise((640, 480), 40 + i).convert("RGB")
        else:
            picture = Image.new("RGB", (800, 600), "white")
            draw = ImageDraw.Draw(picture)
            for row in range(12):
                draw.rectangle((40, 40 + 40 * row, 500 + 10 * i, 52 + 40 * row), fill="black")
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=85)
        made.append(out.getvalue())
    return made


def main() -> None:
    t0 = time.perf_counter()
    what, task, runtime, *rest = sys.argv[1:]
    sys.path[:0] = [p for p in (task, runtime) if p]
    import app
    report: dict = {"import": time.perf_counter() - t0}
    t1 = time.perf_counter()
    if what == "classify":
        from chalicelib.vision.classifier import Classifier
        Classifier.load()  # the detectors load with the first batch whose classes need them
        report["load"] = time.perf_counter() - t1
        t1 = time.perf_counter()
    if rest and rest[0].endswith(".json"):
        event = json.load(open(rest[0]))
        answer = app.app(event, Context()) if what == "webhook" else app.classify(event, Context())
        report["answer"] = answer.get("statusCode") if isinstance(answer, dict) else answer
    elif what == "classify":
        from chalicelib.vision.classifier import Classifier
        results = Classifier.load().classify_batch(_photos(rest), CLASSES)
        report["answer"] = [getattr(r, "label", type(r).__name__) for r in results]
    report["first"] = time.perf_counter() - t1
    report["total"] = time.perf_counter() - t0
    report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    deferred = sorted(name for name, m in sys.modules.items() if type(m).__name__ == "_OnFirstUse")
    report["deferred"] = deferred
    root = task.rstrip("/") + "/"
    report["modules"] = sorted(m.__file__[len(root):] for name, m in list(sys.modules.items())
                               if (getattr(m, "__file__", None) or "").startswith(root)
                               and m.__file__.endswith(".py") and name not in deferred)
    report["loaded"] = {name: name in sys.modules and name not in deferred
                        for name in ("numpy", "PIL", "onnxruntime", "dropbox.team_log")}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
