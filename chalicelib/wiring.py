"""Wiring: the adapters, built from the environment on first use, one set per Lambda container,
and the two handlers that hold them (`classify_handler` for the SQS batches, `webhook_handler` for
Dropbox's notifications), each built once.

Nothing is created at import, so `import app` stays cheap; the model (numpy, onnxruntime) loads
only when the classify function sorts its first batch.
"""
from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING

from chalicelib.adapters.dropbox_originals import DropboxOriginals
from chalicelib.adapters.dropbox_photos import DropboxPhotos
from chalicelib.adapters.dropbox_store import DropboxStore
from chalicelib.adapters.secrets import with_secrets
from chalicelib.adapters.state import StateStore
from chalicelib.adapters.work_queue import DEFAULT_MAX_RECEIVES, WorkQueue
from chalicelib.flows import class_folders
from chalicelib.flows import inbox as inbox_flow
from chalicelib.flows.classify import ClassifyHandler, ConfigCache
from chalicelib.flows.inbox import Inbox, Listing
from chalicelib.flows.webhook import WebhookHandler
from chalicelib.rules.configuration import SortConfig, folder_name, stands_by_examples
from chalicelib.rules.messages import LearnRequest
from chalicelib.rules.ports import PhotoModel
from chalicelib.rules.vocabulary import Resolution, Vocabulary
from chalicelib.vision.bundled_model import ModelCard, load_vocabulary, model_card

if TYPE_CHECKING:
    from chalicelib.flows.learning import ExampleCache
    from chalicelib.rules.examples import Examples

class Wiring:
    def __init__(self, env: Mapping[str, str] = os.environ):
        self.env = with_secrets(env)  # once per container: the first request pays for it
        self._account_lock = threading.Lock()
        self._account: str | None = None
        # A dry run's classes never change once its job is made: each is read once per container.
        self._preview_config = functools.lru_cache(maxsize=64)(self._read_preview_config)

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
        return DropboxPhotos(self.dropbox, self.state, source=self.env.get("CLASSIFY_SOURCE", "download"))

    @cached_property
    def config(self) -> ConfigCache:
        return ConfigCache(self.state)

    def preview_config(self, job_id: str) -> SortConfig | None:
        """A dry run's classes: its job's."""
        return self._preview_config(job_id)

    def _read_preview_config(self, job_id: str) -> SortConfig | None:
        job = self.state.job(job_id)
        return job.preview if job else None

    @cached_property
    def originals(self) -> DropboxOriginals:
        return DropboxOriginals(self.state, self.dropbox)

    @cached_property
    def model_card(self) -> ModelCard:
        return model_card()

    @property
    def default_threshold(self) -> float:
        return self.model_card["default_threshold"]

    @cached_property
    def vocabulary(self) -> Vocabulary:
        """Class names resolve without the model: /configure stays fast and light."""
        return load_vocabulary(card=self.model_card)

    @staticmethod
    def classifier() -> PhotoModel:
        """The process-wide model, loaded on first call."""
        from chalicelib.vision.classifier import Classifier  # numpy and onnxruntime: the classify function only
        return Classifier.load()

    def resolver(self, taught: Mapping[str, tuple[int, int]]) -> Callable[[str], Resolution]:
        """Resolve class names; a name the model does not know stands when its folder holds
        enough examples (`taught`: examples and counter-examples per folder, casefolded)."""
        def resolve(name: str) -> Resolution:
            examples = taught.get(folder_name(name).casefold(), (0, 0))[0]
            return self.vocabulary.resolve(name, by_examples=stands_by_examples(examples))
        return resolve

    def follow_class_folders(self, account: str, inbox: str, deadline: float) -> tuple[int, bool]:
        return class_folders.follow(account, self.dropbox, self.state, self.queue, inbox, deadline)

    def sync_account(self, account: str, inbox: str) -> Listing:
        """A sync the webhook handed over: as the webhook's, with a budget of its own (the inbox
        only once classes are configured, as the webhook does)."""
        return self.webhook_handler.sync(account, inbox, time.monotonic() + inbox_flow.SYNC_BUDGET_SECONDS,
                                         self.state.get_config() is not None)

    @cached_property
    def _example_cache(self) -> "ExampleCache":
        from chalicelib.flows.learning import ExampleCache  # numpy: the classify function only
        return ExampleCache(self.state)

    def examples(self, config: SortConfig) -> "Examples":
        return self._example_cache.get(config)

    def learn(self, requests: list[LearnRequest], config: SortConfig | None) -> list[bool]:
        """Learn from photos in class folders, with the stored classes `config`."""
        from chalicelib.flows.learning import learn  # numpy: the classify function only
        return learn(requests, self.photos.read_anywhere, self.classifier, self.state, config)

    @cached_property
    def classify_handler(self) -> ClassifyHandler:
        return ClassifyHandler(photos=self.photos, model=self.classifier, recorder=self.state,
                               stored_config=self.config.get, job_config=self.preview_config,
                               examples=self.examples, originals=self.originals, max_receives=self.max_receives,
                               learn_photos=self.learn, sync_inbox=self.sync_account, account_id=self.account_id,
                               requeue=self.queue.send)

    @cached_property
    def webhook_handler(self) -> WebhookHandler:
        return WebhookHandler(app_secret=self.app_secret, state=self.state, inbox=self.inbox,
                              account_id=self.account_id, follow_class_folders=self.follow_class_folders,
                              hand_over=self.queue.send_sync)

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
