"""main.py as a user runs it: a subprocess sorting a folder of real photos, and its error paths. The stories
of learning and undo that hold for the service too are told once, for both: tests/test_stories_both_stores.py."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chalicelib.rules.configuration import SortConfig
from cli.journal import STATE_DIR
from local import rendered, sample_photos
from local.stack import free_port

MAIN = Path(__file__).resolve().parent.parent / "main.py"
CLASSES = sample_photos.SCENARIO_CLASSES
# The same cat at another quality: same name, different bytes, so the clash is visible.
CLASH = sample_photos.jpeg("chelsea", quality=60)
OLDER_CAT = sample_photos.jpeg("chelsea", quality=30)
TRUNCATED = sample_photos.jpeg("coffee")[:3000]


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(MAIN), *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def expected_folder(name: str) -> str:
    return SortConfig(tuple(CLASSES)).folder_for(sample_photos.SCENARIO_EXPECTED[name])


def tree(root: Path) -> dict[str, bytes | None]:
    """Every entry under root but the tool's own state: file bytes, or None for a folder or symlink."""
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() and not p.is_symlink() else None)
            for p in sorted(root.rglob("*")) if STATE_DIR not in p.relative_to(root).parts}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    inbox = tmp_path / "All"
    (inbox / "trip").mkdir(parents=True)
    for name in sample_photos.SCENARIO_EXPECTED:
        (inbox / f"{name}.jpg").write_bytes(sample_photos.jpeg(name))
    (inbox / "trip" / "chelsea.jpg").write_bytes(CLASH)
    (tmp_path / "Cat").mkdir()
    (tmp_path / "Cat" / "chelsea.jpg").write_bytes(OLDER_CAT)
    (inbox / "notes.txt").write_text("not a photo")
    (inbox / "broken.jpg").write_bytes(TRUNCATED)
    return tmp_path


def test_every_photo_ends_where_a_person_would_put_it(folder):
    result = run("--classes", *CLASSES, "--folder", str(folder))
    assert result.returncode == 0, result.stderr
    for name in sample_photos.SCENARIO_EXPECTED:
        if name == "chelsea":
            continue
        assert (folder / expected_folder(name) / f"{name}.jpg").read_bytes() == sample_photos.jpeg(name)
    # Nothing overwritten: the older cat keeps its name, the two new ones are autorenamed.
    cats = {p.name: p.read_bytes() for p in (folder / "Cat").iterdir()}
    assert cats == {"chelsea.jpg": OLDER_CAT, "chelsea (1).jpg": sample_photos.jpeg("chelsea"),
                    "chelsea (2).jpg": CLASH}
    left = {k: v for k, v in tree(folder / "All").items() if v is not None}
    assert left == {"notes.txt": b"not a photo", "broken.jpg": TRUNCATED}
    assert "All/broken.jpg" in result.stdout and "corrupt" in result.stdout


