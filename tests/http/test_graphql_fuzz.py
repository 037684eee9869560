"""GraphQL at /graphql (its schema is not in the OpenAPI document): Hypothesis-generated
listEmailStatus arguments, and addresses to suppress, over real HTTP. Never a 5xx; every answer is
either data that respects the arguments, or a GraphQL error whose message says what is wrong (the
right one when the arguments are wrong on purpose). MAX_EXAMPLES bounds the run.
"""

import base64
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign.domain.ids import BATCH_ID_PATTERN, is_batch_id
from tests.http.helpers import batch_id_of
from tests.support.hypothesis_profiles import examples

STATUSES = ("PENDING", "QUEUED", "SENT", "ERROR")
LIST = """
query($status: [EmailStatus!], $from: DateTime, $to: DateTime, $batchId: String, $first: Int!, $after: String) {
  listEmailStatus(status: $status, from: $from, to: $to, batchId: $batchId, first: $first, after: $after) {
    items { sendId batchId email status createdAt }
    nextCursor
  }
}
"""
# Without `first` in the variables, the schema's default (50) applies.
LIST_DEFAULT_FIRST = LIST.replace("$first: Int!, ", "").replace("first: $first, ", "")

# The messages a client can act on; anything else (a Python exception's text, say) is not "clear".
CLEAR_ERRORS = re.compile(
    r"first must be between 1 and 200"
    r"|'from' is after 'to'"
    r"|the cursor is not one this API issued"
    r"|the cursor was issued for other filters"
    r"|'(from|to)' is out of range"
    r"|batchId must be 32 lowercase hexadecimal characters"
    r"|Value cannot represent a DateTime"
    r"|Variable '\$\w+' (got|has) invalid value"
)

SEED_ROWS = 6
MAX_EXAMPLES = 50


@pytest.fixture(scope="module")
def seeded(api: httpx.Client) -> tuple[str, str]:
    """A batch of our own, and a cursor the API really issued (so valid cursors are fuzzed too)."""
    content = b"email,subject,content\n" + b"".join(
        f"graphql.fuzz.{i}@example.com,Hi {i},Body {i}\n".encode() for i in range(SEED_ROWS)
    )
    response = api.post("/upload", files={"file": ("seed.csv", content, "text/csv")})
    assert response.status_code in (200, 201), response.text
    batch_id = batch_id_of(content)
    page = api.post("/graphql", json={"query": LIST, "variables": {"batchId": batch_id, "first": 2}}).json()
    cursor = page["data"]["listEmailStatus"]["nextCursor"]
    assert isinstance(cursor, str)
    return batch_id, cursor


AWARE = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12, minutes=-30))])
# Each bound is drawn naive or aware on its own, so the two kinds are mixed too (a naive one is UTC).
# The whole range a DateTime can hold: an offset near either end leaves it once converted to UTC.
NAIVE_MOMENTS = st.datetimes(min_value=datetime.min, max_value=datetime.max)
AWARE_MOMENTS = st.datetimes(min_value=datetime.min, max_value=datetime.max, timezones=AWARE)
NEAR_NOW = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _forged_cursor(position: str) -> str:
    return _b64(json.dumps({"v": 1, "k": position}).encode())


@dataclass(frozen=True, slots=True)
class Arguments:
    variables: dict[str, Any]
    # True: `after` is junk the API must refuse; False: a cursor it issued (or none); None: either.
    bad_cursor: bool | None
    # `after` is the cursor the API issued for the seeded batch without other filters.
    real_cursor: bool = False


