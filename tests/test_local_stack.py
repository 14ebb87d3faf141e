"""`python -m local.stack` as a user runs it: a subprocess with moto, the Dropbox emulator,
`chalice local`, the queue worker and the inbox watcher, driven only from the outside.

One stack serves the module (it starts in about a second): the tests run in file order, and the
last one stops it with SIGINT as Ctrl-C would.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from chalicelib.rules.configuration import SortConfig
from chalicelib.rules.photo_files import is_image_name
from local import sample_photos
from local.dropbox_emulator import FakeDropbox
from local.stack import free_port

ROOT = Path(__file__).resolve().parent.parent
MAIN = ROOT / "main.py"
CLASSES = sample_photos.SCENARIO_CLASSES
SERVICE_KEY = "local-service-key"
READY_TIMEOUT = 90
SORT_TIMEOUT = 60
STOP_TIMEOUT = 30
SLOW_PHOTO = "chelsea"  # written in chunks straight into All
HEADERS = {"Authorization": f"Bearer {SERVICE_KEY}"}
# The stand-in's credentials: the stack starts FakeDropbox with its defaults.
STAND_IN = FakeDropbox.__init__.__kwdefaults__


def folder_of(name: str) -> str:
    """Where a person puts the photo: "Cat", "Food", ... or "Unsorted"."""
    return SortConfig(tuple(CLASSES)).folder_for(sample_photos.SCENARIO_EXPECTED[name])


def images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_image_name(p.name))


def wait_until(condition, timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout} s")
        time.sleep(interval)


@dataclass
class Stack:
    process: subprocess.Popen
    url: str
    port: int
    sandbox: Path
    stdout: Path
    stderr: Path
    seeded: dict[str, str]  # file name in All before the start -> photo

    def log(self) -> str:
        return self.stderr.read_text(errors="replace")

    def describe(self) -> str:
        return f"\n--- stack stdout ---\n{self.stdout.read_text()}\n--- stack stderr (end) ---\n{self.log()[-4000:]}"


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: none of the AWS or Dropbox settings of this test process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DROPBOX_"))}
    env.pop("PORT", None)
    return {**env, **extra}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with started_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@contextlib.contextmanager
def started_stack(base: Path, seed: bool = True) -> Iterator[Stack]:
    """`python -m local.stack` on a sandbox under `base` (seeded with photos already in All), ready;
    stopped on the way out with SIGTERM, as a service manager would, then anything left killed."""
    sandbox = base / "sandbox"
    # Already in the inbox when the stack starts: sorted by its first notification, or by POST /sort.
    seeded = {f"before-{name}.jpg": name for name in sample_photos.CLEAR_CUT} if seed else {}
    (sandbox / "All").mkdir(parents=True, exist_ok=True)
    for file, name in seeded.items():
        (sandbox / "All" / file).write_bytes(sample_photos.jpeg(name))
    # Logs outside the sandbox: the watcher waits for every file there to settle.
    out, err = base / "stack.out", base / "stack.err"
    port = free_port()
    with open(out, "wb") as out_file, open(err, "wb") as err_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.stack", "--sandbox", str(sandbox), "--port", str(port),
             "--classes", *CLASSES],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out_file, stderr=err_file, start_new_session=True,
            env=_clean_env(SERVICE_KEY=SERVICE_KEY, PYTHONUNBUFFERED="1"))
    running = Stack(process, "", port, sandbox, out, err, seeded)
    try:
        running.url = _wait_ready(running)
        yield running
    finally:
        if process.poll() is None:  # a test failed before stopping it: take the whole session down
            for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
                try:
                    os.killpg(process.pid, sig)
                    process.wait(timeout=grace)
                    break
                except ProcessLookupError:
                    break
                except subprocess.TimeoutExpired:
                    continue
        _kill_leftovers(process.pid)


def _wait_ready(stack: Stack) -> str:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        for line in stack.stdout.read_text(errors="replace").splitlines():
            if line.startswith('{"ready"'):
                return json.loads(line)["ready"]
        if stack.process.poll() is not None:
            pytest.fail(f"the stack exited with {stack.process.returncode} before it was ready{stack.describe()}")
        time.sleep(0.1)
    pytest.fail(f"the stack was not ready after {READY_TIMEOUT} s{stack.describe()}")


# --- processes and ports of a session, from /proc -------------------------------------------------

def session_pids(sid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # pid (comm) state ppid pgrp session ...; comm may contain spaces and parentheses
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == sid:
            pids.append(int(entry.name))
    return pids


def listening_ports(pids: list[int]) -> set[int]:
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _kill_leftovers(sid: int) -> None:
    for pid in session_pids(sid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def port_is_free(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except ConnectionRefusedError:
        pass
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# --- the tests, in the order they run ----------------------------------------------------------------

def summary_rows(text: str) -> dict[str, str]:
    """The rich summary table as {first cell: second cell}."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line)[1:-1]]
        if len(cells) == 2 and cells[0]:
            rows[cells[0]] = cells[1]
    return rows


