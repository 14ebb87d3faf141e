"""DropboxStore against the fake Dropbox: the real SDK, over HTTPS, with scripted failures."""
import io
import os
import shutil
import threading
import time

import dropbox
import pytest
import requests
from dropbox.content_hash import DropboxContentHasher
from PIL import Image

from chalicelib.adapters import dropbox_store
from chalicelib.adapters.dropbox_store import (
    CursorReset,
    DropboxStore,
    NotAFolder,
    StoreError,
    StoreNotFound,
    TagsRefused,
    TransientStoreError,
)
from chalicelib.flows import auth
from local.dropbox_emulator import FakeDropbox, content_hash, signed_notification


def jpeg(width=800, height=600, color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "JPEG")
    return out.getvalue()


def store_for(fake, **kwargs) -> DropboxStore:
    args = dict(app_key=fake.app_key, app_secret=fake.app_secret, refresh_token=fake.refresh_token,
                ca_certs=fake.ca_path, timeout=5.0, max_retries=3) | kwargs
    store = DropboxStore(**args)
    store.backoff_base = 0.01
    return store


def messages(error: BaseException) -> str:
    """The error's message and every cause's, as a log would show them."""
    seen = []
    while error is not None and error not in seen:
        seen.append(error)
        error = error.__cause__ or error.__context__
    return "\n".join(f"{type(e).__name__}: {e} {e.args!r}" for e in seen)


# --- listing and changes -------------------------------------------------------------------------

def test_list_folder_is_recursive_and_follows_pages(store, dropbox_fake):
    expected = {f"/All/{d}/photo{i}.jpg" for d in ("a", "b/c", "d") for i in range(10)}
    for path in expected:
        dropbox_fake.put(path, path.encode())
    dropbox_fake.put("/Cat/elsewhere.jpg", b"x")
    dropbox_fake.page_size = 7

    files, cursor = store.list_folder("/all")

    assert {f.path_display for f in files} == expected
    assert len(files) == 30
    assert dropbox_fake.calls["files/list_folder/continue"] >= 4
    assert all(f.id.startswith("id:") and f.path_lower == f.path_display.lower() for f in files)
    assert store.list_changes(cursor) == ([], store.list_changes(cursor)[1])


def test_list_folder_of_the_root(store, dropbox_fake):
    dropbox_fake.put("/top.jpg", b"1")
    dropbox_fake.put("/All/x.jpg", b"2")
    assert {f.path_display for f in store.list_folder("/")[0]} == {"/top.jpg", "/All/x.jpg"}


def test_list_folder_of_a_missing_folder(store, dropbox_fake):
    with pytest.raises(StoreNotFound):
        store.list_folder("/Nope")


def test_list_changes_reports_only_new_and_changed_files(store, dropbox_fake):
    dropbox_fake.put("/All/a.jpg", b"a")
    dropbox_fake.put("/All/b.jpg", b"b")
    dropbox_fake.put("/All/c.jpg", b"c")
    _, cursor = store.list_folder("/All")

    new_id = dropbox_fake.put("/All/new.jpg", b"new")
    dropbox_fake.user_move("/All/a.jpg", "/All/sub/a2.jpg")
    dropbox_fake.user_delete("/All/b.jpg")
    dropbox_fake.put("/All/c.jpg", b"c, edited")
    dropbox_fake.put("/Other/outside.jpg", b"not in the inbox")
    dropbox_fake.put("/All/gone.jpg", b"added then deleted")
    dropbox_fake.user_delete("/All/gone.jpg")

    changed, cursor = store.list_changes(cursor)

    assert {f.path_display: f.size for f in changed} == {
        "/All/new.jpg": 3, "/All/sub/a2.jpg": 1, "/All/c.jpg": 9}
    assert next(f.id for f in changed if f.name == "new.jpg") == new_id
    assert store.list_changes(cursor)[0] == []


def test_list_changes_follows_pages(store, dropbox_fake):
    _, cursor = store.list_folder("/")
    dropbox_fake.page_size = 3
    for i in range(10):
        dropbox_fake.put(f"/All/p{i}.jpg", b"x")
    changed, _ = store.list_changes(cursor)
    assert sorted(f.name for f in changed) == sorted(f"p{i}.jpg" for i in range(10))


def test_files_put_on_disk_are_noticed_by_scan(store, dropbox_fake):
    _, cursor = store.list_folder("/")
    (dropbox_fake.root / "All").mkdir()
    (dropbox_fake.root / "All" / "dropped.jpg").write_bytes(b"from disk")
    assert dropbox_fake.scan() == ["/All/dropped.jpg"]
    assert dropbox_fake.scan() == []
    changed, _ = store.list_changes(cursor)
    assert [(f.path_display, f.content_hash) for f in changed] == [
        ("/All/dropped.jpg", content_hash(b"from disk"))]


