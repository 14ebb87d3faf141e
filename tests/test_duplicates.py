"""Exact copies in the service: with "duplicates": "folder", a photo with the same bytes (Dropbox's
content_hash) as one already sorted goes to /Duplicates; with "keep" it is sorted like any other.
Nothing is deleted. Through the real path (the webhook, SQS and DynamoDB on moto, the classify
handler, the SDK against the Dropbox emulator)."""
from __future__ import annotations

import json

from chalicelib.rules.ports import OriginalClaim
from local.sample_photos import jpeg

CAT, FOOD = jpeg("chelsea"), jpeg("coffee")


def sorted_now(service) -> dict[str, bytes]:
    service.notify()
    service.source.drain(timeout=60)
    return service.dropbox.files("/")


def test_with_duplicates_folder_a_copy_of_a_sorted_photo_goes_to_duplicates_byte_for_byte(service):
    service.configure(["cat", "food"], duplicates="folder")
    service.dropbox.put("/All/chelsea.jpg", CAT)
    assert sorted_now(service) == {"/Cat/chelsea.jpg": CAT}
    service.dropbox.put("/All/from phone/IMG_0001.jpg", CAT)
    service.dropbox.put("/All/coffee.jpg", FOOD)
    assert sorted_now(service) == {"/Cat/chelsea.jpg": CAT, "/Duplicates/IMG_0001.jpg": CAT, "/Food/coffee.jpg": FOOD}
    status = json.loads(service.get("/status").body)
    assert status["sorted"] == {"Cat": 1, "Duplicates": 1, "Food": 1}
    copy = next(d for d in status["recent_decisions"] if d["path"] == "/All/from phone/IMG_0001.jpg")
    assert copy["to"] == "/Duplicates/IMG_0001.jpg"


def test_of_copies_arriving_together_one_is_sorted_and_the_others_go_to_duplicates(service):
    service.configure(["cat"], duplicates="folder")
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        service.dropbox.put(f"/All/{name}", CAT)
    files = sorted_now(service)
    assert sorted(p.rsplit("/", 1)[0] for p in files) == ["/Cat", "/Duplicates", "/Duplicates"]
    assert list(files.values()) == [CAT] * 3


def test_with_keep_copies_are_sorted_like_any_photo_and_are_known_once_duplicates_is_folder(service):
    service.configure(["cat"])
    service.dropbox.put("/All/a.jpg", CAT)
    service.dropbox.put("/All/b.jpg", CAT)
    assert sorted_now(service) == {"/Cat/a.jpg": CAT, "/Cat/b.jpg": CAT}
    service.configure(["cat"], duplicates="folder")  # the next batch sorts with it
    service.dropbox.put("/All/c.jpg", CAT)
    assert sorted_now(service)["/Duplicates/c.jpg"] == CAT


def test_a_copy_of_a_photo_deleted_since_is_sorted_into_its_class(service):
    service.configure(["cat"], duplicates="folder")
    service.dropbox.put("/All/a.jpg", CAT)
    sorted_now(service)
    service.dropbox.user_delete("/Cat/a.jpg")
    service.dropbox.put("/All/again.jpg", CAT)
    assert sorted_now(service) == {"/Cat/again.jpg": CAT}
    service.dropbox.put("/All/third.jpg", CAT)  # and "again" is now the photo these bytes are known by
    assert sorted_now(service) == {"/Cat/again.jpg": CAT, "/Duplicates/third.jpg": CAT}


def test_a_dry_run_says_which_photos_would_go_to_duplicates(service):
    service.configure(["cat"], duplicates="folder")
    service.dropbox.put("/All/a.jpg", CAT)
    sorted_now(service)
    service.dropbox.put("/All/copy.jpg", CAT)  # not notified: still in /All
    job_id = json.loads(service.post("/sort", {"dry_run": True}).body)["job_id"]
    service.source.drain(timeout=60)
    [copy] = json.loads(service.get(f"/jobs/{job_id}").body)["preview"]
    assert (copy["to"], copy["class"], copy["detail"]) == ("/Duplicates/copy.jpg", "cat",
                                                           "the same bytes as /Cat/a.jpg")
    assert service.dropbox.files("/")["/All/copy.jpg"] == CAT


