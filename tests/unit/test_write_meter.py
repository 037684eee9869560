"""The write-unit and storage rules of the write benchmark (scripts/bench/write_meter.py), one rule per test."""

from typing import Any

from campaign.aws.items import Item, item_size
from campaign.aws.table_schema import (
    BATCH_INDEX,
    DELIVERY_INDEX,
    LISTING_INDEX,
    PENDING_INDEX,
    SUPPRESSION_INDEX,
    create_table_request,
)
from scripts.bench.write_meter import (
    STORAGE_OVERHEAD_BYTES,
    TABLE,
    IndexSpec,
    TableSpec,
    Tally,
    WriteCost,
    failed_write_cost,
    index_entry,
    storage,
    table_spec,
    write_cost,
)

# A table keyed by `pk` with one index on (`group`, `seq`) that copies `title` and nothing else, and
# one sparse index on (`flag`, `seq`) that copies every attribute.
LISTED = IndexSpec("listed", ("group", "seq"), "INCLUDE", frozenset({"title"}))
FLAGGED = IndexSpec("flagged", ("flag", "seq"), "ALL")
SPEC = TableSpec(keys=("pk",), indexes=(LISTED, FLAGGED))
NO_INDEXES = TableSpec(keys=("pk",), indexes=())


def sized(total: int, **attributes: Any) -> Item:
    """An item of exactly `total` bytes: the given string attributes and a `pad` string that fills it."""
    item: Item = {"pk": {"S": "p"}, **{name: {"S": value} for name, value in attributes.items()}}
    missing = total - item_size(item) - len("pad")
    assert missing >= 0
    item["pad"] = {"S": "x" * missing}
    assert item_size(item) == total
    return item


def listed(title: str, group: str = "g1", **rest: Any) -> Item:
    """An item in the `listed` index, with a `note` attribute that no index copies."""
    item: Item = {"pk": {"S": "p"}, "group": {"S": group}, "seq": {"N": "7"}, "title": {"S": title}}
    item.update({name: {"S": value} for name, value in rest.items()})
    return item


def test_a_put_of_1025_bytes_costs_two_units() -> None:
    # Given a new item one byte over a write unit
    item = sized(1025)
    # When it is put
    cost = write_cost(NO_INDEXES, None, item)
    # Then the started second kilobyte is charged whole
    assert cost == WriteCost(table=2)


def test_a_put_of_exactly_1024_bytes_costs_one_unit() -> None:
    # Given a new item of exactly one write unit
    item = sized(1024)
    # When it is put
    cost = write_cost(NO_INDEXES, None, item)
    # Then it costs one unit
    assert cost.table == 1


def test_a_write_of_a_tiny_item_costs_at_least_one_unit() -> None:
    # Given an item of a few bytes
    item: Item = {"pk": {"S": "p"}}
    # When it is put
    cost = write_cost(NO_INDEXES, None, item)
    # Then it still costs a whole unit
    assert cost.table == 1


def test_an_update_is_charged_for_the_larger_of_before_and_after() -> None:
    # Given a 3,000-byte item that an update shrinks to 500 bytes
    before, after = sized(3000), sized(500)
    # When the update is charged
    cost = write_cost(NO_INDEXES, before, after)
    # Then it pays for the item as it was: three units
    assert cost.table == 3


def test_an_update_that_grows_an_item_is_charged_for_the_item_after() -> None:
    # Given a 900-byte item that an update grows to 2,100 bytes
    before, after = sized(900), sized(2100)
    # When the update is charged
    cost = write_cost(NO_INDEXES, before, after)
    # Then it pays for the item as it becomes: three units
    assert cost.table == 3


def test_a_delete_is_charged_for_the_item_it_removes() -> None:
    # Given a 2,500-byte item
    item = sized(2500)
    # When it is deleted
    cost = write_cost(NO_INDEXES, item, None)
    # Then the delete costs three units
    assert cost.table == 3


def test_a_transactional_put_costs_double() -> None:
    # Given a 1,500-byte item
    item = sized(1500)
    # When it is put inside TransactWriteItems
    cost = write_cost(NO_INDEXES, None, item, transactional=True)
    # Then it costs twice its two units
    assert cost.table == 4


def test_a_transaction_doubles_the_table_write_and_not_the_index_writes() -> None:
    # Given a new item that the `listed` index takes
    item = listed("hello")
    # When it is put inside TransactWriteItems
    cost = write_cost(SPEC, None, item, transactional=True)
    # Then the table write is doubled and the index entry's put is charged once
    assert cost == WriteCost(table=2, indexes={"listed": 1})


def test_a_gsi_key_change_costs_a_delete_and_a_put_of_the_entries() -> None:
    # Given an item whose `listed` entry is 2 KB (its title is projected) and an update that moves it
    # to another group
    title = "t" * 2000
    before, after = listed(title, group="OPEN"), listed(title, group="SENT")
    # When the update is charged
    cost = write_cost(SPEC, before, after)
    # Then the index pays a delete of the old entry and a put of the new one, two units each
    assert cost.indexes == {"listed": 4}
    assert cost.table == 2