def test_a_file_moved_on_disk_keeps_its_id_and_rev_and_is_listed_as_moved(store, dropbox_fake):
    file_id = dropbox_fake.put("/Cat/a.jpg", b"a photo")
    rev = store.get_file(file_id).rev
    _, cursor = store.list_folder("/")
    (dropbox_fake.root / "Dog").mkdir()
    os.rename(dropbox_fake.root / "Cat" / "a.jpg", dropbox_fake.root / "Dog" / "a.jpg")
    assert dropbox_fake.scan() == ["/Dog/a.jpg"]
    info = store.get_file(file_id)
    assert (info.path_display, info.rev) == ("/Dog/a.jpg", rev)
    changed, deleted, _ = store.changes(cursor)
    assert [(f.path_display, f.id) for f in changed] == [("/Dog/a.jpg", file_id)]
    assert deleted == ["/cat/a.jpg"]


def test_a_copy_on_disk_gets_an_id_of_its_own(store, dropbox_fake):
    file_id = dropbox_fake.put("/Cat/a.jpg", b"a photo")
    shutil.copy(dropbox_fake.root / "Cat" / "a.jpg", dropbox_fake.root / "Cat" / "copy.jpg")
    dropbox_fake.scan()
    assert dropbox_fake._resolve(file_id).path == "/Cat/a.jpg"
    assert dropbox_fake._resolve("/Cat/copy.jpg").id != file_id


def test_a_cursor_from_before_a_reset_is_refused(store, dropbox_fake):
    _, cursor = store.list_folder("/")
    dropbox_fake.reset()
    with pytest.raises(CursorReset):
        store.list_changes(cursor)


def test_reset_cursors_refuses_older_cursors_and_keeps_the_files(store, dropbox_fake):
    file_id = dropbox_fake.put("/All/a.jpg", b"a")
    _, cursor = store.list_folder("/All")
    dropbox_fake.reset_cursors()
    with pytest.raises(CursorReset):
        store.list_changes(cursor)
    files, _ = store.list_folder("/All")
    assert [(f.id, f.path_display) for f in files] == [(file_id, "/All/a.jpg")]
    assert dropbox_fake.path_of(file_id) == "/All/a.jpg" and dropbox_fake.id_of("/all/A.JPG") == file_id


# --- single files --------------------------------------------------------------------------------

def test_get_file_follows_moves_and_sees_deletes(store, dropbox_fake):
    file_id = dropbox_fake.put("/All/a.jpg", b"a")
    assert store.get_file(file_id).path_display == "/All/a.jpg"
    dropbox_fake.user_move("/All/a.jpg", "/Cat/a.jpg")
    info = store.get_file(file_id)
    assert (info.id, info.path_display, info.path_lower) == (file_id, "/Cat/a.jpg", "/cat/a.jpg")
    dropbox_fake.user_delete("/Cat/a.jpg")
    assert store.get_file(file_id) is None


def test_get_file_of_a_folder_is_none(store, dropbox_fake):
    store.ensure_folder("/Cat")
    folder_id = dropbox_fake._resolve("/cat").id
    assert store.get_file(folder_id) is None


def test_download_is_byte_identical(store, dropbox_fake):
    data = os.urandom(5 * 1024 * 1024 + 123)  # more than one 4 MiB content-hash block
    file_id = dropbox_fake.put("/All/big.jpg", data)
    assert store.download(file_id, max_bytes=len(data)) == data
    assert store.download("/all/BIG.jpg", max_bytes=len(data)) == data
    hasher = DropboxContentHasher()
    hasher.update(data)
    assert store.get_file(file_id).content_hash == hasher.hexdigest()


def test_download_over_the_limit_is_refused(store, dropbox_fake):
    dropbox_fake.put("/All/big.jpg", b"x" * 1000)
    with pytest.raises(StoreError, match="1000 bytes") as caught:
        store.download("/All/big.jpg", max_bytes=999)
    assert not isinstance(caught.value, (StoreNotFound, TransientStoreError))
    assert dropbox_fake.calls["files/download"] == 1


def test_download_of_a_missing_file(store, dropbox_fake):
    with pytest.raises(StoreNotFound):
        store.download("/All/nope.jpg", max_bytes=10)


