"""Wiring: the adapters, built from the environment on first use, one set per Lambda container.

Nothing is created at import, so `import app` stays cheap; the model (numpy, onnxruntime) loads
only when the classify function sorts its first batch.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from functools import cached_property

from .bundled_model import load_vocabulary, model_card
from .delivery import ConfigCache
from .dropbox_photos import DropboxPhotos
from .dropbox_store import DropboxStore
from .inbox import Inbox
from .ports import PhotoClassifier
from .state_store import StateStore
from .vocabulary import Vocabulary
from .work_queue import DEFAULT_MAX_RECEIVES, WorkQueue


class Wiring:
    def __init__(self, env: Mapping[str, str] = os.environ):
        self.env = env
        self._account_lock = threading.Lock()
        self._account: str | None = None

    @property
    def service_key(self) -> str:
        return self.env.get("SERVICE_KEY", "")

    @property
    def app_secret(self) -> str:
        return self.env.get("DROPBOX_APP_SECRET", "")

    @property
    def max_receives(self) -> int:
        return int(self.env.get("MAX_RECEIVES", DEFAULT_MAX_RECEIVES))

    @cached_property
    def dropbox(self) -> DropboxStore:
        return DropboxStore.from_env(self.env)

    @cached_property
    def state(self) -> StateStore:
        return StateStore.from_env(self.env)

    @cached_property
    def queue(self) -> WorkQueue:
        return WorkQueue.from_env(self.env)

    @cached_property
    def inbox(self) -> Inbox:
        return Inbox(self.dropbox, self.state, self.queue)

    @cached_property
    def photos(self) -> DropboxPhotos:
        return DropboxPhotos(self.dropbox, source=self.env.get("CLASSIFY_SOURCE", "download"))

    @cached_property
    def config(self) -> ConfigCache:
        return ConfigCache(self.state)

    @cached_property
    def model_card(self) -> dict:
        return model_card()

    @property
    def default_threshold(self) -> float:
        return self.model_card["default_threshold"]

    @cached_property
    def vocabulary(self) -> Vocabulary:
        """Class names resolve without the model: /configure stays fast and light."""
        return load_vocabulary(card=self.model_card)

    @staticmethod
    def classifier() -> PhotoClassifier:
        """The process-wide model, loaded on first call."""
        from .classifier import Classifier  # numpy and onnxruntime: the classify function only
        return Classifier.load()

    def account_id(self) -> str:
        """Our Dropbox account (the one the refresh token belongs to), asked once per container."""
        with self._account_lock:
            if self._account is None:
                self._account = self.dropbox.account_id()
            return self._account


_wiring: Wiring | None = None


def wiring() -> Wiring:
    global _wiring
    if _wiring is None:
        _wiring = Wiring()
    return _wiring


def reset() -> None:
    """Forget every adapter so the next call reads the environment again (tests, the local stack)."""
    global _wiring
    _wiring = None
