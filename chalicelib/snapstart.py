"""Lambda SnapStart, on the functions where it is turned on (deploy/DEPLOY.md): what runs before
Lambda snapshots an initialised function, and after it restores a copy of that snapshot.

Before the snapshot the classify function loads every model, so a restored copy starts with them
(the API function only imports: it has no model). Nothing connects before the snapshot (the
wiring makes its clients at the first request), and after a restore the wiring is dropped anyway,
so no copy reuses a connection or credentials from the snapshot; `random` is reseeded so that the
copies do not all draw the same retry jitter. The Lambda Python runtime provides
snapshot_restore_py; without it (elsewhere, or an older runtime) nothing is registered.
"""
from __future__ import annotations

import os
import random

from chalicelib import wiring

CLASSIFY_HANDLER = "app.classify"  # Lambda's _HANDLER for the classify function


def before_snapshot() -> None:
    if os.environ.get("_HANDLER") == CLASSIFY_HANDLER:
        wiring.Wiring.classifier().preload()


def after_restore() -> None:
    random.seed()
    wiring.reset()


def register() -> bool:
    """Register the hooks with the Lambda runtime; False where there is no runtime to call them."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)
    return True
