"""A fake Dropbox API server that the real `dropbox` SDK talks to, over HTTPS on 127.0.0.1.

The parts: `tree` (the files on disk, their ids, revs and change log), `faults` (injected failures
and the counters tests read), `routes` (the API v2 routes, as Stone types), `server` (HTTPS), and
`fake.FakeDropbox`, which puts them together.

The SDK reads DROPBOX_API_HOST / DROPBOX_API_CONTENT_HOST once, at import: point both at
`fake.address` before `import dropbox` (tests/conftest.py and local/stack.py do).
"""
from .fake import FakeDropbox
from .faults import FAULT_KINDS
from .routes import DEFAULT_ACCOUNT_ID, THUMBNAIL_EXTENSIONS, THUMBNAIL_MAX_BYTES, signed_notification
from .tree import BLOCK_SIZE, content_hash

__all__ = ["BLOCK_SIZE", "DEFAULT_ACCOUNT_ID", "FAULT_KINDS", "THUMBNAIL_EXTENSIONS",
           "THUMBNAIL_MAX_BYTES", "FakeDropbox", "content_hash", "signed_notification"]