def test_main_sorts_what_was_in_the_inbox_before_the_start(stack):
    result = subprocess.run(
        [sys.executable, str(MAIN), "--classes", *CLASSES], cwd=ROOT, capture_output=True, text=True,
        timeout=120, env=_clean_env(CATEGORIZER_URL=stack.url, SERVICE_KEY=SERVICE_KEY, PYTHONIOENCODING="utf-8"))
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}{stack.describe()}"

    # Every photo is where a person would put it, byte for byte, whoever sorted it.
    for file, name in stack.seeded.items():
        place = stack.sandbox / folder_of(name) / file
        assert place.is_file(), f"{file} is not in {folder_of(name)}{stack.describe()}"
        assert place.read_bytes() == sample_photos.jpeg(name)
    assert images_in(stack.sandbox / "All") == []

    # The summary counts what the job sorted: every seeded photo, unless the watcher got to some
    # first (it should not: the stack indexes the inbox before it starts watching).
    assert "Sorted Dropbox /All (job " in result.stdout, result.stdout
    rows = summary_rows(result.stdout)
    done, total = (int(n) for n in rows["total"].split(" of "))
    assert done == total <= len(stack.seeded), result.stdout
    expected: dict[str, int] = {}
    for name in stack.seeded.values():
        expected[folder_of(name)] = expected.get(folder_of(name), 0) + 1
    counted = {folder: int(rows[folder]) for folder in expected}
    assert sum(counted.values()) == total, result.stdout
    if total == len(stack.seeded):
        assert counted == expected, result.stdout
    else:
        assert all(counted[f] <= expected[f] for f in expected), result.stdout
    assert rows["left in All: failed"] == "0" and rows["left in All: not usable photos"] == "0"
    if total:  # the undo hint names the Python that ran main.py, as the README does (.venv/bin/python)
        [hint] = [line for line in result.stdout.splitlines() if line.startswith("To put these photos back in /All: ")]
        command = shlex.split(hint.split(": ", 1)[1])
        assert Path(ROOT, command[0]).absolute() == Path(sys.executable).absolute() and command[-2] == "--undo"


