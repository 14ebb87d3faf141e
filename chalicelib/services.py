"""Wiring: the adapters and the core objects, built from the environment on first use.

Nothing is created at import, so `import app` stays cheap and the webhook never loads the model.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from functools import cached_property

from .classifier import Classifier, load_vocabulary, model_card
from .dropbox_store import DropboxStore
from .inbox import Inbox
from .sorter import ConfigCache, Sorter
from .state_store import StateStore
from .vocabulary import Vocabulary
from .work_queue import DEFAULT_MAX_RECEIVES, WorkQueue


class Services:
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

    @cached_property
    def store(self) -> DropboxStore:
        return DropboxStore.from_env(self.env)

    @cached_property
    def state(self) -> StateStore:
        return StateStore.from_env(self.env)

    @cached_property
    def queue(self) -> WorkQueue:
        return WorkQueue.from_env(self.env)

    @cached_property
    def inbox(self) -> Inbox:
        return Inbox(self.store, self.state, self.queue)

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

    @cached_property
    def sorter(self) -> Sorter:
        return Sorter(self.store, self.state, Classifier.load, ConfigCache(self.state),
                      source=self.env.get("CLASSIFY_SOURCE", "download"),
                      max_receives=int(self.env.get("MAX_RECEIVES", DEFAULT_MAX_RECEIVES)))

    def account_id(self) -> str:
        """Our Dropbox account (the one the refresh token belongs to), asked once per container."""
        with self._account_lock:
            if self._account is None:
                self._account = self.store.account_id()
            return self._account


_services: Services | None = None


def services() -> Services:
    global _services
    if _services is None:
        _services = Services()
    return _services


def reset() -> None:
    """Forget every adapter so the next call reads the environment again (tests, the local stack)."""
    global _services
    _services = None