def test_thumbnail_is_a_small_jpeg(store, dropbox_fake):
    # fitone_bestfit covers the 256 x 256 box: the shorter side is 256, the aspect ratio kept.
    dropbox_fake.put("/All/wide.png", _png(1000, 500))
    dropbox_fake.put("/All/tall.jpg", jpeg(300, 900))
    dropbox_fake.put("/All/tiny.jpg", jpeg(100, 80))
    sizes = {}
    for name in ("wide.png", "tall.jpg", "tiny.jpg"):
        thumb = Image.open(io.BytesIO(store.thumbnail(f"/All/{name}")))
        assert thumb.format == "JPEG"
        sizes[name] = thumb.size
    assert sizes == {"wide.png": (512, 256), "tall.jpg": (256, 768), "tiny.jpg": (100, 80)}
    small = Image.open(io.BytesIO(store.thumbnail("/All/wide.png", size="w64h64")))
    assert small.size == (128, 64)


def test_no_thumbnail_for_other_formats(store, dropbox_fake):
    dropbox_fake.put("/All/notes.txt", b"hello")
    dropbox_fake.put("/All/broken.jpg", b"not a jpeg")
    for path in ("/All/notes.txt", "/All/broken.jpg"):
        with pytest.raises(StoreError) as caught:
            store.thumbnail(path)
        assert not isinstance(caught.value, (StoreNotFound, TransientStoreError))


def test_thumbnails_come_25_to_a_call_by_path_or_id_each_with_where_the_file_is_now(store, dropbox_fake):
    ids = [dropbox_fake.put(f"/Cat/{n}.jpg", jpeg(300, 200)) for n in range(30)]
    dropbox_fake.put("/All/notes.txt", b"hello")
    asked = [ids[0], "/Cat/1.jpg", *ids[2:], "/All/notes.txt", "/All/nope.jpg"]
    before = dropbox_fake.calls["files/get_thumbnail_batch"]
    results = store.thumbnails(asked, size="w64h64")
    assert dropbox_fake.calls["files/get_thumbnail_batch"] - before == 2  # 32 files: 25 + 7
    found = results[:30]
    assert [info.path_display for info, _ in found] == [f"/Cat/{n}.jpg" for n in range(30)]
    assert [info.id for info, _ in found] == ids
    assert {Image.open(io.BytesIO(data)).size for _, data in found} == {(96, 64)}
    assert isinstance(results[30], StoreError) and not isinstance(results[30], StoreNotFound)
    assert isinstance(results[31], StoreNotFound)


def _png(width, height) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (0, 90, 200)).save(out, "PNG")
    return out.getvalue()


# --- writes --------------------------------------------------------------------------------------

def test_move_renames_on_a_clash_and_overwrites_nothing(store, dropbox_fake):
    photos = {f"/All/{i}/photo.jpg": jpeg(color=(i * 40, 0, 0)) for i in range(3)}
    for path, data in photos.items():
        dropbox_fake.put(path, data)
    dropbox_fake.put("/Cat/PHOTO.jpg", b"already sorted")

    moved = [store.move(path, "/cat/photo.jpg") for path in photos]

    assert [m.path_display for m in moved] == ["/Cat/photo (1).jpg", "/Cat/photo (2).jpg",
                                               "/Cat/photo (3).jpg"]
    assert dropbox_fake.files("/Cat") == {
        "/Cat/PHOTO.jpg": b"already sorted",
        **{m.path_display: data for m, data in zip(moved, photos.values())}}


def test_move_keeps_the_id(store, dropbox_fake):
    file_id = dropbox_fake.put("/All/a.jpg", b"a")
    moved = store.move("/All/a.jpg", "/Dog/a.jpg")
    assert (moved.id, moved.path_display) == (file_id, "/Dog/a.jpg")
    assert not dropbox_fake.exists("/All/a.jpg")


def test_move_batch_moves_renames_and_reports_each_file(store, dropbox_fake):
    a, b = jpeg(color=(10, 0, 0)), jpeg(color=(20, 0, 0))
    ids = [dropbox_fake.put("/All/a.jpg", a), dropbox_fake.put("/All/b.jpg", b)]
    dropbox_fake.put("/Cat/b.jpg", b"already sorted")

    results = store.move_batch([("/All/a.jpg", "/Cat/a.jpg"), ("/All/gone.jpg", "/Cat/gone.jpg"),
                                ("/All/b.jpg", "/Cat/b.jpg")])

    assert [r.path_display for r in results[::2]] == ["/Cat/a.jpg", "/Cat/b (1).jpg"]
    assert [r.id for r in results[::2]] == ids
    assert isinstance(results[1], StoreNotFound)
    assert dropbox_fake.files("/") == {"/Cat/a.jpg": a, "/Cat/b.jpg": b"already sorted", "/Cat/b (1).jpg": b}
    assert dropbox_fake.calls["files/move_batch_v2"] == 1


