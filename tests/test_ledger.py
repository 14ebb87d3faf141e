"""One ledger per photo, by its Dropbox file id: sorting, learning, undo and copies read what the
service did to a photo from it, never from a path alone. User stories through the real path
(Chalice's test client, the SDK against the emulator over HTTPS, moto's SQS and DynamoDB)."""
from __future__ import annotations

import json

from local.sample_photos import jpeg

PHOTOS = {"/All/chelsea.jpg": jpeg("chelsea"), "/All/coffee.jpg": jpeg("coffee"), "/All/rocket.jpg": jpeg("rocket")}


def status(service) -> dict:
    return json.loads(service.get("/status").body)


def queued_bodies(service) -> list[str]:
    """The bodies waiting in the queue, left there (visible again at once)."""
    sqs, url = service.source._sqs, service.source.queue_url
    found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
    return [m["Body"] for m in found]


def sorted_by_the_webhook(service, classes=("cat", "food")) -> tuple[str, list[str]]:
    """The photos sorted by one webhook job: its id and the SQS bodies it queued."""
    service.configure(list(classes))
    for path, data in PHOTOS.items():
        service.dropbox.put(path, data)
    service.notify()
    bodies = queued_bodies(service)
    assert len(bodies) == len(PHOTOS)
    service.source.drain(timeout=60)
    [job] = json.loads(service.get("/jobs").body)
    return job["job_id"], bodies


