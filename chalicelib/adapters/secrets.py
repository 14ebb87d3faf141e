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
    """The secret exists but does not hold what the service needs; the message names what is wrong."""


# How a value that is not a string looks in the secret's JSON, to name it in SecretsError.
_JSON_KINDS = {bool: "a boolean", int: "a number", float: "a number", dict: "an object", list: "a list"}


def with_secrets(env: Mapping[str, str]) -> Mapping[str, str]:
    """`env`, with NAMES taken from the secret SECRETS_ARN names, if it names one. Raises the
    boto3 ClientError of a secret that cannot be read, or SecretsError."""
    arn = env.get("SECRETS_ARN")
    if not arn:
        return env
    from chalicelib.adapters import aws

    client = aws.client("secretsmanager")
    try:
        value = json.loads(client.get_secret_value(SecretId=arn)["SecretString"])
    except (KeyError, ValueError):
        value = None
    if not isinstance(value, dict):
        raise SecretsError(f"the secret {arn} is not a JSON object holding {', '.join(NAMES)}")
    # Refused here, once, by name: a number or an object would otherwise fail later, as a 500, in
    # whichever route first uses it (the key's comparison, the webhook's signature, the SDK).
    missing = [name for name in NAMES if value.get(name) in (None, "")]
    not_strings = [name for name in NAMES if name not in missing and not isinstance(value[name], str)]
    problems = [f"has no {', '.join(missing)}"] if missing else []
    if not_strings:
        kinds = " and ".join(f"{name} as {_JSON_KINDS[type(value[name])]}" for name in not_strings)
        problems.append(f"holds {kinds}: {'it' if len(not_strings) == 1 else 'each'} must be a string")
    if problems:
        raise SecretsError(f"the secret {arn} {'; '.join(problems)}")
    return {**env, **{name: value[name] for name in NAMES}}