def test_move_batch_retries_a_busy_namespace(store, dropbox_fake):
    dropbox_fake.put("/All/a.jpg", b"a")
    dropbox_fake.fail("files/move_batch_v2", "too_many_write_operations", times=2)
    [moved] = store.move_batch([("/All/a.jpg", "/Cat/a.jpg")])
    assert moved.path_display == "/Cat/a.jpg"
    assert dropbox_fake.calls["files/move_batch_v2"] == 3


def test_moving_a_missing_file(store, dropbox_fake):
    with pytest.raises(StoreNotFound):
        store.move("/All/nope.jpg", "/Cat/nope.jpg")


def test_ensure_folder_twice(store, dropbox_fake):
    store.ensure_folder("/Cat")
    store.ensure_folder("/cat")
    assert dropbox_fake.exists("/CAT")


def test_ensure_folder_where_a_file_is_raises_not_a_folder(store, dropbox_fake):
    dropbox_fake.put("/Cat", b"a file")
    with pytest.raises(NotAFolder, match="a file is in the way"):
        store.ensure_folder("/Cat")


# --- failures and retries ------------------------------------------------------------------------

def test_a_rate_limited_call_waits_the_retry_after_then_succeeds(store, dropbox_fake):
    dropbox_fake.put("/All/a.jpg", b"a")
    dropbox_fake.retry_after = 1
    dropbox_fake.fail("files/download", "429")
    start = time.monotonic()
    assert store.download("/All/a.jpg", 10) == b"a"
    assert time.monotonic() - start >= 1.0
    assert dropbox_fake.calls["files/download"] == 2


def test_a_retry_after_longer_than_the_wait_budget_gives_up_at_once_with_a_transient_error(dropbox_fake):
    store = store_for(dropbox_fake, wait_budget=2.0)
    dropbox_fake.retry_after = 600
    dropbox_fake.fail("users/get_current_account", "429")
    start = time.monotonic()
    with pytest.raises(TransientStoreError, match="asked to wait 600 s"):
        store.account_id()
    assert time.monotonic() - start < 1.0
    assert dropbox_fake.calls["users/get_current_account"] == 1


def test_waits_for_rate_limits_stop_at_the_wait_budget(dropbox_fake):
    store = store_for(dropbox_fake, wait_budget=1.5)
    dropbox_fake.retry_after = 1
    dropbox_fake.fail("users/get_current_account", "429", times=2)
    start = time.monotonic()
    with pytest.raises(TransientStoreError, match="too_many_requests"):
        store.account_id()  # waits 1 s once; the second 1 s is past the 0.5 s left
    assert 1.0 <= time.monotonic() - start < 1.5
    assert dropbox_fake.calls["users/get_current_account"] == 2


def test_a_write_while_a_move_batch_is_in_flight_waits_for_it_then_lands(store, dropbox_fake):
    dropbox_fake.put("/All/a.jpg", b"a")
    dropbox_fake.put("/All/b.jpg", b"b")
    dropbox_fake.batch_seconds = 0.5
    first = threading.Thread(target=store.move_batch, args=([("/All/a.jpg", "/Cat/a.jpg")],))
    first.start()
    while not dropbox_fake.calls["files/move_batch_v2"]:
        time.sleep(0.01)
    [moved] = store.move_batch([("/All/b.jpg", "/Cat/b.jpg")])  # refused (429, Retry-After 1), then lands
    first.join()
    assert moved.path_display == "/Cat/b.jpg"
    assert dropbox_fake.files() == {"/Cat/a.jpg": b"a", "/Cat/b.jpg": b"b"}
    assert dropbox_fake.calls["files/move_batch_v2"] == 3


@pytest.mark.parametrize("kind", ["500", "503"])
def test_server_errors_are_retried(store, dropbox_fake, kind):
    dropbox_fake.fail("files/list_folder", kind, times=2)
    assert store.list_folder("/") == ([], store.list_folder("/")[1])
    assert dropbox_fake.calls["files/list_folder"] == 4  # 3 for the first call, 1 for the second