def test_a_folder_of_people_screenshots_pages_and_landscapes_sorts_by_those_words(tmp_path):
    dropped = {"astronaut.jpg": sample_photos.jpeg("astronaut"), "settings.png": rendered.screenshot(1920, 1080),
               "invoice.png": rendered.document_page(150), "valendas.png": sample_photos.landscape(),
               "chelsea.jpg": sample_photos.jpeg("chelsea")}
    (tmp_path / "All").mkdir()
    for name, data in dropped.items():
        (tmp_path / "All" / name).write_bytes(data)
    result = run("--classes", "people", "screenshots", "documents", "landscape", "--folder", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert {k: v for k, v in tree(tmp_path).items() if v is not None} == {
        "People/astronaut.jpg": dropped["astronaut.jpg"], "Screenshots/settings.png": dropped["settings.png"],
        "Documents/invoice.png": dropped["invoice.png"], "Landscape/valendas.png": dropped["valendas.png"],
        "Unsorted/chelsea.jpg": dropped["chelsea.jpg"]}


def test_json_lines_match_where_the_files_went(folder):
    """Paths in the JSON lines start at DIR's top, as the service's start at Dropbox's ("/All/x")."""
    originals = {f"/All/{n}.jpg": sample_photos.jpeg(n) for n in sample_photos.SCENARIO_EXPECTED}
    originals["/All/trip/chelsea.jpg"] = CLASH
    result = run("--classes", *CLASSES, "--folder", str(folder), "--json")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert all({"file", "class", "score", "moved_to"} <= set(r) for r in records)
    by_file = {r["file"]: r for r in records}
    assert set(by_file) == set(originals) | {"/All/broken.jpg", "/All/notes.txt"}
    assert by_file["/All/broken.jpg"]["moved_to"] is None and by_file["/All/broken.jpg"]["error"] == "corrupt"
    assert by_file["/All/notes.txt"]["moved_to"] is None
    assert by_file["/All/notes.txt"]["error"] == "not_an_image_file"
    for file, data in originals.items():
        record = by_file[file]
        assert (folder / record["moved_to"].lstrip("/")).read_bytes() == data
        assert not (folder / file.lstrip("/")).exists()
        assert isinstance(record["score"], float)
        name = Path(file).stem
        assert record["class"] == sample_photos.SCENARIO_EXPECTED[name]
        assert record["moved_to"].split("/")[1] == expected_folder(name)


def test_dry_run_moves_nothing_and_reports_the_same_classes(folder):
    before = tree(folder)
    result = run("--classes", *CLASSES, "--folder", str(folder), "--json", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert tree(folder) == before
    records = {r["file"]: r for r in map(json.loads, result.stdout.splitlines())}
    for name, label in sample_photos.SCENARIO_EXPECTED.items():
        assert records[f"/All/{name}.jpg"]["class"] == label
        assert records[f"/All/{name}.jpg"]["moved_to"] is None


def test_symlinks_are_neither_read_nor_followed_out_of_the_folder(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(sample_photos.jpeg("coffee"))
    root = tmp_path / "root"
    (root / "All").mkdir(parents=True)
    (root / "All" / "chelsea.jpg").write_bytes(sample_photos.jpeg("chelsea"))
    (root / "All" / "link.jpg").symlink_to(outside / "secret.jpg")
    (root / "All" / "linked_dir").symlink_to(outside)
    (root / "Cat").symlink_to(outside)  # a class folder that leads out of root
    result = run("--classes", *CLASSES, "--folder", str(root), "--json")
    assert result.returncode == 1  # the cat could not be moved
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["file"], r["moved_to"], r["error"]) for r in records] == \
        [("/All/chelsea.jpg", None, "move_failed")]
    assert sorted(p.name for p in outside.iterdir()) == ["secret.jpg"]
    assert (root / "All" / "chelsea.jpg").read_bytes() == sample_photos.jpeg("chelsea")


def test_explain_says_what_each_class_covers():
    result = run("--classes", "cat", "dog", "--explain")
    assert result.returncode == 0, result.stderr
    assert "cat:" in result.stdout and "dog:" in result.stdout


def test_explain_says_a_scene_word_is_decided_by_the_scene_head_and_a_refused_scene_what_to_try():
    result = run("--classes", "landscape", "flowers", "--explain")
    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines() if "the scene head finds" in line] == [
        "landscape", "flowers"]
    refused = run("--classes", "sunset", "--explain")
    assert refused.returncode == 2 and "'sunset' (try: landscape" in refused.stderr


def test_explain_says_each_classs_threshold_and_whose_it_is():
    result = run("--classes", "cat", "food:0.99", "dog", "--threshold", "0.5", "--explain")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["cat", "food", "dog"]
    assert lines[0].endswith("; threshold 0.5 (--threshold)") and lines[1].endswith("; threshold 0.99 (its own)")
    default = run("--classes", "cat", "--explain").stdout
    assert "(the model's default)" in default


def test_a_class_threshold_above_a_photos_score_leaves_that_photo_in_unsorted(tmp_path):
    (tmp_path / "All").mkdir()
    for name in ("chelsea", "coffee"):
        (tmp_path / "All" / f"{name}.jpg").write_bytes(sample_photos.jpeg(name))
    result = run("--classes", "cat", "food:0.99", "--folder", str(tmp_path))  # coffee scores ~0.98 as food
    assert result.returncode == 0, result.stderr
    assert {k: v for k, v in tree(tmp_path).items() if v is not None} == {
        "Cat/chelsea.jpg": sample_photos.jpeg("chelsea"), "Unsorted/coffee.jpg": sample_photos.jpeg("coffee")}


