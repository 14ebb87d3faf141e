"""POST/GET /configure: validate and store the user's classes, and say what each one covers."""
from __future__ import annotations

from . import class_config
from .class_config import SortConfig
from .vocabulary import Resolution


def configure(body: object, services) -> dict:
    """Raises class_config.ConfigError (a 400 for the user) for anything it refuses."""
    config, resolutions = class_config.parse(body, services.vocabulary.resolve)
    services.state.put_config(config)
    return describe(config, resolutions, services.default_threshold)


def current(services) -> dict | None:
    config = services.state.get_config()
    if config is None:
        return None
    return describe(config, [services.vocabulary.resolve(c) for c in config.classes], services.default_threshold)


def describe(config: SortConfig, resolutions: list[Resolution], default_threshold: float) -> dict:
    return {
        "classes": list(config.classes),
        "threshold": default_threshold if config.threshold is None else config.threshold,
        "threshold_is_default": config.threshold is None,
        "unsorted_folder": config.folder_for(None),
        "covers": [{"class": r.name, "folder": config.folder_for(r.name), "imagenet_classes": len(r.indices),
                    "description": r.describe()} for r in resolutions],
    }