def test_too_many_write_operations_is_retried(store, dropbox_fake):
    dropbox_fake.put("/All/a.jpg", b"a")
    dropbox_fake.fail("files/move_v2", "too_many_write_operations")
    dropbox_fake.fail("files/create_folder_v2", "too_many_write_operations")
    store.ensure_folder("/Cat")
    assert store.move("/All/a.jpg", "/Cat/a.jpg").path_display == "/Cat/a.jpg"
    assert dropbox_fake.calls["files/move_v2"] == 2
    assert dropbox_fake.files() == {"/Cat/a.jpg": b"a"}


def test_retries_are_bounded(store, dropbox_fake):
    dropbox_fake.put("/All/a.jpg", b"a")
    dropbox_fake.fail("files/get_metadata", "503", times=10)
    with pytest.raises(TransientStoreError, match="4 attempts"):
        store.get_file("/All/a.jpg")
    assert dropbox_fake.calls["files/get_metadata"] == 4  # max_retries=3


@pytest.mark.parametrize("kind", ["429", "too_many_write_operations"])
def test_rate_limits_are_bounded(store, dropbox_fake, kind):
    dropbox_fake.put("/All/a.jpg", b"a")
    route = "files/move_v2" if kind == "too_many_write_operations" else "files/download"
    dropbox_fake.fail(route, kind, times=10)
    with pytest.raises(TransientStoreError):
        store.move("/All/a.jpg", "/Cat/a.jpg") if route == "files/move_v2" else store.download("/All/a.jpg", 9)
    assert dropbox_fake.calls[route] == 4


def test_expired_token_is_refreshed_transparently(store, dropbox_fake):
    assert store.account_id() == dropbox_fake.account_id
    assert dropbox_fake.calls["oauth2/token"] == 1
    dropbox_fake.fail("users/get_current_account", "expired_token")
    assert store.account_id() == dropbox_fake.account_id
    dropbox_fake.expire_tokens()
    assert store.account_id() == dropbox_fake.account_id
    assert dropbox_fake.calls["oauth2/token"] == 3


def test_revoked_refresh_token_is_permanent(dropbox_fake):
    store = store_for(dropbox_fake, refresh_token="revoked-refresh-token")
    with pytest.raises(StoreError, match="credentials rejected") as caught:
        store.account_id()
    assert not isinstance(caught.value, TransientStoreError)
    assert dropbox_fake.calls["oauth2/token"] == 1


def test_connection_reset_mid_download_is_retried(store, dropbox_fake):
    data = os.urandom(300_000)
    dropbox_fake.put("/All/a.jpg", data)
    dropbox_fake.fail("files/download", "reset")
    assert store.download("/All/a.jpg", len(data)) == data
    assert dropbox_fake.calls["files/download"] == 2


def test_connection_resets_every_time(store, dropbox_fake):
    dropbox_fake.put("/All/a.jpg", b"x" * 10_000)
    dropbox_fake.fail("files/download", "reset", times=10)
    with pytest.raises(TransientStoreError):
        store.download("/All/a.jpg", 10_000)
    assert dropbox_fake.calls["files/download"] == 4


def test_slow_response_past_the_timeout(dropbox_fake):
    store = store_for(dropbox_fake, timeout=0.5, max_retries=1)
    store.account_id()  # token first, so only the slow route is timed
    dropbox_fake.slow_seconds = 1.5
    dropbox_fake.fail("files/get_metadata", "slow", times=2)
    start = time.monotonic()
    with pytest.raises(TransientStoreError, match="2 attempts"):
        store.get_file("/All/a.jpg")
    assert time.monotonic() - start < 1.4
    assert dropbox_fake.calls["files/get_metadata"] == 2


def test_slow_once_then_fine(dropbox_fake):
    store = store_for(dropbox_fake, timeout=0.5, max_retries=1)
    dropbox_fake.put("/All/a.jpg", b"a")
    dropbox_fake.slow_seconds = 1.5
    dropbox_fake.fail("files/get_metadata", "slow")
    assert store.get_file("/All/a.jpg").path_display == "/All/a.jpg"


def test_an_untrusted_certificate_is_permanent(dropbox_fake):
    store = store_for(dropbox_fake, ca_certs=None)  # the machine's CAs do not know the fake's
    with pytest.raises(StoreError, match="not trusted") as caught:
        store.account_id()
    assert not isinstance(caught.value, TransientStoreError)


# --- configuration and secrets -------------------------------------------------------------------

ENV = {"DROPBOX_APP_KEY": "k", "DROPBOX_APP_SECRET": "s", "DROPBOX_REFRESH_TOKEN": "r"}


