"""The service's durable state in one DynamoDB table, one repository per concern (each file
documents its own keys): configuration, cursors and leases, the ledger and counts, jobs, examples,
content claims, recent events. Every call goes through table.Table, the one door to DynamoDB.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from chalicelib.adapters.state.claims import ClaimRepository
from chalicelib.adapters.state.configuration import ConfigRepository
from chalicelib.adapters.state.cursors import CursorRepository
from chalicelib.adapters.state.events import EventRepository
from chalicelib.adapters.state.examples import ExampleRepository
from chalicelib.adapters.state.jobs import JobRepository
from chalicelib.adapters.state.ledger import LedgerRepository
from chalicelib.adapters.state.table import ConditionFailed, StateError, Table, TransientStateError

__all__ = ["ConditionFailed", "StateError", "StateStore", "Table", "TransientStateError"]


class StateStore(ConfigRepository, CursorRepository, LedgerRepository, JobRepository, ExampleRepository,
                 ClaimRepository, EventRepository):
    """Every repository over one table, as the wiring hands the state to the flows (each flow's
    port names the few methods it uses)."""

    def __init__(self, table_name: str, dynamodb: Any = None):
        super().__init__(Table(table_name, dynamodb))

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "StateStore":
        return cls(env.get("STATE_TABLE", "image-categorizer"))

    def create_table(self) -> None:
        """For the local stack and tests; deployed stacks get the table from the template."""
        self.table.create()
