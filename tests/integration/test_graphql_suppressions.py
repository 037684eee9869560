"""The suppression list over GraphQL: the suppressions page, suppress and unsuppress, with addresses
held to the CSV's rules (an invalid one is a GraphQL error that names the problem)."""

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

import campaign.aws.suppressions as suppressions_module
from campaign.aws.suppressions import Suppressions
from campaign.domain.models import SuppressionReason
from scripts.local.provision import LocalResources
from tests.support.aws_calls import recording

GraphQL = Callable[..., dict[str, Any]]
Upload = Callable[[bytes], Response]

SUPPRESS = """mutation($email: String!, $reason: SuppressionReason) {
  suppress(email: $email, reason: $reason) { email reason source at }
}"""
SUPPRESS_DEFAULT = "mutation($email: String!) { suppress(email: $email) { email reason source at } }"
UNSUPPRESS = "mutation($email: String!) { unsuppress(email: $email) }"
LIST = """query($first: Int, $after: String) {
  suppressions(first: $first, after: $after) { items { email reason source at } nextCursor }
}"""


@pytest.fixture
def store(stack: LocalResources) -> Suppressions:
    return Suppressions(stack.table_name)


@pytest.fixture
def ticking_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each suppression gets its own minute, so the list's order is known."""
    minutes = iter(range(60))
    monkeypatch.setattr(suppressions_module, "now_iso", lambda: f"2026-12-01T10:{next(minutes):02d}:00.000000Z")


def _errors(answer: dict[str, Any]) -> list[str]:
    return [error["message"] for error in answer.get("errors", [])]


def test_suppress_normalizes_the_address_and_records_it_as_manual_from_the_api(
    graphql: GraphQL, store: Suppressions
) -> None:
    # Given an address with spaces around it and capitals in it
    # When it is suppressed through the API without a reason
    answer = graphql(SUPPRESS_DEFAULT, email="  Ann.Lee@Example.COM ")
    # Then the stored address is trimmed and lower-cased, suppressed manually, from the API, with a time
    suppressed = answer["data"]["suppress"]
    assert (suppressed["email"], suppressed["reason"], suppressed["source"]) == ("ann.lee@example.com", "MANUAL", "api")
    assert suppressed["at"].startswith("20")
    assert store.suppressed(["ann.lee@example.com"]) == {"ann.lee@example.com"}


def test_suppress_takes_a_reason(graphql: GraphQL, store: Suppressions) -> None:
    # Given an address not yet suppressed
    # When it is suppressed with the reason COMPLAINT
    answer = graphql(SUPPRESS, email="ann@example.com", reason="COMPLAINT")
    # Then the answer and the store both hold that reason
    assert answer["data"]["suppress"]["reason"] == "COMPLAINT"
    assert store.reasons(["ann@example.com"]) == {"ann@example.com": SuppressionReason.COMPLAINT}


def test_suppressing_an_address_again_answers_its_first_reason_and_time(graphql: GraphQL) -> None:
    # Given an address suppressed for a hard bounce
    first = graphql(SUPPRESS, email="ann@example.com", reason="HARD_BOUNCE")["data"]["suppress"]
    # When the same address, differently cased, is suppressed again for another reason
    again = graphql(SUPPRESS, email="ANN@example.com", reason="MANUAL")["data"]["suppress"]
    # Then the answer is the first suppression, unchanged
    assert again == first


def test_an_internationalized_domain_is_kept_as_written_in_lower_case(graphql: GraphQL) -> None:
    # Given an address whose domain has a non-ASCII letter
    # When it is suppressed
    answer = graphql(SUPPRESS_DEFAULT, email="Ann@Bücher.de")
    # Then it is stored lower-cased, the domain not converted to punycode
    assert answer["data"]["suppress"]["email"] == "ann@bücher.de"


def test_unsuppress_says_whether_the_address_was_suppressed(graphql: GraphQL, store: Suppressions) -> None:
    # Given a suppressed address
    graphql(SUPPRESS_DEFAULT, email="ann@example.com")
    # When it is unsuppressed twice, then the first answers true and the second false
    assert graphql(UNSUPPRESS, email="Ann@Example.com")["data"]["unsuppress"] is True
    assert graphql(UNSUPPRESS, email="ann@example.com")["data"]["unsuppress"] is False
    # Then the address is no longer suppressed
    assert store.suppressed(["ann@example.com"]) == set()


@pytest.mark.parametrize(
    ("email", "says"),
    [
        ("not-an-address", "An email address must have an @-sign."),
        ("", "the address is empty"),
        ("ä@example.com", "Internationalized characters before the @-sign are not supported"),
        ("a@" + "b" * 300 + ".com", "the address is longer than 254 characters"),
    ],
    ids=["no-at-sign", "empty", "non-ascii-local-part", "too-long"],
)
@pytest.mark.parametrize("mutation", [SUPPRESS_DEFAULT, UNSUPPRESS], ids=["suppress", "unsuppress"])
def test_an_invalid_address_is_a_graphql_error_naming_the_problem_before_any_aws_call(
    graphql: GraphQL, mutation: str, email: str, says: str
) -> None:
    # Given an address the CSV's rules refuse
    # When it is suppressed or unsuppressed
    with recording("dynamodb") as log:
        answer = graphql(mutation, email=email)
    # Then the answer is one GraphQL error naming the problem, and the table is not touched
    (message,) = _errors(answer)
    assert message.startswith("email is not a valid address: ") and says in message, message
    assert answer["data"] is None
    assert log.count() == 0


