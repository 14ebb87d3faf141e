"""Hostile input: replayed and oversized webhooks, secrets kept out of answers and logs, folder names
that only look safe, and fuzzed bodies (never a 500: a 4xx with a JSON Message, or a 200)."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.flows.webhook import MAX_BODY_BYTES
from local.dropbox_emulator import signed_notification
from local.in_process import AUTH, KEY
from local.sample_photos import jpeg

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_webhook(service, body: bytes, signature: str | None, content_type: str = "application/json"):
    headers = {"Content-Type": content_type}
    if signature is not None:
        headers["X-Dropbox-Signature"] = signature
    return service.client.http.post("/webhook", body=body, headers=headers)


def assert_clean_answer(response) -> None:
    """A 200, or a 4xx whose body is JSON with a Message: never a 5xx, never a bare string."""
    assert response.status_code == 200 or 400 <= response.status_code < 500, \
        (response.status_code, response.body[:300])
    if response.status_code != 200:
        body = json.loads(response.body)
        assert isinstance(body, dict) and isinstance(body.get("Message"), str) and body["Message"], body


def queued_total(service) -> int:
    return json.loads(service.get("/status").body)["queued"]


# --- replay and size -------------------------------------------------------------------------------

def test_a_replayed_old_notification_queues_nothing_twice(service):
    service.configure(["cat"])
    old_body, old_signature = signed_notification([service.dropbox.account_id], service.dropbox.app_secret)
    service.dropbox.put("/All/a.jpg", jpeg("chelsea"))
    assert json.loads(post_webhook(service, old_body, old_signature).body) == {"queued": 1, "skipped": 0, "to_learn": 0}
    service.source.drain(timeout=30)
    service.dropbox.put("/All/b.jpg", jpeg("chelsea", quality=80))
    service.notify()
    service.source.drain(timeout=30)
    # The old body, signed and all, arrives again (captured and replayed, or Dropbox retrying).
    for _ in range(3):
        response = post_webhook(service, old_body, old_signature)
        assert response.status_code == 200
        assert json.loads(response.body) == {"queued": 0, "skipped": 0, "to_learn": 0}
    assert queued_total(service) == 2
    assert sorted(service.dropbox.files("/")) == ["/Cat/a.jpg", "/Cat/b.jpg"]
    status = json.loads(service.get("/status").body)
    assert status["sorted"] == {"Cat": 2} and status["finished"] == 2


@pytest.mark.parametrize("signed", [True, False])
def test_a_body_over_the_limit_is_refused_with_413(service, signed):
    service.configure(["cat"])
    service.dropbox.put("/All/a.jpg", jpeg("chelsea"))
    body, _ = signed_notification([service.dropbox.account_id], service.dropbox.app_secret)
    big = body[:-1] + b" " * (MAX_BODY_BYTES + 1 - len(body)) + b"}"
    assert len(big) == MAX_BODY_BYTES + 1
    response = post_webhook(service, big, sign(big, service.dropbox.app_secret) if signed else "0" * 64)
    assert response.status_code == 413
    assert str(MAX_BODY_BYTES) in json.loads(response.body)["Message"]
    assert queued_total(service) == 0


def test_a_body_at_the_limit_is_accepted(service):
    service.configure(["cat"])
    service.dropbox.put("/All/a.jpg", jpeg("chelsea"))
    body, _ = signed_notification([service.dropbox.account_id], service.dropbox.app_secret)
    padded = body[:-1] + b" " * (MAX_BODY_BYTES - len(body)) + b"}"
    response = post_webhook(service, padded, sign(padded, service.dropbox.app_secret))
    assert response.status_code == 200 and json.loads(response.body)["queued"] == 1


# --- secrets ---------------------------------------------------------------------------------------

def test_no_secret_in_any_answer_status_or_log_record_through_failures(service, caplog):
    fake = service.dropbox
    for name in ("", "chalicelib", "dropbox", "local", "urllib3"):
        caplog.set_level(logging.DEBUG, logger=name or None)
    secrets = {fake.app_secret, fake.refresh_token, KEY}
    answers = []

    def keep(response):
        answers.append(f"{response.status_code} {response.headers} {response.body!r}")
        return response

    keep(service.post("/configure", {"classes": ["cat", "dog"]}))
    fake.put("/All/a.jpg", jpeg("chelsea"))
    fake.put("/All/b.jpg", jpeg("chelsea", quality=70))
    fake.put("/All/empty.jpg", b"")
    fake.put("/All/fake.png", b"%PDF-1.4")
    fake.fail("files/get_metadata", "expired_token", times=2)   # the SDK refreshes the token
    fake.fail("oauth2/token", "500", times=1)
    fake.fail("files/download", "503", times=1000)  # a.jpg and b.jpg fail (the next test resets the fake)
    fake.fail("files/move_v2", "reset", times=1)
    keep(service.client.http.post("/webhook", headers={"Content-Type": "application/json",
                                                      "X-Dropbox-Signature": "0" * 64}, body=b"{}"))
    body, signature = signed_notification([fake.account_id], fake.app_secret)
    keep(service.client.http.post("/webhook", body=body, headers={
        "Content-Type": "application/json", "X-Dropbox-Signature": signature}))
    service.source.drain(timeout=60)
    secrets |= set(fake._tokens)  # every access token issued so far

    # The refresh token is revoked: every Dropbox call is refused, and says so.
    revoked, fake.refresh_token = fake.refresh_token, "revoked-elsewhere"
    try:
        fake.expire_tokens()
        fake.put("/All/c.jpg", jpeg("chelsea", quality=60))
        keep(service.client.http.post("/webhook", body=body, headers={
            "Content-Type": "application/json", "X-Dropbox-Signature": signature}))
        keep(service.post("/sort", {}))
        service.source.drain(timeout=60)
    finally:
        fake.refresh_token = revoked
    for path in ("/status", "/configure", "/jobs/nope"):
        keep(service.get(path))
    keep(service.get("/status", headers={"Authorization": "Bearer wrong"}))
    keep(service.post("/configure", {"classes": ["dgo"]}))

    status = json.loads(service.get("/status").body)
    assert status["failed"] >= 1 and status["recent_problems"], (status, fake.injected)  # failures happened
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    logged = [formatter.format(record) for record in caplog.records]  # with tracebacks
    assert any("credentials rejected" in line for line in logged + answers + [json.dumps(status)])
    for secret in secrets:
        assert secret
        leaks = [text for text in answers + logged + [json.dumps(status)] if secret in text]
        assert leaks == [], f"{secret[:6]}... leaks"


# --- look-alike slashes -----------------------------------------------------------------------------

# Look-alikes of / and \ that rules/configuration.py lists or NFKC folds to / or \.
LISTED = ["\u2044", "\u2215", "\u29f8", "\uff0f", "\u2216", "\u29f9", "\uff3c", "\u2f03", "\u30ce", "\u4e3f",
          "\ufe68"]
# Look just as much like a slash (or backslash); refused by their Unicode names.
MISSED = ["\u2571", "\u2572", "\u27cb", "\u27cd", "\u29f5", "\u2e4a", "\U0001f67c", "\u0338"]


@pytest.mark.parametrize("lookalike", LISTED, ids=lambda c: f"U+{ord(c):04X}")
def test_a_class_or_folder_name_with_a_slash_lookalike_is_refused(service, lookalike):
    response = service.post("/configure", {"classes": [f"cat{lookalike}dog"]})
    assert response.status_code == 400 and "slash" in json.loads(response.body)["Message"]
    response = service.post("/configure", {"classes": ["cat"], "unsorted_folder": f"Un{lookalike}sorted"})
    assert response.status_code == 400 and "slash" in json.loads(response.body)["Message"]


@pytest.mark.parametrize("lookalike", MISSED, ids=lambda c: f"U+{ord(c):04X}")
def test_a_class_name_with_an_unlisted_lookalike_is_still_refused(service, lookalike):
    # Class names must also be words the model knows, which these are not: refused either way.
    response = service.post("/configure", {"classes": [f"cat{lookalike}dog"]})
    assert response.status_code == 400


@pytest.mark.parametrize("lookalike", MISSED, ids=lambda c: f"U+{ord(c):04X}")
def test_an_unsorted_folder_with_an_unlisted_lookalike_is_refused(service, lookalike):
    response = service.post("/configure", {"classes": ["cat"], "unsorted_folder": f"Un{lookalike}sorted"})
    assert response.status_code == 400, json.loads(response.body).get("unsorted_folder")
    assert "slash" in json.loads(response.body)["Message"]


# --- fuzz -------------------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)


def notification_like(account_id: str):
    """Bodies shaped like Dropbox's, with odd values where the account ids go."""
    accounts = st.one_of(st.lists(st.sampled_from([account_id, "dbid:other", ""]) | st.text(max_size=50),
                                  max_size=5), JSON)
    return st.builds(lambda a, extra: {"list_folder": {"accounts": a}, **extra}, accounts,
                     st.dictionaries(st.text(max_size=8), JSON, max_size=2))