@pytest.mark.parametrize("missing", sorted(ENV))
def test_from_env_names_a_missing_variable(missing):
    env = {k: v for k, v in ENV.items() if k != missing}
    with pytest.raises(StoreError, match=missing):
        DropboxStore.from_env(env)
    with pytest.raises(StoreError, match=missing):
        DropboxStore.from_env({**env, missing: "  "})


def test_from_env_reads_the_fake(dropbox_fake):
    store = DropboxStore.from_env({
        "DROPBOX_APP_KEY": dropbox_fake.app_key, "DROPBOX_APP_SECRET": dropbox_fake.app_secret,
        "DROPBOX_REFRESH_TOKEN": dropbox_fake.refresh_token, "DROPBOX_CA_CERTS": dropbox_fake.ca_path,
        "DROPBOX_TIMEOUT": "4"})
    assert store.account_id() == dropbox_fake.account_id
    with pytest.raises(StoreError, match="DROPBOX_TIMEOUT"):
        DropboxStore.from_env({**ENV, "DROPBOX_TIMEOUT": "soon"})


def test_the_wait_budget_comes_from_the_environment_so_the_webhooks_function_waits_less(dropbox_fake):
    assert DropboxStore.from_env(ENV).wait_budget == dropbox_store.WAIT_BUDGET
    assert DropboxStore.from_env({**ENV, "DROPBOX_WAIT_BUDGET": "2"}).wait_budget == 2.0
    with pytest.raises(StoreError, match="DROPBOX_WAIT_BUDGET"):
        DropboxStore.from_env({**ENV, "DROPBOX_WAIT_BUDGET": "-1"})


def test_no_error_message_holds_a_secret(dropbox_fake):
    failures = []

    def collect(fn):
        with pytest.raises(StoreError) as caught:
            fn()
        failures.append(caught.value)

    wrong_secret = store_for(dropbox_fake, app_secret="wrong-app-secret-XYZ")
    collect(wrong_secret.account_id)
    revoked = store_for(dropbox_fake, refresh_token="revoked-refresh-ABC")
    collect(revoked.account_id)
    good = store_for(dropbox_fake, max_retries=1)
    collect(lambda: good.move("/All/nope.jpg", "/Cat/nope.jpg"))
    collect(lambda: good.download("/All/nope.jpg", 1))
    dropbox_fake.fail("files/get_metadata", "503", times=5)
    collect(lambda: good.get_file("/x.jpg"))
    dropbox_fake.fail("files/download", "reset", times=5)
    dropbox_fake.put("/a.jpg", b"x" * 1000)
    collect(lambda: good.download("/a.jpg", 1000))

    secrets = ["wrong-app-secret-XYZ", "revoked-refresh-ABC", dropbox_fake.app_secret,
               dropbox_fake.refresh_token]
    for failure in failures:
        text = messages(failure)
        assert not [s for s in secrets if s in text], text


# --- the fake itself -----------------------------------------------------------------------------

def test_the_sdk_can_upload_and_batch_move(dropbox_fake):
    dbx = dropbox.Dropbox(oauth2_refresh_token=dropbox_fake.refresh_token, app_key=dropbox_fake.app_key,
                          app_secret=dropbox_fake.app_secret,
                          session=_trusting_session(dropbox_fake.ca_path))
    md = dbx.files_upload(b"uploaded", "/All/up.jpg")  # the SDK sends a content_hash; we check it
    assert md.content_hash == content_hash(b"uploaded")
    dbx.files_upload(b"second", "/All/up2.jpg")
    dropbox_fake.put("/Cat/up.jpg", b"in the way")
    launch = dbx.files_move_batch_v2([dropbox.files.RelocationPath("/All/up.jpg", "/Cat/up.jpg"),
                                      dropbox.files.RelocationPath("/All/nope.jpg", "/Cat/x.jpg")],
                                     autorename=True)
    status = dbx.files_move_batch_check_v2(launch.get_async_job_id())
    success, failure = status.get_complete().entries
    assert success.get_success().path_display == "/Cat/up (1).jpg"
    assert failure.is_failure()
    assert dropbox_fake.files() == {"/All/up2.jpg": b"second", "/Cat/up.jpg": b"in the way",
                                    "/Cat/up (1).jpg": b"uploaded"}


def _trusting_session(ca_path):
    session = dropbox.create_session(ca_certs=ca_path)
    session.trust_env = False
    return session


def test_signed_notification_verifies():
    body, signature = signed_notification(["dbid:x"], "app-secret")
    assert auth.signature_ok(body, signature, "app-secret")
    assert not auth.signature_ok(body, signature, "other-secret")


