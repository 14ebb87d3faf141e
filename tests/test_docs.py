"""The manuals say what a new user and a deployer need: README.md is short, opens with what to install
and how to get the code, and says where the classes are kept; every command, flag, figure and link
it gives is real; deploy/DEPLOY.md takes someone with an AWS account and nothing else to a running
service, and covers the secrets, permissions, bucket, logs, dead letters, teardown and App folder."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
DEPLOY = (ROOT / "deploy" / "DEPLOY.md").read_text()
# Where the README's figures live: each one it quotes must be there too.
SOURCES = "\n".join(p.read_text() for p in [*sorted((ROOT / "docs").glob("*.md")), ROOT / "model" / "README.md",
                                            ROOT / "deploy" / "DEPLOY.md"])


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


def test_the_readme_is_read_in_ten_minutes_at_most_250_lines():
    assert len(README.splitlines()) <= 250


def test_every_make_target_and_python_module_the_readme_shows_exists():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"\bmake ([a-z][a-z-]*)", README))
    assert targets and all(re.search(rf"^{t}:", makefile, re.MULTILINE) for t in targets), targets
    modules = set(re.findall(r"python -m ([\w.]+)", README))
    assert modules and all((ROOT / (m.replace(".", "/") + ".py")).exists() for m in modules), modules


def _figures(text: str) -> set[str]:
    """Measured figures: a number with a percent sign or a unit, or a threshold-like decimal."""
    return set(re.findall(r"\b\d+(?:\.\d+)? ?(?:%|MB|GB|ms|s\b|photos/s)|(?<![\d.])0\.\d+(?![\d.])", text))


def test_every_figure_the_readme_quotes_is_the_one_in_the_docs_or_the_model_card():
    quoted = _figures(README)
    assert quoted and {f for f in quoted if f not in SOURCES} == set()


def _slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("page", ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")),
                                  "deploy/DEPLOY.md"])
def test_every_page_and_heading_a_manual_links_to_exists(page):
    path = ROOT / page
    for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text()):
        if target.startswith(("http://", "https://")):
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        assert linked.exists(), f"{page} links to {target}: no such file"
        if anchor:
            headings = re.findall(r"^#+ (.+)$", linked.read_text(), re.MULTILINE)
            assert anchor in {_slug(h) for h in headings}, f"{page} links to {target}: no such heading"


def test_deploy_md_starts_from_an_aws_account_the_cli_credentials_dropbox_values_and_a_key_before_using_them():
    start = DEPLOY.index("## 0. Before you start")
    assert start < DEPLOY.index("## 1. Build the package")
    for needed in ("pip install awscli", "aws configure", "aws sts get-caller-identity", "Connect your Dropbox",
                   "export SERVICE_KEY=$(openssl rand -hex 32)"):
        assert start <= DEPLOY.index(needed) < DEPLOY.index("## 1. Build the package"), needed
    assert DEPLOY.index("export SERVICE_KEY") < DEPLOY.index('ServiceKey="$SERVICE_KEY"')
    assert "**Open the page**" in DEPLOY and "## What it costs" in DEPLOY and "per 1,000 photos" in DEPLOY


def test_deploy_md_counts_the_runtime_model_files_it_lists_and_the_package_carries():
    said = re.search(r"symlinks to the (\w+) runtime files in `model/`\s*\(([^)]*)\)", DEPLOY)
    assert said, "DEPLOY.md no longer says which model files the package carries"
    listed = re.findall(r"`([\w.]+)`", said.group(2))
    words = {"five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}
    assert words[said.group(1)] == len(listed)
    assert sorted(listed) == sorted(p.name for p in (ROOT / "vendor" / "model").iterdir())