@pytest.mark.parametrize("given, named", [
    ("food:1.5", "the \"threshold\" of class 'food' must be a number between 0 and 1, not 1.5"),
    ("food:high", "the \"threshold\" of class 'food' must be a number between 0 and 1, not \"high\""),
    ("food:nan", "the \"threshold\" of class 'food' must be a number between 0 and 1"),
    ("food:", "the \"threshold\" of class 'food' must be a number between 0 and 1"),
    (":0.5", "class name is empty"),
])
def test_a_bad_class_threshold_is_exit_status_2_in_one_line_naming_it_and_moves_nothing(folder, given, named):
    before = tree(folder)
    result = run("--classes", "cat", given, "--folder", str(folder))
    assert result.returncode == 2
    assert named in one_line_error(result)
    assert tree(folder) == before


def test_service_mode_sends_a_class_threshold_as_an_object_of_the_class(stub_url):
    result = run("--classes", "cat", "receipt:0.6", env={"CATEGORIZER_URL": stub_url, "SERVICE_KEY": "k"})
    assert result.returncode == 0, result.stderr
    assert StubService.configured == [{"classes": ["cat", {"name": "receipt", "threshold": 0.6}]}]


def test_service_mode_with_tag_configures_the_action_tag(stub_url):
    result = run("--classes", "cat", "--tag", env={"CATEGORIZER_URL": stub_url, "SERVICE_KEY": "k"})
    assert result.returncode == 0, result.stderr
    assert StubService.configured == [{"classes": ["cat"], "action": "tag"}]


def test_service_mode_refuses_a_bad_class_threshold_with_exit_status_2_before_asking_the_service(stub_url):
    result = run("--classes", "cat", "receipt:nan", env={"CATEGORIZER_URL": stub_url, "SERVICE_KEY": "k"})
    assert result.returncode == 2
    assert "the \"threshold\" of class 'receipt' must be a number between 0 and 1" in one_line_error(result)
    assert StubService.configured == [] and StubService.polls == 0


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_unknown_class_is_one_line_naming_it(folder):
    before = tree(folder)
    result = run("--classes", "cat", "dgo", "--folder", str(folder))
    assert result.returncode == 2
    assert "'dgo'" in one_line_error(result)
    assert tree(folder) == before


def test_an_unreachable_service_is_one_line_saying_to_start_it_with_make_run_or_to_sort_a_folder():
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    line = one_line_error(run("--classes", "cat", env={"CATEGORIZER_URL": url}))
    assert url in line and "Start it with `make run`" in line and "--folder DIR" in line


def test_an_unknown_class_in_folder_mode_says_to_put_examples_into_dir_and_run_again(folder):
    line = one_line_error(run("--classes", "sunset", "--folder", str(folder)))
    assert f"into {folder}/Sunset, then run again" in line and "configure again" not in line


def test_a_folder_sort_ends_with_the_undo_command_and_running_it_puts_the_folder_back(tmp_path):
    (tmp_path / "All").mkdir()
    (tmp_path / "All" / "cat.jpg").write_bytes(sample_photos.jpeg("chelsea"))
    before = tree(tmp_path)
    result = run("--classes", "cat", "--folder", str(tmp_path))
    assert result.returncode == 0, result.stderr
    [hint] = [line for line in result.stdout.splitlines() if line.startswith("To put these photos back")]
    command = shlex.split(hint.split(": ", 1)[1])
    # The Python that ran it, as the user typed it (".venv/bin/python" from the project's folder).
    assert Path(command[0]).absolute() == Path(sys.executable).absolute()
    assert command[-3:] == ["--folder", str(tmp_path), "--undo"]
    assert subprocess.run(command, capture_output=True, timeout=120).returncode == 0
    assert tree(tmp_path) == before


