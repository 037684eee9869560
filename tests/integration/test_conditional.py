"""Conditional writes on the emulated table: a write whose condition fails answers with the item it
found, in the same request, and changes nothing; any other error is raised."""

import pytest
from botocore.exceptions import ClientError

from campaign.aws.clients import client
from campaign.aws.conditional import conditional_write, create_unless_exists
from campaign.aws.items import from_attributes, to_attributes
from scripts.local.provision import LocalResources
from tests.support.aws_calls import client_error, faults, recording

_KEY = {"pk": {"S": "TEST#a"}}


def _stored(table_name: str) -> dict[str, object]:
    return from_attributes(client("dynamodb").get_item(TableName=table_name, Key=_KEY)["Item"])


def test_a_create_under_a_free_key_writes_the_item(stack: LocalResources) -> None:
    # Given a key no item has
    item = to_attributes({"pk": "TEST#a", "value": "first"})
    # When the item is created unless it exists, then nothing was found
    assert create_unless_exists(client("dynamodb"), stack.table_name, item) is None
    # Then the table holds it
    assert _stored(stack.table_name) == {"pk": "TEST#a", "value": "first"}


def test_a_create_under_a_taken_key_answers_with_the_item_found_and_changes_nothing(stack: LocalResources) -> None:
    # Given an item under the key
    ddb = client("dynamodb")
    create_unless_exists(ddb, stack.table_name, to_attributes({"pk": "TEST#a", "value": "first"}))
    # When another item is created under the same key
    with recording("dynamodb") as calls:
        found = create_unless_exists(ddb, stack.table_name, to_attributes({"pk": "TEST#a", "value": "second"}))
    # Then the first item is the answer, from the one PutItem, and it is still the stored one
    assert found is not None and from_attributes(found) == {"pk": "TEST#a", "value": "first"}
    assert calls.by_operation() == {"PutItem": 1}
    assert _stored(stack.table_name)["value"] == "first"


def test_an_update_whose_condition_holds_answers_with_what_it_returned(stack: LocalResources) -> None:
    # Given an item at version 1
    ddb = client("dynamodb")
    ddb.put_item(TableName=stack.table_name, Item=to_attributes({"pk": "TEST#a", "version": 1}))
    # When it is moved to version 2 on condition that it is at version 1, returning the new values
    item, written = conditional_write(
        ddb.update_item,
        TableName=stack.table_name,
        Key=_KEY,
        UpdateExpression="SET version = :next",
        ConditionExpression="version = :now",
        ExpressionAttributeValues=to_attributes({":now": 1, ":next": 2}),
        ReturnValues="UPDATED_NEW",
    )
    # Then it was written, and the answer is the new version
    assert written is True
    assert item is not None and from_attributes(item) == {"version": 2}


def test_a_failed_condition_answers_with_the_item_only_when_asked_for_it(stack: LocalResources) -> None:
    # Given an item at version 2
    ddb = client("dynamodb")
    ddb.put_item(TableName=stack.table_name, Item=to_attributes({"pk": "TEST#a", "version": 2}))
    stale = {
        "TableName": stack.table_name,
        "Key": _KEY,
        "UpdateExpression": "SET version = :next",
        "ConditionExpression": "version = :now",
        "ExpressionAttributeValues": to_attributes({":now": 1, ":next": 2}),
    }
    # When an update that expects version 1 is made, without and then with the item asked for on failure
    without = conditional_write(ddb.update_item, **stale)
    found, written = conditional_write(ddb.update_item, **stale, ReturnValuesOnConditionCheckFailure="ALL_OLD")
    # Then neither was written; the first knows no item, the second the item as it is
    assert without == (None, False)
    assert written is False
    assert found is not None and from_attributes(found) == {"pk": "TEST#a", "version": 2}


def test_an_error_other_than_the_condition_is_raised(stack: LocalResources) -> None:
    # Given a table that refuses the next PutItem for throughput
    refusal = client_error("ProvisionedThroughputExceededException")
    with faults("dynamodb", "PutItem", [refusal]), pytest.raises(ClientError) as raised:
        # When an item is created unless it exists
        create_unless_exists(client("dynamodb"), stack.table_name, to_attributes({"pk": "TEST#a"}))
    # Then the refusal reaches the caller: it is not taken for a taken key
    assert raised.value is refusal
