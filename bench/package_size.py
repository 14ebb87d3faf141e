"""What the Lambda deployment package weighs once unzipped, and who makes it heavy.

Usage: python bench/package_size.py [build/package/deployment.zip]   (`make package` runs it)

Prints the unzipped total against Lambda's limit (250 MB = 262,144,000 bytes, unzipped, layers
included), the bundled model (model/), the app code, and every top-level package (its
*.libs/ directory of bundled shared libraries, its *.dist-info/ and *.data/ counted with it).
Exits non-zero when the package is over our budget (240 MB), or model/ is missing from it or is not the
model.json's file (sha256; e.g. a checkout without symlinks would bundle the vendor/model link text).
Standard library only (Python 3.11+).
"""
from __future__ import annotations

import hashlib
import json
import sys
import zipfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ZIP = ROOT / "build" / "package" / "deployment.zip"
LAMBDA_UNZIPPED_LIMIT = 262_144_000  # bytes: "250 MB" in Lambda's quotas, this figure in its error message
APP_FILES = ("app.py", "__pycache__", "chalicelib", "chalice")  # __pycache__: app.py's bytecode
MB = 1e6
# Our own ceiling, under Lambda's: room for the bytecode a cold start needs and the next model.
BUDGET = 240_000_000


def owner(top: str) -> str:
    """The package a top-level zip entry belongs to: numpy.libs -> numpy, PIL -> pillow, ..."""
    for suffix in (".libs", ".dist-info", ".data"):
        if top.endswith(suffix):
            top = top[: -len(suffix)].split("-")[0]
    top = top.split(".")[0].lower().lstrip("_")  # _pillow_heif.cpython-312-...so -> pillow_heif
    return {"pil": "pillow", "google": "protobuf", "yaml": "pyyaml", "dateutil": "python_dateutil"}.get(top, top)


def model_sha256(zip_path: Path, name: str) -> str | None:
    with zipfile.ZipFile(zip_path) as z:
        try:
            with z.open(name) as f:
                return hashlib.file_digest(f, "sha256").hexdigest()
        except KeyError:
            return None


def sizes(zip_path: Path) -> tuple[int, Counter, set[str]]:
    groups: Counter = Counter()
    names = set()
    total = 0
    with zipfile.ZipFile(zip_path) as z:
        for info in z.infolist():
            if info.is_dir():
                continue
            names.add(info.filename)
            total += info.file_size
            top = info.filename.split("/", 1)[0]
            groups["(model)" if top == "model" else "(app code)" if top in APP_FILES else owner(top)] \
                += info.file_size
    return total, groups, names


def main(argv: list[str]) -> int:
    zip_path = Path(argv[1]) if len(argv) > 1 else DEFAULT_ZIP
    total, groups, names = sizes(zip_path)
    card = json.loads((ROOT / "model" / "model.json").read_text())
    model_files = [f"model/{name}" for name in ("model.json", card["file"], card["vocabulary"], card["concepts"],
                                                 card["faces"]["file"], card["text"]["file"], card["scenes"]["file"])]
    missing = [name for name in model_files if name not in names]

    print(f"{zip_path}: {zip_path.stat().st_size / MB:.1f} MB zipped, {total / MB:.1f} MB unzipped "
          f"({total:,} bytes; {100 * total / LAMBDA_UNZIPPED_LIMIT:.0f}% of Lambda's "
          f"{LAMBDA_UNZIPPED_LIMIT:,}-byte limit, {(LAMBDA_UNZIPPED_LIMIT - total) / MB:.1f} MB left)")
    print(f"{'MB':>8}  share  unzipped contents")
    for name, size in groups.most_common():
        print(f"{size / MB:8.2f}  {100 * size / total:4.1f}%  {name}")
    status = 0
    for file, sha in ((card["file"], card["sha256"]), (card["faces"]["file"], card["faces"]["sha256"]),
                      (card["text"]["file"], card["text"]["sha256"]), (card["scenes"]["file"], card["scenes"]["sha256"])):
        if not missing and model_sha256(zip_path, f"model/{file}") != sha:
            print(f"ERROR: model/{file} in the package does not match model.json's sha256", file=sys.stderr)
            status = 1
    if missing:
        print(f"ERROR: model files missing from the package: {', '.join(missing)}", file=sys.stderr)
        status = 1
    if total > BUDGET:
        print(f"ERROR: over the package budget of {BUDGET / MB:.0f} MB unzipped", file=sys.stderr)
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
