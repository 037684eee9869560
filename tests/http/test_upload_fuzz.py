"""Hypothesis-generated files through POST /upload over real HTTP (the parser's own properties, in
process and with many more examples, are in tests/unit/test_csv_properties.py).

For every generated file: never a 5xx. Refused: a JSON error with a documented code and a message,
and nothing written (item count, `batch(batchId)`). Accepted: the counts add up, and exactly the
accepted rows are stored under the batch — never a partial batch. MAX_EXAMPLES bounds the run.
"""

from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.http.helpers import UPLOAD_ERROR_CODES, Emulator, assert_json_error, batch, batch_id_of, graphql
from tests.support.hypothesis_profiles import examples

MAX_EXAMPLES = 40
MAX_RECORDS = 12
ROWS_OF = """query($b: String!, $after: String) {
  listEmailStatus(batchId: $b, first: 200, after: $after) { items { sendId } nextCursor }
}"""

# Header cells: the required names (in any case, padded), an unknown name, or junk.
header_cells = st.sampled_from(["email", "subject", "content", " Email ", "SUBJECT", "content\t", "extra", "", '"'])
# Data cells: plausible addresses, formula-like text, CSV punctuation, odd Unicode, NUL.
cells = st.one_of(
    st.sampled_from(["fuzz@example.com", "FUZZ@example.com", "not-an-email", "=1+1", "@SUM(A1)", "-2", '"q"']),
    st.emails().map(lambda address: "fuzz." + address),
    st.text(st.sampled_from([*',"\r\n \t;', "a", "é", "\u2028", "\ufeff", "\x00"]), max_size=10),
    st.text(max_size=20),
)
encodings = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"])


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    """A header (usually the right columns in some order) and records joined by one kind of newline."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=200))
    header = draw(st.one_of(st.permutations(["email", "subject", "content"]), st.lists(header_cells, max_size=5)))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    records = draw(st.lists(st.lists(cells, min_size=2, max_size=5), max_size=MAX_RECORDS))
    text = newline.join([",".join(header), *(",".join(record) for record in records)]) + newline
    return text.encode(draw(encodings), errors="replace")


def _rows_of(api: httpx.Client, batch_id: str) -> int:
    """The batch's rows, every page of them (a page may end before `first` rows)."""
    rows, after = 0, None
    while True:
        page = graphql(api, ROWS_OF, {"b": batch_id, "after": after})["listEmailStatus"]
        rows += len(page["items"])
        after = page["nextCursor"]
        if after is None:
            return rows


def test_a_generated_file_is_refused_cleanly_or_stored_whole(api: httpx.Client, emulator: Emulator) -> None:
    @given(content=csv_files())
    @settings(
        max_examples=examples(MAX_EXAMPLES),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    def check(content: bytes) -> None:
        # Given a generated file and the table as it is
        items_before = emulator.item_count()

        # When it is uploaded
        response = api.post("/upload", files={"file": ("fuzz.csv", content, "text/csv")})

        # Then never a 5xx, and either a clean refusal or a whole batch
        assert response.status_code < 500, f"{response.status_code} {response.text[:300]} for {content!r}"
        if response.status_code >= 400:
            _refused_cleanly(response, content, api, emulator, items_before)
        else:
            _stored_whole(response, content, api)

    check()


def _refused_cleanly(
    response: httpx.Response, content: bytes, api: httpx.Client, emulator: Emulator, items_before: int
) -> None:
    code = response.json().get("error") if response.headers.get("content-type") == "application/json" else None
    assert code in UPLOAD_ERROR_CODES, f"{response.status_code} {response.text[:300]} for {content!r}"
    assert_json_error(response.status_code, response.headers["content-type"], response.content, code)
    assert emulator.item_count() == items_before, f"a refused upload ({code}) wrote items: {content!r}"
    assert batch(api, batch_id_of(content)) is None, f"a refused upload ({code}) created its batch: {content!r}"


def _stored_whole(response: httpx.Response, content: bytes, api: httpx.Client) -> None:
    body: dict[str, Any] = response.json()
    assert response.status_code in (200, 201), body
    assert body["batchId"] == batch_id_of(content), body
    assert body["total"] == body["enqueued"] + body["skipped"] + body["notEnqueued"] + body["alreadyAccepted"], body
    # A file seen before (Hypothesis may draw one twice) is a no-op: a duplicate, answered with the
    # first upload's summary.
    assert body["duplicate"] is (response.status_code == 200), body
    stored = batch(api, body["batchId"])
    assert stored is not None, body
    if not body["duplicate"]:
        assert stored["total"] == body["total"], (stored, body)
        assert _rows_of(api, body["batchId"]) == body["enqueued"] + body["notEnqueued"], body
