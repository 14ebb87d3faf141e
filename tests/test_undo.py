"""Undo in the service: every sort is a job, and POST /undo puts a job's photos back in /All, through
the real path (Chalice's test client, the SDK against the emulator, moto). What an undo leaves where
the user moved it is told once for the service and main.py --folder: tests/test_stories_both_stores.py."""
from __future__ import annotations

import json

from local.sample_photos import jpeg

PHOTOS = {"/All/chelsea.jpg": jpeg("chelsea"), "/All/trip/coffee.jpg": jpeg("coffee"),
          "/All/rocket.jpg": jpeg("rocket")}


def sorted_by_the_webhook(service) -> str:
    service.configure(["cat", "food"])
    for path, data in PHOTOS.items():
        service.dropbox.put(path, data)
    service.notify()
    service.source.drain(timeout=60)
    assert not any(p.startswith("/All/") for p in service.dropbox.files("/"))
    [job] = json.loads(service.get("/jobs").body)
    assert job["source"] == "webhook" and job["finished"]
    return job["job_id"]


def test_undo_puts_every_photo_of_a_job_back_byte_for_byte_and_the_webhook_leaves_them_there(service):
    job_id = sorted_by_the_webhook(service)
    answer = json.loads(service.post("/undo", {"job_id": job_id}).body)
    assert answer["moved_back"] == 3 and answer["left"] == []
    assert service.dropbox.files("/") == PHOTOS
    assert service.notify()["queued"] == 0  # the moves back are changes in /All: not queued again
    service.source.drain(timeout=30)
    assert service.dropbox.files("/") == PHOTOS
    status = json.loads(service.get("/status").body)
    assert (status["sorted"], status["unsorted"]) == ({}, 0)


def test_after_an_undo_sort_takes_the_photos_again_when_the_user_asks(service):
    job_id = sorted_by_the_webhook(service)
    service.post("/undo", {"job_id": job_id})
    assert json.loads(service.post("/sort", {}).body)["total"] == 3
    service.source.drain(timeout=60)
    assert sorted(service.dropbox.files("/")) == ["/Cat/chelsea.jpg", "/Food/coffee.jpg", "/Unsorted/rocket.jpg"]
    status = json.loads(service.get("/status").body)
    assert (status["sorted"], status["unsorted"]) == ({"Cat": 1, "Food": 1}, 1)  # each photo counted once


def test_undo_of_an_unknown_job_is_a_404_and_without_a_job_id_a_400_saying_what_to_send(service):
    assert service.post("/undo", {"job_id": "nope"}).status_code == 404
    response = service.post("/undo", {})
    assert response.status_code == 400 and "job_id" in json.loads(response.body)["Message"]


def test_undo_while_dropbox_fails_is_a_503_and_changes_nothing(service):
    job_id = sorted_by_the_webhook(service)
    before = service.dropbox.files("/")
    service.dropbox.fail("files/list_folder", "503", times=100)
    assert service.post("/undo", {"job_id": job_id}).status_code == 503
    assert service.dropbox.files("/") == before
