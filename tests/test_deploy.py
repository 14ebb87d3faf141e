"""The deployment template allows what the code calls, nothing less."""
from __future__ import annotations

import ast
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The actions each boto3 call needs when they are not the call's own name (batch calls; a transaction
# needs the action of each kind of write it holds: chalicelib puts, updates and deletes in them).
NEEDS = {"send_message_batch": ("SendMessage",), "delete_message_batch": ("DeleteMessage",),
         "transact_write_items": ("PutItem", "UpdateItem", "DeleteItem")}


def _called(client: str) -> set[str]:
    """The boto3 client methods chalicelib calls on `self.<client>`."""
    calls = set()
    for path in (ROOT / "chalicelib").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == client:
                calls.add(node.func.attr)
    return calls


def _actions(method: str) -> tuple[str, ...]:
    return NEEDS.get(method) or ("".join(part.capitalize() for part in method.split("_")),)


def test_the_iam_policy_allows_every_sqs_and_dynamodb_call_the_app_makes():
    template = json.loads((ROOT / "deploy" / "resources.json").read_text())
    statements = template["Resources"]["AppResourcesPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    allowed = {action for statement in statements for action in statement["Action"]}
    sqs, dynamodb = _called("_sqs") - {"create_queue"}, _called("client") - {"create_table"}
    assert sqs and dynamodb
    missing = {f"sqs:{a}" for m in sqs for a in _actions(m)} | {f"dynamodb:{a}" for m in dynamodb for a in _actions(m)}
    assert missing - allowed == set()


def test_no_secret_is_in_the_functions_environment_and_both_may_read_the_secret_that_holds_them():
    from chalicelib.adapters.secrets import NAMES

    resources = json.loads((ROOT / "deploy" / "resources.json").read_text())["Resources"]
    for function in ("APIHandler", "Classify"):
        variables = resources[function]["Properties"]["Environment"]["Variables"]
        assert not set(NAMES) & set(variables) and variables["SECRETS_ARN"] == {"Ref": "ServiceSecrets"}
    held = resources["ServiceSecrets"]["Properties"]["SecretString"]["Fn::Sub"]
    assert all(f'"{name}"' in held for name in NAMES)
    statements = resources["AppResourcesPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert {"secretsmanager:GetSecretValue"} == {a for s in statements if s["Resource"] == {"Ref": "ServiceSecrets"}
                                                 for a in s["Action"]}