def test_an_unknown_reason_is_a_graphql_error_naming_it(graphql: GraphQL, store: Suppressions) -> None:
    # Given a reason that is not a SuppressionReason
    # When an address is suppressed with it
    answer = graphql('mutation { suppress(email: "ann@example.com", reason: BORED) { email } }')
    # Then the GraphQL error names the reason and its type, and the address is not suppressed
    (message,) = _errors(answer)
    assert "SuppressionReason" in message and "BORED" in message
    assert store.suppressed(["ann@example.com"]) == set()


def test_the_list_walks_every_suppression_once_newest_first(
    graphql: GraphQL, store: Suppressions, ticking_clock: None
) -> None:
    # Given five suppressions, a minute apart
    added = [f"user{i}@example.com" for i in range(5)]
    for email in added:
        store.add(email, SuppressionReason.MANUAL, "api")
    # When the list is walked two a page
    walked: list[list[str]] = []
    after = None
    while True:
        page = graphql(LIST, first=2, after=after)["data"]["suppressions"]
        walked.append([item["email"] for item in page["items"]])
        after = page["nextCursor"]
        if after is None:
            break
    # Then the pages hold each suppression once, newest first
    assert walked == [added[4:2:-1], added[2:0:-1], added[:1]]


def test_the_list_shows_each_suppressions_reason_source_and_time(graphql: GraphQL, store: Suppressions) -> None:
    # Given an address suppressed by its unsubscribe link
    store.add("ann@example.com", SuppressionReason.UNSUBSCRIBED, "unsubscribe link")
    # When the list is read, then its one item shows that reason and source
    (item,) = graphql(LIST)["data"]["suppressions"]["items"]
    assert (item["email"], item["reason"], item["source"]) == ("ann@example.com", "UNSUBSCRIBED", "unsubscribe link")


def test_an_empty_list_is_an_empty_page(graphql: GraphQL) -> None:
    # Given no suppression
    # When the list is read, then it is one empty page without a cursor
    assert graphql(LIST)["data"]["suppressions"] == {"items": [], "nextCursor": None}


@pytest.mark.parametrize("first", [0, 201])
def test_a_page_size_out_of_range_is_a_graphql_error(graphql: GraphQL, first: int) -> None:
    # Given a page size just outside 1 to 200
    # When the list is read with it, then the answer is an error naming the range
    assert _errors(graphql(LIST, first=first)) == ["first must be between 1 and 200"]


def test_a_cursor_the_api_did_not_issue_is_a_graphql_error(graphql: GraphQL) -> None:
    # Given a cursor made up by the client
    # When the list is read after it, then the answer is an error saying the API did not issue it
    assert _errors(graphql(LIST, after="bm90IGEgY3Vyc29y")) == ["the cursor is not one this API issued"]


def test_a_listing_cursor_is_not_a_suppression_list_cursor(graphql: GraphQL, upload: Upload) -> None:
    # Given a cursor issued by the sends listing
    batch_id = upload(b"email,subject,content\na@example.com,Hi,x\nb@example.com,Hi,y\n").json()["batchId"]
    listing = graphql("query($b: String) { listEmailStatus(batchId: $b, first: 1) { nextCursor } }", b=batch_id)
    cursor = listing["data"]["listEmailStatus"]["nextCursor"]
    # When the suppression list is read after it, then it is refused as a cursor the API did not issue
    assert _errors(graphql(LIST, after=cursor)) == ["the cursor is not one this API issued"]


def test_the_list_reads_only_its_index_with_key_conditions(graphql: GraphQL, store: Suppressions) -> None:
    # Given one suppression
    store.add("ann@example.com", SuppressionReason.MANUAL, "api")
    # When the list is read
    with recording("dynamodb") as log:
        graphql(LIST)
    # Then the only read is one key-condition Query on the suppressions index, which read only what it listed
    ((params, reply),) = log.of("Query")
    assert log.count() == 1
    assert params["IndexName"] == "suppressions-newest" and "FilterExpression" not in params
    assert reply["ScannedCount"] == reply["Count"] == 1


def test_a_mutation_by_get_is_refused_and_suppresses_nobody(api: TestClient, store: Suppressions) -> None:
    # Given a client with the key
    # When it sends the suppress mutation by GET
    response = api.get("/graphql", params={"query": 'mutation { suppress(email: "ann@example.com") { email } }'})
    # Then the request is refused, saying why, and the address is not suppressed
    assert response.status_code == 400
    assert "mutations are not allowed when using GET" in response.json()["message"]
    assert store.suppressed(["ann@example.com"]) == set()


def test_the_mutations_need_the_api_key(stack: LocalResources, api: TestClient, store: Suppressions) -> None:
    # Given a client with a wrong key
    # When it sends the suppress mutation
    query = {"query": 'mutation { suppress(email: "ann@example.com") { email } }'}
    response = api.post("/graphql", json=query, headers={"x-api-key": "wrong"})
    # Then it is refused and the address is not suppressed
    assert response.status_code == 401
    assert store.suppressed(["ann@example.com"]) == set()


def test_an_address_suppressed_through_the_api_is_skipped_by_the_next_upload(graphql: GraphQL, upload: Upload) -> None:
    # Given an address suppressed through the API
    graphql(SUPPRESS_DEFAULT, email="Bob@Example.com")
    # When a campaign naming it and another address is uploaded
    answer = upload(b"email,subject,content\nann@example.com,Hi,x\nbob@example.com,Hi,y\n").json()
    # Then its row is skipped as suppressed and only the other is enqueued
    assert (answer["enqueued"], answer["skipped"]) == (1, 1)
    assert answer["skippedRows"] == [{"row": 3, "email": "bob@example.com", "reason": "suppressed"}]
