"""Exact copies in Dropbox: the photo of each content (Dropbox's content_hash) the service sorted first.

Every photo the service sorts claims its bytes in the state (`bytes#<content_hash>`) unless an
earlier photo with those bytes is sorted now (the ledger says the service put it somewhere and
no undo took it back) and is still there, unchanged: then it is a copy of that one. A claim is
conditional, so two copies sorted at the same moment by two containers cannot both be the first;
the one that loses is a copy of the one that won. A claim is withdrawn when its photo's move
fails or is undone; a known photo that was deleted, changed, or is no longer sorted gives its
claim up to the next photo with those bytes.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence

from chalicelib.rules.messages import SortRequest
from chalicelib.rules.ports import FileLookup, LedgerEntry, OriginalClaim, OriginalsState, Photo

log = logging.getLogger(__name__)


class DropboxOriginals:
    def __init__(self, state: OriginalsState, dropbox: FileLookup):
        self._state, self._dropbox = state, dropbox

    def earlier(self, photos: Sequence[Photo[SortRequest]], claim: bool) -> list[str | None]:
        known = self._state.originals([p.content_hash for p in photos if p.content_hash])
        sorted_now = self._state.ledger([c.file_id for c in known.values()]) if known else {}
        where: list[str | None] = []
        claims: dict[int, OriginalClaim] = {}
        for i, photo in enumerate(photos):
            holder = known.get(photo.content_hash or "")
            mine = holder is not None and holder.file_id == photo.ref.file_id  # sorted again: itself
            where.append(None if holder is None or mine else self._still_there(holder, sorted_now.get(holder.file_id)))
            if claim and photo.content_hash and where[i] is None and not mine:
                claims[i] = OriginalClaim(photo.content_hash, photo.ref.file_id, photo.path,
                                          holder.file_id if holder else None)
        won = self._state.claim_originals(list(claims.values())) if claims else []
        lost = [c.content_hash for c, ok in zip(claims.values(), won) if not ok]
        if lost:  # another container's copy took these bytes meanwhile: this photo is a copy of that one
            winners = self._state.originals(lost)
            for i, c in claims.items():
                if c.content_hash in winners:
                    where[i] = winners[c.content_hash].path
        return where

    def withdraw(self, photos: Sequence[Photo[SortRequest]]) -> None:
        try:
            self._state.withdraw_originals([(p.content_hash, p.ref.file_id) for p in photos if p.content_hash])
        except Exception:  # noqa: BLE001: tidiness only; a claim of a photo not sorted now makes no copy
            log.exception("could not withdraw the content claims of %d photo(s)", len(photos))

    def _still_there(self, holder: OriginalClaim, entry: LedgerEntry | None) -> str | None:
        """Where the photo a content is known by is now, if it is sorted and still holds that content."""
        if entry is None or entry.to is None:
            return None  # not sorted now: its move failed, an undo took it back, or it was never moved
        info = self._dropbox.get_file(holder.file_id)
        return info.path_display if info is not None and info.content_hash == holder.content_hash else None