@st.composite
def list_arguments(draw: st.DrawFn, batch_id: str, real_cursor: str) -> Arguments:
    variables: dict[str, Any] = {}
    if draw(st.booleans()):
        variables["status"] = draw(st.lists(st.sampled_from(STATUSES), max_size=6))
    for name in ("from", "to"):
        aware = draw(st.booleans())
        if draw(st.booleans()):
            moments = AWARE_MOMENTS if aware else NAIVE_MOMENTS
            near = NEAR_NOW.map(lambda moment: moment.replace(tzinfo=UTC)) if aware else NEAR_NOW
            variables[name] = draw(st.one_of(moments, near)).isoformat()
    if draw(st.booleans()):
        well_formed = st.from_regex(BATCH_ID_PATTERN, fullmatch=True)
        variables["batchId"] = draw(st.one_of(st.just(batch_id), well_formed, st.text(max_size=80)))
    if draw(st.integers(0, 4)):
        variables["first"] = draw(st.integers(-5, 300))
    bad_cursor: bool | None = False
    kind = draw(st.sampled_from(["none", "real", "text", "binary", "forged"]))
    if kind == "real":
        variables["after"] = real_cursor
    elif kind == "text":
        variables["after"], bad_cursor = draw(st.text(max_size=300)), True
    elif kind == "binary":
        variables["after"], bad_cursor = draw(st.binary(max_size=150).map(_b64)), True
    elif kind == "forged":
        variables["after"] = draw(st.text(alphabet="0123456789abcdef-:.TZ#", max_size=70).map(_forged_cursor))
        bad_cursor = None
    return Arguments(variables, bad_cursor, real_cursor=kind == "real")


def _same_filters_as_the_real_cursor(variables: dict[str, Any], batch_id: str) -> bool:
    """The real cursor came from a listing of the seeded batch with no other filter: it is only valid
    with those filters (every status, however spelled, is no status filter)."""
    statuses = set(STATUSES if variables.get("status") is None else variables["status"])
    return (
        statuses == set(STATUSES)
        and variables.get("batchId") == batch_id
        and "from" not in variables
        and "to" not in variables
    )


def _moment(variables: dict[str, Any], name: str) -> datetime | None:
    value = variables.get(name)
    return None if value is None else datetime.fromisoformat(value)


def _overflows(moment: datetime | None) -> bool:
    if moment is None or moment.tzinfo is None:
        return False
    try:
        moment.astimezone(UTC)
    except OverflowError:
        return True
    return False


def _expected_error(arguments: Arguments, batch_id: str) -> str | None:
    """The error the API must report, in the order it checks (campaign.services.list_sends)."""
    variables = arguments.variables
    first = variables.get("first", 50)
    if not 1 <= first <= 200:
        return "first must be between 1 and 200"
    if "batchId" in variables and not is_batch_id(variables["batchId"]):
        return "batchId must be 32 lowercase hexadecimal characters"
    low, high = _moment(variables, "from"), _moment(variables, "to")
    if _overflows(low):
        return "'from' is out of range"
    if _overflows(high):
        return "'to' is out of range"
    if low is not None and high is not None and _utc_moment(low) > _utc_moment(high):
        return "'from' is after 'to'"
    if arguments.bad_cursor:
        return "the cursor is not one this API issued"
    if arguments.real_cursor and not _same_filters_as_the_real_cursor(variables, batch_id):
        return "the cursor was issued for other filters"
    return None


@pytest.fixture(scope="module")
def arguments(seeded: tuple[str, str]) -> st.SearchStrategy[Arguments]:
    return list_arguments(*seeded)