@pytest.fixture
def configured(service):
    service.configure(["cat"])
    service.dropbox.put("/All/a.jpg", jpeg("chelsea"))
    return service


def test_fuzz_webhook_random_bytes(configured):
    secret = configured.dropbox.app_secret

    @FUZZ
    @given(body=st.binary(max_size=2048), signed=st.booleans(),
           content_type=st.sampled_from(["application/json", "application/octet-stream"]))
    def check(body, signed, content_type):
        response = post_webhook(configured, body, sign(body, secret) if signed else sign(body, "guess"),
                                content_type)
        assert_clean_answer(response)
        if not signed:
            assert response.status_code == 403

    check()


def test_fuzz_webhook_random_json(configured):
    secret, account = configured.dropbox.app_secret, configured.dropbox.account_id

    @FUZZ
    @given(data=st.one_of(JSON, notification_like(account)), signed=st.booleans())
    def check(data, signed):
        body = json.dumps(data).encode()
        response = post_webhook(configured, body, sign(body, secret) if signed else None)
        assert_clean_answer(response)

    check()
    assert len(configured.dropbox.files("/All")) == 1  # the webhook moves nothing itself


def test_fuzz_configure_random_json(service):
    @FUZZ
    @given(data=st.one_of(JSON, st.dictionaries(
        st.sampled_from(["classes", "threshold", "unsorted_folder"]),
        st.one_of(JSON, st.lists(st.sampled_from(["cat", "dog", "truck", "Cat", "", "a/b"]) | st.text(max_size=70),
                                 max_size=4)), max_size=3)))
    def check(data):
        response = service.post("/configure", data)
        assert_clean_answer(response)

    check()


