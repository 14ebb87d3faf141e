"""The service end to end: signed webhook -> SQS (moto) -> classify handler -> moves in the fake Dropbox.

Every request goes through Chalice's test client, the real dropbox SDK over HTTPS and boto3 on moto.
"""
from __future__ import annotations

import json

import pytest

from local import rendered
from local.dropbox_emulator import signed_notification
from local.in_process import AUTH, KEY
from local.sample_photos import CLEAR_CUT, SCENARIO_CLASSES, SCENARIO_EXPECTED, jpeg, landscape, variants


def test_the_root_url_answers_with_the_api_routes_without_a_key(service):
    response = service.client.http.get("/")
    assert response.status_code == 200
    answer = json.loads(response.body)
    assert "POST /configure" in answer["routes"] and "Bearer" in answer["auth"] and KEY not in response.body.decode()


def test_a_browser_at_the_root_url_gets_the_page_under_a_policy_that_runs_only_its_own_script(service):
    response = service.client.http.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert b'<script src="page.js"' in response.body and KEY.encode() not in response.body
    script = service.client.http.get("/page.js")
    assert script.status_code == 200 and b"textContent" in script.body and b"innerHTML" not in script.body


def test_status_lists_each_recent_decision_with_its_score_runner_up_and_what_decided_it(service):
    service.configure(["cat", "food"])
    service.dropbox.put("/All/chelsea.jpg", jpeg("chelsea"))
    service.notify()
    service.source.drain(timeout=30)
    [decision] = json.loads(service.get("/status").body)["recent_decisions"]
    assert (decision["path"], decision["to"], decision["folder"], decision["by"]) == \
        ("/All/chelsea.jpg", "/Cat/chelsea.jpg", "Cat", "name")
    assert decision["score"] > decision["runner_up"]["score"] and decision["runner_up"]["class"] == "food"


def test_webhook_challenge_is_echoed_as_plain_text(service):
    response = service.client.http.get("/webhook?challenge=abc123")
    assert response.status_code == 200
    assert response.body == b"abc123"
    assert response.headers["Content-Type"] == "text/plain"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_configure_reports_what_each_class_covers(service):
    body = service.configure(["Dogs", "cat"])
    dog = body["covers"][0]
    assert dog["folder"] == "/Dogs" and dog["imagenet_classes"] == 118
    assert dog["description"].startswith("Dogs: 118 ImageNet classes:")
    assert json.loads(service.get("/configure").body)["classes"] == ["Dogs", "cat"]


def test_a_class_with_its_own_threshold_above_a_photos_score_leaves_that_photo_unsorted(service):
    service.configure(["cat", {"name": "food", "threshold": 0.99}])  # coffee scores ~0.98 as food
    service.dropbox.put("/All/chelsea.jpg", jpeg("chelsea"))
    service.dropbox.put("/All/coffee.jpg", jpeg("coffee"))
    service.notify()
    service.source.drain(timeout=60)
    assert service.dropbox.files("/") == {"/Cat/chelsea.jpg": jpeg("chelsea"), "/Unsorted/coffee.jpg": jpeg("coffee")}


def test_configure_answers_each_classs_threshold_and_where_it_comes_from_and_keeps_it(service):
    answer = service.configure(["cat", {"name": "food", "threshold": 0.6}], threshold=0.4)
    assert [(c["class"], c["threshold"], c["threshold_is_default"], c["threshold_from"]) for c in answer["covers"]] \
        == [("cat", 0.4, False, "configuration"), ("food", 0.6, False, "class")]
    stored = json.loads(service.get("/configure").body)
    assert stored["classes"] == ["cat", "food"] and stored["covers"] == answer["covers"]
    default = service.configure(["cat", {"name": "food"}])
    assert [(c["threshold"], c["threshold_is_default"], c["threshold_from"]) for c in default["covers"]] \
        == [(default["threshold"], True, "default")] * 2


def test_unknown_class_is_refused_naming_it(service):
    response = service.post("/configure", {"classes": ["cat", "dgo"]})
    assert response.status_code == 400
    assert "dgo" in json.loads(response.body)["Message"]