def test_list_email_status_with_generated_arguments(
    api: httpx.Client, seeded: tuple[str, str], arguments: st.SearchStrategy[Arguments]
) -> None:
    # Given generated filters, page sizes and cursors (real, junk and forged) for a seeded batch
    @given(generated=arguments)
    @settings(
        max_examples=examples(MAX_EXAMPLES),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    def check(generated: Arguments) -> None:
        # When each is queried
        variables = generated.variables
        query = LIST if "first" in variables else LIST_DEFAULT_FIRST
        response = api.post("/graphql", json={"query": query, "variables": variables})
        # Then never a 5xx: either a GraphQL error that says what is wrong (the expected one when the arguments
        # are wrong on purpose), or a page that respects the filters, newest batch first
        assert response.status_code < 500, f"{variables}: {response.status_code} {response.text[:300]}"
        assert response.status_code == 200, f"{variables}: {response.status_code} {response.text[:300]}"
        body = response.json()
        errors = body.get("errors")
        expected = _expected_error(generated, seeded[0])
        if errors:
            messages = [error.get("message", "") for error in errors]
            assert all(CLEAR_ERRORS.search(message) for message in messages), f"{variables}: {messages}"
            if expected is not None:
                assert any(expected in message for message in messages), f"{variables}: {messages}"
            else:
                assert generated.bad_cursor is None, f"{variables}: unexpected {messages}"
                assert messages == ["the cursor is not one this API issued"], f"{variables}: {messages}"
            return
        assert expected is None, f"{variables}: expected an error ({expected}), got {body}"
        page = body["data"]["listEmailStatus"]
        first = variables.get("first", 50)
        assert len(page["items"]) <= first
        if variables.get("status"):
            assert {item["status"] for item in page["items"]} <= set(variables["status"])
        if isinstance(variables.get("batchId"), str):
            assert {item["batchId"] for item in page["items"]} <= {variables["batchId"]}
        keys = [(_utc(item["createdAt"]), item["sendId"]) for item in page["items"]]
        created = [moment for moment, _ in keys]
        assert created == sorted(created, reverse=True), "not newest batch first"
        low, high = _moment(variables, "from"), _moment(variables, "to")
        if low is not None:
            assert all(created >= _utc_moment(low) for created, _ in keys), f"{variables}: a row before 'from'"
        if high is not None:
            assert all(created <= _utc_moment(high) for created, _ in keys), f"{variables}: a row after 'to'"

    check()


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _utc_moment(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def test_from_after_to_is_a_clear_error(api: httpx.Client) -> None:
    # Given bounds in the wrong order
    variables = {"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z", "first": 5}
    # When listed
    body = api.post("/graphql", json={"query": LIST, "variables": variables}).json()
    # Then the one error says so
    assert [error["message"] for error in body["errors"]] == ["'from' is after 'to'"]


def test_bounds_before_year_1000_are_ordered_like_any_other(api: httpx.Client, seeded: tuple[str, str]) -> None:
    # Given the seeded batch, created now
    batch_id, _ = seeded

    def count(**bounds: str) -> int:
        variables = {"batchId": batch_id, "first": 200, **bounds}
        body = api.post("/graphql", json={"query": LIST, "variables": variables}).json()
        assert "errors" not in body, body
        return len(body["data"]["listEmailStatus"]["items"])

    # When bounded before year 1000, then "to" excludes every row and "from" includes them all
    assert count(to="0999-12-31T23:59:59Z") == 0
    assert count(**{"from": "0999-01-01T00:00:00Z"}) == SEED_ROWS


def test_a_naive_and_an_aware_bound_can_be_combined(api: httpx.Client, seeded: tuple[str, str]) -> None:
    # Given the seeded batch
    batch_id, _ = seeded
    # When bounded by one naive and one offset moment around now
    for bounds in (
        {"from": "2020-01-01T00:00:00", "to": "2099-12-01T00:00:00Z"},
        {"from": "2020-01-01T00:00:00Z", "to": "2099-12-01T00:00:00"},
    ):
        variables = {"batchId": batch_id, "first": 200, **bounds}
        body = api.post("/graphql", json={"query": LIST, "variables": variables}).json()
        # Then the naive one is read as UTC and every row is listed
        assert "errors" not in body, body
        assert len(body["data"]["listEmailStatus"]["items"]) == SEED_ROWS


SUPPRESS = "mutation($email: String!) { suppress(email: $email) { email reason source } }"
UNSUPPRESS = "mutation($email: String!) { unsuppress(email: $email) }"


def test_suppress_and_unsuppress_with_generated_addresses(api: httpx.Client) -> None:
    # Given generated addresses, valid ones and any text
    @given(email=st.one_of(st.emails(), st.text(max_size=300)))
    @settings(
        max_examples=examples(MAX_EXAMPLES),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    def check(email: str) -> None:
        # When each is suppressed (and, if that worked, unsuppressed)
        response = api.post("/graphql", json={"query": SUPPRESS, "variables": {"email": email}})
        # Then it is either refused as not a valid address, or suppressed lowercased as a manual entry from the
        # API and then unsuppressed
        assert response.status_code == 200, f"{email!r}: {response.status_code} {response.text[:300]}"
        body = response.json()
        if body.get("errors"):
            messages = [error.get("message", "") for error in body["errors"]]
            assert all(m.startswith("email is not a valid address: ") for m in messages), f"{email!r}: {messages}"
            return
        suppressed = body["data"]["suppress"]
        assert suppressed["email"] == suppressed["email"].lower() and "@" in suppressed["email"]
        assert (suppressed["reason"], suppressed["source"]) == ("MANUAL", "api")
        removed = api.post("/graphql", json={"query": UNSUPPRESS, "variables": {"email": email}}).json()
        assert removed == {"data": {"unsuppress": True}}, f"{email!r}: {removed}"

    check()
