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
from campaign.local.provision import LocalResources
from tests.support.aws_calls import faults, recording


@pytest.fixture
def store(stack: LocalResources) -> Suppressions:
    return Suppressions(stack.table_name)


@pytest.fixture
def ticking_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each suppression gets its own second, so the list's order is known."""
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
    assert store.add("ann@example.com", SuppressionReason.UNSUBSCRIBED, "unsubscribe link") is True
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
    store.add("ann@example.com", SuppressionReason.HARD_BOUNCE, "ses bounce 0100abc")
    (first,), _ = store.page(10, None)
    again, added = store.add_or_get("ann@example.com", SuppressionReason.MANUAL, "api")
    assert added is False
    assert again == first
    assert store.add("ann@example.com", SuppressionReason.COMPLAINT, "api") is False


def test_remove_takes_the_address_off_the_list(store: Suppressions) -> None:
    store.add("ann@example.com", SuppressionReason.MANUAL, "api")
    assert store.remove("ann@example.com") is True
    assert store.suppressed(["ann@example.com"]) == set()
    assert store.page(10, None) == ([], None)


def test_removing_an_address_that_is_not_suppressed_says_so(store: Suppressions) -> None:
    assert store.remove("ann@example.com") is False


def test_a_removed_address_can_be_suppressed_again_with_a_new_reason(store: Suppressions) -> None:
    store.add("ann@example.com", SuppressionReason.MANUAL, "api")
    store.remove("ann@example.com")
    assert store.add("ann@example.com", SuppressionReason.COMPLAINT, "ses complaint 7") is True
    assert store.reasons(["ann@example.com"]) == {"ann@example.com": SuppressionReason.COMPLAINT}


def test_a_suppression_never_expires(store: Suppressions, stack: LocalResources) -> None:
    store.add("ann@example.com", SuppressionReason.MANUAL, "api")
    item = client("dynamodb").get_item(TableName=stack.table_name, Key={"pk": {"S": suppression_pk("ann@example.com")}})
    assert TTL_ATTRIBUTE not in item["Item"]


def test_suppressed_names_the_suppressed_addresses_among_those_asked_about(store: Suppressions) -> None:
    store.add("ann@example.com", SuppressionReason.MANUAL, "api")
    store.add("cy@example.com", SuppressionReason.HARD_BOUNCE, "ses bounce 1")
    assert store.suppressed(["ann@example.com", "bob@example.com", "cy@example.com"]) == {
        "ann@example.com",
        "cy@example.com",
    }


def test_suppressed_reads_over_100_addresses_in_two_batch_gets_of_their_keys_only(store: Suppressions) -> None:
    asked = [f"user{i}@example.com" for i in range(DYNAMODB_BATCH_GET_MAX + 30)]
    store.add(asked[0], SuppressionReason.MANUAL, "api")
    store.add(asked[-1], SuppressionReason.MANUAL, "api")
    with recording("dynamodb") as log:
        found = store.suppressed(asked)
    assert found == {asked[0], asked[-1]}
    requests = [params["RequestItems"] for params, _ in log.of("BatchGetItem")]
    assert [len(keys["Keys"]) for request in requests for keys in request.values()] == [100, 30]
    projections = {keys["ProjectionExpression"] for request in requests for keys in request.values()}
    assert projections == {"#pk"}
    assert log.by_operation().keys() == {"BatchGetItem"}


def test_suppressed_asks_once_for_an_address_named_twice(store: Suppressions) -> None:
    store.add("ann@example.com", SuppressionReason.MANUAL, "api")
    with recording("dynamodb") as log:
        found = store.suppressed(["ann@example.com", "ann@example.com"])
    ((params, _),) = log.of("BatchGetItem")
    assert found == {"ann@example.com"}
    assert [len(keys["Keys"]) for keys in params["RequestItems"].values()] == [1]


def test_suppressed_of_no_addresses_makes_no_request(store: Suppressions) -> None:
    with recording("dynamodb") as log:
        assert store.suppressed([]) == set()
    assert log.count() == 0


def test_suppressed_retries_the_keys_dynamodb_left_unprocessed(store: Suppressions, stack: LocalResources) -> None:
    store.add("ann@example.com", SuppressionReason.MANUAL, "api")

    def nothing_read(params: dict[str, Any]) -> dict[str, Any]:
        return {"Responses": {}, "UnprocessedKeys": params["RequestItems"]}

    with faults("dynamodb", "BatchGetItem", [nothing_read]) as seen:
        found = store.suppressed(["ann@example.com", "bob@example.com"])
    assert found == {"ann@example.com"}
    assert len(seen) == 2


def test_reasons_says_why_each_suppressed_address_is_suppressed(store: Suppressions) -> None:
    store.add("ann@example.com", SuppressionReason.UNSUBSCRIBED, "unsubscribe link")
    store.add("cy@example.com", SuppressionReason.COMPLAINT, "ses complaint 9")
    assert store.reasons(["ann@example.com", "bob@example.com", "cy@example.com"]) == {
        "ann@example.com": SuppressionReason.UNSUBSCRIBED,
        "cy@example.com": SuppressionReason.COMPLAINT,
    }


def test_a_page_walk_lists_every_suppression_once_newest_first_with_queries_only(
    store: Suppressions, ticking_clock: None
) -> None:
    added = [f"user{i}@example.com" for i in range(7)]
    for email in added:
        store.add(email, SuppressionReason.MANUAL, "api")
    with recording("dynamodb") as log:
        pages = list(_walk(store, first=3))
    assert pages == [added[6:3:-1], added[3:0:-1], added[:1]]
    assert log.by_operation().keys() == {"Query"}
    assert all(reply["ScannedCount"] == reply["Count"] for _, reply in log.of("Query"))
    assert not any("FilterExpression" in params for params, _ in log.of("Query"))


def test_a_page_that_ends_the_list_exactly_has_no_next_cursor(store: Suppressions, ticking_clock: None) -> None:
    for i in range(4):
        store.add(f"user{i}@example.com", SuppressionReason.MANUAL, "api")
    assert [len(page) for page in _walk(store, first=2)] == [2, 2]


def test_a_suppression_removed_during_a_walk_is_not_listed_and_nothing_repeats(
    store: Suppressions, ticking_clock: None
) -> None:
    added = [f"user{i}@example.com" for i in range(5)]
    for email in added:
        store.add(email, SuppressionReason.MANUAL, "api")
    first_page, after = store.page(2, None)
    store.remove(added[1])
    store.add("late@example.com", SuppressionReason.MANUAL, "api")
    rest, _ = store.page(10, after)
    assert [s.email for s in first_page] == [added[4], added[3]]
    assert [s.email for s in rest] == [added[2], added[0]]


def test_a_cursor_the_store_did_not_issue_is_refused(store: Suppressions) -> None:
    with pytest.raises(InvalidCursorError):
        store.page(10, "not-a-cursor")
    with pytest.raises(InvalidCursorError):
        store.page(10, encode_suppression_cursor("not a position"))


@pytest.mark.parametrize("first", [0, 201])
def test_a_page_size_out_of_range_is_refused(store: Suppressions, first: int) -> None:
    with pytest.raises(ValueError, match="first must be between 1 and 200"):
        store.page(first, None)