def test_photos_dropped_in_the_inbox_end_up_sorted_byte_for_byte(service):
    service.configure(SCENARIO_CLASSES)
    dropped = {}
    for name in CLEAR_CUT:
        for i, data in enumerate(variants(name)):
            ext = {b"\xff\xd8": "jpg", b"\x89P": "png", b"RI": "webp"}[data[:2]]
            dropped[f"/All/{name}-{i}.{ext}"] = (data, SCENARIO_EXPECTED[name])
    # The same name twice (a second camera roll in a subfolder): both kept, one autorenamed.
    dropped["/All/trip/chelsea-0.jpg"] = (jpeg("chelsea", quality=80), "cat")
    for path, (data, _) in dropped.items():
        service.dropbox.put(path, data)
    service.dropbox.put("/All/notes.txt", b"not a photo")

    assert service.notify() == {"queued": len(dropped), "skipped": 1, "to_learn": 0}
    service.source.drain(timeout=120)

    final = service.dropbox.files("/")
    assert list(service.dropbox.files("/All")) == ["/All/notes.txt"]
    placed = {}
    for path, data in final.items():
        placed.setdefault(data, []).append(path)
    for path, (data, label) in dropped.items():
        [where] = placed[data]  # exactly one copy, byte-identical
        folder = "/Unsorted" if label is None else "/" + label.capitalize()
        assert where.startswith(folder + "/"), (path, where)
    cats = sorted(p for p in final if p.startswith("/Cat/chelsea-0"))
    assert cats == ["/Cat/chelsea-0 (1).jpg", "/Cat/chelsea-0.jpg"]

    status = json.loads(service.get("/status").body)
    assert status["finished"] == len(dropped) + 1
    assert status["skipped"] == 1 and status["failed"] == 0
    assert status["recent_problems"][0]["path"] == "/All/notes.txt"
    assert status["queue"] == {"waiting": 0, "in_flight": 0, "dead_letter": 0}


def test_people_screenshots_documents_and_landscapes_each_reach_their_folder_and_a_cat_none_of_them(service):
    answer = service.configure(["people", "screenshots", "documents", "landscape"])
    described = [c["description"] for c in answer["covers"]]
    assert "face detector" in described[0] and "text detector" in described[1] and "text detector" in described[2]
    dropped = {"astronaut.jpg": jpeg("astronaut"), "grace_hopper.jpg": jpeg("grace_hopper"),
               "settings.png": rendered.screenshot(), "invoice.png": rendered.document_page(),
               "valendas.png": landscape(), "chelsea.jpg": jpeg("chelsea")}
    for name, data in dropped.items():
        service.dropbox.put(f"/All/{name}", data)
    service.notify()
    service.source.drain(timeout=60)
    assert service.dropbox.files("/") == {
        "/People/astronaut.jpg": dropped["astronaut.jpg"], "/People/grace_hopper.jpg": dropped["grace_hopper.jpg"],
        "/Screenshots/settings.png": dropped["settings.png"], "/Documents/invoice.png": dropped["invoice.png"],
        "/Landscape/valendas.png": dropped["valendas.png"], "/Unsorted/chelsea.jpg": dropped["chelsea.jpg"]}


def test_every_unknown_class_is_named_in_one_message_with_words_to_try(service):
    response = service.post("/configure", {"classes": ["cat", "sunset", "dgo"]})
    assert response.status_code == 400
    message = json.loads(response.body)["Message"]
    assert "'sunset' (try: landscape" in message and "'dgo' (try: " in message and "dog" in message


def test_sort_queues_what_is_already_there_as_a_job(service):
    service.configure(["cat", "food"])
    service.dropbox.put("/All/chelsea.jpg", jpeg("chelsea"))
    service.dropbox.put("/All/coffee.jpg", jpeg("coffee"))
    service.dropbox.put("/All/rocket.jpg", jpeg("rocket"))
    response = service.post("/sort", {})
    assert response.status_code == 202
    job = json.loads(response.body)
    assert job["total"] == 3
    service.source.drain(timeout=60)
    progress = json.loads(service.get(f"/jobs/{job['job_id']}").body)
    assert progress["finished"] and progress["done"] == 3 and progress["percent"] == 100.0
    assert progress["sorted"] == {"Cat": 1, "Food": 1} and progress["unsorted"] == 1
    assert sorted(service.dropbox.files("/")) == ["/Cat/chelsea.jpg", "/Food/coffee.jpg", "/Unsorted/rocket.jpg"]
    # The webhook continues from the job's cursor: nothing queued twice.
    assert service.notify() == {"queued": 0, "skipped": 0, "to_learn": 0}


