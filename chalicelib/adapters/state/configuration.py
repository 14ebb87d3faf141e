"""The user's configuration.

  config / current    the SortConfig, and a version every change of it bumps
"""
from __future__ import annotations

import time

from chalicelib.adapters.state.table import Table, plain, typed
from chalicelib.rules.configuration import SortConfig


class ConfigRepository:
    def __init__(self, table: Table):
        self.table = table

    def get_config(self) -> SortConfig | None:
        item = self.table.get("config", "current")
        return None if item is None else SortConfig.from_dict(plain(item["value"]))

    def config_version(self) -> int:
        """Bumped by every put_config, in the same write: a consistent read of this one number tells
        a cache whether the configuration changed (0 before the first)."""
        item = self.table.get("config", "current", projection=("version",))
        return int(item["version"]["N"]) if item and "version" in item else 0

    def put_config(self, config: SortConfig) -> None:
        self.table.update("config", "current", "SET #v = :v, updated_at = :t ADD #n :one",
                          {"#v": "value", "#n": "version"},
                          {":v": typed(config_dict(config)), ":t": {"N": str(time.time())}, ":one": {"N": "1"}})


def config_dict(config: SortConfig) -> dict[str, object]:
    return {k: v for k, v in config.to_dict().items() if v is not None}
