"""The deployment package as Lambda runs it: `make package` builds it, and it starts on its own
(unzipped into a read-only folder, a clean Python 3.12 with nothing but the package and the boto3
the Lambda runtime provides), with the bytecode a cold start needs inside."""
from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

from deploy import bytecode
from local.sample_photos import jpeg

ROOT = Path(__file__).resolve().parent.parent
CACHE_TAG = "cpython-312"


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("package") / "package"
    subprocess.run(["make", "package", f"PACKAGE_DIR={out}"], cwd=ROOT, check=True, timeout=1200,
                   capture_output=True)
    return out / "deployment.zip"


@pytest.fixture
def unpacked(package, tmp_path):
    task = tmp_path / "task"
    bytecode.unpack(package, task)
    yield task, bytecode.runtime(tmp_path / "runtime")
    bytecode.writable(task)


def test_the_package_carries_unchecked_bytecode_for_what_a_cold_start_imports_and_no_more(package):
    with zipfile.ZipFile(package) as z:
        names = set(z.namelist())
        for module in ("app", "chalicelib/vision/classifier", "chalicelib/adapters/dropbox_store", "dropbox/files",
                       "numpy/__init__"):
            folder, _, name = module.rpartition("/")
            pyc = f"{folder + '/' if folder else ''}__pycache__/{name}.{CACHE_TAG}.pyc"
            assert pyc in names, pyc
            # PEP 552 flags: hash-based (bit 0), source not checked (bit 1 clear): timestamps cannot void it.
            assert int.from_bytes(z.read(pyc)[4:8], "little") == 0b01
    assert f"dropbox/__pycache__/team_log.{CACHE_TAG}.pyc" not in names  # never imported
    assert not any(n.startswith(("cli/", "local/", "tests/", "bench/")) for n in names)


def test_the_unzipped_package_classifies_in_a_clean_python_with_every_model(unpacked, tmp_path):
    task, runtime = unpacked
    photos = []
    for name in ("chelsea", "astronaut"):
        photos.append(tmp_path / f"{name}.jpg")
        photos[-1].write_bytes(jpeg(name))
    report = bytecode.cold_start(task, runtime, "classify", *map(str, photos))
    assert report["answer"] == ["cat", "people"]
    assert all(not m.startswith(("tests/", "local/")) for m in report["modules"])


def test_the_unzipped_packages_api_function_imports_no_model_library_and_no_unused_sdk_namespace(unpacked):
    task, runtime = unpacked
    report = bytecode.cold_start(task, runtime, "webhook")
    assert report["loaded"] == {"numpy": False, "PIL": False, "onnxruntime": False, "dropbox.team_log": False}
    assert "dropbox.team_log" in report["deferred"]