def test_a_job_names_each_file_it_left_in_all_and_why(service):
    service.configure(["cat"])
    service.dropbox.put("/All/chelsea.jpg", jpeg("chelsea"))
    service.dropbox.put("/All/broken.jpg", jpeg("coffee")[:2000])
    service.dropbox.put("/All/notes.txt", b"not a photo")
    job = json.loads(service.post("/sort", {}).body)
    service.source.drain(timeout=60)
    left = json.loads(service.get(f"/jobs/{job['job_id']}").body)["left"]
    assert sorted((f["path"], f["kind"]) for f in left) == [("/All/broken.jpg", "skipped"),
                                                             ("/All/notes.txt", "skipped")]
    assert all(f["reason"] for f in left)


def test_each_photo_is_logged_with_where_it_went_its_class_and_score_or_why_it_stayed(service, caplog):
    import logging
    import re

    caplog.set_level(logging.INFO, logger="chalicelib.flows.classify")
    service.configure(["cat"])
    service.dropbox.put("/All/chelsea.jpg", jpeg("chelsea"))
    service.dropbox.put("/All/rocket.jpg", jpeg("rocket"))
    service.dropbox.put("/All/broken.jpg", jpeg("coffee")[:2000])
    service.notify()
    service.source.drain(timeout=60)
    lines = [r.getMessage() for r in caplog.records if r.name == "chalicelib.flows.classify"]
    patterns = [r"sorted /All/chelsea\.jpg -> /Cat/chelsea\.jpg \(cat 0\.\d\d by name\)",
                r"unsorted /All/rocket\.jpg -> /Unsorted/rocket\.jpg \(no class 0\.\d\d\)",
                r"skipped /All/broken\.jpg -> \(left in place\): corrupt: .+"]
    for pattern in patterns:
        assert any(re.fullmatch(pattern, line) for line in lines), (pattern, lines)


def test_bad_files_stay_in_the_inbox_with_the_reason(service):
    service.configure(["cat"])
    service.dropbox.put("/All/empty.jpg", b"")
    service.dropbox.put("/All/truncated.jpg", jpeg("chelsea")[:2000])
    service.dropbox.put("/All/fake.png", b"%PDF-1.4 not an image")
    service.notify()
    service.source.drain(timeout=60)
    assert sorted(service.dropbox.files("/")) == ["/All/empty.jpg", "/All/fake.png", "/All/truncated.jpg"]
    status = json.loads(service.get("/status").body)
    assert status["skipped"] == 3
    reasons = {e["path"]: e["reason"].split(":")[0] for e in status["recent_problems"]}
    assert reasons == {"/All/empty.jpg": "empty", "/All/truncated.jpg": "corrupt", "/All/fake.png": "not_an_image"}


def test_hidden_files_stay_in_the_inbox_as_in_a_local_folder(service):
    service.configure(["cat"])
    service.dropbox.put("/All/.x.jpg", jpeg("chelsea"))
    service.dropbox.put("/All/.cache/thumb.jpg", jpeg("chelsea"))
    service.dropbox.put("/All/chelsea.jpg", jpeg("chelsea"))
    assert service.notify() == {"queued": 1, "skipped": 2, "to_learn": 0}
    service.source.drain(timeout=60)
    assert sorted(service.dropbox.files("/")) == ["/All/.cache/thumb.jpg", "/All/.x.jpg", "/Cat/chelsea.jpg"]
    status = json.loads(service.get("/status").body)
    assert {e["path"]: e["reason"].split(":")[0] for e in status["recent_problems"]} == \
        {"/All/.x.jpg": "hidden", "/All/.cache/thumb.jpg": "hidden"}


def test_an_sqs_outage_is_a_503_on_the_webhook_and_on_sort_and_the_photo_is_sorted_once_it_is_back(service):
    import boto3

    from chalicelib.adapters.work_queue import WorkQueue
    from local.in_process import QUEUE

    service.configure(["cat"])
    service.dropbox.put("/All/chelsea.jpg", jpeg("chelsea"))
    boto3.client("sqs").delete_queue(QueueUrl=service.source.queue_url)
    for response in (post_notification(service), service.post("/sort", {})):
        assert response.status_code == 503, response.body
        assert "cannot reach AWS now" in json.loads(response.body)["Message"]
    WorkQueue(QUEUE).create()
    assert service.notify()["queued"] == 1  # the cursor did not move past the photo
    service.source.drain(timeout=60)
    assert service.dropbox.files("/") == {"/Cat/chelsea.jpg": jpeg("chelsea")}


