"""Exact copies: the photo each content (Dropbox's content_hash) is known by (adapters/dropbox_originals.py).

  bytes#<hash> / first    the file id and path of the photo that claimed these bytes
"""
from __future__ import annotations

from collections.abc import Sequence

from chalicelib.adapters.state.table import ConditionFailed, Table, key
from chalicelib.rules.ports import OriginalClaim


class ClaimRepository:
    def __init__(self, table: Table):
        self.table = table

    def originals(self, content_hashes: Sequence[str]) -> dict[str, OriginalClaim]:
        return {pk.split("#", 1)[1]: OriginalClaim(pk.split("#", 1)[1], i["file_id"]["S"], i["path"]["S"])
                for (pk, _), i in self.table.existing([(f"bytes#{h}", "first") for h in content_hashes]).items()}

    def claim_originals(self, claims: Sequence[OriginalClaim]) -> list[bool]:
        """One conditional write per claim: claims are independent, so none waits for another. A
        claim the same file made before stands (its answer may have been lost on the way back)."""
        return [self._claim_original(claim) for claim in claims]

    def _claim_original(self, claim: OriginalClaim) -> bool:
        values = {":me": {"S": claim.file_id}}
        if claim.replaces is None:
            condition = "attribute_not_exists(pk) OR file_id = :me"
        else:
            condition, values[":was"] = "file_id IN (:was, :me)", {"S": claim.replaces}
        try:
            self.table.put({**key(f"bytes#{claim.content_hash}", "first"), "file_id": {"S": claim.file_id},
                            "path": {"S": claim.path}}, condition, values)
            return True
        except ConditionFailed:
            return False

    def withdraw_originals(self, held: Sequence[tuple[str, str]]) -> None:
        for content_hash, file_id in held:
            try:
                self.table.delete(f"bytes#{content_hash}", "first", "file_id = :me", {":me": {"S": file_id}})
            except ConditionFailed:
                pass  # another photo holds it: nothing of ours to give up