def test_photos_dropped_into_the_sandbox_are_sorted(stack, tmp_path):
    inbox = stack.sandbox / "All"
    dropped = {}  # path relative to All -> photo
    # As a user (or a sync client) saves them: written elsewhere, then renamed into place.
    for i, name in enumerate(n for n in sample_photos.CLEAR_CUT if n != SLOW_PHOTO):
        relative = f"trip/drop-{name}.jpg" if i == 0 else f"drop-{name}.jpg"
        staged = tmp_path / Path(relative).name
        staged.write_bytes(sample_photos.jpeg(name))
        (inbox / relative).parent.mkdir(exist_ok=True)
        os.replace(staged, inbox / relative)
        dropped[relative] = name
    # Written slowly (3 s), straight into All: each chunk comes well before the 2 s settle time is
    # out, so the watcher must not notify (and the app must not sort) a half-written photo.
    slow = f"slow-{SLOW_PHOTO}.jpg"
    data = sample_photos.jpeg(SLOW_PHOTO)
    chunks = 10
    step = -(-len(data) // chunks)
    with open(inbox / slow, "wb") as f:
        for start in range(0, len(data), step):
            f.write(data[start:start + step])
            f.flush()
            time.sleep(0.3)
    dropped[slow] = SLOW_PHOTO

    def sorted_out() -> bool:
        return not images_in(inbox) and all(
            (stack.sandbox / folder_of(n) / Path(r).name).is_file() for r, n in dropped.items())

    try:
        wait_until(sorted_out, SORT_TIMEOUT, "the dropped photos to leave All")
    except AssertionError as e:
        raise AssertionError(f"{e}; still in All: {images_in(inbox)}{stack.describe()}") from None

    for relative, name in dropped.items():
        place = stack.sandbox / folder_of(name) / Path(relative).name
        assert place.read_bytes() == sample_photos.jpeg(name), relative
    # Each sorted once: no "drop-x (1).jpg" from a second, partial or repeated, copy.
    ours = sorted(p.relative_to(stack.sandbox).as_posix() for p in images_in(stack.sandbox)
                  if p.name.startswith(("drop-", "slow-")))
    assert ours == sorted(f"{folder_of(n)}/{Path(r).name}" for r, n in dropped.items())
    # The half-written photo was never fetched and refused as corrupt, nor failed. Its line is
    # logged once the move is recorded, a moment after the file lands.
    logged = f"sorted /All/{slow} -> /{folder_of(SLOW_PHOTO)}/{slow}"
    try:
        wait_until(lambda: logged in stack.log(), 30, "the sort of the half-written photo to be logged")
    except AssertionError as e:
        raise AssertionError(f"{e}{stack.describe()}") from None
    log = stack.log()
    assert not re.search(rf"(skipped|failed|gone) /All/{re.escape(slow)}", log), stack.describe()


def test_main_reports_the_services_refusals_in_one_line(stack):
    def main(*classes: str, key: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(MAIN), "--classes", *classes], cwd=ROOT, capture_output=True,
                              text=True, timeout=60, env=_clean_env(CATEGORIZER_URL=stack.url, SERVICE_KEY=key))

    unknown = main("cat", "dgo", key=SERVICE_KEY)
    assert unknown.returncode == 2 and unknown.stdout == ""
    [line] = unknown.stderr.strip().splitlines()
    assert line.startswith("error: ") and "'dgo'" in line and "dog" in line
    refused = main("cat", key="not-the-key")
    assert refused.returncode == 1
    [line] = refused.stderr.strip().splitlines()
    assert "401" in line and "not-the-key" not in line


def test_sigint_stops_every_process_and_frees_the_ports(stack):
    sid = stack.process.pid  # start_new_session: the stack leads its own session and group
    pids = session_pids(sid)
    assert len(pids) >= 2, f"expected the stack and chalice local, found {pids}"
    ports = listening_ports(pids)
    # The API, moto and the Dropbox emulator.
    assert stack.port in ports and len(ports) >= 3, ports

    os.kill(stack.process.pid, signal.SIGINT)  # to the stack only: it must stop its children itself
    try:
        code = stack.process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the stack did not stop within {STOP_TIMEOUT} s of SIGINT{stack.describe()}")
    assert code == 0, stack.describe()
    assert stack.stdout.read_text().rstrip().endswith("stopped")

    left = session_pids(sid)
    assert left == [], f"processes of the stack's session still running: {left}"
    with pytest.raises(ProcessLookupError):
        os.killpg(sid, 0)
    busy = sorted(p for p in ports if not port_is_free(p))
    assert busy == [], f"ports still taken after the stop: {busy}"


def test_a_stack_on_a_port_already_in_use_says_so_and_exits_non_zero(tmp_path):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "local.stack", "--sandbox", str(tmp_path / "sandbox"), "--port", str(port)],
            cwd=ROOT, capture_output=True, text=True, timeout=60, env=_clean_env())
    assert result.returncode == 2
    assert f"port {port} is already in use" in result.stderr and "running at" not in result.stdout