def test_a_dynamodb_outage_is_a_503_with_a_message(service):
    import boto3

    from local.in_process import TABLE

    boto3.client("dynamodb").delete_table(TableName=TABLE)
    for response in (service.get("/status"), service.get("/configure"),
                     service.post("/configure", {"classes": ["cat"]})):
        assert response.status_code == 503, response.body
        assert "cannot reach AWS now" in json.loads(response.body)["Message"]


@pytest.mark.parametrize("body, named", [({"classes": "cat"}, "classes"), ({"classes": ["cat"], "bogus": 1}, "bogus")])
def test_a_bad_configuration_is_a_400_naming_the_problem_even_while_dynamodb_is_down(service, aws_faults, body, named):
    down = aws_faults("dynamodb", 1.0)
    for response in (service.post("/configure", body), service.post("/sort", {"dry_run": True, **body})):
        assert response.status_code == 400, response.body
        assert named in json.loads(response.body)["Message"]
    assert down.calls == 0  # refused before any table read
    for response in (service.post("/configure", {"classes": ["cat"]}),
                     service.post("/sort", {"dry_run": True, "classes": ["cat"]})):
        assert response.status_code == 503, response.body
        assert "cannot reach AWS now" in json.loads(response.body)["Message"]


def post_notification(service):
    body, signature = signed_notification([service.dropbox.account_id], service.dropbox.app_secret)
    return service.client.http.post("/webhook", body=body, headers={
        "Content-Type": "application/json", "X-Dropbox-Signature": signature})


@pytest.mark.parametrize("signature", [None, "0" * 64, "other-body"])
def test_webhook_without_a_valid_signature_queues_nothing(service, signature):
    service.configure(["cat"])
    service.dropbox.put("/All/chelsea.jpg", jpeg("chelsea"))
    body, good = signed_notification([service.dropbox.account_id], service.dropbox.app_secret)
    headers = {"Content-Type": "application/json"}
    if signature == "other-body":
        headers["X-Dropbox-Signature"] = signed_notification(["dbid:other"], service.dropbox.app_secret)[1]
    elif signature:
        headers["X-Dropbox-Signature"] = signature
    response = service.client.http.post("/webhook", body=body, headers=headers)
    assert response.status_code == 403
    assert json.loads(service.get("/status").body)["queued"] == 0


@pytest.mark.parametrize("route", [("POST", "/configure"), ("GET", "/configure"), ("POST", "/sort"),
                                   ("GET", "/status"), ("GET", "/jobs/x")])
