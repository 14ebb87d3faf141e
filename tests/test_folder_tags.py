"""`main.py --folder DIR --tag` as a user runs it: every photo stays where it is, byte for byte, and
its labels go to an XMP sidecar beside it (dc:subject, as digiKam and darktable read it); an existing
sidecar is merged; --undo takes off only the labels the sort added."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import sidecars
from local import sample_photos
from tests.test_main_folder import run, tree

CLASSES = ["cat", "food", "coffee"]  # coffee.jpg is food and coffee both; rocket.jpg neither

DARKTABLE_SIDECAR = b'''<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:darktable="http://darktable.sf.net/"
   xmp:Rating="3"
   darktable:xmp_version="5">
   <dc:subject>
    <rdf:Bag>
     <rdf:li>food</rdf:li>
     <rdf:li>holiday</rdf:li>
    </rdf:Bag>
   </dc:subject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
'''


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    inbox = tmp_path / "All"
    (inbox / "trip").mkdir(parents=True)
    (inbox / "chelsea.jpg").write_bytes(sample_photos.jpeg("chelsea"))
    (inbox / "trip" / "coffee.jpg").write_bytes(sample_photos.jpeg("coffee"))
    (inbox / "rocket.jpg").write_bytes(sample_photos.jpeg("rocket"))
    return tmp_path


def subjects(path: Path) -> list[str]:
    return sidecars.subjects(path.read_bytes())


def test_tag_leaves_every_photo_in_place_byte_for_byte_and_writes_one_sidecar_per_tagged_photo(folder):
    before = tree(folder)
    result = run("--classes", *CLASSES, "--folder", str(folder), "--tag", "--json")
    assert result.returncode == 0, result.stderr
    after = tree(folder)
    assert {path: data for path, data in after.items() if not path.endswith(".xmp")} == before
    assert sorted(p for p in after if p.endswith(".xmp")) == ["All/chelsea.jpg.xmp", "All/trip/coffee.jpg.xmp"]
    assert subjects(folder / "All/chelsea.jpg.xmp") == ["cat"]
    assert subjects(folder / "All/trip/coffee.jpg.xmp") == ["food", "coffee"]
    lines = {line["file"]: line for line in map(json.loads, result.stdout.splitlines())}
    assert (lines["/All/rocket.jpg"]["kind"], lines["/All/trip/coffee.jpg"]["tags"]) == ("unsorted", "food,coffee")


def test_an_existing_sidecar_keeps_its_content_and_subjects_and_gains_only_the_missing_labels(folder):
    (folder / "All/trip/coffee.jpg.xmp").write_bytes(DARKTABLE_SIDECAR)
    assert run("--classes", *CLASSES, "--folder", str(folder), "--tag").returncode == 0
    merged = (folder / "All/trip/coffee.jpg.xmp").read_bytes()
    assert sidecars.subjects(merged) == ["food", "holiday", "coffee"]
    assert b'xmp:Rating="3"' in merged and b'darktable:xmp_version="5"' in merged


def test_undo_puts_the_tree_back_byte_for_byte_deleting_the_sidecars_it_made_and_restoring_the_one_it_merged(folder):
    (folder / "All/trip/coffee.jpg.xmp").write_bytes(DARKTABLE_SIDECAR)
    before = tree(folder)
    assert run("--classes", *CLASSES, "--folder", str(folder), "--tag").returncode == 0
    assert tree(folder) != before
    result = run("--folder", str(folder), "--undo")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "off 2 photo(s)' sidecars" in result.stdout
    assert tree(folder) == before


def test_undo_after_another_tool_wrote_to_the_sidecar_takes_off_only_the_labels_the_sort_added(folder):
    assert run("--classes", *CLASSES, "--folder", str(folder), "--tag").returncode == 0
    sidecar = folder / "All/chelsea.jpg.xmp"
    edited, _ = sidecars.with_subjects(sidecar.read_bytes(), ["my_cat"])  # the user tags it in digiKam
    sidecar.write_bytes(edited)
    assert run("--folder", str(folder), "--undo").returncode == 0
    assert subjects(sidecar) == ["my_cat"]
    assert not (folder / "All/trip/coffee.jpg.xmp").exists()


def test_a_second_tag_run_leaves_photos_tagged_already_and_tags_nothing_twice(folder):
    assert run("--classes", *CLASSES, "--folder", str(folder), "--tag").returncode == 0
    once = tree(folder)
    result = run("--classes", *CLASSES, "--folder", str(folder), "--tag", "--json")
    assert result.returncode == 0, result.stderr
    assert tree(folder) == once
    assert not [line for line in map(json.loads, result.stdout.splitlines()) if line["kind"] == "tagged"]


def test_a_dry_run_of_tags_says_the_labels_it_would_add_and_writes_nothing(folder):
    before = tree(folder)
    result = run("--classes", *CLASSES, "--folder", str(folder), "--tag", "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    assert tree(folder) == before
    lines = {line["file"]: line for line in map(json.loads, result.stdout.splitlines())}
    assert lines["/All/trip/coffee.jpg"]["tags_added"] == "food,coffee"
    assert lines["/All/chelsea.jpg"]["tags_added"] == "cat"


def test_a_sidecar_that_is_not_xmp_fails_its_photo_saying_so_and_is_left_as_it_is(folder):
    (folder / "All/chelsea.jpg.xmp").write_bytes(b"not xml at all")
    result = run("--classes", *CLASSES, "--folder", str(folder), "--tag", "--json")
    assert result.returncode == 1
    lines = {line["file"]: line for line in map(json.loads, result.stdout.splitlines())}
    assert lines["/All/chelsea.jpg"]["kind"] == "failed" and "not XML" in lines["/All/chelsea.jpg"]["detail"]
    assert (folder / "All/chelsea.jpg.xmp").read_bytes() == b"not xml at all"


def test_tag_with_classes_that_make_one_tag_exits_2_naming_them(folder):
    result = run("--classes", "ice cream", "ice_cream", "--folder", str(folder), "--tag")
    assert result.returncode == 2 and "'ice_cream'" in result.stderr