def assert_400_naming(response, words: str) -> None:
    assert response.status_code == 400, (response.status_code, response.body[:300])
    assert words in json.loads(response.body)["Message"]


def test_configure_with_a_huge_integer_threshold_is_a_400_naming_the_threshold(service):
    response = service.client.http.post("/configure", headers=AUTH,
                                        body=b'{"classes": ["cat"], "threshold": 1' + b"0" * 400 + b"}")
    assert_400_naming(response, '"threshold" must be a number between 0 and 1')


def test_configure_with_deeply_nested_json_is_a_400_saying_it_is_not_valid_json(service):
    response = service.client.http.post("/configure", headers=AUTH, body=b"[" * 50000 + b"]" * 50000)
    assert_400_naming(response, "not valid JSON")


def test_signed_deeply_nested_webhook_body_is_a_400_naming_the_expected_shape(configured):
    body = b"[" * 30000 + b"]" * 30000
    assert_400_naming(post_webhook(configured, body, sign(body, configured.dropbox.app_secret)),
                      "expected a Dropbox notification")


def test_unsigned_deeply_nested_webhook_body_is_a_403(configured):
    body = b"[" * 30000 + b"]" * 30000
    assert post_webhook(configured, body, None).status_code == 403  # the signature is checked first


def test_webhook_when_dropbox_refuses_the_credentials_is_a_503_saying_to_reconnect(configured):
    fake = configured.dropbox
    revoked, fake.refresh_token = fake.refresh_token, "revoked-elsewhere"
    try:
        fake.expire_tokens()
        body, signature = signed_notification([fake.account_id], fake.app_secret)
        response = post_webhook(configured, body, signature)
    finally:
        fake.refresh_token = revoked
    # 503: Dropbox notifies again, and the files stay in /All until the app is reconnected.
    assert response.status_code == 503, response.body
    assert "reconnect the app" in json.loads(response.body)["Message"]
