"""Conditional writes on the emulated table: a create that finds its key taken answers with the item
found, in the same request; any other error is raised."""

import pytest
from botocore.exceptions import ClientError

from campaign.aws.clients import client
from campaign.aws.conditional import create_unless_exists, is_conditional_failure
from campaign.aws.items import from_attributes, to_attributes
from campaign.local.provision import LocalResources
from tests.support.aws_calls import client_error, faults, recording


def test_a_create_under_a_free_key_writes_the_item(stack: LocalResources) -> None:
    # Given a key no item has
    item = to_attributes({"pk": "TEST#a", "value": "first"})
    # When the item is created unless it exists, then nothing was found
    assert create_unless_exists(client("dynamodb"), stack.table_name, item) is None
    # Then the table holds it
    stored = client("dynamodb").get_item(TableName=stack.table_name, Key={"pk": {"S": "TEST#a"}})["Item"]
    assert from_attributes(stored) == {"pk": "TEST#a", "value": "first"}


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
    stored = ddb.get_item(TableName=stack.table_name, Key={"pk": {"S": "TEST#a"}})["Item"]
    assert from_attributes(stored)["value"] == "first"


def test_an_error_other_than_the_condition_is_raised(stack: LocalResources) -> None:
    # Given a table that refuses the next PutItem for throughput
    refusal = client_error("ProvisionedThroughputExceededException")
    with faults("dynamodb", "PutItem", [refusal]), pytest.raises(ClientError) as raised:
        # When an item is created unless it exists
        create_unless_exists(client("dynamodb"), stack.table_name, to_attributes({"pk": "TEST#a"}))
    # Then the refusal reaches the caller: it is not taken for a taken key
    assert raised.value is refusal
    assert not is_conditional_failure(refusal)
    assert is_conditional_failure(client_error("ConditionalCheckFailedException"))
