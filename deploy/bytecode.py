"""Put the bytecode a cold start needs into deployment.zip, and check the package imports on its own.

Usage: python deploy/bytecode.py build/package/deployment.zip   (`make package` runs it; Python 3.12)

Lambda runs the package from a read-only /var/task, where Python cannot write __pycache__: without
bytecode in the zip every cold start compiles every module it imports (3.6 s for `import app`).
Compiling everything would add 32 MB, so only the modules a cold start imports get bytecode. They
are found by running both functions' cold paths (`cold_start.py` in a fresh Python 3.12 with
nothing but the standard library, the unzipped package, and the boto3 that the Lambda runtime
provides), which also proves the package complete: a missing dependency or model fails here.
The bytecode is unchecked-hash, so the zip's timestamps cannot invalidate it.
"""
from __future__ import annotations

import argparse
import json
import os
import py_compile
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
# What the Lambda Python runtime provides beside the package (/var/runtime), taken from this venv.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "snapshot_restore_py.py")
TASK_ROOT = "/var/task"  # where Lambda unpacks the zip: the path tracebacks name
TIMEOUT_SECONDS = 300


def unpack(zip_path: Path, folder: Path, with_bytecode: bool = True) -> None:
    """The zip, as Lambda unpacks it: read-only (without its .pyc files, for comparison)."""
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(folder, [n for n in z.namelist() if with_bytecode or not n.endswith(".pyc")])
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def writable(folder: Path) -> None:
    """Undo unpack()'s read-only modes (so the folder can be removed)."""
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def runtime(folder: Path) -> Path:
    """A folder holding only what the Lambda runtime adds to the package (boto3 and its dependencies)."""
    site = Path(__import__("boto3").__file__).parent.parent
    folder.mkdir()
    for name in RUNTIME_PACKAGES:
        (folder / name).symlink_to(site / name)
    return folder


def cold_start(task: Path, runtime_dir: Path, what: str, *extra: str, env: dict | None = None) -> dict:
    """Run deploy/cold_start.py `what` in a clean interpreter: -I (no environment, no site, no
    user folders), -S (no site-packages), -B (no bytecode written). Its JSON report."""
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-B", str(HERE / "cold_start.py"), what, str(task), str(runtime_dir), *extra],
        capture_output=True, text=True, timeout=TIMEOUT_SECONDS, env=env if env is not None else _clean_env(), cwd=task)
    if done.returncode != 0:
        raise SystemExit(f"the package does not start ({what}):\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def _clean_env() -> dict:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AWS_DEFAULT_REGION": "us-east-1",
            "LAMBDA_TASK_ROOT": TASK_ROOT}


def add_bytecode(zip_path: Path, modules: list[str]) -> int:
    """Compile each package-relative .py into the zip's __pycache__; the bytes added."""
    added = 0
    with tempfile.TemporaryDirectory(prefix="bytecode-") as tmp, zipfile.ZipFile(zip_path) as z:
        names = set(z.namelist())
        compiled = []
        for name in sorted(set(modules)):
            if name not in names:
                continue
            source = Path(tmp) / "src" / name
            source.parent.mkdir(parents=True, exist_ok=True)
            source.write_bytes(z.read(name))
            folder, file = name.rsplit("/", 1) if "/" in name else ("", name)
            target = f"{folder + '/' if folder else ''}__pycache__/{file[:-3]}.{sys.implementation.cache_tag}.pyc"
            if target in names:
                continue
            out = Path(tmp) / "pyc" / target
            py_compile.compile(str(source), cfile=str(out), dfile=f"{TASK_ROOT}/{name}", doraise=True,
                               invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
            compiled.append((target, out))
        # Appended, not rewritten: the zip's other entries keep their bytes.
        with zipfile.ZipFile(zip_path, "a", compression=zipfile.ZIP_DEFLATED) as out_zip:
            for target, out in compiled:
                out_zip.write(out, target)
                added += out.stat().st_size
    return added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("zip", type=Path)
    args = parser.parse_args()
    if sys.version_info[:2] != (3, 12):
        raise SystemExit(f"bytecode must be made by Python 3.12, the Lambda runtime's; this is {sys.version}")
    with tempfile.TemporaryDirectory(prefix="package-") as tmp:
        task = Path(tmp) / "task"
        unpack(args.zip, task)
        runtime_dir = runtime(Path(tmp) / "runtime")
        modules = set()
        for what in ("webhook", "classify"):
            report = cold_start(task, runtime_dir, what)
            modules.update(report["modules"])
        writable(task)
    added = add_bytecode(args.zip, sorted(modules))
    print(f"bytecode for the {len(modules)} modules a cold start imports: {added / 1e6:.1f} MB added to {args.zip}")


if __name__ == "__main__":
    main()