class StubService(BaseHTTPRequestHandler):
    """Answers like the service: Chalice's error shape for a bad class, a job finished on the 2nd
    poll, or (`stuck`) one that never moves. The real service is in tests/test_local_stack.py;
    this one has the states that are hard to make there."""

    polls = 0
    stuck = False
    key = "k"
    configured: list[dict] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or "{}")
        if self.headers.get("Authorization") != f"Bearer {StubService.key}":
            self.answer(401, {"Code": "UnauthorizedError", "Message": "bad key"})
        elif self.path == "/configure" and "dgo" in body["classes"]:
            self.answer(400, {"Code": "BadRequestError", "Message": "unknown class 'dgo'; close words: dog"})
        elif self.path == "/configure":
            StubService.configured.append(body)
            self.answer(200, body)
        elif self.path == "/undo":
            self.answer(200, {"job_id": body["job_id"], "moved_back": 2, "photos": [], "left": [
                {"path": "/Cat/a.jpg", "reason": "not there any more (moved or deleted since): left alone"}]})
        else:
            self.answer(202, {"job_id": "j1", "total": 3})

    def do_GET(self):
        StubService.polls += 1
        finished = StubService.polls >= 2 and not StubService.stuck
        self.answer(200, {"job_id": "j1", "total": 3, "done": 3 if finished else 1,
                          "percent": 100 if finished else 33, "sorted": {"Cat": 2 if finished else 1},
                          "unsorted": 1 if finished else 0, "skipped": 0, "failed": 0, "finished": finished})

    def answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def stub_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubService)
    StubService.polls, StubService.stuck, StubService.key, StubService.configured = 0, False, "k", []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_service_mode_polls_until_finished(stub_url):
    result = run("--classes", "cat", env={"CATEGORIZER_URL": stub_url, "SERVICE_KEY": "k"})
    assert result.returncode == 0, result.stderr
    assert "Cat" in result.stdout and "3 of 3" in result.stdout
    assert StubService.polls == 2


@pytest.mark.parametrize("form", ["http://localhost:{port}/", "http://127.0.0.1:{port}", "HTTP://LOCALHOST:{port}"])
def test_any_url_of_this_machine_gets_the_local_stacks_key(stub_url, form):
    from local.defaults import LOCAL_STACK_KEY
    StubService.key = LOCAL_STACK_KEY
    url = form.format(port=stub_url.rsplit(":", 1)[1])
    result = run("--classes", "cat", env={"CATEGORIZER_URL": url, "SERVICE_KEY": ""})
    assert result.returncode == 0, result.stderr


def test_undo_of_a_service_job_says_how_many_went_back_and_names_each_photo_left_alone(stub_url):
    result = run("--undo", "j1", env={"CATEGORIZER_URL": stub_url, "SERVICE_KEY": "k"})
    assert result.returncode == 1
    assert "Put back 2 photo(s) of job j1" in result.stdout and "/Cat/a.jpg: not there any more" in result.stdout


def test_the_local_key_is_never_sent_to_another_host():
    from local.defaults import is_local
    assert not is_local("https://abc.execute-api.eu-west-1.amazonaws.com/api/")
    assert not is_local("http://127.0.0.1.example.com:8000")


def test_service_refusals_are_one_line(stub_url):
    refused = run("--classes", "dgo", env={"CATEGORIZER_URL": stub_url, "SERVICE_KEY": "k"})
    assert refused.returncode == 2
    assert "'dgo'" in one_line_error(refused)
    unauthorised = run("--classes", "cat", env={"CATEGORIZER_URL": stub_url, "SERVICE_KEY": "wrong"})
    assert unauthorised.returncode == 1
    assert "401" in one_line_error(unauthorised) and "bad key" in unauthorised.stderr


def test_a_file_over_the_size_limit_is_left_in_all(tmp_path, monkeypatch):
    from chalicelib.rules import photo_files
    from chalicelib.rules.sorting import sort_batch
    from chalicelib.vision.classifier import Classifier
    from cli import folder_photos, safe_files

    (tmp_path / "All").mkdir()
    (tmp_path / "All" / "big.jpg").write_bytes(sample_photos.jpeg("chelsea"))
    monkeypatch.setattr(photo_files, "MAX_BYTES", 1000)
    monkeypatch.setattr(safe_files, "MAX_BYTES", 1000)
    with folder_photos.FolderPhotos(tmp_path) as folder:
        [outcome] = sort_batch(folder.find(), folder, Classifier.load(), SortConfig(("cat",)))
    assert (outcome.file, outcome.kind, outcome.to_path, outcome.reason) == \
        ("All/big.jpg", "skipped", None, "too_large")
    assert (tmp_path / "All" / "big.jpg").read_bytes() == sample_photos.jpeg("chelsea")


