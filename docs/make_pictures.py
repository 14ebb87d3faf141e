"""Regenerate the README pictures from a real run of main.py on sample photos.

    .venv/bin/python docs/make_pictures.py

- docs/main-folder-run.svg: the terminal during `python main.py --classes ... --folder photos`:
  main.py runs unchanged as its own process in a pseudo-terminal (so rich draws its live progress
  bar exactly as for a user); the bytes it writes are replayed the way a terminal would (rich only
  uses carriage return, cursor-up and erase-line to redraw the bar), and the final screen is saved
  as SVG with rich's own exporter.
- docs/before-after.txt and docs/before-after.svg: the photo folder before and after that same run.

The photos are the labelled ones in local/sample_photos.py. Only the speed figures change from one
run to the next.
"""
from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import struct
import subprocess
import sys
import tempfile
import termios
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.columns import Columns  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.panel import Panel  # noqa: E402
from rich.text import Text  # noqa: E402
from rich.tree import Tree  # noqa: E402

from chalicelib.rules.photo_files import is_image_name  # noqa: E402
from local import sample_photos  # noqa: E402

DOCS = ROOT / "docs"
# Wide enough for the progress line on one row: with five classes it needs about 145 columns (at
# 80 or 100 columns rich squeezes the bar and the rate into a few characters each).
COLUMNS, ROWS = 150, 40
CLASSES = sample_photos.SCENARIO_CLASSES
# All/ as a user fills it: loose photos, a folder from a trip, and a file that is not a photo.
LAYOUT = {
    "All/chelsea.jpg": "chelsea", "All/coffee.jpg": "coffee", "All/rocket.jpg": "rocket",
    "All/astronaut.jpg": "astronaut", "All/grace_hopper.jpg": "grace_hopper",
    "All/camera.jpg": "camera", "All/hubble.jpg": "hubble",
    "All/holiday/motorcycle.jpg": "motorcycle", "All/holiday/china.jpg": "china",
    "All/holiday/flower.jpg": "flower",
}
NOTE = "All/holiday/notes.txt"


def make_folder(root: Path) -> None:
    for relative, name in LAYOUT.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(sample_photos.jpeg(name))
    (root / NOTE).write_text("hotel: 12 rue des Fleurs\n")


# --- the run in a pseudo-terminal --------------------------------------------------------------------