def test_undo_puts_the_copies_back_in_all_too(service):
    service.configure(["cat"], duplicates="folder")
    service.dropbox.put("/All/a.jpg", CAT)
    service.dropbox.put("/All/b.jpg", CAT)
    sorted_now(service)
    [job] = json.loads(service.get("/jobs").body)
    assert json.loads(service.post("/undo", {"job_id": job["job_id"]}).body)["moved_back"] == 2
    assert service.dropbox.files("/") == {"/All/a.jpg": CAT, "/All/b.jpg": CAT}


def test_a_photo_moved_out_of_duplicates_into_a_class_is_an_example_of_it_and_no_correction(service):
    service.configure(["cat", "food"], duplicates="folder")
    service.dropbox.put("/All/a.jpg", FOOD)
    service.dropbox.put("/All/b.jpg", FOOD)
    sorted_now(service)
    service.dropbox.user_move("/Duplicates/b.jpg", "/Cat/b.jpg")
    assert service.notify()["to_learn"] == 1
    service.source.drain(timeout=60)
    learned = json.loads(service.get("/status").body)["learned"]
    assert learned == {"cat": {"examples": 1, "corrections": 0}}


def test_a_photo_whose_claim_was_answered_too_late_is_not_taken_for_a_copy_of_itself(service, aws_faults):
    lost = aws_faults("dynamodb", 0.0, operations=frozenset({"PutItem"}), lost_answers=True)
    service.configure(["cat"], duplicates="folder")
    service.dropbox.put("/All/a.jpg", CAT)
    service.notify()
    lost.rate = 1.0
    service.source.poll_once(wait_seconds=1)  # claimed, but the classify function heard a timeout
    lost.rate = 0.0
    assert lost.hits == 1
    service.source.drain(timeout=30)
    assert service.dropbox.files("/") == {"/Cat/a.jpg": CAT}


def test_only_one_of_two_photos_claiming_the_same_bytes_at_once_is_the_first(state):
    first, second = OriginalClaim("h1", "id:a", "/All/a.jpg"), OriginalClaim("h1", "id:b", "/All/b.jpg")
    other = OriginalClaim("h2", "id:c", "/All/c.jpg")
    assert state.claim_originals([first, other]) == [True, True]
    assert state.claim_originals([second]) == [False]  # read no claim, but another photo was quicker
    assert state.claim_originals([first]) == [True]  # the same photo again: its claim stands
    assert state.originals(["h1"])["h1"].file_id == "id:a"
    # Taking over from a photo that is gone works once: a second taker read the same holder too late.
    assert state.claim_originals([OriginalClaim("h1", "id:b", "/All/b.jpg", replaces="id:a"),
                                  OriginalClaim("h2", "id:d", "/All/d.jpg", replaces="id:c")]) == [True, True]
    assert state.claim_originals([OriginalClaim("h1", "id:e", "/All/e.jpg", replaces="id:a")]) == [False]
    assert state.originals(["h1", "h2"])["h1"].file_id == "id:b"


def test_duplicates_must_be_keep_or_folder_and_its_folder_cannot_be_a_class_and_keep_is_the_default(service):
    for body, named in (({"classes": ["cat"], "duplicates": "delete"}, '"duplicates" must be'),
                        ({"classes": ["cat", "duplicates"], "duplicates": "folder"}, "collides")):
        answer = service.post("/configure", body)
        assert answer.status_code == 400 and named in json.loads(answer.body)["Message"], answer.body
    assert service.configure(["cat"])["duplicates"] == "keep"  # the default
