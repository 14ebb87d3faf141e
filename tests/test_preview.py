"""Preview in the service: POST /sort {"dry_run": true} says where each photo in /All would go and
moves nothing, through the real path (Chalice's test client, SQS and DynamoDB on moto, the classify
handler, the SDK against the Dropbox emulator)."""
from __future__ import annotations

import json

from local.sample_photos import dated_jpeg, jpeg

PHOTOS = {"/All/chelsea.jpg": jpeg("chelsea"), "/All/trip/coffee.jpg": jpeg("coffee"),
          "/All/rocket.jpg": jpeg("rocket")}
CORRUPT = jpeg("coffee")[:2000]


def in_all(service) -> None:
    """The photos in /All, not yet seen by the webhook (no notification is sent)."""
    for path, data in PHOTOS.items():
        service.dropbox.put(path, data)
    service.dropbox.put("/All/broken.jpg", CORRUPT)
    service.dropbox.put("/All/notes.txt", b"not a photo")


def previewed(service, body: dict) -> dict:
    answer = service.post("/sort", body)
    assert answer.status_code == 202, answer.body
    started = json.loads(answer.body)
    assert started["dry_run"] is True and (started["total"], started["skipped"]) == (4, 1)
    service.source.drain(timeout=60)
    return json.loads(service.get(f"/jobs/{started['job_id']}").body)


def test_a_dry_run_says_where_each_photo_would_go_and_moves_nothing(service):
    service.configure(["cat", "food"])
    in_all(service)
    before = service.dropbox.files("/")
    job = previewed(service, {"dry_run": True})
    assert service.dropbox.files("/") == before  # every file where it was, byte for byte
    assert job["dry_run"] and job["finished"] and job["classes"] == ["cat", "food"]
    assert {p["path"]: p["to"] for p in job["preview"]} == {
        "/All/chelsea.jpg": "/Cat/chelsea.jpg", "/All/rocket.jpg": "/Unsorted/rocket.jpg",
        "/All/trip/coffee.jpg": "/Food/coffee.jpg"}
    # Both files it left in All are counted skipped, as listed (the listing skipped notes.txt).
    assert (job["sorted"], job["unsorted"], job["skipped"]) == ({"Cat": 1, "Food": 1}, 1, 2)
    assert {f["path"] for f in job["left"]} == {"/All/broken.jpg", "/All/notes.txt"}
    status = json.loads(service.get("/status").body)
    assert (status["finished"], status["recent_decisions"], status["recent_problems"]) == (0, [], [])


def test_a_dry_run_previews_other_classes_without_storing_them(service):
    service.configure(["cat"])
    in_all(service)
    job = previewed(service, {"dry_run": True, "classes": ["food", "vehicle"], "threshold": 0.2})
    assert {p["path"]: p["folder"] for p in job["preview"]}["/All/trip/coffee.jpg"] == "Food"
    assert job["classes"] == ["food", "vehicle"]
    assert json.loads(service.get("/configure").body)["classes"] == ["cat"]


def test_a_dry_run_before_any_configuration_previews_the_classes_it_brings(service):
    in_all(service)
    job = previewed(service, {"dry_run": True, "classes": ["cat"]})
    assert {p["path"]: p["to"] for p in job["preview"]}["/All/chelsea.jpg"] == "/Cat/chelsea.jpg"
    assert service.get("/configure").status_code == 404  # still nothing configured
    refused = service.post("/sort", {"dry_run": True})
    assert refused.status_code == 409 and "configure the classes first" in json.loads(refused.body)["Message"]


def test_the_photos_go_where_the_dry_run_said_when_sorted_for_real(service):
    service.configure(["cat", "food"])
    in_all(service)
    said = {p["path"]: p["to"] for p in previewed(service, {"dry_run": True})["preview"]}
    assert service.post("/sort", {}).status_code == 202
    service.source.drain(timeout=60)
    files = service.dropbox.files("/")
    assert all(files[to] == PHOTOS[path] for path, to in said.items())


def test_a_dry_run_is_listed_as_a_preview_and_cannot_be_undone(service):
    service.configure(["cat"])
    in_all(service)
    job_id = previewed(service, {"dry_run": True})["job_id"]
    [listed] = json.loads(service.get("/jobs").body)
    assert (listed["job_id"], listed["source"], listed["dry_run"]) == (job_id, "preview", True)
    refused = service.post("/undo", {"job_id": job_id})
    assert refused.status_code == 409 and "dry run" in json.loads(refused.body)["Message"]


def test_a_sort_body_that_is_not_understood_is_a_400_naming_the_problem(service):
    service.configure(["cat"])
    service.dropbox.put("/All/chelsea.jpg", jpeg("chelsea"))
    for body, named in ((["dry_run"], "JSON object"), ({"dry_run": "yes"}, '"dry_run"'),
                        ({"classes": ["dog"]}, '"dry_run": true'), ({"dry_run": True, "classes": ["qwzxv"]}, "qwzxv"),
                        ({"dry_run": True, "classes": ["cat"], "colour": 1}, "colour")):
        answer = service.post("/sort", body)
        assert answer.status_code == 400 and named in json.loads(answer.body)["Message"], (body, answer.body)
    assert service.dropbox.files("/") == {"/All/chelsea.jpg": jpeg("chelsea")}


def test_a_dry_run_with_a_class_threshold_above_a_photos_score_previews_it_unsorted(service):
    service.configure(["cat", "food"])
    in_all(service)
    job = previewed(service, {"dry_run": True, "classes": ["cat", {"name": "food", "threshold": 0.99}]})
    assert {p["path"]: p["folder"] for p in job["preview"]}["/All/trip/coffee.jpg"] == "Unsorted"
    assert {p["path"]: p["folder"] for p in job["preview"]}["/All/chelsea.jpg"] == "Cat"
    assert json.loads(service.get("/configure").body)["covers"][1]["threshold_from"] == "default"


def test_a_dry_run_by_month_says_the_date_folder_each_photo_would_go_to_and_moves_nothing(service):
    service.configure(["cat", "food"], by_date="month")
    service.dropbox.put("/All/chelsea.jpg", dated_jpeg("chelsea", "2019:05:04 10:00:00"))
    service.dropbox.put("/All/trip/coffee.jpg", dated_jpeg("coffee", "2021:12:31 23:59:59"))
    before = service.dropbox.files("/")
    started = json.loads(service.post("/sort", {"dry_run": True}).body)
    service.source.drain(timeout=60)
    job = json.loads(service.get(f"/jobs/{started['job_id']}").body)
    assert service.dropbox.files("/") == before
    assert {p["path"]: p["to"] for p in job["preview"]} == {
        "/All/chelsea.jpg": "/Cat/2019-05/chelsea.jpg", "/All/trip/coffee.jpg": "/Food/2021-12/coffee.jpg"}
    assert job["sorted"] == {"Cat": 1, "Food": 1}  # counted by class folder, as without dates


def test_a_dry_run_with_another_inbox_previews_that_folder(service):
    service.configure(["cat"])
    in_all(service)
    service.dropbox.put("/Camera Uploads/kitty.jpg", jpeg("chelsea"))
    started = json.loads(service.post("/sort", {"dry_run": True, "classes": ["cat"], "inbox": "/Camera Uploads"}).body)
    assert started["total"] == 1
    service.source.drain(timeout=60)
    job = json.loads(service.get(f"/jobs/{started['job_id']}").body)
    assert {p["path"]: p["to"] for p in job["preview"]} == {"/Camera Uploads/kitty.jpg": "/Cat/kitty.jpg"}
