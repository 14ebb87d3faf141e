"""The manuals say what a new user and a deployer need: README.md opens with what to install and how
to get the code, and says where the classes are kept; every flag the README gives main.py exists;
deploy/DEPLOY.md covers the secrets, permissions, bucket, logs, dead letters, teardown and App folder."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
DEPLOY = (ROOT / "deploy" / "DEPLOY.md").read_text()


def test_the_readme_opens_with_the_prerequisites_and_a_clone_line_and_says_where_the_classes_are_kept():
    opening = README[:README.index("## The command line")]
    assert "Prerequisites:" in opening and "Python 3.12" in opening
    assert re.search(r"^git clone \S+", opening, re.MULTILINE)
    assert ".sandbox-state.json" in opening and "the classes you set last" in opening


def test_every_flag_the_readme_gives_main_py_is_one_main_py_takes():
    shown = set(re.findall(r"main\.py[^\n]*", README))
    flags = {flag for line in shown for flag in re.findall(r"(?<![\w-])--[a-z][a-z-]+", line)}
    usage = subprocess.run([sys.executable, str(ROOT / "main.py"), "--help"], capture_output=True, text=True,
                           timeout=60, cwd=ROOT).stdout
    assert flags and flags <= set(re.findall(r"--[a-z][a-z-]+", usage)), flags - set(usage.split())


def test_deploy_md_covers_secrets_permissions_bucket_logs_dead_letters_teardown_and_the_app_folder():
    for needed in ("Secrets Manager", "## What the deployer needs", "aws s3 mb", "aws logs tail",
                   "aws sqs start-message-move-task", "aws cloudformation delete-stack", "/Apps/<your app's name>/All"):
        assert needed in DEPLOY, needed
