"""local/in_process.py's faster moto DynamoDB: transactions roll back the items they name instead
of copying whole tables, with moto's own all-or-nothing and errors (item_level_transaction_rollback);
a Query reads only its hash key's items, with moto's own answers (one_bucket_queries)."""
from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from local.in_process import item_level_transaction_rollback, one_bucket_queries

TABLE = "transactions"


def _table(client, range_key: bool) -> None:
    keys = [("pk", "HASH")] + ([("sk", "RANGE")] if range_key else [])
    client.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": a, "KeyType": t} for a, t in keys],
                        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a, _ in keys])


def _key(pk: str, range_key: bool) -> dict:
    return {"pk": {"S": pk}, **({"sk": {"S": "s"}} if range_key else {})}


def _items(client) -> list[dict]:
    return sorted(client.scan(TableName=TABLE, ConsistentRead=True)["Items"], key=lambda i: i["pk"]["S"])


def _transaction(range_key: bool, last: str) -> list[dict]:
    """An update, a put of a new item, a delete, then `last`: a put whose condition fails, or a
    second write of the first item (which DynamoDB refuses as a whole: ValidationException)."""
    def k(pk):
        return _key(pk, range_key)
    items = [
        {"Update": {"TableName": TABLE, "Key": k("a"), "UpdateExpression": "SET n = n + :one, tag = :t",
                    "ExpressionAttributeValues": {":one": {"N": "1"}, ":t": {"S": "changed"}}}},
        {"Put": {"TableName": TABLE, "Item": {**k("new"), "n": {"N": "7"}},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Delete": {"TableName": TABLE, "Key": k("c")}},
    ]
    if last == "condition":
        items.append({"Put": {"TableName": TABLE, "Item": {**k("d"), "n": {"N": "9"}},
                              "ConditionExpression": "attribute_not_exists(pk)",
                              "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}})
    else:
        items.append({"Delete": {"TableName": TABLE, "Key": k("a")}})
    return items


def _run(range_key: bool, last: str, patched: bool):
    """The table's items before and after a failed transaction, its error, and whether moto's
    table object is still the one it was (moto's own rollback puts a copy in its place)."""
    from moto import mock_aws
    from moto.dynamodb.models import dynamodb_backends

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        _table(client, range_key)
        for pk, n in (("a", "1"), ("c", "3"), ("d", "4")):
            client.put_item(TableName=TABLE, Item={**_key(pk, range_key), "n": {"N": n}})
        backend = dynamodb_backends["123456789012"]["us-east-1"]
        table = backend.tables[TABLE]
        before = _items(client)
        with item_level_transaction_rollback() if patched else _nothing():
            with pytest.raises(ClientError) as raised:
                client.transact_write_items(TransactItems=_transaction(range_key, last))
        return before, _items(client), raised.value.response, backend.tables[TABLE] is table


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("range_key", [False, True], ids=["hash key", "hash and range key"])
def test_a_transaction_whose_last_condition_fails_leaves_the_earlier_items_as_they_were(range_key):
    before, after, error, same_table = _run(range_key, "condition", patched=True)
    assert after == before
    assert error["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in error["CancellationReasons"]] == ["None", "None", "None", "ConditionalCheckFailed"]
    assert error["CancellationReasons"][3]["Item"] == {**_key("d", range_key), "n": {"N": "4"}}
    assert same_table  # rolled back item by item: moto's table was not swapped for a copy


@pytest.mark.parametrize("range_key", [False, True], ids=["hash key", "hash and range key"])
def test_a_transaction_refused_as_a_whole_leaves_the_earlier_items_as_they_were(range_key):
    before, after, error, same_table = _run(range_key, "same item twice", patched=True)
    assert after == before and same_table
    assert error["Error"]["Code"] == "ValidationException"


@pytest.mark.parametrize("last", ["condition", "same item twice"])
@pytest.mark.parametrize("range_key", [False, True], ids=["hash key", "hash and range key"])
def test_a_failed_transaction_answers_and_leaves_the_table_as_moto_own_rollback_does(range_key, last):
    patched, moto_own = _run(range_key, last, patched=True), _run(range_key, last, patched=False)
    assert patched[:2] == moto_own[:2]
    assert {k: v for k, v in patched[2].items() if k != "ResponseMetadata"} == \
        {k: v for k, v in moto_own[2].items() if k != "ResponseMetadata"}
    assert patched[3] and not moto_own[3]


def test_a_transaction_that_succeeds_writes_every_item():
    from moto import mock_aws

    with mock_aws(), item_level_transaction_rollback():
        client = boto3.client("dynamodb", region_name="us-east-1")
        _table(client, True)
        for pk in ("a", "c"):
            client.put_item(TableName=TABLE, Item={**_key(pk, True), "n": {"N": "1"}})
        client.transact_write_items(TransactItems=_transaction(True, "condition")[:3])
        assert _items(client) == [{**_key("a", True), "n": {"N": "2"}, "tag": {"S": "changed"}},
                                  {**_key("new", True), "n": {"N": "7"}}]


def _query_answers(key_type: str, patched: bool) -> list:
    """moto's answers to Queries of every kind a key allows, on a table of many hash keys."""
    from moto import mock_aws

    def value(i):
        return {key_type: str(i)}

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                       {"AttributeName": "sk", "KeyType": "RANGE"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": key_type},
                                                  {"AttributeName": "sk", "AttributeType": "S"}])
        for h in range(20):
            for r in (7, 3, 11, 5):
                client.put_item(TableName=TABLE, Item={"pk": value(h), "sk": {"S": f"s#{r:02}"}, "n": {"N": str(h * r)}})
        asks = [{}, {"ScanIndexForward": False}, {"Limit": 2},
                {"KeyConditionExpression": "pk = :p AND begins_with(sk, :s)", "ExpressionAttributeValues": {
                    ":p": value(4), ":s": {"S": "s#1"}}},
                {"FilterExpression": "n > :n", "ExpressionAttributeValues": {":p": value(4), ":n": {"N": "15"}}}]
        answers = []
        with one_bucket_queries() if patched else _nothing():
            for h in (4, 99):  # one with items, one without
                for ask in asks:
                    params = {"TableName": TABLE, "KeyConditionExpression": "pk = :p",
                              "ExpressionAttributeValues": {":p": value(h)}, **ask}
                    pages = [client.query(**params)]
                    while "LastEvaluatedKey" in pages[-1]:
                        pages.append(client.query(**params, ExclusiveStartKey=pages[-1]["LastEvaluatedKey"]))
                    answers.append([{k: v for k, v in p.items() if k != "ResponseMetadata"} for p in pages])
        return answers


@pytest.mark.parametrize("key_type", ["S", "N"])
def test_a_query_on_the_table_key_answers_as_moto_own_does(key_type):
    assert _query_answers(key_type, patched=True) == _query_answers(key_type, patched=False)
