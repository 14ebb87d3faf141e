"""Shared fixtures: AWS through moto, and (below) the fake Dropbox the real SDK talks to."""
from __future__ import annotations

import os
import socket
import sys

import pytest

from tests.harness import AUTH, KEY, Service, running_service  # noqa: F401  (no dropbox import)

# Never reach real AWS from a test, whatever the machine's environment says.
for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)
os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_SESSION_TOKEN="testing",
                  AWS_DEFAULT_REGION="us-east-1")

# The SDK reads its hosts once, at import (dropbox/session.py): point both at the fake first. The
# port stays bound (never listening) until the server takes it, so no other process grabs it.
if "dropbox" in sys.modules:
    raise RuntimeError("dropbox was imported before tests/conftest.py could point it at the fake")
_dropbox_port_hold = socket.socket()
_dropbox_port_hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
_dropbox_port_hold.bind(("127.0.0.1", 0))
DROPBOX_PORT = _dropbox_port_hold.getsockname()[1]
os.environ["DROPBOX_API_HOST"] = os.environ["DROPBOX_API_CONTENT_HOST"] = f"127.0.0.1:{DROPBOX_PORT}"


@pytest.fixture
def aws():
    from moto import mock_aws
    with mock_aws():
        yield


@pytest.fixture
def state(aws):
    from chalicelib.state_store import StateStore
    store = StateStore("test-state")
    store.create_table()
    return store


@pytest.fixture
def work_queue(aws):
    from chalicelib.work_queue import WorkQueue
    queue = WorkQueue("test-sort")
    queue.create(max_receives=3)
    return queue


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
    from chalicelib.dropbox_store import DropboxStore
    store = DropboxStore(dropbox_fake.app_key, dropbox_fake.app_secret, dropbox_fake.refresh_token,
                         ca_certs=dropbox_fake.ca_path, timeout=5.0, max_retries=3)
    store.backoff_base = 0.01
    return store


# --- the whole service ----------------------------------------------------------------------------

@pytest.fixture
def service(aws, dropbox_fake):
    """The app as Lambda would run it: Chalice's test client, moto, the fake Dropbox, and an SQS
    event source that drains the queue into the classify handler (built by tests/harness.py)."""
    with running_service(dropbox_fake) as running:
        yield running
