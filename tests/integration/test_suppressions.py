"""The suppression store on the emulated table: add, remove, bulk lookups and the paged list."""

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

import campaign.aws.suppressions as suppressions_module
from campaign.aws.clients import client
from campaign.aws.suppressions import Suppressions
from campaign.aws.table_schema import TTL_ATTRIBUTE, suppression_pk
from campaign.domain.cursor import InvalidCursorError, encode_suppression_cursor
from campaign.domain.models import SuppressionReason
from campaign.limits import DYNAMODB_BATCH_GET_MAX
from scripts.local.provision import LocalResources
from tests.support.aws_calls import faults, recording


@pytest.fixture
def store(stack: LocalResources) -> Suppressions:
    return Suppressions(stack.table_name)


@pytest.fixture
def ticking_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each suppression gets its own minute, so the list's order is known."""
    seconds = itertools.count()
    monkeypatch.setattr(suppressions_module, "now_iso", lambda: f"2026-12-01T00:{next(seconds):02d}:00.000000Z")


def _walk(store: Suppressions, first: int) -> Iterator[list[str]]:
    after = None
    while True:
        page, after = store.page(first, after)
        yield [s.email for s in page]
        if after is None:
            return


def test_a_new_address_is_added_with_its_reason_source_and_time(store: Suppressions) -> None:
    # Given an empty list
    # When an address is added for its unsubscribe link, then the store says it is new
    assert store.add("ann@example.com", SuppressionReason.UNSUBSCRIBED, "unsubscribe link") is True
    # Then the list holds it with that reason and source, and a UTC time
    (listed,), _ = store.page(10, None)
    assert (listed.email, listed.reason, listed.source) == (
        "ann@example.com",
        SuppressionReason.UNSUBSCRIBED,
        "unsubscribe link",
    )
    assert listed.at.endswith("Z")


def test_adding_an_address_again_is_not_new_and_keeps_the_first_reason_source_and_time(
    store: Suppressions,
) -> None:
    # Given an address suppressed for a hard bounce
    store.add("ann@example.com", SuppressionReason.HARD_BOUNCE, "ses bounce 0100abc")
    (first,), _ = store.page(10, None)
    # When it is added again for other reasons
    again, added = store.add_or_get("ann@example.com", SuppressionReason.MANUAL, "api")
    # Then it is not new, and the suppression answered is the first one
    assert added is False
    assert again == first
    assert store.add("ann@example.com", SuppressionReason.COMPLAINT, "api") is False


def test_remove_takes_the_address_off_the_list(store: Suppressions) -> None:
    # Given a suppressed address
    store.add("ann@example.com", SuppressionReason.MANUAL, "api")
    # When it is removed, then the store says it was there
    assert store.remove("ann@example.com") is True
    # Then it is neither suppressed nor listed
    assert store.suppressed(["ann@example.com"]) == set()
    assert store.page(10, None) == ([], None)


def test_removing_an_address_that_is_not_suppressed_says_so(store: Suppressions) -> None:
    # Given an empty list
    # When an address is removed, then the store says it was not there
    assert store.remove("ann@example.com") is False


def test_a_removed_address_can_be_suppressed_again_with_a_new_reason(store: Suppressions) -> None:
    # Given an address suppressed manually, then removed
    store.add("ann@example.com", SuppressionReason.MANUAL, "api")
    store.remove("ann@example.com")
    # When it is suppressed again for a complaint, then it is new
    assert store.add("ann@example.com", SuppressionReason.COMPLAINT, "ses complaint 7") is True
    # Then its reason is the complaint
    assert store.reasons(["ann@example.com"]) == {"ann@example.com": SuppressionReason.COMPLAINT}


def test_a_suppression_never_expires(store: Suppressions, stack: LocalResources) -> None:
    # Given a suppressed address
    store.add("ann@example.com", SuppressionReason.MANUAL, "api")
    # When its item is read from the table
    item = client("dynamodb").get_item(TableName=stack.table_name, Key={"pk": {"S": suppression_pk("ann@example.com")}})
    # Then it has no time to live
    assert TTL_ATTRIBUTE not in item["Item"]


def test_suppressed_names_the_suppressed_addresses_among_those_asked_about(store: Suppressions) -> None:
    # Given two of three addresses suppressed
    store.add("ann@example.com", SuppressionReason.MANUAL, "api")
    store.add("cy@example.com", SuppressionReason.HARD_BOUNCE, "ses bounce 1")
    # When the store is asked about the three, then it names the two
    assert store.suppressed(["ann@example.com", "bob@example.com", "cy@example.com"]) == {
        "ann@example.com",
        "cy@example.com",
    }


def test_suppressed_reads_over_100_addresses_in_two_batch_gets_of_their_keys_only(store: Suppressions) -> None:
    # Given 130 addresses, the first and the last suppressed
    asked = [f"user{i}@example.com" for i in range(DYNAMODB_BATCH_GET_MAX + 30)]
    store.add(asked[0], SuppressionReason.MANUAL, "api")
    store.add(asked[-1], SuppressionReason.MANUAL, "api")
    # When the store is asked about all of them
    with recording("dynamodb") as log:
        found = store.suppressed(asked)
    # Then it names the two, read by two BatchGetItems of 100 and 30 keys, projecting the key alone
    assert found == {asked[0], asked[-1]}
    requests = [params["RequestItems"] for params, _ in log.of("BatchGetItem")]
    assert [len(keys["Keys"]) for request in requests for keys in request.values()] == [100, 30]
    projections = {keys["ProjectionExpression"] for request in requests for keys in request.values()}
    assert projections == {"#pk"}
    assert log.by_operation().keys() == {"BatchGetItem"}


