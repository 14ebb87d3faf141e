"""The README's Guarantees, one test (or more) named after each promise, through the real path."""
from __future__ import annotations

import ast
import json
from pathlib import Path

from local.sample_photos import jpeg

CHALICELIB = Path(__file__).resolve().parent.parent / "chalicelib"


def status(service) -> dict:
    return json.loads(service.get("/status").body)


def post_notification(service):
    from local.dropbox_emulator import signed_notification
    body, signature = signed_notification([service.dropbox.account_id], service.dropbox.app_secret)
    return service.client.http.post("/webhook", body=body, headers={
        "Content-Type": "application/json", "X-Dropbox-Signature": signature})



def test_at_least_once_a_photo_listed_while_sqs_refuses_it_is_queued_by_the_next_notification(service, aws_faults):
    service.configure(["cat"])
    service.dropbox.put("/All/a.jpg", jpeg("chelsea"))
    refusals = aws_faults("sqs", 1.0, operations=frozenset({"SendMessageBatch"}))
    response = post_notification(service)
    refusals.rate = 0.0
    assert response.status_code == 503 and refusals.hits >= 4  # botocore's bounded retries, all refused
    # The cursor stayed before the photo, so Dropbox's next notification queues it.
    assert service.notify()["queued"] == 1
    service.source.drain(timeout=30)
    assert service.dropbox.files("/") == {"/Cat/a.jpg": jpeg("chelsea")}


def test_recorded_once_an_outcome_that_could_not_be_recorded_comes_back_until_it_is(service, aws_faults):
    # Only the writes that record an outcome: the move itself goes ahead.
    refusals = aws_faults("dynamodb", 0.0, operations=frozenset({"TransactWriteItems"}), naming=b'"file#')
    service.configure(["cat"])
    service.dropbox.put("/All/a.jpg", jpeg("chelsea"))
    service.notify()
    refusals.rate = 1.0
    service.source.poll_once(wait_seconds=1)  # moved, but the record is refused: not acknowledged
    refusals.rate = 0.0
    assert refusals.hits >= 4
    assert service.dropbox.files("/") == {"/Cat/a.jpg": jpeg("chelsea")} and status(service)["finished"] == 0
    service.source.drain(timeout=30)
    now = status(service)
    assert (now["finished"], now["sorted"], now["queue"]["dead_letter"]) == (1, {"Cat": 1}, 0)


def test_recorded_once_an_outcome_whose_answer_was_lost_is_counted_once(service, aws_faults):
    lost = aws_faults("dynamodb", 0.0, operations=frozenset({"TransactWriteItems"}), lost_answers=True)
    service.configure(["cat"])
    service.dropbox.put("/All/a.jpg", jpeg("chelsea"))
    service.notify()
    lost.rate = 1.0
    service.source.poll_once(wait_seconds=1)  # recorded, but the handler heard a timeout
    lost.rate = 0.0
    assert lost.hits == 1 and service.source.failures == 1
    service.source.drain(timeout=30)
    now = status(service)
    assert (now["finished"], now["sorted"], now["queue"]["dead_letter"]) == (1, {"Cat": 1}, 0)


def test_exactly_one_final_place_a_message_delivered_twice_moves_the_photo_once(service):
    service.configure(["cat"])
    service.dropbox.put("/All/chelsea.jpg", jpeg("chelsea"))
    service.notify()
    [message] = service.source._sqs.receive_message(QueueUrl=service.source.queue_url)["Messages"]
    event = service.source._event([message])
    service.client.lambda_.invoke("classify", event)
    service.client.lambda_.invoke("classify", event)  # SQS delivered it again
    assert service.dropbox.files("/") == {"/Cat/chelsea.jpg": jpeg("chelsea")}
    now = status(service)
    assert now["sorted"] == {"Cat": 1} and now["finished"] == 1


def test_never_overwrite_a_photo_whose_name_is_taken_in_its_folder_gets_a_numbered_name(service):
    service.configure(["cat"])
    service.dropbox.put("/Cat/chelsea.jpg", b"the user's own file")
    service.dropbox.put("/All/chelsea.jpg", jpeg("chelsea"))
    service.notify()
    service.source.drain(timeout=30)
    assert service.dropbox.files("/") == {"/Cat/chelsea.jpg": b"the user's own file",
                                          "/Cat/chelsea (1).jpg": jpeg("chelsea")}


def test_never_delete_the_lambda_code_has_no_dropbox_delete_call():
    calls = {node.attr for path in CHALICELIB.rglob("*.py") for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.Attribute) and node.attr.startswith("files_")}
    assert calls and not {c for c in calls if "delete" in c}, sorted(calls)


def test_never_delete_a_file_that_cannot_be_sorted_stays_in_all_byte_for_byte(service):
    service.configure(["cat"])
    kept = {"/All/notes.txt": b"not a photo", "/All/broken.jpg": jpeg("chelsea")[:2000], "/All/.x.jpg": jpeg("chelsea")}
    for path, data in kept.items():
        service.dropbox.put(path, data)
    service.notify()
    service.source.drain(timeout=30)
    assert service.dropbox.files("/") == kept


def test_secrets_are_compared_only_in_constant_time():
    """No ==, != or `in` on a name that holds a secret: keys, secrets, tokens and signatures go
    through hmac.compare_digest, whose time does not depend on where the first difference is."""
    secret = ("secret", "token", "signature", "service_key", "authorization", "bearer")
    found = []
    for path in [*CHALICELIB.rglob("*.py"), CHALICELIB.parent / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare) and any(isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn))
                                                     for op in node.ops):
                names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | \
                        {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
                if any(word in name.lower() for name in names for word in secret):
                    found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    assert found == []
