"""The user's stories of learning and undo, told once and run against both stores: the service
through the real path (Chalice's test client, the Dropbox SDK against the emulator over HTTPS, SQS
and DynamoDB on moto) and `main.py --folder DIR` on a local folder (main.main in this process, its
stdout read as a user reads it). Both decide by the same rules (chalicelib/rules/learning.py,
undo.py, configuration.stands_by_examples); these tests hold each store to them.

A world is a store the user changes by hand (`put`, `user_move`, `user_delete`) and the service or
tool that looks at it (`sort`: the service's notification and queue; a run of main.py --folder),
with what it says it learned (`taught`, per class folder casefolded: examples, corrections) and
what an undo of the last sort says (`undo`). Paths are relative to the store's root ("Cat/a.jpg").
"""
from __future__ import annotations

import contextlib
import io
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

import pytest

import main
from chalicelib.rules.configuration import folder_name
from cli import sidecars
from cli.journal import STATE_DIR
from local.sample_photos import EXAMPLE_CROPS, NEW_CROP, crop, dated_jpeg, jpeg

NOT_THERE = "not there any more (moved or deleted since): left alone"


class World(Protocol):
    def configure(self, classes: list[str], **options: str) -> None:
        """The classes, and options of /configure ("inbox", "by_date", "action": main.py's --inbox,
        --by-date, --tag)."""
        ...

    def refusal(self, classes: list[str], **options: str) -> str:
        """Why these classes are refused (the service's 400, the tool's exit status 2)."""
        ...

    def where(self, folder: str) -> str:
        """A top-level folder as the messages name it: "/Grandma" in Dropbox, "DIR/Grandma" on disk."""
        ...

    def put(self, path: str, data: bytes) -> None: ...

    def user_move(self, src: str, dst: str) -> None: ...

    def user_delete(self, path: str) -> None: ...

    def sort(self) -> None:
        """The service or tool looks at the store: sorts the inbox, learns the class folders."""
        ...

    def files(self) -> dict[str, bytes]: ...

    def taught(self) -> dict[str, tuple[int, int]]: ...

    def undo(self) -> tuple[int, dict[str, str]]:
        """Undo the last sort: how many photos went back, and each one left (where, why)."""
        ...

    def shown(self, path: str) -> str:
        """A path as this store names it in its answers."""
        ...

    def labels(self, path: str) -> set[str]:
        """A photo's labels: its Dropbox tags (files/tags/get), or the subjects of its XMP sidecar."""
        ...

    def untag(self) -> tuple[int, dict[str, str]]:
        """Undo the last sort that tagged: how many photos lost its labels, and each one left (where, why)."""
        ...


class ServiceWorld:
    def __init__(self, service):
        self.service = service

    def configure(self, classes: list[str], **options: str) -> None:
        self.service.configure(classes, **options)

    def refusal(self, classes: list[str], **options: str) -> str:
        response = self.service.post("/configure", {"classes": classes, **options})
        assert response.status_code == 400, response.body
        return json.loads(response.body)["Message"]

    def where(self, folder: str) -> str:
        return f"/{folder}"

    def put(self, path: str, data: bytes) -> None:
        self.service.dropbox.put(f"/{path}", data)

    def user_move(self, src: str, dst: str) -> None:
        self.service.dropbox.user_move(f"/{src}", f"/{dst}")

    def user_delete(self, path: str) -> None:
        self.service.dropbox.user_delete(f"/{path}")

    def sort(self) -> None:
        self.service.notify()
        self.service.source.drain(timeout=60)

    def files(self) -> dict[str, bytes]:
        return {path.lstrip("/"): data for path, data in self.service.dropbox.files("/").items()}

    def taught(self) -> dict[str, tuple[int, int]]:
        learned = json.loads(self.service.get("/status").body)["learned"]
        return {folder: (n["examples"], n["corrections"]) for folder, n in learned.items()}

    def undo(self) -> tuple[int, dict[str, str]]:
        jobs = json.loads(self.service.get("/jobs").body)
        last = next(job for job in jobs if not job["dry_run"] and job["state"] != "undone")
        response = self.service.post("/undo", {"job_id": last["job_id"]})
        assert response.status_code == 200, response.body
        answer = json.loads(response.body)
        return answer["moved_back"], {left["path"].lstrip("/"): left["reason"] for left in answer["left"]}

    def shown(self, path: str) -> str:
        return f"/{path}"

    def labels(self, path: str) -> set[str]:
        from chalicelib.wiring import wiring
        return wiring().dropbox.tags([f"/{path}"])[0]

    def untag(self) -> tuple[int, dict[str, str]]:
        jobs = json.loads(self.service.get("/jobs").body)
        last = next(job for job in jobs if not job["dry_run"] and job["state"] != "undone")
        answer = json.loads(self.service.post("/undo", {"job_id": last["job_id"]}).body)
        return answer["untagged"], {left["path"].lstrip("/"): left["reason"] for left in answer["left"]}


