"""One-click unsubscribe (RFC 8058): the link's token is the credential; a POST with
`List-Unsubscribe=One-Click` suppresses the recipient, a GET only shows a page, a bad token writes nothing."""

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from campaign.aws.clients import client
from campaign.aws.send_rows import SendRows
from campaign.aws.suppressions import Suppressions
from campaign.domain.ids import batch_id_for, send_id_for
from campaign.domain.models import SendRow, SuppressionReason
from campaign.domain.unsubscribe import unsubscribe_token
from scripts.local.provision import LOCAL_UNSUBSCRIBE_KEY, LocalResources
from tests.conftest import reset_process_caches
from tests.support.aws_calls import recording

CSV = b"email,subject,content\nAnn@Example.com,Hello,Body\n"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}
HTML = {"accept": "text/html"}


@pytest.fixture
def anonymous(stack: LocalResources) -> TestClient:
    """No API key: a mail client or a browser following the link."""
    return TestClient(create_app(), raise_server_exceptions=False)


@pytest.fixture
def sent_row(stack: LocalResources, upload: Any) -> SendRow:
    upload(CSV)
    row = SendRows(stack.table_name).get(send_id_for(batch_id_for(CSV), "ann@example.com"))
    assert row is not None
    return row


def _token(row: SendRow, key: str = LOCAL_UNSUBSCRIBE_KEY) -> str:
    return unsubscribe_token(key.encode(), row.send_id, row.batch_id, row.email.lower())


def _suppressed(stack: LocalResources) -> set[str]:
    return Suppressions(stack.table_name).suppressed(["ann@example.com"])


def test_a_one_click_post_suppresses_the_recipient_without_an_api_key(
    anonymous: TestClient, stack: LocalResources, sent_row: SendRow
) -> None:
    # Given a row sent to ann and a client without an API key (the fixtures)
    # When the link's one-click POST is made
    response = anonymous.post("/unsubscribe", params={"t": _token(sent_row)}, data=ONE_CLICK)
    # Then ann is suppressed as unsubscribed and the answer masks her address
    assert response.status_code == 200
    assert response.json() == {"unsubscribed": "A***@example.com", "newly": True}
    (stored,) = Suppressions(stack.table_name).page(10, None)[0]
    assert (stored.email, stored.reason) == ("ann@example.com", SuppressionReason.UNSUBSCRIBED)


def test_repeating_the_post_is_harmless(anonymous: TestClient, stack: LocalResources, sent_row: SendRow) -> None:
    # Given a row sent to ann
    # When the one-click POST is made twice
    first = anonymous.post("/unsubscribe", params={"t": _token(sent_row)}, data=ONE_CLICK)
    again = anonymous.post("/unsubscribe", params={"t": _token(sent_row)}, data=ONE_CLICK)
    # Then both succeed, the second says nothing new happened, and one suppression is stored
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["newly"] is False
    assert len(Suppressions(stack.table_name).page(10, None)[0]) == 1


def test_a_get_shows_a_page_with_a_button_and_changes_nothing(
    anonymous: TestClient, stack: LocalResources, sent_row: SendRow
) -> None:
    # Given a row sent to ann
    # When a browser follows the link with a GET
    with recording("dynamodb") as log:
        page = anonymous.get("/unsubscribe", params={"t": _token(sent_row)}, headers=HTML)
    # Then it gets a script-free HTML page with a one-click form, and only a read is made
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<form method="post"' in page.text and 'name="List-Unsubscribe" value="One-Click"' in page.text
    assert "<script" not in page.text
    assert set(log.by_operation()) == {"GetItem"}
    assert _suppressed(stack) == set()


TAMPERINGS: dict[str, Callable[[str], str]] = {
    "mac-changed": lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
    "other-send": lambda token: "0" * 32 + token[32:],
    "longer": lambda token: token + "x",
    "empty": lambda token: "",
    "path": lambda token: "../../etc/passwd",
}


@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_a_tampered_token_is_a_400_that_writes_nothing(
    anonymous: TestClient, stack: LocalResources, sent_row: SendRow, tamper: Callable[[str], str]
) -> None:
    # Given a row sent to ann and a tampered copy of its token
    # When the one-click POST is made with the tampered token
    with recording("dynamodb") as log:
        response = anonymous.post("/unsubscribe", params={"t": tamper(_token(sent_row))}, data=ONE_CLICK)
    # Then it is refused as an invalid token and nothing is written
    assert response.status_code == 400 and response.json()["error"] == "invalid_token"
    assert not set(log.by_operation()) - {"GetItem"}
    assert _suppressed(stack) == set()


def test_a_token_signed_with_another_key_is_refused(
    anonymous: TestClient, stack: LocalResources, sent_row: SendRow
) -> None:
    # Given a row sent to ann and a token for it signed with another key
    # When the one-click POST is made with that token
    response = anonymous.post("/unsubscribe", params={"t": _token(sent_row, key="another")}, data=ONE_CLICK)
    # Then it is refused and ann is not suppressed
    assert response.status_code == 400
    assert _suppressed(stack) == set()


def test_a_post_without_the_one_click_body_is_refused(
    anonymous: TestClient, stack: LocalResources, sent_row: SendRow
) -> None:
    # Given a row sent to ann and its valid token
    # When a POST is made without the one-click body
    response = anonymous.post("/unsubscribe", params={"t": _token(sent_row)}, data={"List-Unsubscribe": "yes"})
    # Then it is refused as not one-click and ann is not suppressed
    assert response.status_code == 400 and response.json()["error"] == "not_one_click"
    assert _suppressed(stack) == set()


def test_a_browser_gets_html_pages(anonymous: TestClient, stack: LocalResources, sent_row: SendRow) -> None:
    # Given a row sent to ann
    # When a browser posts a valid token and gets a bad one
    done = anonymous.post("/unsubscribe", params={"t": _token(sent_row)}, data=ONE_CLICK, headers=HTML)
    bad = anonymous.get("/unsubscribe", params={"t": "nope"}, headers=HTML)
    # Then both answers are HTML pages saying what happened
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert bad.status_code == 400 and "This link does not work" in bad.text


def test_the_token_holds_no_address(sent_row: SendRow) -> None:
    # Given a row sent to ann@example.com
    # When its unsubscribe token is made
    token = _token(sent_row)
    # Then the token does not contain any part of the address
    assert "ann" not in token.lower() and "example" not in token.lower()


def test_the_api_reads_the_key_from_secrets_manager_once_when_deployed(
    stack: LocalResources, sent_row: SendRow, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the unsubscribe key in Secrets Manager, as when deployed, and no key in the environment
    arn = client("secretsmanager").create_secret(Name="unsubscribe-key", SecretString="deployed-key")["ARN"]
    monkeypatch.setenv("UNSUBSCRIBE_KEY_SECRET_ARN", arn)
    monkeypatch.delenv("UNSUBSCRIBE_KEY")
    reset_process_caches()
    api = TestClient(create_app(), raise_server_exceptions=False)
    token = _token(sent_row, "deployed-key")
    # When two one-click POSTs are made with a token signed with that key
    with recording("secretsmanager") as log:
        answers = [api.post("/unsubscribe", params={"t": token}, data=ONE_CLICK).status_code for _ in range(2)]
    # Then both succeed and the secret is read once
    assert answers == [200, 200]
    assert log.by_operation() == {"GetSecretValue": 1}
