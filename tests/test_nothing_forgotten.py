"""Holes found by trying to break it: repeated requests, syncs that run out of time or die, files
swapped or renamed mid-sort, a file where a class folder should be, no inbox. Each story runs
through the real path (webhook, SQS on moto, the classify handler, the Dropbox emulator)."""
from __future__ import annotations

import json
import threading
import time

from chalicelib.adapters.dropbox_store import DropboxStore
from chalicelib.flows import inbox, webhook
from local.sample_photos import jpeg

CORRUPT = jpeg("chelsea")[:2000]


def status(service) -> dict:
    return json.loads(service.get("/status").body)


def test_a_photo_queued_by_the_webhook_and_by_sort_is_recorded_and_counted_once(service):
    service.configure(["cat", "food"])
    for name in ("chelsea", "coffee", "rocket"):
        service.dropbox.put(f"/All/{name}.jpg", jpeg(name))
    service.dropbox.put("/All/corrupt.jpg", CORRUPT)
    assert service.notify()["queued"] == 4
    job = json.loads(service.post("/sort", {}).body)  # the same four again, in the same SQS batch
    service.source.drain(timeout=60)
    assert sorted(service.dropbox.files("/")) == ["/All/corrupt.jpg", "/Cat/chelsea.jpg", "/Food/coffee.jpg",
                                                   "/Unsorted/rocket.jpg"]
    progress = json.loads(service.get(f"/jobs/{job['job_id']}").body)
    assert progress["finished"] and progress["percent"] == 100.0
    now = status(service)
    assert now["queue"]["dead_letter"] == 0
    assert (now["finished"], now["sorted"], now["unsorted"], now["skipped"]) == (4, {"Cat": 1, "Food": 1}, 1, 1)


def test_a_sync_out_of_time_hands_over_and_the_photo_that_came_meanwhile_is_sorted(service, monkeypatch,
                                                                                   stalled_list_changes):
    service.configure(["cat"])
    service.dropbox.put("/All/first.jpg", jpeg("chelsea"))
    service.notify()
    service.source.drain(timeout=30)
    monkeypatch.setattr(inbox, "SYNC_BUDGET_SECONDS", 0.5)
    listing, resume = stalled_list_changes
    service.dropbox.put("/All/second.jpg", jpeg("chelsea"))
    first = threading.Thread(target=service.notify)
    first.start()
    assert listing.wait(10)
    service.dropbox.put("/All/third.jpg", jpeg("chelsea"))
    assert service.notify() == {"queued": 0, "skipped": 0, "to_learn": 0}  # the lease is taken: a pending mark
    time.sleep(0.6)  # the stalled sync is now out of time
    resume.set()
    first.join(10)
    service.source.drain(timeout=30)
    assert sorted(service.dropbox.files("/")) == ["/Cat/first.jpg", "/Cat/second.jpg", "/Cat/third.jpg"]


def test_a_cold_webhook_counts_its_process_start_in_the_sync_budget_and_hands_over_the_next_pass(
        service, monkeypatch, stalled_list_changes):
    service.configure(["cat"])
    service.dropbox.put("/All/first.jpg", jpeg("chelsea"))
    service.notify()
    service.source.drain(timeout=30)
    # The next request is the first of a process whose start (imports and all) used up the budget.
    monkeypatch.setattr(webhook, "_first_request_started", time.monotonic() - inbox.SYNC_BUDGET_SECONDS)
    listing, resume = stalled_list_changes
    service.dropbox.put("/All/second.jpg", jpeg("chelsea"))
    answers = []
    first = threading.Thread(target=lambda: answers.append(service.notify()))
    first.start()
    assert listing.wait(10)
    service.dropbox.put("/All/third.jpg", jpeg("chelsea"))
    service.notify()  # the lease is taken: a pending mark, for another pass
    resume.set()
    first.join(10)
    assert answers[0]["queued"] == 1  # no second pass within the webhook: the classify function does it
    service.source.drain(timeout=30)
    assert sorted(service.dropbox.files("/")) == ["/Cat/first.jpg", "/Cat/second.jpg", "/Cat/third.jpg"]


def test_a_sync_whose_holder_died_is_finished_once_its_lease_runs_out(service, monkeypatch):
    from chalicelib.wiring import wiring

    monkeypatch.setattr(inbox, "LEASE_SECONDS", 1)
    service.configure(["cat"])
    # A webhook took the lease and died without letting go.
    assert wiring().state.acquire_lease(service.dropbox.account_id, 1)
    service.dropbox.put("/All/a.jpg", jpeg("chelsea"))
    assert service.notify() == {"queued": 0, "skipped": 0, "to_learn": 0}
    time.sleep(2.5)  # the dead lease runs out; the follow-up the notification asked for comes due
    service.source.drain(timeout=30)
    assert service.dropbox.files("/") == {"/Cat/a.jpg": jpeg("chelsea")}


