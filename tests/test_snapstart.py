"""Lambda SnapStart's hooks, registered by `import app` with the runtime's own snapshot_restore_py
library and called as the runtime calls them: before the snapshot in reverse order of
registration, after a restore in order."""
from __future__ import annotations

import snapshot_restore_py

import app  # noqa: F401  (registers the hooks)
from chalicelib import wiring
from chalicelib.vision import faces, text


def test_before_a_snapshot_the_classify_function_loads_every_model(monkeypatch):
    monkeypatch.setenv("_HANDLER", "app.classify")
    faces._loaded.clear()
    text._loaded.clear()
    for hook, args, kwargs in reversed(snapshot_restore_py.get_before_snapshot()):
        hook(*args, **kwargs)
    assert len(faces._loaded) == 1 and len(text._loaded) == 1


def test_after_a_restore_the_service_makes_its_clients_anew(monkeypatch):
    before = wiring.wiring()
    for hook, args, kwargs in snapshot_restore_py.get_after_restore():
        hook(*args, **kwargs)
    assert wiring.wiring() is not before
