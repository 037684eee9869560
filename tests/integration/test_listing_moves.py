"""A cursor walk lists every row exactly once while rows move under it: the real list_sends over the
emulated indexes, with rows moved (by the worker's and an operator's own code) between any two of
the walk's queries, and with the real worker sending while a client walks."""

import random
import threading
from typing import Any

import pytest

import worker.handler
from campaign.aws.batch_counts import BatchCounts
from campaign.aws.clients import client
from campaign.aws.send_index import SendIndex
from campaign.aws.send_rows import Claimed, SendRows
from campaign.aws.table_schema import SEND_PREFIX
from campaign.domain.clock import now_iso
from campaign.domain.listing_plan import IndexAnswer, IndexQuery
from campaign.domain.status import EmailStatus, ErrorKind
from campaign.services.list_sends import SendFilter, list_sends
from campaign.services.redrive import ResendGateways, resend_row
from scripts.local.provision import LocalResources
from scripts.local.sqs_poller import poll_once
from tests.support.csv_files import campaign_csv
from tests.support.seed import RETENTION


def _walk(index: SendIndex, where: SendFilter, first: int) -> list[str]:
    listed: list[str] = []
    after = None
    while True:
        page = list_sends(index, where, first=first, after=after)
        listed += [row.send_id for row in page.rows]
        after = page.next_cursor
        if after is None:
            return listed


def _send_ids(stack: LocalResources) -> set[str]:
    items = client("dynamodb").scan(TableName=stack.table_name, ProjectionExpression="pk")["Items"]
    return {item["pk"]["S"][len(SEND_PREFIX) :] for item in items if item["pk"]["S"].startswith(SEND_PREFIX)}


class MovingIndex(SendIndex):
    """Before each row query, the worker finishes a few QUEUED rows (SENT, or ERROR after retries) and
    now and then an operator re-drives an ERROR row, as a new row: what a live walk meets, made certain."""

    def __init__(self, stack: LocalResources, queued: set[str], seed: int) -> None:
        super().__init__(stack.table_name)
        self._rows = SendRows(stack.table_name)
        self._resend = ResendGateways(self._rows, BatchCounts(stack.table_name, RETENTION), RETENTION)
        self._chance = random.Random(seed)
        self._queued = sorted(queued)
        self._errors: list[str] = []
        self.added: set[str] = set()

    def _read(self, query: IndexQuery) -> IndexAnswer:
        for _ in range(self._chance.randint(0, 4)):
            if self._queued:
                self._finish(self._queued.pop(self._chance.randrange(len(self._queued))))
        if self._errors and self._chance.random() < 0.2:
            row = self._rows.get(self._errors.pop())
            fresh = resend_row(row, self._resend) if row is not None else None
            if fresh is not None:
                self.added.add(fresh.send_id)
        return super()._read(query)

    def _finish(self, send_id: str) -> None:
        claim = self._rows.claim(send_id, now_iso())
        assert isinstance(claim, Claimed)
        if self._chance.random() < 0.2:
            kind = ErrorKind.RETRIES_EXHAUSTED
            self._rows.finish(claim.row, now_iso(), EmailStatus.ERROR, error="gave up", error_kind=kind)
            self._errors.append(send_id)
        else:
            self._rows.finish(claim.row, now_iso(), EmailStatus.SENT)


@pytest.mark.parametrize("first", [7, 50])
@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("by_batch", [True, False], ids=["batchId", "no filter"])
def test_every_row_is_listed_once_while_rows_move_between_the_walks_queries(
    upload: Any, stack: LocalResources, count_changes: Any, seed: int, first: int, by_batch: bool
) -> None:
    # Given 150 QUEUED rows in two batches, counted
    batch_id = upload(campaign_csv(100)).json()["batchId"]
    upload(campaign_csv(50, start=500))
    count_changes()
    original = _send_ids(stack)
    index = MovingIndex(stack, original, seed)
    # When they are walked while the worker finishes rows and an operator re-drives some
    where = SendFilter(batch_id=batch_id) if by_batch else SendFilter()
    listed = _walk(index, where, first)
    # Then every row is listed exactly once (a row a re-drive added during the walk may or may not be)
    expected = original & _batch(stack, batch_id) if by_batch else original
    assert len(listed) == len(set(listed))
    assert expected <= set(listed)
    assert set(listed) - expected <= index.added


def _batch(stack: LocalResources, batch_id: str) -> set[str]:
    items = client("dynamodb").scan(TableName=stack.table_name)["Items"]
    return {
        item["sendId"]["S"]
        for item in items
        if item["pk"]["S"].startswith(SEND_PREFIX) and item["batchId"]["S"] == batch_id
    }


def test_a_walk_while_the_worker_sends_lists_every_row_once(
    upload: Any, stack: LocalResources, count_changes: Any
) -> None:
    # Given 300 QUEUED rows, and the worker sending them in a thread of its own
    batch_id = upload(campaign_csv(300)).json()["batchId"]
    count_changes()
    done = threading.Event()

    def work() -> None:
        while not done.is_set() and poll_once(stack.queue_url, stack.queue_arn, worker.handler.handler, 0).received:
            pass

    sender = threading.Thread(target=work)
    sender.start()
    # When a client walks the batch 50 at a time meanwhile
    try:
        walks = [_walk(SendIndex(stack.table_name), SendFilter(batch_id=batch_id), 50) for _ in range(3)]
    finally:
        done.set()
        sender.join()
    # Then every walk lists each row once
    for listed in walks:
        assert len(listed) == len(set(listed)) == 300