def test_an_update_that_changes_no_projected_attribute_costs_nothing_in_that_gsi() -> None:
    # Given an item in the `listed` index and an update of an attribute the index does not copy
    before = listed("hello", note="old")
    after = listed("hello", note="new")
    # When the update is charged
    cost = write_cost(SPEC, before, after)
    # Then only the table pays
    assert cost == WriteCost(table=1)


def test_an_update_of_a_projected_attribute_under_the_same_keys_costs_one_write_of_the_larger_entry() -> None:
    # Given an item whose projected title shrinks from 1,500 bytes to 10, its index keys unchanged
    before, after = listed("t" * 1500), listed("t" * 10)
    # When the update is charged
    cost = write_cost(SPEC, before, after)
    # Then the index pays one write sized by the larger entry: two units
    assert cost.indexes == {"listed": 2}


def test_a_sparse_gsi_entry_that_appears_costs_one_put() -> None:
    # Given an item outside the sparse `flagged` index and an update that adds its key
    before = listed("hello")
    after = before | {"flag": {"S": "on"}}
    # When the update is charged
    cost = write_cost(SPEC, before, after)
    # Then `flagged` pays one put of the new entry (the whole item, 1 unit), and `listed` nothing
    assert cost.indexes == {"flagged": 1}


def test_a_sparse_gsi_entry_that_disappears_costs_one_delete() -> None:
    # Given an item of just over 1 KB in the sparse `flagged` index and an update that removes its key
    before = listed("hello", flag="on", note="n" * 1000)
    after = {name: value for name, value in before.items() if name != "flag"}
    # When the update is charged
    cost = write_cost(SPEC, before, after)
    # Then `flagged` pays one delete of the old entry, sized by it: two units
    assert cost.indexes == {"flagged": 2}


def test_an_item_without_an_index_key_writes_nothing_in_that_index() -> None:
    # Given an item that carries neither index's partition key
    item = sized(300)
    # When it is put
    cost = write_cost(SPEC, None, item)
    # Then no index is charged
    assert cost.indexes == {}


def test_an_include_entry_holds_the_keys_and_the_included_attributes_only() -> None:
    # Given an item with an attribute the `listed` index does not include
    item = listed("hello", note="not copied")
    # When its entry is taken
    entry = index_entry(item, SPEC, LISTED)
    # Then it has the table key, the index keys and the included title
    assert entry == {"pk": {"S": "p"}, "group": {"S": "g1"}, "seq": {"N": "7"}, "title": {"S": "hello"}}


def test_an_all_projection_entry_is_the_whole_item() -> None:
    # Given an item in the `flagged` index, which projects ALL
    item = listed("hello", flag="on", note="copied")
    # When its entry is taken
    entry = index_entry(item, SPEC, FLAGGED)
    # Then it is the item itself
    assert entry == item


def test_a_failed_conditional_write_is_charged_for_the_existing_item() -> None:
    # Given a 2,100-byte item that a conditional write finds and refuses to change
    existing = sized(2100)
    # When the failed write is charged
    cost = failed_write_cost(existing)
    # Then the table pays for the existing item: three units
    assert cost == WriteCost(table=3)


def test_storage_adds_100_bytes_per_item_and_per_index_entry() -> None:
    # Given an item in both indexes
    item = listed("hello", flag="on")
    # When its storage is counted
    stored = storage(item, SPEC)
    # Then the item and each entry are counted at their size plus 100 bytes
    listed_entry = index_entry(item, SPEC, LISTED)
    assert listed_entry is not None
    assert stored == {
        TABLE: item_size(item) + STORAGE_OVERHEAD_BYTES,
        "listed": item_size(listed_entry) + STORAGE_OVERHEAD_BYTES,
        "flagged": item_size(item) + STORAGE_OVERHEAD_BYTES,
    }


def test_the_spec_of_the_project_table_has_its_five_include_indexes() -> None:
    # Given the project's CreateTable request
    request = create_table_request("t")
    # When its spec is read
    spec = table_spec(request)
    # Then it has the table key and the five indexes, with their keys in (hash, range) order
    assert spec.keys == ("pk",)
    assert [(i.name, i.keys, i.projection) for i in spec.indexes] == [
        (LISTING_INDEX, ("listKey", "seq"), "INCLUDE"),
        (PENDING_INDEX, ("pendingKey", "seq"), "INCLUDE"),
        (DELIVERY_INDEX, ("deliveryKey", "seq"), "INCLUDE"),
        (BATCH_INDEX, ("batchesKey", "batchOrder"), "INCLUDE"),
        (SUPPRESSION_INDEX, ("suppressionsKey", "suppressionOrder"), "INCLUDE"),
    ]


def test_a_tally_adds_units_by_phase_kind_and_index() -> None:
    # Given a put charged to the ingest and an update charged to the worker
    tally = Tally()
    tally.add("ingest", "row", WriteCost(table=2, indexes={"listed": 1}))
    tally.add("finish", "row", WriteCost(table=1, indexes={"listed": 2}))
    # When the tally is read
    # Then every unit is in each view once
    assert tally.total == 6
    assert tally.by_phase() == {"ingest": 3, "finish": 3}
    assert tally.by_kind() == {"row": 6}
    assert tally.by_index() == {TABLE: 3, "listed": 3}