def run_in_terminal(argv: list[str], cwd: Path) -> tuple[int, bytes]:
    """Run argv with stdout and stderr on a COLUMNS x ROWS pseudo-terminal; (exit code, bytes written)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR")}
    env.update(TERM="xterm-256color", COLORTERM="truecolor")
    process = subprocess.Popen(argv, cwd=cwd, stdin=slave, stdout=slave, stderr=slave, env=env,
                               close_fds=True)
    os.close(slave)
    output = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the process closed its end
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    return process.wait(timeout=60), bytes(output)


_TOKEN = re.compile(r"(\x1b\[[0-9;?]*[A-Za-z]|\r|\n)")


def final_screen(raw: str) -> str:
    """What a terminal shows once `raw` is written: lines of text with their SGR (colour) codes.

    Only the controls rich's live display uses are interpreted; any other one stops the script, so
    a change in rich cannot silently give a wrong picture.
    """
    lines, row, at_line_start = [""], 0, True
    for token in _TOKEN.split(raw):
        if not token:
            continue
        if token == "\n":
            row += 1
            if row == len(lines):
                lines.append("")
            at_line_start = True
        elif token == "\r":
            at_line_start = True
        elif token.startswith("\x1b["):
            code, final = token[2:-1], token[-1]
            if final == "m":
                lines[row] += token
            elif final == "K" and code == "2":
                lines[row] = ""
            elif final == "A":
                row = max(row - int(code or 1), 0)
            elif final in "hl" and code == "?25":
                pass  # show / hide the cursor
            else:
                raise ValueError(f"terminal control {token!r} is not handled")
        else:
            if at_line_start and re.sub(r"\x1b\[[0-9;]*m", "", lines[row]):
                raise ValueError(f"text overwrites line {row} without erasing it: {token!r}")
            lines[row] += token
            at_line_start = False
    while lines and not re.sub(r"\x1b\[[0-9;]*m", "", lines[-1]).strip():
        lines.pop()
    return "\n".join(lines)


def save_terminal_svg(screen: str, command: str, path: Path) -> None:
    console = Console(record=True, width=COLUMNS, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor")
    console.print(Text(f"$ {command}", style="bold"))
    for line in screen.split("\n"):
        console.print(Text.from_ansi(line), no_wrap=True, overflow="crop")
    console.save_svg(str(path), title="image-categorizer")


# --- before / after ----------------------------------------------------------------------------------

def listing(root: Path) -> dict[str, list[str]]:
    """folder (relative, "" for root) -> its entries, folders first, each sorted."""
    tree: dict[str, list[str]] = {}
    for folder, dirs, files in os.walk(root):
        rel = Path(folder).relative_to(root).as_posix()
        rel = "" if rel == "." else rel
        tree[rel] = [d + "/" for d in sorted(dirs)] + sorted(files)
    return tree


def tree_lines(name: str, entries: dict[str, list[str]]) -> list[str]:
    """`tree`-style lines."""
    out = [name + "/"]

    def walk(folder: str, prefix: str) -> None:
        children = entries.get(folder, [])
        for i, child in enumerate(children):
            last = i == len(children) - 1
            out.append(prefix + ("└── " if last else "├── ") + child)
            if child.endswith("/"):
                walk(f"{folder}/{child[:-1]}".lstrip("/"), prefix + ("    " if last else "│   "))

    walk("", "")
    return out


def rich_tree(title: str, name: str, entries: dict[str, list[str]]) -> Panel:
    tree = Tree(Text(name + "/", style="bold blue"))

    def walk(folder: str, node: Tree) -> None:
        for child in entries.get(folder, []):
            if child.endswith("/"):
                walk(f"{folder}/{child[:-1]}".lstrip("/"), node.add(Text(child, style="bold blue")))
            else:
                node.add(Text(child, style="green" if is_image_name(child) else "dim"))

    walk("", tree)
    return Panel(tree, title=title, expand=False)


def save_before_after(name: str, before: dict, after: dict, command: str) -> None:
    left, right = tree_lines(name, before), tree_lines(name, after)
    width = max(len(line) for line in left) + 6
    rows = [f"{'Before':<{width}}After", f"{'------':<{width}}-----"]
    rows += [f"{a:<{width}}{b}".rstrip() for a, b in zip(left + [""] * (len(right) - len(left)),
                                                         right + [""] * (len(left) - len(right)))]
    (DOCS / "before-after.txt").write_text(f"$ {command}\n\n" + "\n".join(rows) + "\n")

    console = Console(record=True, width=max(len(command) + 2, 2 * width + 12), file=io.StringIO(),
                      force_terminal=True, color_system="truecolor")
    console.print(Text(f"$ {command}", style="bold"))
    console.print(Columns([rich_tree("Before", name, before), Text("  →  ", style="bold"),
                           rich_tree("After", name, after)], padding=(0, 1)))
    console.save_svg(str(DOCS / "before-after.svg"), title="image-categorizer: before and after")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="make-pictures-") as tmp:
        work = Path(tmp)
        folder = work / "photos"
        make_folder(folder)
        before = listing(folder)
        args = ["--classes", *CLASSES, "--folder", folder.name]
        command = "python main.py " + " ".join(args)
        code, raw = run_in_terminal([sys.executable, str(ROOT / "main.py"), *args], cwd=work)
        text = raw.decode("utf-8", errors="replace")
        if code != 0:
            print(text, file=sys.stderr)
            raise SystemExit(f"main.py exited with {code}")
        after = listing(folder)

    screen = final_screen(text)
    save_terminal_svg(screen, command, DOCS / "main-folder-run.svg")
    save_before_after(folder.name, before, after, command)
    print(Text.from_ansi(screen).plain)
    for name in ("main-folder-run.svg", "before-after.txt", "before-after.svg"):
        print(f"wrote docs/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