def test_an_undone_photo_stays_in_all_counted_nowhere_when_sqs_delivers_its_message_again(service):
    job_id, bodies = sorted_by_the_webhook(service)
    assert json.loads(service.post("/undo", {"job_id": job_id}).body)["moved_back"] == 3
    # At least once: SQS hands every message of the job out once more after the undo.
    service.source._sqs.send_message_batch(QueueUrl=service.source.queue_url, Entries=[
        {"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)])
    service.source.drain(timeout=60)
    assert service.dropbox.files("/") == PHOTOS
    counts = status(service)
    assert (counts["sorted"], counts["unsorted"], counts["gone"]) == ({}, 0, 0)
    assert [d["undone"] for d in counts["recent_decisions"]] == [True] * 3  # the decisions say so too
    job = json.loads(service.get(f"/jobs/{job_id}").body)
    assert job["state"] == "undone" and (job["sorted"], job["unsorted"]) == ({"Cat": 1, "Food": 1}, 1)


def test_undo_never_moves_a_file_the_user_put_at_the_jobs_path_while_it_was_undoing(service, monkeypatch):
    from chalicelib.adapters.dropbox_store import DropboxStore

    job_id, _ = sorted_by_the_webhook(service)
    original = DropboxStore.list_folder

    def list_then_the_user_swaps(self, path):
        found = original(self, path)
        if path.lower() == "/cat" and not service.dropbox.exists("/Mine/chelsea.jpg"):
            # Between undo's look and its move, the user swaps the sorted photo for another file.
            service.dropbox.user_move("/Cat/chelsea.jpg", "/Mine/chelsea.jpg")
            service.dropbox.put("/Cat/chelsea.jpg", jpeg("astronaut"))
        return found

    monkeypatch.setattr(DropboxStore, "list_folder", list_then_the_user_swaps)
    service.post("/undo", {"job_id": job_id})
    files = service.dropbox.files("/")
    assert files["/Cat/chelsea.jpg"] == jpeg("astronaut")  # the user's file stays where the user put it
    assert jpeg("chelsea") in (files.get("/All/chelsea.jpg"), files.get("/Mine/chelsea.jpg"))


def test_undo_leaves_a_photo_that_a_later_job_sorted_again_and_says_which_to_undo(service):
    first, _ = sorted_by_the_webhook(service)
    # The user drops the photo back into /All; the webhook sorts it again in a second job.
    service.dropbox.user_move("/Cat/chelsea.jpg", "/All/chelsea.jpg")
    service.notify()
    service.source.drain(timeout=60)
    assert service.dropbox.exists("/Cat/chelsea.jpg")
    answer = json.loads(service.post("/undo", {"job_id": first}).body)
    assert answer["moved_back"] == 2
    assert answer["left"] == [{"path": "/Cat/chelsea.jpg",
                               "reason": "sorted again since by a later job: undo that one to put it back"}]
    assert service.dropbox.files("/Cat") == {"/Cat/chelsea.jpg": jpeg("chelsea")}
    assert status(service)["sorted"] == {"Cat": 1}


def test_a_queued_photo_the_user_drags_into_a_class_folder_is_counted_gone_learned_and_never_undone(service):
    service.configure(["cat", "food"])
    service.dropbox.put("/All/chelsea.jpg", jpeg("chelsea"))
    job_id = json.loads(service.post("/sort", {}).body)["job_id"]
    # Before its queued request runs, the user files the photo into /Food by hand.
    service.dropbox.user_move("/All/chelsea.jpg", "/Food/chelsea.jpg")
    assert service.notify()["to_learn"] == 1
    service.source.drain(timeout=60)
    assert service.dropbox.files("/") == {"/Food/chelsea.jpg": jpeg("chelsea")}
    counts = status(service)
    assert (counts["sorted"], counts["gone"]) == ({}, 1)
    assert counts["learned"] == {"food": {"examples": 1, "corrections": 0}}
    answer = json.loads(service.post("/undo", {"job_id": job_id}).body)
    assert answer["moved_back"] == 0
    assert service.dropbox.files("/") == {"/Food/chelsea.jpg": jpeg("chelsea")}


def test_a_sorted_photo_renamed_inside_its_class_folder_is_not_learned_as_an_example(service):
    sorted_by_the_webhook(service)
    service.dropbox.user_move("/Cat/chelsea.jpg", "/Cat/kitty on the sofa.jpg")
    assert service.notify()["to_learn"] == 0
    service.source.drain(timeout=60)
    assert status(service)["learned"] == {}


def test_an_undone_job_says_undone_and_when_everywhere_and_a_second_undo_is_a_409_already_undone(service):
    job_id, _ = sorted_by_the_webhook(service)
    service.post("/undo", {"job_id": job_id})
    job = json.loads(service.get(f"/jobs/{job_id}").body)
    assert job["state"] == "undone" and job["undone_at"].endswith("+00:00")
    [listed] = json.loads(service.get("/jobs").body)
    assert (listed["state"], listed["undone_at"]) == ("undone", job["undone_at"])
    again = service.post("/undo", {"job_id": job_id})
    assert again.status_code == 409 and "already undone" in json.loads(again.body)["Message"]
    assert service.dropbox.files("/") == PHOTOS


def test_a_copy_of_an_undone_photo_is_sorted_into_its_class_not_into_duplicates(service):
    copy_of_an_undone_photo_goes_to_its_class(service)


def test_a_copy_of_an_undone_photo_is_no_duplicate_even_when_the_undo_could_not_withdraw_its_claim(
        service, aws_faults):
    aws_faults("dynamodb", 1.0, operations=frozenset({"DeleteItem"}), status=400, error="ValidationException")
    copy_of_an_undone_photo_goes_to_its_class(service)


def copy_of_an_undone_photo_goes_to_its_class(service) -> None:
    service.configure(["cat"], duplicates="folder")
    service.dropbox.put("/All/chelsea.jpg", jpeg("chelsea"))
    service.notify()
    service.source.drain(timeout=60)
    [job] = json.loads(service.get("/jobs").body)
    assert json.loads(service.post("/undo", {"job_id": job["job_id"]}).body)["moved_back"] == 1
    service.dropbox.put("/All/chelsea copy.jpg", jpeg("chelsea"))
    service.notify()
    service.source.drain(timeout=60)
    # The only sorted photo with those bytes is the copy: it is no duplicate of anything sorted.
    assert service.dropbox.files("/") == {"/All/chelsea.jpg": jpeg("chelsea"),
                                          "/Cat/chelsea copy.jpg": jpeg("chelsea")}


def test_a_copy_whose_original_could_not_be_moved_is_not_sent_to_duplicates(service):
    service.configure(["cat"], duplicates="folder")
    service.dropbox.put("/Cat", b"a plain file where the class folder would go")
    service.dropbox.put("/All/chelsea.jpg", jpeg("chelsea"))
    service.dropbox.put("/All/chelsea again.jpg", jpeg("chelsea"))
    service.notify()
    service.source.drain(timeout=60)
    assert not service.dropbox.exists("/Duplicates")
    # Once the user clears the way, one photo is sorted and the other is its copy.
    service.dropbox.user_delete("/Cat")
    service.post("/sort", {})
    service.source.drain(timeout=60)
    assert sorted(service.dropbox.files("/").values()) == [jpeg("chelsea")] * 2
    assert [len(service.dropbox.files(f"/{f}")) for f in ("All", "Cat", "Duplicates")] == [0, 1, 1]


def test_a_copy_whose_original_the_user_deleted_during_the_sort_goes_to_its_class(service, monkeypatch):
    from chalicelib.adapters.dropbox_photos import DropboxPhotos

    service.configure(["cat"], duplicates="folder")
    service.dropbox.put("/All/a.jpg", jpeg("chelsea"))
    service.dropbox.put("/All/b.jpg", jpeg("chelsea"))
    original = DropboxPhotos.move

    def the_user_deletes_the_first_then_it_moves(self, moves, inbox):
        if service.dropbox.exists("/All/a.jpg"):
            service.dropbox.user_delete("/All/a.jpg")  # between the batch's read and its move
        return original(self, moves, inbox)

    monkeypatch.setattr(DropboxPhotos, "move", the_user_deletes_the_first_then_it_moves)
    service.notify()
    service.source.drain(timeout=60)
    [(path, data)] = service.dropbox.files("/").items()
    assert path.startswith("/Cat/") and data == jpeg("chelsea")


def test_a_photo_queued_by_the_webhook_and_by_post_sort_is_sorted_in_both_jobs_and_undone_by_the_mover(service):
    service.configure(["cat"])
    service.dropbox.put("/All/chelsea.jpg", jpeg("chelsea"))
    service.notify()
    sort_job = json.loads(service.post("/sort", {}).body)["job_id"]
    sqs, url = service.source._sqs, service.source.queue_url
    # The sort's message waits while the webhook's sorts the photo; then it is delivered.
    found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    [later] = [m for m in found if json.loads(m["Body"]).get("job_id") == sort_job]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=later["ReceiptHandle"], VisibilityTimeout=30)
    for m in found:
        if m is not later:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    service.source.drain(timeout=30)
    assert service.dropbox.exists("/Cat/chelsea.jpg")
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=later["ReceiptHandle"], VisibilityTimeout=0)
    service.source.drain(timeout=30)
    job = json.loads(service.get(f"/jobs/{sort_job}").body)
    assert (job["finished"], job["sorted"], job["gone"]) == (True, {"Cat": 1}, 0)
    assert status(service)["sorted"] == {"Cat": 1}
    # The sort's job moved nothing: its undo leaves the photo; the webhook's job moved it, and takes it back.
    nothing = json.loads(service.post("/undo", {"job_id": sort_job}).body)
    assert (nothing["moved_back"], nothing["left"]) == (0, [])
    assert service.dropbox.exists("/Cat/chelsea.jpg")
    webhook_job = next(j["job_id"] for j in json.loads(service.get("/jobs").body) if j["source"] == "webhook")
    assert json.loads(service.post("/undo", {"job_id": webhook_job}).body)["moved_back"] == 1
    assert service.dropbox.files("/") == {"/All/chelsea.jpg": jpeg("chelsea")}


def test_an_undo_whose_move_answer_dropbox_lost_still_puts_the_photos_back_and_says_so(service):
    job_id, _ = sorted_by_the_webhook(service)
    # Dropbox makes the moves back, and the connection drops before its answer arrives.
    service.dropbox.fail("files/move_batch_v2", "reset", times=1)
    answer = json.loads(service.post("/undo", {"job_id": job_id}).body)
    assert (answer["moved_back"], answer["left"]) == (3, [])
    assert service.notify()["queued"] == 0  # undone: the webhook leaves them in /All
    service.source.drain(timeout=30)
    assert service.dropbox.files("/") == PHOTOS
    assert (status(service)["sorted"], status(service)["unsorted"]) == ({}, 0)


def test_an_undo_asked_again_after_aws_failed_past_its_moves_reports_them_moved_back_and_counts_nothing_twice(
        service, aws_faults):
    # The job's own record (UpdateItem of job#..., with undone_at) is refused: the moves and the
    # photos' ledger are done, the answer is a 503, and the user asks again.
    refusals = aws_faults("dynamodb", 0.0, operations=frozenset({"UpdateItem"}), naming=b"undone_at")
    job_id, _ = sorted_by_the_webhook(service)
    refusals.rate = 1.0
    assert service.post("/undo", {"job_id": job_id}).status_code == 503
    refusals.rate = 0.0
    assert service.dropbox.files("/") == PHOTOS  # the moves were made
    answer = json.loads(service.post("/undo", {"job_id": job_id}).body)
    assert (answer["moved_back"], answer["left"]) == (3, [])
    assert service.dropbox.files("/") == PHOTOS
    counts = status(service)
    assert (counts["finished"], counts["sorted"], counts["unsorted"]) == (0, {}, 0)
    job = json.loads(service.get(f"/jobs/{job_id}").body)
    assert job["state"] == "undone"
    assert service.post("/undo", {"job_id": job_id}).status_code == 409