class FolderWorld:
    """main.py --folder ROOT, run in this process (the model loads once for the session)."""

    def __init__(self, root: Path):
        self.root = root
        self.classes: list[str] = []
        self.options: list[str] = []
        (root / "All").mkdir()

    def main(self, *args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main.main([*args, "--folder", str(self.root)])
        return status, out.getvalue(), err.getvalue()

    def configure(self, classes: list[str], **options: str) -> None:
        self.classes = classes  # the tool takes its classes with each run
        self.options = self.arguments(options)

    @staticmethod
    def arguments(options: dict[str, str]) -> list[str]:
        """/configure's options as main.py's flags ("action": "tag" is --tag)."""
        flags = [arg for name, value in options.items() if name != "action"
                 for arg in (f"--{name.replace('_', '-')}", value)]
        return flags + (["--tag"] if options.get("action") == "tag" else [])

    def refusal(self, classes: list[str], **options: str) -> str:
        status, _, err = self.main("--classes", *classes, *self.arguments(options))
        assert status == 2, err
        [line] = err.strip().splitlines()
        return line.removeprefix("error: ")

    def where(self, folder: str) -> str:
        return f"{self.root}/{folder}"

    def put(self, path: str, data: bytes) -> None:
        (self.root / path).parent.mkdir(parents=True, exist_ok=True)
        (self.root / path).write_bytes(data)

    def user_move(self, src: str, dst: str) -> None:
        (self.root / dst).parent.mkdir(parents=True, exist_ok=True)
        (self.root / src).rename(self.root / dst)

    def user_delete(self, path: str) -> None:
        (self.root / path).unlink()

    def sort(self) -> None:
        if not self.classes:
            return  # the tool runs with classes only (it reads the class folders anew each run)
        status, _, err = self.main("--classes", *self.classes, *self.options)
        assert status == 0, err

    def files(self) -> dict[str, bytes]:
        return {p.relative_to(self.root).as_posix(): p.read_bytes() for p in sorted(self.root.rglob("*"))
                if p.is_file() and STATE_DIR not in p.relative_to(self.root).parts}

    def taught(self) -> dict[str, tuple[int, int]]:
        """What --explain says each class learned from the folders."""
        status, out, err = self.main("--classes", *self.classes, *self.options, "--explain")
        assert status == 0, err
        counts = [re.search(r"; and (\d+) example\(s\) in its folder, (\d+) correction\(s\) away from it$", line)
                  for line in out.splitlines()]
        assert len(counts) == len(self.classes) and all(counts), out
        return {folder_name(c).casefold(): (int(m[1]), int(m[2])) for c, m in zip(self.classes, counts)
                if m is not None and (m[1], m[2]) != ("0", "0")}

    def undo(self) -> tuple[int, dict[str, str]]:
        """What --undo prints: "Put back N photo(s) ...", then "  path: why" for each one left."""
        status, out, err = self.main("--undo")
        put_back = re.match(r"Put back (\d+) photo\(s\)", out)
        assert put_back, out + err
        _, _, left = out.partition("where they are:\n")
        assert status == (1 if left else 0)  # a photo left where it is: exit status 1
        return int(put_back[1]), dict(line.strip().split(": ", 1) for line in left.splitlines())

    def shown(self, path: str) -> str:
        return path

    def labels(self, path: str) -> set[str]:
        sidecar = self.root / (path + sidecars.SUFFIX)
        return set(sidecars.subjects(sidecar.read_bytes())) if sidecar.exists() else set()

    def untag(self) -> tuple[int, dict[str, str]]:
        """What --undo prints: "Took the labels it added off N photo(s)' sidecars.", then each one left."""
        status, out, err = self.main("--undo")
        untagged = re.search(r"Took the labels it added off (\d+) photo", out)
        _, _, left = out.partition("where they are:\n")
        assert status == (1 if left else 0), out + err
        return int(untagged[1]) if untagged else 0, dict(line.strip().split(": ", 1) for line in left.splitlines())


@pytest.fixture(params=["dropbox", "folder"])
def world(request, tmp_path, monkeypatch) -> World:
    if request.param == "dropbox":
        return ServiceWorld(request.getfixturevalue("service"))
    monkeypatch.setenv("COLUMNS", "1000")  # rich wraps the report at the terminal's width
    return FolderWorld(tmp_path)


# --- learning by example ---------------------------------------------------------------------------

def test_photos_the_user_puts_in_a_folder_make_its_unknown_name_a_class_and_a_similar_photo_goes_there(world):
    for i, box in enumerate(EXAMPLE_CROPS):
        world.put(f"Grandma/g{i}.jpg", crop("astronaut", box))
    world.sort()
    world.configure(["Grandma", "cat"])
    new = crop("astronaut", NEW_CROP)
    world.put("All/new.jpg", new)
    world.put("All/chelsea.jpg", jpeg("chelsea"))
    world.sort()
    files = world.files()
    assert files["Grandma/new.jpg"] == new and files["Cat/chelsea.jpg"] == jpeg("chelsea")
    assert world.taught() == {"grandma": (3, 0)}


def test_an_unknown_name_with_too_few_examples_is_refused_saying_how_to_teach_it_and_nothing_moves(world):
    world.put("Grandma/g.jpg", crop("astronaut", EXAMPLE_CROPS[0]))
    world.put("Grandma/h.jpg", crop("astronaut", EXAMPLE_CROPS[1]))
    world.sort()
    world.put("All/new.jpg", crop("astronaut", NEW_CROP))
    before = world.files()
    assert f"put 3 or more photos of Grandma into {world.where('Grandma')}, then" in world.refusal(["Grandma", "cat"])
    assert world.files() == before


def test_a_file_in_a_class_folder_that_is_no_readable_photo_is_no_example_so_two_photos_are_too_few(world):
    world.put("Grandma/g.jpg", crop("astronaut", EXAMPLE_CROPS[0]))
    world.put("Grandma/h.jpg", crop("astronaut", EXAMPLE_CROPS[1]))
    world.put("Grandma/broken.jpg", b"not a jpeg after all")
    world.sort()
    world.put("All/new.jpg", crop("astronaut", NEW_CROP))
    assert f"put 3 or more photos of Grandma into {world.where('Grandma')}, then" in world.refusal(["Grandma", "cat"])
    assert world.files()["All/new.jpg"] == crop("astronaut", NEW_CROP)


def test_a_sorted_photo_the_user_moves_to_another_class_teaches_both_and_the_next_similar_photo_follows_it(world):
    world.configure(["cat", "vehicle"])
    world.put("All/motorcycle.jpg", jpeg("motorcycle"))
    world.sort()
    assert world.files() == {"Vehicle/motorcycle.jpg": jpeg("motorcycle")}
    world.user_move("Vehicle/motorcycle.jpg", "Cat/motorcycle.jpg")  # the user's correction
    world.sort()
    # An example of the class it is in now, a counter-example of the one it was sorted into.
    assert world.taught() == {"cat": (1, 0), "vehicle": (0, 1)}
    new = crop("motorcycle", NEW_CROP)
    world.put("All/motorcycle2.jpg", new)
    world.sort()
    assert world.files() == {"Cat/motorcycle.jpg": jpeg("motorcycle"), "Cat/motorcycle2.jpg": new}


def test_an_example_the_user_deletes_is_forgotten_and_the_next_similar_photo_goes_by_its_name_again(world):
    world.configure(["cat", "vehicle"])
    world.put("Cat/motorcycle.jpg", crop("motorcycle", EXAMPLE_CROPS[0]))
    world.sort()
    world.put("All/motorcycle2.jpg", crop("motorcycle", NEW_CROP))
    world.sort()
    assert world.taught() == {"cat": (1, 0)}
    assert "Cat/motorcycle2.jpg" in world.files()
    world.user_delete("Cat/motorcycle.jpg")
    world.sort()
    assert world.taught() == {}
    world.put("All/motorcycle3.jpg", crop("motorcycle", EXAMPLE_CROPS[1]))
    world.sort()
    assert world.files()["Vehicle/motorcycle3.jpg"] == crop("motorcycle", EXAMPLE_CROPS[1])


def test_the_photos_it_sorted_teach_nothing_nor_once_the_user_renames_one_inside_its_class_folder(world):
    world.configure(["cat", "food", "vehicle"])
    for name in ("chelsea", "coffee", "motorcycle"):
        world.put(f"All/{name}.jpg", jpeg(name))
    world.sort()
    assert sorted(world.files()) == ["Cat/chelsea.jpg", "Food/coffee.jpg", "Vehicle/motorcycle.jpg"]
    world.sort()  # the moves' own changes, looked at again
    assert world.taught() == {}
    world.user_move("Cat/chelsea.jpg", "Cat/kitty on the sofa.jpg")
    world.sort()
    assert world.taught() == {}
    assert world.files()["Cat/kitty on the sofa.jpg"] == jpeg("chelsea")


# --- undo ------------------------------------------------------------------------------------------

PHOTOS = {"All/chelsea.jpg": jpeg("chelsea"), "All/coffee.jpg": jpeg("coffee"), "All/trip/rocket.jpg": jpeg("rocket")}


def sorted_by_it(world: World) -> None:
    world.configure(["cat", "food"])
    for path, data in PHOTOS.items():
        world.put(path, data)
    world.sort()
    assert world.files() == {"Cat/chelsea.jpg": jpeg("chelsea"), "Food/coffee.jpg": jpeg("coffee"),
                             "Unsorted/rocket.jpg": jpeg("rocket")}


def test_undo_puts_back_byte_for_byte_what_it_sorted_and_leaves_a_photo_the_user_moved_since_saying_so(world):
    sorted_by_it(world)
    world.user_move("Food/coffee.jpg", "Mine/coffee.jpg")
    assert world.undo() == (2, {"Food/coffee.jpg": NOT_THERE})
    assert world.files() == {"All/chelsea.jpg": jpeg("chelsea"), "All/trip/rocket.jpg": jpeg("rocket"),
                             "Mine/coffee.jpg": jpeg("coffee")}


def test_undo_leaves_a_photo_the_user_moved_within_its_class_folder_and_says_where_it_is(world):
    sorted_by_it(world)
    world.user_move("Cat/chelsea.jpg", "Cat/best/chelsea.jpg")
    moved_since = f"moved since, to {world.shown('Cat/best/chelsea.jpg')}: left where it is"
    assert world.undo() == (2, {"Cat/chelsea.jpg": moved_since})
    assert world.files() == {"All/coffee.jpg": jpeg("coffee"), "All/trip/rocket.jpg": jpeg("rocket"),
                             "Cat/best/chelsea.jpg": jpeg("chelsea")}


# --- another inbox ---------------------------------------------------------------------------------

def test_a_nested_inbox_is_sorted_into_top_level_class_folders_leaving_all_alone_and_undo_puts_it_back(world):
    world.configure(["cat", "food"], inbox="/Photos/Inbox")
    world.put("All/coffee.jpg", jpeg("coffee"))  # no inbox any more: left where it is
    world.put("Photos/Inbox/chelsea.jpg", jpeg("chelsea"))
    world.put("Photos/Inbox/trip/rocket.jpg", jpeg("rocket"))
    before = world.files()
    world.sort()
    assert world.files() == {"All/coffee.jpg": jpeg("coffee"), "Cat/chelsea.jpg": jpeg("chelsea"),
                             "Unsorted/rocket.jpg": jpeg("rocket")}
    # The photos it sorted teach nothing; /Photos holds the inbox and is no class folder (/All is a
    # folder like any other now: the service keeps its photos as examples, should a class be named so).
    assert {folder: n for folder, n in world.taught().items() if folder != "all"} == {}
    assert world.undo() == (2, {})
    assert world.files() == before


@pytest.mark.parametrize("inbox, classes, named", [
    ("/Cat/Inbox", ["cat", "food"], "the inbox /Cat/Inbox is inside the folder of class 'cat'"),
    ("/Unsorted", ["cat"], "unsorted_folder 'Unsorted' collides with a class or the inbox /Unsorted"),
    ("/Food", ["cat", "food"], "class 'food' would sort photos into the inbox itself"),
    ("/Photos/../Cat", ["cat"], "contains '..'"),
])
def test_an_inbox_in_a_class_folder_or_the_unsorted_folder_is_refused_naming_it_and_nothing_moves(
        world, inbox, classes, named):
    world.put("All/chelsea.jpg", jpeg("chelsea"))
    before = world.files()
    assert named in world.refusal(classes, inbox=inbox)
    assert world.files() == before


# --- folders by date -------------------------------------------------------------------------------

CAT_2019 = dated_jpeg("chelsea", "2019:05:04 10:00:00")
COFFEE_2021 = dated_jpeg("coffee", "2021:12:31 23:59:59")
ROCKET_2019 = dated_jpeg("rocket", "2019:01:02 03:04:05")


@pytest.mark.parametrize("by_date, cat, food, unsorted", [("year", "2019", "2021", "2019"),
                                                          ("month", "2019-05", "2021-12", "2019-01")])
def test_by_date_each_photo_goes_into_the_date_folder_of_its_exif_date_and_undo_puts_back_byte_for_byte(
        world, by_date, cat, food, unsorted):
    world.configure(["cat", "food"], by_date=by_date)
    world.put("All/chelsea.jpg", CAT_2019)
    world.put("All/coffee.jpg", COFFEE_2021)
    world.put("All/trip/rocket.jpg", ROCKET_2019)
    before = world.files()
    world.sort()
    assert world.files() == {f"Cat/{cat}/chelsea.jpg": CAT_2019, f"Food/{food}/coffee.jpg": COFFEE_2021,
                             f"Unsorted/{unsorted}/rocket.jpg": ROCKET_2019}
    world.sort()  # the moves' own changes, looked at again: the photos it sorted teach nothing
    assert world.taught() == {}
    assert world.undo() == (3, {})
    assert world.files() == before


def test_by_date_a_photo_without_an_exif_date_goes_into_the_year_folder_of_its_modification_time(world):
    world.configure(["cat"], by_date="year")
    world.put("All/chelsea.jpg", jpeg("chelsea"))  # written now: Dropbox's client_modified, the file's mtime
    world.sort()
    assert world.files() == {f"Cat/{datetime.now(timezone.utc).year}/chelsea.jpg": jpeg("chelsea")}


def test_photos_in_a_class_folders_date_folders_are_its_examples_and_a_move_between_classes_is_a_correction(
        world):
    for i, box in enumerate(EXAMPLE_CROPS):
        world.put(f"Grandma/{2018 + i}/g{i}.jpg", crop("astronaut", box))
    world.sort()
    world.configure(["Grandma", "cat", "vehicle"], by_date="year")
    world.put("All/motorcycle.jpg", dated_jpeg("motorcycle", "2020:07:01 12:00:00"))
    world.sort()
    assert world.files()["Vehicle/2020/motorcycle.jpg"] == dated_jpeg("motorcycle", "2020:07:01 12:00:00")
    assert world.taught() == {"grandma": (3, 0)}
    world.user_move("Vehicle/2020/motorcycle.jpg", "Cat/2020/motorcycle.jpg")  # the user's correction
    world.sort()
    assert world.taught() == {"grandma": (3, 0), "cat": (1, 0), "vehicle": (0, 1)}


def test_by_date_a_class_named_like_a_date_folder_is_refused_naming_it_and_nothing_moves(world):
    world.put("All/chelsea.jpg", CAT_2019)
    before = world.files()
    assert "class '2024' is named like a date folder" in world.refusal(["cat", "2024"], by_date="year")
    assert world.files() == before


# --- tags instead of moves -------------------------------------------------------------------------

def photos(world: World) -> dict[str, bytes]:
    """The store's files but the XMP sidecars (the labels of main.py --folder --tag)."""
    return {path: data for path, data in world.files().items() if not path.endswith(sidecars.SUFFIX)}


def test_tags_leave_each_photo_in_place_byte_for_byte_labelled_with_every_class_above_its_threshold(world):
    world.configure(["cat", "food", "coffee"], action="tag")
    dropped = {"All/chelsea.jpg": jpeg("chelsea"), "All/trip/coffee.jpg": jpeg("coffee"),
               "All/rocket.jpg": jpeg("rocket")}
    for path, data in dropped.items():
        world.put(path, data)
    world.sort()
    assert photos(world) == dropped
    assert [world.labels(p) for p in dropped] == [{"cat"}, {"food", "coffee"}, set()]


def test_undo_of_tags_takes_them_off_and_leaves_a_photo_the_user_moved_since_saying_where_it_is(world):
    world.configure(["cat", "food", "coffee"], action="tag")
    world.put("All/chelsea.jpg", jpeg("chelsea"))
    world.put("All/trip/coffee.jpg", jpeg("coffee"))
    world.sort()
    world.user_move("All/trip/coffee.jpg", "Mine/coffee.jpg")
    moved_since = f"moved since, to {world.shown('Mine/coffee.jpg')}: left where it is"
    assert world.untag() == (1, {"All/trip/coffee.jpg": moved_since})
    assert world.labels("All/chelsea.jpg") == set()
    assert photos(world) == {"All/chelsea.jpg": jpeg("chelsea"), "Mine/coffee.jpg": jpeg("coffee")}