def test_running_the_stack_and_main_needs_none_of_the_test_tools():
    """`make run` installs requirements-run.txt only: the stack, the app and main.py import
    without pytest, selenium or the packages the sample photos come from."""
    blocked = ("pytest", "hypothesis", "selenium", "skimage", "sklearn", "matplotlib")
    code = ("import sys\n"
            "class Blocked:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            f"        if name.split('.')[0] in {blocked!r}: raise ImportError('test tool: ' + name)\n"
            "sys.meta_path.insert(0, Blocked())\n"
            "import app, main, local.stack, local.dropbox_emulator\n"
            "sys.argv = ['main.py', '--help']\n"
            "main.main()\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env=_clean_env())
    assert result.returncode == 0 and "--classes" in result.stdout, result.stderr
    run_requirements = (ROOT / "requirements-run.txt").read_text()
    assert not any(tool in run_requirements for tool in ("pytest", "selenium", "scikit", "matplotlib"))


def test_main_names_each_file_the_services_job_left_in_all(tmp_path):
    with started_stack(tmp_path, seed=False) as running:
        (running.sandbox / "All" / "broken.jpg").write_bytes(sample_photos.jpeg("coffee")[:2000])
        (running.sandbox / "All" / "cat.jpg").write_bytes(sample_photos.jpeg("chelsea"))
        # Seen by the service (the webhook sorts the cat and leaves the broken file), then sorted again.
        wait_until((running.sandbox / "Cat" / "cat.jpg").is_file, SORT_TIMEOUT, "the cat sorted")
        result = subprocess.run(
            [sys.executable, str(MAIN), "--classes", *CLASSES], cwd=ROOT, capture_output=True, text=True,
            timeout=120, env=_clean_env(CATEGORIZER_URL=running.url, SERVICE_KEY=SERVICE_KEY,
                                        PYTHONIOENCODING="utf-8", COLUMNS="200"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Left in All" in result.stdout and "/All/broken.jpg" in result.stdout, result.stdout


def test_a_restarted_stack_keeps_its_classes_and_sorts_what_arrived_while_it_was_stopped(tmp_path):
    headers = {"Authorization": f"Bearer {SERVICE_KEY}"}
    with started_stack(tmp_path, seed=False) as first:
        answer = requests.post(f"{first.url}/configure", json={"classes": ["cat", "food"]}, headers=headers,
                               timeout=10)
        assert answer.status_code == 200, answer.text
    inbox = tmp_path / "sandbox" / "All"
    (inbox / "while-stopped.jpg").write_bytes(sample_photos.jpeg("chelsea"))
    with started_stack(tmp_path, seed=False) as second:
        assert requests.get(f"{second.url}/configure", headers=headers, timeout=10).json()["classes"] == ["cat", "food"]
        cat = tmp_path / "sandbox" / "Cat" / "while-stopped.jpg"
        wait_until(cat.is_file, SORT_TIMEOUT, f"the photo dropped while stopped, sorted{second.describe()}")
        assert cat.read_bytes() == sample_photos.jpeg("chelsea") and images_in(inbox) == []


def test_real_credentials_in_the_environment_replace_the_stand_ins():
    from local.stack import uses_real_aws, uses_real_dropbox

    dropbox = {"DROPBOX_APP_KEY": "k", "DROPBOX_APP_SECRET": "s", "DROPBOX_REFRESH_TOKEN": "t"}
    assert uses_real_dropbox(dropbox)
    assert not uses_real_dropbox({**dropbox, "DROPBOX_REFRESH_TOKEN": ""})
    assert uses_real_aws({"AWS_PROFILE": "me"}) and uses_real_aws({"AWS_ACCESS_KEY_ID": "AKIA"})
    assert not uses_real_aws({}) and not uses_real_aws({"AWS_PROFILE": "me", "AWS_ENDPOINT_URL": "http://x"})


def test_main_undo_puts_a_job_back_and_a_second_undo_says_already_undone_and_exits_0(tmp_path):
    headers = {"Authorization": f"Bearer {SERVICE_KEY}"}
    with started_stack(tmp_path, seed=False) as running:
        (running.sandbox / "All" / "coffee.jpg").write_bytes(sample_photos.jpeg("coffee"))
        wait_until((running.sandbox / "Food" / "coffee.jpg").is_file, SORT_TIMEOUT, "the photo sorted")
        [job] = requests.get(f"{running.url}/jobs", headers=headers, timeout=10).json()
        run = functools.partial(subprocess.run, [sys.executable, str(MAIN), "--undo", job["job_id"]], cwd=ROOT,
                                capture_output=True, text=True, timeout=120,
                                env=_clean_env(CATEGORIZER_URL=running.url, SERVICE_KEY=SERVICE_KEY,
                                               PYTHONIOENCODING="utf-8", COLUMNS="200"))
        first, second = run(), run()
        listed = requests.get(f"{running.url}/jobs/{job['job_id']}", headers=headers, timeout=10).json()
        assert (running.sandbox / "All" / "coffee.jpg").read_bytes() == sample_photos.jpeg("coffee")
    assert first.returncode == 0 and "Put back 1 photo(s)" in first.stdout, first.stdout + first.stderr
    assert second.returncode == 0 and "already undone" in second.stdout, second.stdout + second.stderr
    assert listed["state"] == "undone"


def test_main_dry_run_says_where_each_photo_in_all_would_go_and_changes_nothing(tmp_path):
    headers = {"Authorization": f"Bearer {SERVICE_KEY}"}
    with started_stack(tmp_path, seed=False) as running:
        inbox = running.sandbox / "All"
        (inbox / "coffee.jpg").write_bytes(sample_photos.jpeg("coffee"))
        wait_until((running.sandbox / "Food" / "coffee.jpg").is_file, SORT_TIMEOUT, "the photo sorted")
        [job] = requests.get(f"{running.url}/jobs", headers=headers, timeout=10).json()
        undone = requests.post(f"{running.url}/undo", json={"job_id": job["job_id"]}, headers=headers, timeout=30)
        assert undone.json()["moved_back"] == 1, undone.text  # back in All, where the webhook leaves it
        run = functools.partial(subprocess.run, cwd=ROOT, capture_output=True, text=True, timeout=120,
                                env=_clean_env(CATEGORIZER_URL=running.url, SERVICE_KEY=SERVICE_KEY,
                                               PYTHONIOENCODING="utf-8", COLUMNS="200"))
        shown = run([sys.executable, str(MAIN), "--classes", "drink", "--dry-run"])
        lines = run([sys.executable, str(MAIN), "--classes", "drink", "--dry-run", "--json"])
        classes = requests.get(f"{running.url}/configure", headers=headers, timeout=10).json()["classes"]
    assert shown.returncode == 0 and lines.returncode == 0, shown.stderr + lines.stderr
    assert "Where each photo would go" in shown.stdout and "/Drink/coffee.jpg" in shown.stdout, shown.stdout
    [line] = map(json.loads, lines.stdout.splitlines())
    assert (line["file"], line["folder"], line["class"], line["moved_to"]) == \
        ("/All/coffee.jpg", "Drink", "drink", None)
    assert (inbox / "coffee.jpg").read_bytes() == sample_photos.jpeg("coffee")
    assert classes == CLASSES  # the stack's own classes, unchanged


# --- restarts: the stand-in keeps its file ids, so the service knows every file again ---------------

def stop_with_ctrl_c(stack: Stack) -> None:
    os.kill(stack.process.pid, signal.SIGINT)
    try:
        assert stack.process.wait(timeout=STOP_TIMEOUT) == 0, stack.describe()
    except subprocess.TimeoutExpired:
        pytest.fail(f"the stack did not stop within {STOP_TIMEOUT} s of SIGINT{stack.describe()}")


def settled_status(stack: Stack) -> dict:
    """/status once the queue is empty and two readings a second apart agree."""
    last = None
    deadline = time.monotonic() + SORT_TIMEOUT
    while time.monotonic() < deadline:
        now = requests.get(f"{stack.url}/status", headers=HEADERS, timeout=10).json()
        if now == last and now["queue"]["waiting"] == now["queue"]["in_flight"] == 0:
            return now
        last = now
        time.sleep(1)
    raise AssertionError(f"/status did not settle in {SORT_TIMEOUT} s: {last}{stack.describe()}")


def stand_in_ids(stack: Stack) -> dict[str, str]:
    """path -> Dropbox id of every file, as the stack's Dropbox stand-in lists them."""
    found = re.search(r"Dropbox stand-in at https://(\S+) \(CA certificate (\S+)\)", stack.log())
    assert found, f"the stack did not say where its Dropbox stand-in listens{stack.describe()}"
    address, ca = found.groups()
    token = requests.post(f"https://{address}/oauth2/token", verify=ca, timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": STAND_IN["refresh_token"],
        "client_id": STAND_IN["app_key"], "client_secret": STAND_IN["app_secret"]}).json()["access_token"]

    def call(route: str, body: dict) -> dict:
        answer = requests.post(f"https://{address}/2/files/{route}", json=body, verify=ca, timeout=10,
                               headers={"Authorization": f"Bearer {token}"})
        answer.raise_for_status()
        return answer.json()

    page = call("list_folder", {"path": "", "recursive": True})
    entries = page["entries"]
    while page["has_more"]:
        page = call("list_folder/continue", {"cursor": page["cursor"]})
        entries += page["entries"]
    return {e["path_display"]: e["id"] for e in entries if e[".tag"] == "file"}


def sandbox_files(sandbox: Path) -> dict[str, bytes]:
    return {p.relative_to(sandbox).as_posix(): p.read_bytes() for p in sandbox.rglob("*") if p.is_file()}


def wait_for_the_first_sync_after_the_restart(stack: Stack) -> None:
    """Both cursors kept from the last run are reset (the stand-in's change log starts afresh), so the
    first notification lists the inbox and the class folders again (`chalice local` logs to stdout)."""
    for said in ("Listing the inbox of", "Listing the class folders of"):
        wait_until(lambda: said in stack.stdout.read_text(errors="replace"), SORT_TIMEOUT,
                   f"the restarted stack {said!r}{stack.describe()}")


def test_a_restart_counts_moves_and_learns_nothing_again_and_keeps_every_files_id(tmp_path):
    sandbox, inbox = tmp_path / "sandbox", tmp_path / "sandbox" / "All"
    with started_stack(tmp_path, seed=False) as first:
        # Sorted, then undone: back in All, where it stays until the user asks again.
        (inbox / "undone.jpg").write_bytes(sample_photos.jpeg("coffee"))
        wait_until((sandbox / "Food" / "undone.jpg").is_file, SORT_TIMEOUT, f"the photo sorted{first.describe()}")
        wait_until(lambda: [j["finished"] for j in requests.get(
            f"{first.url}/jobs", headers=HEADERS, timeout=10).json()] == [True], SORT_TIMEOUT, "its job finished")
        [job] = requests.get(f"{first.url}/jobs", headers=HEADERS, timeout=10).json()
        undone = requests.post(f"{first.url}/undo", json={"job_id": job["job_id"]}, headers=HEADERS, timeout=30)
        assert undone.json()["moved_back"] == 1, undone.text
        photos = {f"{name}.jpg": name for name in ("chelsea", "motorcycle", "china", "hubble")}
        for file, name in photos.items():
            (inbox / file).write_bytes(sample_photos.jpeg(name))
        (inbox / "notes.txt").write_text("not a photo: skipped, and left in All")
        wait_until(lambda: all((sandbox / folder_of(n) / f).is_file() for f, n in photos.items()),
                   SORT_TIMEOUT, f"the photos sorted{first.describe()}")
        before = settled_status(first)
        jobs = requests.get(f"{first.url}/jobs", headers=HEADERS, timeout=10).json()
        ids = stand_in_ids(first)
        stop_with_ctrl_c(first)
    files = sandbox_files(sandbox)
    assert before["skipped"] == 1 and before["learned"] == {}, before
    assert sorted(p for p in files if p.startswith("All/")) == ["All/notes.txt", "All/undone.jpg"]

    with started_stack(tmp_path, seed=False) as second:
        wait_for_the_first_sync_after_the_restart(second)
        after = settled_status(second)
        jobs_after = requests.get(f"{second.url}/jobs", headers=HEADERS, timeout=10).json()
        ids_after = stand_in_ids(second)
        stop_with_ctrl_c(second)
    # The same totals (the skipped file counted once, not twice), nothing sorted or learned again.
    assert after == before
    assert jobs_after == jobs and ids_after == ids
    assert sandbox_files(sandbox) == files
    assert "sorted /All/" not in second.log() and "learned " not in second.log(), second.describe()
    # A restart is routine: nothing it logs about the stored cursors reads like a problem.
    assert not [line for line in second.log().splitlines() if "cursor" in line and ("WARNING" in line
                                                                                    or "ERROR" in line)]


def test_a_photo_moved_by_hand_while_the_stack_is_stopped_keeps_its_id_and_corrects_its_class(tmp_path):
    sandbox = tmp_path / "sandbox"
    with started_stack(tmp_path, seed=False) as first:
        (sandbox / "All" / "pet.jpg").write_bytes(sample_photos.jpeg("chelsea"))
        wait_until((sandbox / "Cat" / "pet.jpg").is_file, SORT_TIMEOUT, f"the photo sorted{first.describe()}")
        settled_status(first)
        [(path, file_id)] = stand_in_ids(first).items()
        stop_with_ctrl_c(first)
    assert path == "/Cat/pet.jpg"
    # As with a file manager: the user says it is no cat, but a vehicle.
    (sandbox / "Vehicle").mkdir()
    os.rename(sandbox / "Cat" / "pet.jpg", sandbox / "Vehicle" / "pet.jpg")

    with started_stack(tmp_path, seed=False) as second:
        assert stand_in_ids(second) == {"/Vehicle/pet.jpg": file_id}
        wait_for_the_first_sync_after_the_restart(second)
        wait_until(lambda: "learned " in second.log(), SORT_TIMEOUT, f"the move learned{second.describe()}")
        learned = settled_status(second)["learned"]
        stop_with_ctrl_c(second)
    # The service knows the photo by its id, so knows it put it in Cat: a correction, not only an example.
    assert learned == {"cat": {"examples": 0, "corrections": 1}, "vehicle": {"examples": 1, "corrections": 0}}


def test_both_modes_give_the_same_json_lines_field_by_field_for_the_same_files(tmp_path):
    """The same photos and broken files, previewed by the service and by --folder: the same fields,
    paths from the top of the sorted tree ("/All/x"), scores to two places, reason and detail apart."""
    files = {"coffee.jpg": sample_photos.jpeg("coffee"), "cat.jpg": sample_photos.jpeg("chelsea"),
             "broken.jpg": sample_photos.jpeg("coffee")[:2000], "notes.txt": b"nothing to see\n"}
    local = tmp_path / "local"
    (local / "All").mkdir(parents=True)
    for name, data in files.items():
        (local / "All" / name).write_bytes(data)
    headers = {"Authorization": f"Bearer {SERVICE_KEY}"}
    with started_stack(tmp_path, seed=False) as running:
        inbox = running.sandbox / "All"
        for name, data in files.items():
            (inbox / name).write_bytes(data)
        wait_until(lambda: (running.sandbox / "Food" / "coffee.jpg").is_file()
                   and (running.sandbox / "Cat" / "cat.jpg").is_file(), SORT_TIMEOUT, "the photos sorted")
        for job in requests.get(f"{running.url}/jobs", headers=headers, timeout=10).json():
            requests.post(f"{running.url}/undo", json={"job_id": job["job_id"]}, headers=headers, timeout=30)
        wait_until(lambda: (inbox / "coffee.jpg").is_file() and (inbox / "cat.jpg").is_file(), SORT_TIMEOUT,
                   "the photos back in All")
        service = subprocess.run([sys.executable, str(MAIN), "--classes", "cat", "food", "--dry-run", "--json"],
                                 cwd=ROOT, capture_output=True, text=True, timeout=120,
                                 env=_clean_env(CATEGORIZER_URL=running.url, SERVICE_KEY=SERVICE_KEY,
                                                PYTHONIOENCODING="utf-8", COLUMNS="200"))
    folder = subprocess.run([sys.executable, str(MAIN), "--classes", "cat", "food", "--folder", str(local),
                             "--dry-run", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env=_clean_env(PYTHONIOENCODING="utf-8", COLUMNS="200"))
    assert service.returncode == 0 and folder.returncode == 0, service.stderr + folder.stderr
    by_file = [{line["file"]: line for line in map(json.loads, out.stdout.splitlines())} for out in (service, folder)]
    assert by_file[0] == by_file[1]
    assert set(by_file[0]) == {"/All/coffee.jpg", "/All/cat.jpg", "/All/broken.jpg", "/All/notes.txt"}
    assert by_file[0]["/All/broken.jpg"]["error"] == "corrupt" and by_file[0]["/All/broken.jpg"]["detail"]
    summaries = [summary_rows(out.stderr) for out in (service, folder)]
    assert summaries[0] == summaries[1] and summaries[0]["left in All: not usable photos"] == "2", summaries