def test_the_emulator_keeps_every_path_inside_its_folder(store, dropbox_fake):
    dropbox_fake.put("/All/a.jpg", b"a")
    outside = dropbox_fake.root.parent / "escaped.jpg"
    with pytest.raises(StoreError):
        store.move("/All/a.jpg", "/All/../../escaped.jpg")
    assert not outside.exists()
    assert dropbox_fake.files("/") == {"/All/a.jpg": b"a"}


# --- ids kept across runs (the local stack's sandbox) ---------------------------------------------

def _emulator(tmp_path) -> FakeDropbox:
    """An emulator on tmp_path/sandbox that keeps its ids beside it, as the local stack's does (not
    started: the tree is what is tested)."""
    return FakeDropbox(tmp_path / "sandbox", ids_file=tmp_path / ".sandbox-dropbox-ids.json")


def _entries(fake: FakeDropbox) -> dict[str, tuple[str, str | None]]:
    """path -> (id, rev) of everything the emulator lists; folders have no rev."""
    with fake._lock:
        return {n.path: (n.id, n.rev or None) for n in fake.tree.nodes.values()}


def test_a_restarted_emulator_gives_every_file_and_folder_its_id_and_rev_again(tmp_path):
    first = _emulator(tmp_path)
    first.put("/All/a.jpg", b"a")
    first.put("/Cat/b.jpg", b"b")
    (first.root / "All" / "dropped.jpg").write_bytes(b"from disk")
    first.scan()
    before = _entries(first)
    first.stop()
    assert _entries(_emulator(tmp_path)) == before


def test_a_restarted_emulator_gives_every_file_its_tags_again_also_one_moved_on_disk_meanwhile(tmp_path):
    first = _emulator(tmp_path)
    first.put("/All/a.jpg", b"a")
    with first._lock:
        first.tree.resolve("/All/a.jpg").tags.extend(["cat", "holiday"])  # as files/tags/add keeps them
    first.stop()
    (first.root / "Cat").mkdir()
    (first.root / "All" / "a.jpg").rename(first.root / "Cat" / "a.jpg")
    assert _emulator(tmp_path).tags_of("/Cat/a.jpg") == ["cat", "holiday"]


def test_ids_are_kept_by_each_scan_so_a_run_that_never_stopped_cleanly_loses_none(tmp_path):
    first = _emulator(tmp_path)
    file_id = first.put("/All/a.jpg", b"a")
    first.scan()  # the local stack's watcher scans twice a second; no stop() follows (a crash)
    assert _emulator(tmp_path)._resolve("/All/a.jpg").id == file_id


def test_a_file_moved_on_disk_while_the_emulator_was_stopped_keeps_its_id_and_rev(tmp_path):
    first = _emulator(tmp_path)
    first.put("/Cat/a.jpg", b"a")
    first.put("/Cat/trip/b.jpg", b"b")
    before = _entries(first)
    first.stop()
    (first.root / "Dog").mkdir()
    os.rename(first.root / "Cat" / "a.jpg", first.root / "Dog" / "renamed.jpg")  # moved and renamed
    os.rename(first.root / "Cat" / "trip", first.root / "Dog" / "trip")  # a folder, with its file
    after = _entries(_emulator(tmp_path))
    assert after["/Dog/renamed.jpg"] == before["/Cat/a.jpg"]
    assert after["/Dog/trip/b.jpg"] == before["/Cat/trip/b.jpg"]
    assert "/Cat/a.jpg" not in after and "/Cat/trip/b.jpg" not in after


def test_a_file_changed_in_place_while_stopped_keeps_its_id_with_a_new_rev(tmp_path):
    first = _emulator(tmp_path)
    file_id = first.put("/All/a.jpg", b"a")
    rev = first._resolve(file_id).rev
    first.stop()
    (first.root / "All" / "a.jpg").write_bytes(b"a, edited")
    node = _emulator(tmp_path)._resolve("/All/a.jpg")
    assert node.id == file_id and node.rev != rev and node.hash == content_hash(b"a, edited")


def test_a_file_deleted_while_stopped_is_gone_and_one_added_gets_a_new_id(tmp_path):
    first = _emulator(tmp_path)
    old_id = first.put("/All/a.jpg", b"a")
    first.stop()
    (first.root / "All" / "a.jpg").unlink()
    (first.root / "All" / "new.jpg").write_bytes(b"new")
    second = _emulator(tmp_path)
    assert second._resolve(old_id) is None and second._resolve("/All/new.jpg").id != old_id


