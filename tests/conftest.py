"""Shared fixtures: AWS through moto, and (below) the fake Dropbox the real SDK talks to."""
from __future__ import annotations

import pytest

from local.in_process import isolate_aws, point_sdk_at_free_port, running_service

isolate_aws()
# The SDK reads its hosts once, at import (dropbox/session.py): point both at the fake first. The
# port stays bound (never listening) until the server takes it, so no other process grabs it.
_dropbox_port_hold = point_sdk_at_free_port()
DROPBOX_PORT = _dropbox_port_hold.getsockname()[1]


@pytest.fixture
def aws():
    from moto import mock_aws

    from local.in_process import linear_moto_dynamodb
    with mock_aws(), linear_moto_dynamodb():
        yield


@pytest.fixture
def state(aws):
    from chalicelib.adapters.state import StateStore
    store = StateStore("test-state")
    store.create_table()
    return store


# --- the fake Dropbox ------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def dropbox_server(tmp_path_factory):
    from local.dropbox_emulator import FakeDropbox
    _dropbox_port_hold.close()
    with FakeDropbox(tmp_path_factory.mktemp("dropbox"), port=DROPBOX_PORT) as fake:
        yield fake


@pytest.fixture
def dropbox_fake(dropbox_server):
    """The session's fake Dropbox, emptied: no files, faults, latency or counted calls."""
    dropbox_server.reset()
    yield dropbox_server


@pytest.fixture
def store(dropbox_fake):
    """A DropboxStore on the fake, with short timeouts and near-instant backoff."""
    from chalicelib.adapters.dropbox_store import DropboxStore
    store = DropboxStore(dropbox_fake.app_key, dropbox_fake.app_secret, dropbox_fake.refresh_token,
                         ca_certs=dropbox_fake.ca_path, timeout=5.0, max_retries=3)
    store.backoff_base = 0.01
    return store


# --- the whole service ----------------------------------------------------------------------------

@pytest.fixture
def service(aws, dropbox_fake):
    """The app as Lambda would run it: Chalice's test client, moto, the fake Dropbox, and an SQS
    event source that drains the queue into the classify handler (built by local/in_process.py)."""
    with running_service(dropbox_fake) as running:
        yield running


@pytest.fixture
def aws_faults(service):
    """Installs AwsFaults before the app makes its clients (which copy the session's handlers, so
    a fault is switched off by its rate, not by uninstalling); uninstalled at the end."""
    from local.in_process import AwsFaults
    installed = []

    def install(*args, **kwargs) -> AwsFaults:
        installed.append(AwsFaults(*args, **kwargs).install())
        return installed[-1]

    yield install
    for faults in installed:
        faults.uninstall()


@pytest.fixture
def stalled_list_changes(monkeypatch):
    """The next Dropbox listing of changes (a sync's) stalls after its first page, holding the
    sync lease, until `resume` is set; `listing` is set once it is stalled. Yields (listing, resume)."""
    import threading

    from chalicelib.adapters.dropbox_store import DropboxStore

    listing, resume = threading.Event(), threading.Event()
    original = DropboxStore.change_pages

    def slow_change_pages(self, cursor):
        for page in original(self, cursor):
            if not listing.is_set():
                listing.set()
                resume.wait(10)
            yield page

    monkeypatch.setattr(DropboxStore, "change_pages", slow_change_pages)
    yield listing, resume
    resume.set()


@pytest.fixture
def dies_after_its_move(monkeypatch):
    """The next batch's worker dies right after its Dropbox move, before it records anything (as a
    Lambda cut off by its timeout): the batch comes back. Yields a list that counts the deaths."""
    from chalicelib.adapters.dropbox_photos import DropboxPhotos

    deaths: list[int] = []
    original = DropboxPhotos.move

    def move_then_die(self, moves, inbox):
        moved = original(self, moves, inbox)
        if not deaths:
            deaths.append(len(moves))
            raise RuntimeError("the worker died after its move")
        return moved

    monkeypatch.setattr(DropboxPhotos, "move", move_then_die)
    yield deaths
