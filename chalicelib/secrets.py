"""The service's four secrets from AWS Secrets Manager, rather than from environment variables
(which anyone allowed to read the functions' configuration can see).

Where SECRETS_ARN is set (deploy/resources.json sets it on both functions), the secret it names, a
JSON object holding NAMES, is read once per container, when the wiring is first made, and its
values stand in for the environment's. Elsewhere (`make run`, tests) the environment holds them.
"""
from __future__ import annotations

import json
from collections.abc import Mapping

NAMES = ("DROPBOX_APP_KEY", "DROPBOX_APP_SECRET", "DROPBOX_REFRESH_TOKEN", "SERVICE_KEY")


class SecretsError(RuntimeError):
    """The secret exists but lacks what the service needs; the message names what is missing."""


def with_secrets(env: Mapping[str, str]) -> Mapping[str, str]:
    """`env`, with NAMES taken from the secret SECRETS_ARN names, if it names one. Raises the
    boto3 ClientError of a secret that cannot be read, or SecretsError."""
    arn = env.get("SECRETS_ARN")
    if not arn:
        return env
    import boto3
    from botocore.config import Config

    client = boto3.client("secretsmanager", config=Config(
        connect_timeout=5, read_timeout=10, retries={"mode": "standard", "max_attempts": 3}))
    try:
        value = json.loads(client.get_secret_value(SecretId=arn)["SecretString"])
    except (KeyError, ValueError):
        raise SecretsError(f"the secret {arn} is not a JSON object holding {', '.join(NAMES)}") from None
    missing = [name for name in NAMES if not isinstance(value, dict) or not value.get(name)]
    if missing:
        raise SecretsError(f"the secret {arn} has no {', '.join(missing)}")
    return {**env, **{name: value[name] for name in NAMES}}