def test_reset_forgets_the_ids_kept_for_a_later_run(tmp_path):
    first = _emulator(tmp_path)
    old_id = first.put("/All/a.jpg", b"a")
    first.reset()
    first.stop()
    (first.root / "All").mkdir()
    (first.root / "All" / "a.jpg").write_bytes(b"a")
    second = _emulator(tmp_path)
    second.scan()
    assert second._resolve("/All/a.jpg").id != old_id


# --- tags ------------------------------------------------------------------------------------------

def test_tags_added_are_what_files_tags_get_returns_in_lower_case_and_follow_the_file_when_it_moves(store, dropbox_fake):
    dropbox_fake.put("/All/a.jpg", jpeg())
    store.add_tag("/All/a.jpg", "Cat")
    store.add_tag("/All/a.jpg", "ice_cream")
    store.add_tag("/all/A.jpg", "cat")  # a tag it has already: no error, no second tag
    store.move("/All/a.jpg", "/Elsewhere/a.jpg")

    assert store.tags(["/Elsewhere/a.jpg"]) == [{"cat", "ice_cream"}]
    assert dropbox_fake.tags_of("/Elsewhere/a.jpg") == ["cat", "ice_cream"]


def test_removing_a_tag_takes_only_that_tag_and_a_tag_not_there_is_false(store, dropbox_fake):
    dropbox_fake.put("/All/a.jpg", jpeg())
    store.add_tag("/All/a.jpg", "cat")
    store.add_tag("/All/a.jpg", "mine")

    assert store.remove_tag("/All/a.jpg", "cat") is True
    assert store.remove_tag("/All/a.jpg", "cat") is False
    assert store.tags(["/All/a.jpg"]) == [{"mine"}]


def test_tags_of_a_missing_file_are_store_not_found(store, dropbox_fake):
    dropbox_fake.put("/All/a.jpg", jpeg())
    with pytest.raises(StoreNotFound):
        store.tags(["/All/a.jpg", "/All/gone.jpg"])
    with pytest.raises(StoreNotFound):
        store.add_tag("/All/gone.jpg", "cat")


def test_a_tag_text_dropbox_refuses_is_refused_by_the_sdk_before_any_call(store, dropbox_fake):
    dropbox_fake.put("/All/a.jpg", jpeg())
    for bad in ("ice cream", "x" * 33, ""):
        with pytest.raises(dropbox.stone_validators.ValidationError):
            store.add_tag("/All/a.jpg", bad)
    assert dropbox_fake.calls["files/tags/add"] == 0
    assert store.tags(["/All/a.jpg"]) == [set()]


def test_the_emulator_refuses_a_bad_tag_text_sent_past_the_sdk_with_a_400(dropbox_fake):
    dropbox_fake.put("/All/a.jpg", jpeg())
    store = store_for(dropbox_fake)
    store.account_id()  # a token
    token = next(iter(dropbox_fake._tokens))
    answer = requests.post(f"https://{dropbox_fake.address}/2/files/tags/add", verify=dropbox_fake.ca_path,
                           headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                           json={"path": "/All/a.jpg", "tag_text": "ice cream"})
    assert answer.status_code == 400 and "tag_text" in answer.text
    assert dropbox_fake.tags_of("/All/a.jpg") == []


def test_a_file_takes_at_most_twenty_tags(store, dropbox_fake):
    dropbox_fake.put("/All/a.jpg", jpeg())
    for n in range(20):
        store.add_tag("/All/a.jpg", f"t{n}")
    with pytest.raises(StoreError, match="too_many_tags"):
        store.add_tag("/All/a.jpg", "one_more")
    assert len(dropbox_fake.tags_of("/All/a.jpg")) == 20


def test_an_account_that_refuses_tags_is_tags_refused_and_keeps_the_file_untagged(store, dropbox_fake):
    dropbox_fake.put("/All/a.jpg", jpeg())
    dropbox_fake.tags_enabled = False
    with pytest.raises(TagsRefused, match='does not take tags.*"action": "move"'):
        store.add_tag("/All/a.jpg", "cat")
    with pytest.raises(TagsRefused):
        store.tags(["/All/a.jpg"])
    assert dropbox_fake.tags_of("/All/a.jpg") == []


def test_tags_calls_are_retried_through_transient_faults(store, dropbox_fake):
    dropbox_fake.put("/All/a.jpg", jpeg())
    dropbox_fake.fail("files/tags/add", "503", times=2)
    store.add_tag("/All/a.jpg", "cat")
    assert dropbox_fake.tags_of("/All/a.jpg") == ["cat"]
    assert dropbox_fake.calls["files/tags/add"] == 3