def test_a_photo_swapped_after_it_was_classified_goes_back_and_is_sorted_as_what_it_is_now(service, monkeypatch):
    service.configure(["cat", "food"])
    service.dropbox.put("/All/a.jpg", jpeg("chelsea"))
    service.notify()
    original = DropboxStore.move_batch

    def swap_then_move(self, moves):
        # Between the download and the move, the user moves the cat away and puts coffee there.
        service.dropbox.user_move("/All/a.jpg", "/Keep/a.jpg")
        service.dropbox.put("/All/a.jpg", jpeg("coffee"))
        monkeypatch.setattr(DropboxStore, "move_batch", original)
        return original(self, moves)

    monkeypatch.setattr(DropboxStore, "move_batch", swap_then_move)
    service.source.drain(timeout=30)
    service.notify()  # the coffee, put back in /All, is a change like any other
    service.source.drain(timeout=30)
    assert service.dropbox.files("/") == {"/Keep/a.jpg": jpeg("chelsea"), "/Food/a.jpg": jpeg("coffee")}
    assert status(service)["sorted"] == {"Food": 1}


def test_a_photo_overwritten_after_it_was_classified_goes_back_and_is_sorted_as_what_it_is_now(service,
                                                                                             monkeypatch):
    service.configure(["cat", "food"])
    service.dropbox.put("/All/a.jpg", jpeg("chelsea"))
    service.notify()
    original = DropboxStore.move_batch

    def overwrite_then_move(self, moves):
        # Between the download and the move, the user saves coffee over the cat: same file, new content.
        service.dropbox.put("/All/a.jpg", jpeg("coffee"))
        monkeypatch.setattr(DropboxStore, "move_batch", original)
        return original(self, moves)

    monkeypatch.setattr(DropboxStore, "move_batch", overwrite_then_move)
    service.source.drain(timeout=30)
    service.notify()
    service.source.drain(timeout=30)
    assert service.dropbox.files("/") == {"/Food/a.jpg": jpeg("coffee")}
    assert status(service)["sorted"] == {"Food": 1}


def test_a_photo_renamed_while_queued_is_sorted_and_counted_once(service):
    service.configure(["cat"])
    service.dropbox.put("/All/a.jpg", jpeg("chelsea"))
    service.notify()
    service.dropbox.user_move("/All/a.jpg", "/All/b.jpg")
    service.notify()
    service.source.drain(timeout=30)
    assert service.dropbox.files("/") == {"/Cat/b.jpg": jpeg("chelsea")}
    now = status(service)
    assert (now["finished"], now["sorted"], now["gone"]) == (1, {"Cat": 1}, 0)


def test_a_file_where_a_class_folder_should_be_fails_only_its_photos_until_it_is_gone(service):
    service.configure(["cat", "food"])
    service.dropbox.put("/Cat", b"a file, not a folder")
    service.dropbox.put("/All/chelsea.jpg", jpeg("chelsea"))
    service.dropbox.put("/All/coffee.jpg", jpeg("coffee"))
    service.notify()
    service.source.drain(timeout=30)
    assert sorted(service.dropbox.files("/")) == ["/All/chelsea.jpg", "/Cat", "/Food/coffee.jpg"]
    now = status(service)
    assert now["failed"] == 1 and now["queue"]["dead_letter"] == 0
    [problem] = now["recent_problems"]
    assert problem["path"] == "/All/chelsea.jpg" and "/Cat is a file, not a folder" in problem["reason"]

    service.dropbox.user_delete("/Cat")
    assert service.post("/sort", {}).status_code == 202
    service.source.drain(timeout=30)
    assert sorted(service.dropbox.files("/")) == ["/Cat/chelsea.jpg", "/Food/coffee.jpg"]
    now = status(service)
    assert (now["finished"], now["sorted"], now["failed"]) == (2, {"Cat": 1, "Food": 1}, 0)


def test_without_an_all_folder_the_webhook_answers_200_and_sort_says_to_make_it(service):
    service.configure(["cat"])
    assert service.notify() == {"queued": 0, "skipped": 0, "to_learn": 0}
    response = service.post("/sort", {})
    assert response.status_code == 409
    assert "no folder /All" in json.loads(response.body)["Message"]
    service.dropbox.put("/All", b"a file named All")
    assert service.notify() == {"queued": 0, "skipped": 0, "to_learn": 0}
    assert service.post("/sort", {}).status_code == 409
    service.dropbox.user_delete("/All")
    service.dropbox.put("/All/a.jpg", jpeg("chelsea"))
    assert service.notify()["queued"] == 1  # once the folder is there, it is sorted
    service.source.drain(timeout=30)
    assert service.dropbox.files("/") == {"/Cat/a.jpg": jpeg("chelsea")}


def test_a_file_queued_twice_is_one_recent_problem_with_its_time_in_iso_8601_utc(service):
    from datetime import datetime, timedelta, timezone

    service.configure(["cat"])
    service.dropbox.put("/All/corrupt.jpg", CORRUPT)
    service.notify()
    service.post("/sort", {})  # the same file again: two requests, two records, one problem shown
    service.source.drain(timeout=60)
    [problem] = status(service)["recent_problems"]
    assert problem["path"] == "/All/corrupt.jpg" and problem["reason"].startswith("corrupt: ")
    at = datetime.fromisoformat(problem["at"])
    assert at.utcoffset() == timedelta(0) and abs(datetime.now(timezone.utc) - at) < timedelta(minutes=5)