def test_suppressed_asks_once_for_an_address_named_twice(store: Suppressions) -> None:
    # Given a suppressed address
    store.add("ann@example.com", SuppressionReason.MANUAL, "api")
    # When the store is asked about it twice in one call
    with recording("dynamodb") as log:
        found = store.suppressed(["ann@example.com", "ann@example.com"])
    # Then it names it, having asked for its key once
    ((params, _),) = log.of("BatchGetItem")
    assert found == {"ann@example.com"}
    assert [len(keys["Keys"]) for keys in params["RequestItems"].values()] == [1]


def test_suppressed_of_no_addresses_makes_no_request(store: Suppressions) -> None:
    # Given the store
    # When it is asked about no address, then it names none
    with recording("dynamodb") as log:
        assert store.suppressed([]) == set()
    # Then it made no request
    assert log.count() == 0


def test_suppressed_retries_the_keys_dynamodb_left_unprocessed(store: Suppressions, stack: LocalResources) -> None:
    # Given a suppressed address, and DynamoDB leaving every key of the first BatchGetItem unprocessed
    store.add("ann@example.com", SuppressionReason.MANUAL, "api")

    def nothing_read(params: dict[str, Any]) -> dict[str, Any]:
        return {"Responses": {}, "UnprocessedKeys": params["RequestItems"]}

    # When the store is asked about it and another address
    with faults("dynamodb", "BatchGetItem", [nothing_read]) as seen:
        found = store.suppressed(["ann@example.com", "bob@example.com"])
    # Then it asks again for the unprocessed keys and names the suppressed one
    assert found == {"ann@example.com"}
    assert len(seen) == 2


def test_reasons_says_why_each_suppressed_address_is_suppressed(store: Suppressions) -> None:
    # Given two of three addresses suppressed for different reasons
    store.add("ann@example.com", SuppressionReason.UNSUBSCRIBED, "unsubscribe link")
    store.add("cy@example.com", SuppressionReason.COMPLAINT, "ses complaint 9")
    # When the store is asked why about the three, then it gives each suppressed one its reason
    assert store.reasons(["ann@example.com", "bob@example.com", "cy@example.com"]) == {
        "ann@example.com": SuppressionReason.UNSUBSCRIBED,
        "cy@example.com": SuppressionReason.COMPLAINT,
    }


def test_a_page_walk_lists_every_suppression_once_newest_first_with_queries_only(
    store: Suppressions, ticking_clock: None
) -> None:
    # Given seven suppressions, a minute apart
    added = [f"user{i}@example.com" for i in range(7)]
    for email in added:
        store.add(email, SuppressionReason.MANUAL, "api")
    # When the list is walked three a page
    with recording("dynamodb") as log:
        pages = list(_walk(store, first=3))
    # Then the pages hold each once, newest first, read by key-condition queries that read only what they list
    assert pages == [added[6:3:-1], added[3:0:-1], added[:1]]
    assert log.by_operation().keys() == {"Query"}
    assert all(reply["ScannedCount"] == reply["Count"] for _, reply in log.of("Query"))
    assert not any("FilterExpression" in params for params, _ in log.of("Query"))


def test_a_page_that_ends_the_list_exactly_has_no_next_cursor(store: Suppressions, ticking_clock: None) -> None:
    # Given four suppressions
    for i in range(4):
        store.add(f"user{i}@example.com", SuppressionReason.MANUAL, "api")
    # When the list is walked two a page, then the second page is the last (no third, empty page)
    assert [len(page) for page in _walk(store, first=2)] == [2, 2]


def test_a_suppression_removed_during_a_walk_is_not_listed_and_nothing_repeats(
    store: Suppressions, ticking_clock: None
) -> None:
    # Given five suppressions and the first page of a walk, two a page
    added = [f"user{i}@example.com" for i in range(5)]
    for email in added:
        store.add(email, SuppressionReason.MANUAL, "api")
    first_page, after = store.page(2, None)
    # When one not yet listed is removed and a new one added before the next page is read
    store.remove(added[1])
    store.add("late@example.com", SuppressionReason.MANUAL, "api")
    rest, _ = store.page(10, after)
    # Then the rest of the walk lists neither, and repeats nothing from the first page
    assert [s.email for s in first_page] == [added[4], added[3]]
    assert [s.email for s in rest] == [added[2], added[0]]


def test_a_cursor_the_store_did_not_issue_is_refused(store: Suppressions) -> None:
    # Given a made-up cursor, and a well-formed cursor to a position that is not one
    # When a page is read after either, then it is refused
    with pytest.raises(InvalidCursorError):
        store.page(10, "not-a-cursor")
    with pytest.raises(InvalidCursorError):
        store.page(10, encode_suppression_cursor("not a position"))


@pytest.mark.parametrize("first", [0, 201])
def test_a_page_size_out_of_range_is_refused(store: Suppressions, first: int) -> None:
    # Given a page size just outside 1 to 200
    # When a page of that size is read, then it is refused, naming the range
    with pytest.raises(ValueError, match="first must be between 1 and 200"):
        store.page(first, None)