def test_hidden_files_and_non_images_stay_in_all_and_are_counted_as_left(tmp_path):
    """The same rule as the service: a hidden file or folder, or a file with no image extension,
    is no photo to sort; it stays where it is, and the summary counts it."""
    (tmp_path / "All" / ".cache").mkdir(parents=True)
    (tmp_path / "All" / ".x.jpg").write_bytes(sample_photos.jpeg("chelsea"))
    (tmp_path / "All" / ".cache" / "thumb.jpg").write_bytes(sample_photos.jpeg("coffee"))
    (tmp_path / "All" / "notes.txt").write_text("not a photo")
    result = run("--classes", *CLASSES, "--folder", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    records = {r["file"]: (r["kind"], r["error"]) for r in map(json.loads, result.stdout.splitlines())}
    assert records == {"/All/.x.jpg": ("skipped", "hidden"), "/All/.cache/thumb.jpg": ("skipped", "hidden"),
                       "/All/notes.txt": ("skipped", "not_an_image_file")}
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == \
        ["All/.cache/thumb.jpg", "All/.x.jpg", "All/notes.txt"]
    assert "3 of 3" in result.stderr


def test_following_a_job_that_stops_moving_gives_up_in_one_line(stub_url):
    from cli.service_client import ServiceClient, ServiceError

    StubService.stuck = True
    client = ServiceClient(stub_url, "k")
    with pytest.raises(ServiceError, match="no progress for 1 s at 1 of 3"):
        for _ in client.follow("j1", interval=0.05, stall=1.0):
            pass


def test_json_lines_say_a_photo_of_a_class_known_only_by_its_examples_was_sorted_by_examples(tmp_path):
    (tmp_path / "All").mkdir()
    (tmp_path / "Grandma").mkdir()
    for i, box in enumerate(sample_photos.EXAMPLE_CROPS):
        (tmp_path / "Grandma" / f"g{i}.jpg").write_bytes(sample_photos.crop("astronaut", box))
    (tmp_path / "All" / "new.jpg").write_bytes(sample_photos.crop("astronaut", sample_photos.NEW_CROP))
    (tmp_path / "All" / "chelsea.jpg").write_bytes(sample_photos.jpeg("chelsea"))
    result = run("--classes", "Grandma", "cat", "--folder", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    lines = {line["file"]: line for line in map(json.loads, result.stdout.splitlines())}
    assert (lines["/All/new.jpg"]["moved_to"], lines["/All/new.jpg"]["by"]) == ("/Grandma/new.jpg", "examples")
    assert (lines["/All/chelsea.jpg"]["moved_to"], lines["/All/chelsea.jpg"]["by"]) == ("/Cat/chelsea.jpg", "name")


def test_a_plain_folder_without_all_has_its_own_photos_sorted_into_class_folders_inside_it(tmp_path):
    for name in ("chelsea", "coffee"):
        (tmp_path / f"{name}.jpg").write_bytes(sample_photos.jpeg(name))
    (tmp_path / "Trips").mkdir()  # the user's own folder: not the inbox
    (tmp_path / "Trips" / "motorcycle.jpg").write_bytes(sample_photos.jpeg("motorcycle"))
    result = run("--classes", *CLASSES, "--folder", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert tree(tmp_path) == {"Cat": None, "Cat/chelsea.jpg": sample_photos.jpeg("chelsea"), "Food": None,
                              "Food/coffee.jpg": sample_photos.jpeg("coffee"), "Trips": None,
                              "Trips/motorcycle.jpg": sample_photos.jpeg("motorcycle")}


def test_undo_puts_every_photo_of_the_last_sort_back_byte_for_byte_and_removes_the_folders_it_made(folder):
    before = tree(folder)
    assert run("--classes", *CLASSES, "--folder", str(folder)).returncode == 0
    assert tree(folder) != before
    result = run("--folder", str(folder), "--undo")
    assert result.returncode == 0, result.stdout + result.stderr
    assert tree(folder) == before


def test_undo_with_no_sort_of_the_folder_on_record_is_one_line_and_exit_status_1(tmp_path):
    assert "nothing to undo" in one_line_error(run("--folder", str(tmp_path), "--undo"))


def test_undo_in_a_plain_folder_puts_its_photos_back(tmp_path):
    for name in ("chelsea", "coffee", "rocket"):
        (tmp_path / f"{name}.jpg").write_bytes(sample_photos.jpeg(name))
    before = tree(tmp_path)
    assert run("--classes", *CLASSES, "--folder", str(tmp_path)).returncode == 0
    assert run("--folder", str(tmp_path), "--undo").returncode == 0
    assert tree(tmp_path) == before


def test_undo_leaves_a_photo_the_user_moved_since_where_it_is_and_says_so(folder):
    assert run("--classes", *CLASSES, "--folder", str(folder)).returncode == 0
    (folder / "Mine").mkdir()
    (folder / "Food" / "coffee.jpg").rename(folder / "Mine" / "coffee.jpg")
    result = run("--folder", str(folder), "--undo")
    assert result.returncode == 1
    assert "Food/coffee.jpg: not there any more" in result.stdout
    assert (folder / "Mine" / "coffee.jpg").read_bytes() == sample_photos.jpeg("coffee")
    assert (folder / "All" / "rocket.jpg").read_bytes() == sample_photos.jpeg("rocket")
    assert run("--folder", str(folder), "--undo").returncode == 1  # nothing left to undo: one line


def test_with_duplicates_folder_exact_copies_go_to_duplicates_in_this_run_and_the_next(tmp_path):
    cat = sample_photos.jpeg("chelsea")
    (tmp_path / "All" / "trip").mkdir(parents=True)
    (tmp_path / "All" / "chelsea.jpg").write_bytes(cat)
    (tmp_path / "All" / "trip" / "IMG_0001.jpg").write_bytes(cat)
    (tmp_path / "All" / "coffee.jpg").write_bytes(sample_photos.jpeg("coffee"))
    before = tree(tmp_path)
    first = run("--classes", *CLASSES, "--folder", str(tmp_path), "--duplicates", "folder", "--json")
    assert first.returncode == 0, first.stderr
    copy = next(r for r in map(json.loads, first.stdout.splitlines()) if r["file"] == "/All/trip/IMG_0001.jpg")
    assert (copy["moved_to"], copy["class"], copy["detail"]) == ("/Duplicates/IMG_0001.jpg", "cat",
                                                                 "the same bytes as All/chelsea.jpg")
    (tmp_path / "All" / "again.jpg").write_bytes(cat)  # a copy of a photo sorted by the run before
    assert run("--classes", *CLASSES, "--folder", str(tmp_path), "--duplicates", "folder").returncode == 0
    assert {k: v for k, v in tree(tmp_path).items() if v is not None} == {
        "Cat/chelsea.jpg": cat, "Duplicates/IMG_0001.jpg": cat, "Duplicates/again.jpg": cat,
        "Food/coffee.jpg": sample_photos.jpeg("coffee")}
    for _ in range(2):
        assert run("--folder", str(tmp_path), "--undo").returncode == 0
    assert {k: v for k, v in tree(tmp_path).items() if k != "All/again.jpg"} == before


def test_with_duplicates_folder_a_copy_whose_original_could_not_be_moved_stays_in_all_too(tmp_path):
    cat = sample_photos.jpeg("chelsea")
    (tmp_path / "All").mkdir()
    (tmp_path / "All" / "a.jpg").write_bytes(cat)
    (tmp_path / "All" / "b.jpg").write_bytes(cat)
    (tmp_path / "Cat").write_bytes(b"a plain file where the class folder would go")
    result = run("--classes", *CLASSES, "--folder", str(tmp_path), "--duplicates", "folder")
    assert result.returncode == 1, result.stderr  # both failed: no copy of a photo that is not sorted
    assert not (tmp_path / "Duplicates").exists()
    assert (tmp_path / "All" / "a.jpg").read_bytes() == cat and (tmp_path / "All" / "b.jpg").read_bytes() == cat


def test_by_default_copies_are_sorted_like_any_photo(tmp_path):
    (tmp_path / "a.jpg").write_bytes(sample_photos.jpeg("chelsea"))
    (tmp_path / "b.jpg").write_bytes(sample_photos.jpeg("chelsea"))
    assert run("--classes", *CLASSES, "--folder", str(tmp_path)).returncode == 0
    assert sorted(k for k, v in tree(tmp_path).items() if v is not None) == ["Cat/a.jpg", "Cat/b.jpg"]


def test_a_dry_run_prints_where_each_photo_would_go(folder):
    result = run("--classes", *CLASSES, "--folder", str(folder), "--dry-run", env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    assert "Where each photo would go" in result.stdout
    assert "All/coffee.jpg" in result.stdout and "Food/coffee.jpg" in result.stdout and "food 0." in result.stdout


def test_by_year_dated_photos_go_into_class_year_folders_and_undo_restores_dir_exactly_folders_too(tmp_path):
    (tmp_path / "All" / "trip").mkdir(parents=True)
    photos = {"All/chelsea.jpg": sample_photos.dated_jpeg("chelsea", "2019:05:04 10:00:00"),
              "All/trip/coffee.jpg": sample_photos.dated_jpeg("coffee", "2019:11:30 08:00:00"),
              "All/rocket.jpg": sample_photos.dated_jpeg("rocket", "2018:02:03 04:05:06")}
    for path, data in photos.items():
        (tmp_path / path).write_bytes(data)
    (tmp_path / "Cat").mkdir()  # a class folder of the user's: the undo leaves it
    before = tree(tmp_path)
    result = run("--classes", "cat", "food", "--by-date", "year", "--folder", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert {k: v for k, v in tree(tmp_path).items() if v is not None} == {
        "Cat/2019/chelsea.jpg": photos["All/chelsea.jpg"], "Food/2019/coffee.jpg": photos["All/trip/coffee.jpg"],
        "Unsorted/2018/rocket.jpg": photos["All/rocket.jpg"]}
    undone = run("--folder", str(tmp_path), "--undo")
    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert tree(tmp_path) == before  # the date folders and the class folders it made are gone, Cat/ stays


def test_a_dry_run_by_month_says_the_dated_folder_each_photo_would_go_to_and_moves_nothing(tmp_path):
    (tmp_path / "All").mkdir()
    (tmp_path / "All" / "chelsea.jpg").write_bytes(sample_photos.dated_jpeg("chelsea", "2019:05:04 10:00:00"))
    before = tree(tmp_path)
    result = run("--classes", "cat", "--by-date", "month", "--folder", str(tmp_path), "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    [line] = [json.loads(line) for line in result.stdout.splitlines()]
    assert (line["file"], line["folder"], line["moved_to"]) == ("/All/chelsea.jpg", "Cat/2019-05", None)
    assert tree(tmp_path) == before
    shown = run("--classes", "cat", "--by-date", "month", "--folder", str(tmp_path), "--dry-run",
                env={"COLUMNS": "1000"})
    assert "Cat/2019-05/chelsea.jpg" in shown.stdout


def test_with_inbox_the_photos_of_that_folder_are_sorted_into_top_level_class_folders(tmp_path):
    (tmp_path / "Camera Uploads").mkdir()
    (tmp_path / "Camera Uploads" / "chelsea.jpg").write_bytes(sample_photos.jpeg("chelsea"))
    (tmp_path / "All").mkdir()
    (tmp_path / "All" / "coffee.jpg").write_bytes(sample_photos.jpeg("coffee"))
    result = run("--classes", "cat", "food", "--inbox", "/Camera Uploads", "--folder", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert {k: v for k, v in tree(tmp_path).items() if v is not None} == {
        "Cat/chelsea.jpg": sample_photos.jpeg("chelsea"), "All/coffee.jpg": sample_photos.jpeg("coffee")}


def test_an_inbox_that_is_not_there_is_one_line_and_exit_status_1(tmp_path):
    result = run("--classes", "cat", "--inbox", "Camera Uploads", "--folder", str(tmp_path))
    assert result.returncode == 1
    assert "there is no inbox" in one_line_error(result) and "Camera Uploads" in result.stderr


def test_an_inbox_inside_a_class_folder_is_exit_status_2_naming_it(tmp_path):
    result = run("--classes", "cat", "--inbox", "Cat/new", "--folder", str(tmp_path))
    assert result.returncode == 2
    assert "the inbox /Cat/new is inside the folder of class 'cat'" in one_line_error(result)


def test_service_mode_sends_the_inbox_and_by_date_to_configure_and_names_the_inbox(stub_url):
    result = run("--classes", "cat", "--inbox", "/Camera Uploads", "--by-date", "month",
                 env={"CATEGORIZER_URL": stub_url, "SERVICE_KEY": "k"})
    assert result.returncode == 0, result.stderr
    assert StubService.configured == [{"classes": ["cat"], "inbox": "/Camera Uploads", "by_date": "month"}]
    assert "Sorted Dropbox /Camera Uploads" in result.stdout
