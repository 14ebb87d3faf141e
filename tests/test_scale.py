"""Many files at once: the webhook answers within its time budget however many are waiting, a
page at a time, and hands the rest to the classify function; each file is queued once."""
from __future__ import annotations

import io
import json
import time

import boto3
from PIL import Image

from chalicelib.flows import inbox, webhook
from chalicelib.flows.paging import PAGE_LIMIT, Budgeted
from chalicelib.rules.ports import Page


def small_photo(i: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (i * 37 % 256, i * 91 % 256, i * 53 % 256)).save(out, "JPEG")
    return out.getvalue()


def test_a_listing_stops_at_the_page_whose_successor_would_end_past_the_deadline():
    now = [0.0]
    read = []

    def pages():
        for i in range(10):
            now[0] += 1.0  # each page takes a second to read and queue
            read.append(i)
            yield Page([], [], f"c{i}", more=i < 9)

    budgeted = Budgeted(pages(), deadline=4.5, clock=lambda: now[0])
    assert [p.cursor for p in budgeted] == ["c0", "c1", "c2", "c3"]  # a fifth would end at 5 s
    assert budgeted.out_of_time and read == [0, 1, 2, 3]  # the page after was never read


def test_a_listing_already_out_of_time_reads_no_page_unless_its_first_is_free():
    def pages():
        yield Page([], [], "c0", more=True)

    assert list(Budgeted(pages(), deadline=1.0, clock=lambda: 2.0)) == []
    assert [p.cursor for p in Budgeted(pages(), deadline=1.0, first_page_free=True, clock=lambda: 2.0)] == ["c0"]


def test_a_webhook_out_of_time_queues_the_pages_that_fit_and_the_rest_is_queued_by_the_classify_function_each_once(
        service, monkeypatch):
    service.configure(["cat"])
    for i in range(30):
        service.dropbox.put(f"/All/p{i:02}.jpg", small_photo(i))
    monkeypatch.setattr(webhook, "_first_request_started", None)  # not a cold process's first request
    # Six pages of five, each at least 0.1 s of Dropbox latency: more than the 0.5 s budget.
    monkeypatch.setattr(inbox, "SYNC_BUDGET_SECONDS", 0.5)
    service.dropbox.page_size = 5
    service.dropbox.latency = 0.1
    answer = service.notify()
    assert 0 < answer["queued"] < 30  # the pages that fit (the first holds /All itself and four photos)
    service.dropbox.latency = 0.0
    service.source.drain(timeout=120)
    assert service.dropbox.files("/All") == {} and len(service.dropbox.files("/")) == 30
    status = json.loads(service.get("/status").body)
    assert (status["queued"], status["finished"]) == (30, 30)  # each photo queued once
    assert status["queue"]["dead_letter"] == 0


def test_class_folders_followed_out_of_time_are_handed_over_and_every_photo_there_is_learned_once(
        service, monkeypatch):
    for i in range(30):
        service.dropbox.put(f"/Cat/p{i:02}.jpg", small_photo(i))
    monkeypatch.setattr(webhook, "_first_request_started", None)  # not a cold process's first request
    monkeypatch.setattr(inbox, "SYNC_BUDGET_SECONDS", 0.5)
    service.dropbox.page_size = 5
    service.dropbox.latency = 0.1
    assert 0 < service.notify()["to_learn"] < 30
    service.dropbox.latency = 0.0
    service.source.drain(timeout=120)
    assert json.loads(service.get("/status").body)["learned"] == {"cat": {"examples": 30, "corrections": 0}}


def test_a_notification_listing_several_pages_is_one_job_whose_total_counts_every_photo_once(service):
    service.configure(["cat"])
    for i in range(12):
        service.dropbox.put(f"/All/p{i:02}.jpg", small_photo(i))
    service.dropbox.put("/All/notes.txt", b"not a photo")
    service.dropbox.page_size = 5  # three pages or so, all within the budget
    service.notify()
    service.source.drain(timeout=120)
    jobs = json.loads(service.get("/jobs").body)
    assert [(job["total"], job["done"]) for job in jobs] == [(13, 13)]  # 12 photos and the file left


def test_with_10000_files_waiting_and_dropbox_like_latency_the_webhook_answers_within_dropbox_10_s_having_queued_only_whole_pages_and_handed_the_rest_over(
        service, monkeypatch):
    service.configure(["cat"])
    photo = small_photo(0)  # the listing and queueing are what is timed, not the content
    for i in range(10_000):
        service.dropbox.put(f"/All/p{i:05}.jpg", photo)
    monkeypatch.setattr(webhook, "_first_request_started", None)  # not a cold process's first request
    service.dropbox.latency = 0.2  # each call, as Dropbox's list_folder takes 0.1-0.3 s
    started = time.monotonic()
    answer = service.notify()
    answered = time.monotonic() - started
    service.dropbox.latency = 0.0
    # What the app's budget (inbox.SYNC_BUDGET_SECONDS, for the pages) is for: Dropbox's 10 s.
    assert answered < 10.0
    assert 0 < answer["queued"] < 10_000
    assert answer["queued"] % PAGE_LIMIT == PAGE_LIMIT - 1  # whole pages (the first also holds /All itself)
    sqs = boto3.client("sqs")
    bodies = []
    while batch := sqs.receive_message(QueueUrl=service.source.queue_url, MaxNumberOfMessages=10,
                                       VisibilityTimeout=600).get("Messages", []):
        bodies += [json.loads(m["Body"]) for m in batch]
    handed_over = [b for b in bodies if "sync" in b]
    assert handed_over == [{"sync": service.dropbox.account_id}]  # the rest: one sync request
    sorts = {b["file_id"] for b in bodies if "sync" not in b}
    assert len(bodies) - len(handed_over) == len(sorts) == answer["queued"]  # those pages' files, each once