@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {KEY}", KEY])
def test_api_routes_need_the_service_key(service, route, authorization):
    headers = {"Content-Type": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    method, path = route
    response = service.client.http.request(method, path, headers=headers, body=b'{"classes": ["cat"]}')
    assert response.status_code == 401
    assert KEY not in response.body.decode()


@pytest.mark.parametrize("body, named", [
    ({}, "classes"), ({"classes": []}, "classes"), ({"classes": "cat"}, "classes"),
    ({"classes": ["cat", "Cat"]}, "twice"), ({"classes": [""]}, "empty"), ({"classes": ["a/b"]}, "slash"),
    ({"classes": ["a\\b"]}, "slash"), ({"classes": [".."]}, ".."), ({"classes": ["ca\tt"]}, "control"),
    ({"classes": ["x" * 65]}, "64"), ({"classes": ["cat"] + [f"c{i}" for i in range(50)]}, "50"),
    ({"classes": ["cat"], "threshold": 2}, "threshold"), ({"classes": ["cat"], "colour": 1}, "colour"),
    ({"classes": ["cat\u2215dog"]}, "slash"), ({"classes": ["cat"], "unsorted_folder": "All"}, "collides"),
    ([1, 2], "JSON object"),
    ({"classes": ["cat", {"name": "food", "threshold": 1.5}]},
     "\"threshold\" of class 'food' must be a number between 0 and 1, not 1.5"),
    ({"classes": [{"name": "food", "threshold": "high"}]}, "\"threshold\" of class 'food' must be a number"),
    ({"classes": [{"name": "food", "threshold": True}]}, "\"threshold\" of class 'food' must be a number"),
    ({"classes": [{"threshold": 0.6}]}, 'needs a "name"'), ({"classes": [{"name": "food", "colour": 1}]}, "colour"),
    ({"classes": ["cat", 3]}, "a class must be a name or an object"),
    ({"classes": ["cat", {"name": "Cat", "threshold": 0.5}]}, "twice"),
])
def test_every_invalid_configuration_is_a_400_naming_the_problem(service, body, named):
    response = service.post("/configure", body)
    assert response.status_code == 400, response.body
    assert named in json.loads(response.body)["Message"]


def test_configure_with_a_body_that_is_not_json_is_a_400_saying_so(service):
    response = service.client.http.post("/configure", headers=AUTH, body=b"{classes")
    assert response.status_code == 400
    assert "JSON" in json.loads(response.body)["Message"]


def test_importing_the_app_loads_no_numpy_pil_or_onnxruntime():
    import subprocess
    import sys
    # The webhook and API need the SDKs, never the image stack: that loads on the first classify batch.
    code = "import sys, app; print(sorted(m for m in ('numpy', 'PIL', 'onnxruntime') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_thumbnail_source_classifies_from_thumbnails_and_falls_back_to_the_original(service, monkeypatch):
    from chalicelib import wiring
    from local.sample_photos import encode, image

    monkeypatch.setenv("CLASSIFY_SOURCE", "thumbnail")
    wiring.reset()
    service.configure(["cat"])
    avif = encode(image("chelsea"), "AVIF")  # a format Dropbox makes no thumbnail of
    service.dropbox.put("/All/chelsea.jpg", jpeg("chelsea"))
    service.dropbox.put("/All/chelsea.avif", avif)
    service.notify()
    service.source.drain(timeout=60)
    assert service.dropbox.files("/") == {"/Cat/chelsea.jpg": jpeg("chelsea"), "/Cat/chelsea.avif": avif}
    assert service.dropbox.calls["files/get_thumbnail_v2"] == 2
    assert service.dropbox.calls["files/download"] == 1


def test_once_the_inbox_is_another_folder_the_webhook_and_post_sort_sort_that_one_and_leave_all_alone(service):
    service.configure(["cat", "food"])
    service.dropbox.put("/All/chelsea.jpg", jpeg("chelsea"))
    service.notify()
    service.source.drain(timeout=60)
    assert service.dropbox.files("/") == {"/Cat/chelsea.jpg": jpeg("chelsea")}
    answer = service.configure(["cat", "food"], inbox="Camera Uploads/")
    assert answer["inbox"] == "/Camera Uploads"
    service.dropbox.put("/All/coffee.jpg", jpeg("coffee"))
    service.dropbox.put("/Camera Uploads/kitty.jpg", jpeg("chelsea"))
    service.notify()
    service.source.drain(timeout=60)
    assert service.dropbox.files("/") == {"/Cat/chelsea.jpg": jpeg("chelsea"), "/Cat/kitty.jpg": jpeg("chelsea"),
                                          "/All/coffee.jpg": jpeg("coffee")}
    service.dropbox.put("/Camera Uploads/coffee.jpg", jpeg("coffee"))
    started = json.loads(service.post("/sort", {}).body)
    assert started["total"] == 1
    service.source.drain(timeout=60)
    assert service.dropbox.files("/Food") == {"/Food/coffee.jpg": jpeg("coffee")}


@pytest.mark.parametrize("body, named", [
    ({"classes": ["cat"], "inbox": 7}, '"inbox" must be a folder path'),
    ({"classes": ["cat"], "inbox": "/"}, "is empty"),
    ({"classes": ["cat"], "by_date": "day"}, '"by_date" must be "none", "year"'),
    ({"classes": ["cat", "2024-06"], "by_date": "month"}, "class '2024-06' is named like a date folder"),
    ({"classes": ["cat"], "duplicates": "folder", "inbox": "/Duplicates/new"}, "collides with the folder"),
])
def test_a_bad_inbox_or_by_date_is_a_400_naming_the_problem(service, body, named):
    response = service.post("/configure", body)
    assert response.status_code == 400, response.body
    assert named in json.loads(response.body)["Message"]
