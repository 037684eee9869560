"""DynamoDB write units and storage per sent email: ours (lean rows) against the previous layout.

Run by scripts/bench/__main__.py in a process of its own (`python -m scripts.bench.writes [--emails N]`); prints
one JSON object on its last stdout line. Units and bytes follow AWS's documented rules, as
scripts/bench/write_meter.py applies them (1 unit per started KB of the larger of the item before and after,
2x in a transaction, a write per index whose entry changes, a delete and a put when its keys change;
storage is every item and index entry plus 100 bytes each).

Ours: the real code, in this process, on moto (mock_aws, with the emulator's per-item lock,
transaction tokens and check-then-write transactions; the stack made by `provision()`, a fresh one per
case). One CSV file of N emails is ingested by `ingest_csv`, the real worker handler takes the queue
until it is empty, then the real stream consumer reads the table's stream to its end. SEND_MODE is
dry-run by default: each row is still claimed and finished SENT, but keeps no providerMessageId;
`--send-mode ses` sends through moto's SESv2, whose 60-character message ids the rows then keep, as
they would in AWS. Every item write is metered in moto's DynamoDB backend (put_item, update_item,
delete_item; the writes of transact_write_items, which the emulator replaces with one that calls those
three, are marked transactional), reading the item before and after it and charging the table and each
index of `create_table_request()`. Per sent email is everything written during ingest, sending and
counting divided by N, so the batch's own items and the consumer's count updates are spread over its
emails; storage per email is the whole table after the run (the rows, bodies, message keys, BATCH# and
COUNTS#, and every index entry) divided by N.

The consumer runs once here, so a file's counts are written in one transaction. Live, the event source
mapping delivers the stream about once a second (a 1 s batching window), and each delivery writes each
batch's COUNTS# once: a campaign sending R emails a second pays `counts_transaction_units` / R per email
for its counts (reported apart, so the report can scale it).

Old layout (the baseline, as of c2fd28d): no moto. Each email's row is modelled with that layout's item
shape (the whole content in the row, statusKey/batchStatusKey/createdKey, two indexes projecting ALL),
built from the same parsed file, and its life charged with the same meter: the ingest's put
(BatchWriteItem), the claim (SET claimedAt, updatedAt ADD attempts: projected, so both index entries
are rewritten), and SENT (the status keys move: a delete and a put in both indexes, with a 60-character
providerMessageId), plus the batch record's put and final update spread over the file.

Content (the CSV's content column; ASCII, so characters are bytes): newsletter-like text per recipient
(a greeting with the recipient's name, then words from a few hundred, drawn with a per-row seeded
generator, cut to the exact size), one body for every row ("_shared"), or random printable characters
("_incompressible", for information).
"""

import argparse
import contextlib
import copy
import csv
import io
import json
import logging
import os
import random
import string
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from scripts.bench.report import PHASE_ENV

# Run alone, the phase gets the settings `make bench` gives it (Powertools reads them at import).
os.environ.update(PHASE_ENV | os.environ)

from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.exceptions import ConditionalCheckFailed
from moto.dynamodb.models import dynamodb_backends

import worker.count_changes
import worker.handler
from campaign.aws.items import Item, item_size, to_attributes
from campaign.aws.table_schema import (
    BATCH_PREFIX,
    BODY_PREFIX,
    COUNTS_PREFIX,
    MESSAGE_PREFIX,
    PARTITION_KEY,
    SEND_PREFIX,
    batch_pk,
    create_table_request,
    send_pk,
)
from campaign.caches import clear_all
from campaign.domain.clock import to_iso
from campaign.domain.csv_rules import CampaignRow, parse_campaign_csv
from campaign.domain.ids import batch_id_for, send_id_for
from campaign.domain.retention import Retention
from campaign.limits import DEFAULT_DEDUPE_WINDOW_DAYS, DEFAULT_MAX_RECEIVE_COUNT, DEFAULT_RETENTION_DAYS
from campaign.observability import logger
from campaign.services.ingest import ingest_csv, ingest_gateways_for
from scripts.bench.write_meter import (
    TABLE,
    TableSpec,
    Tally,
    failed_write_cost,
    storage,
    table_spec,
    write_cost,
)
from scripts.local.emulator import (
    install_dynamodb_item_lock,
    install_ses_account,
    install_transaction_checks_first,
    install_transaction_tokens,
)
from scripts.local.provision import LocalResources, environment_of, provision
from scripts.local.sqs_poller import poll_once
from scripts.local.stream_poller import StreamPoller

REGION = "us-east-1"
RETENTION = Retention(DEFAULT_DEDUPE_WINDOW_DAYS, DEFAULT_RETENTION_DAYS)
SUBJECT = "Northwind Outfitters: your autumn newsletter, issue 42"
# SES message ids are 60 characters ("0100018c...-000000"); moto's have the same shape.
PROVIDER_MESSAGE_ID = "0100018c7f3a9b2e-5d1c8a47-1f2e-4b6a-9c3d-7e8f9a0b1c2d-000000"
_MOMENT = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
PHASES = ("ingest", "claim", "finish", "counts")
KINDS = {
    SEND_PREFIX: "row",
    BODY_PREFIX: "body",
    MESSAGE_PREFIX: "message_key",
    BATCH_PREFIX: "batch",
    COUNTS_PREFIX: "counts",
}


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    content_bytes: int
    shared: bool = False
    incompressible: bool = False


CASES = (
    Case("200B", 200),
    Case("2KB", 2_000),
    Case("20KB", 20_000),
    Case("100KB", 100_000),  # the project's content cap (campaign.limits.MAX_CONTENT_BYTES)
    Case("2KB_shared", 2_000, shared=True),
    Case("2KB_incompressible", 2_000, incompressible=True),
)

# ---------------------------------------------------------------------------------------------------
# The files

_WORDS = """
    the a and of to in for with on at from by about as into over after this that these our your you we
    new season collection store online shop offer offers sale price prices deal deals discount free
    shipping delivery order orders week weekend month today tomorrow morning evening autumn winter spring
    summer jacket jackets boots shoes coat coats sweater sweaters scarf gloves hat trail trails hiking
    camping tent tents backpack backpacks bottle stove lantern map compass rain wind snow sun weather
    mountain mountains river lake forest valley coast island city park garden outdoor indoor gear guide
    guides tips ideas stories story member members club community event events workshop workshops class
    classes course courses trip trips travel route routes journey adventure adventures family families
    friends kids children team staff customer customers service support help question questions answer
    answers review reviews rating favourite favourites best popular classic limited edition exclusive
    early access preview launch arrive arrives arrived available stock back return returns exchange
    gift gifts card cards voucher points reward rewards program account profile newsletter update
    updates news note notes letter reply read learn discover explore enjoy choose find try wear pack
    carry keep stay walk run climb cycle paddle ski sleep cook share join visit meet plan book save spend
    earn get give make take bring send see look feel know think want need love like good great better
    warm warmer dry light lighter strong durable comfortable waterproof breathable recycled organic
    natural local small large simple easy quick careful safe ready every each more most many much some
    all any other first last next only just still also even well very really always often never soon
    here there where when while because before during until since through around between under above
    long short high low old young fresh bright dark quiet busy open close closed hours opening weekday
    saturday sunday monday friday holiday holidays christmas anniversary birthday thanks thank welcome
    hello regards warmly cheers sincerely unsubscribe preferences privacy policy terms address street
"""
_VOCABULARY = tuple(_WORDS.split())
_NAMES = """
    Alice Bruno Chloe Daniel Elena Farid Grace Hugo Ines Jonas Karin Liam Maya Noah Olga Pablo Quinn Rosa Sven Tara
    Andersen Baker Costa Dubois Eriksen Fischer Garcia Hansen Ivanova Jensen Kowalski Lopez Moreau Novak Olsen
    Petrov Rossi Schmidt Tanaka Weber
"""
_FIRST_NAMES, _LAST_NAMES = _NAMES.split()[:20], _NAMES.split()[20:]
_PRINTABLE = string.ascii_letters + string.digits + string.punctuation + " "


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_VOCABULARY) for _ in range(rng.randint(6, 18))]
    return " ".join([words[0].capitalize(), *words[1:]]) + "."


def newsletter(rng: random.Random, greeting: str, size: int) -> str:
    """Newsletter-like ASCII text of exactly `size` bytes: the greeting, then paragraphs of sentences."""
    parts, length = [greeting, "\n\n"], len(greeting) + 2
    while length < size:
        paragraph = " ".join(_sentence(rng) for _ in range(rng.randint(3, 6))) + "\n\n"
        parts.append(paragraph)
        length += len(paragraph)
    return "".join(parts)[:size]


def random_printable(rng: random.Random, size: int) -> str:
    return "".join(rng.choice(_PRINTABLE) for _ in range(size))


def recipient(i: int) -> tuple[str, str]:
    """(name, address) of the i-th recipient of a file."""
    first, last = _FIRST_NAMES[i % len(_FIRST_NAMES)], _LAST_NAMES[(i // len(_FIRST_NAMES)) % len(_LAST_NAMES)]
    return f"{first} {last}", f"{first}.{last}.{i}@example.com".lower()


def content_for(case: Case, i: int, name: str) -> str:
    if case.shared:
        return newsletter(random.Random(f"{case.name}:shared"), "Hello,", case.content_bytes)
    rng = random.Random(f"{case.name}:{i}")
    if case.incompressible:
        return random_printable(rng, case.content_bytes)
    return newsletter(rng, f"Hello {name},", case.content_bytes)


def campaign_file(case: Case, emails: int) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("email", "subject", "content"))
    for i in range(emails):
        name, address = recipient(i)
        writer.writerow((address, SUBJECT, content_for(case, i, name)))
    return buffer.getvalue().encode()


# ---------------------------------------------------------------------------------------------------
# Ours: the real code on moto, metered in moto's backend


def kind_of(item_key: Mapping[str, Any]) -> str:
    pk = str(item_key[PARTITION_KEY]["S"])
    return next((kind for prefix, kind in KINDS.items() if pk.startswith(prefix)), "other")


class BackendMeter:
    """Wraps moto's DynamoDB backend item writes: each is charged by `write_cost` on the item before and
    after it, under the current phase. The meter's lock is taken before the emulator's item lock, by
    every wrapper, so the read before, the write and the read after see no other write in between."""

    _WRAPPED = ("put_item", "update_item", "delete_item", "transact_write_items")

    def __init__(self, specs: Mapping[str, TableSpec]) -> None:
        self.phase = "-"
        self.tally = Tally()
        self.failed_writes = 0
        self.counts_transactions: list[int] = []
        self.written: set[str] = set()
        self._specs = specs
        self._lock = threading.RLock()
        self._local = threading.local()
        self._originals: dict[str, Any] = {}

    @contextlib.contextmanager
    def installed(self) -> Iterator["BackendMeter"]:
        backend = dynamodb_models.DynamoDBBackend
        self._originals = {name: getattr(backend, name) for name in self._WRAPPED}
        originals, meter = self._originals, self

        def put_item(be: Any, table_name: str, item_attrs: Item, *args: Any, **kwargs: Any) -> Any:
            table = be.get_table(table_name)
            keys = [k for k in (table.hash_key_attr, table.range_key_attr) if k is not None]
            key = {k: item_attrs[k] for k in keys}
            return meter._metered(
                be, table_name, key, lambda: originals["put_item"](be, table_name, item_attrs, *args, **kwargs)
            )

        def update_item(be: Any, table_name: str, key: Item, *args: Any, **kwargs: Any) -> Any:
            return meter._metered(
                be, table_name, key, lambda: originals["update_item"](be, table_name, key, *args, **kwargs)
            )

        def delete_item(be: Any, table_name: str, key: Item, *args: Any, **kwargs: Any) -> Any:
            return meter._metered(
                be, table_name, key, lambda: originals["delete_item"](be, table_name, key, *args, **kwargs)
            )

        def transact_write_items(be: Any, *args: Any, **kwargs: Any) -> Any:
            with meter._lock:
                meter._local.transactional = True
                try:
                    return originals["transact_write_items"](be, *args, **kwargs)
                finally:
                    meter._local.transactional = False

        wrappers = (put_item, update_item, delete_item, transact_write_items)
        for name, wrapper in zip(self._WRAPPED, wrappers, strict=True):
            setattr(backend, name, wrapper)
        try:
            yield self
        finally:
            for name, original in self._originals.items():
                setattr(backend, name, original)

    @staticmethod
    def _read(be: Any, table_name: str, key: Item) -> Item | None:
        found = be.get_item(table_name, key)
        return copy.deepcopy(found.to_json()["Attributes"]) if found is not None else None

    def _metered(self, be: Any, table_name: str, key: Item, write: Callable[[], Any]) -> Any:
        spec = self._specs.get(table_name)
        if spec is None:
            return write()
        with self._lock:
            transactional = bool(getattr(self._local, "transactional", False))
            before = self._read(be, table_name, key)
            try:
                result = write()
            except ConditionalCheckFailed:
                self.failed_writes += 1
                self.tally.add(self.phase, kind_of(key), failed_write_cost(before, transactional=transactional))
                raise
            after = self._read(be, table_name, key)
            cost = write_cost(spec, before, after, transactional=transactional)
            kind = kind_of(key)
            self.written.add(str(key[PARTITION_KEY]["S"]))
            self.tally.add(self._phase_of(kind, before, after), kind, cost)
            if self.phase == "counts" and kind == "counts":
                self.counts_transactions.append(cost.total)
            return result

    def _phase_of(self, kind: str, before: Item | None, after: Item | None) -> str:
        """The worker's row writes are its claim (claimedAt appears) or its result (everything else)."""
        if self.phase != "send":
            return self.phase
        claiming = kind == "row" and after is not None and "claimedAt" in after and not (before or {}).get("claimedAt")
        return "claim" if claiming else "finish"


def storage_parts(items: Iterable[Item], spec: TableSpec) -> Counter[str]:
    """Bytes stored, by kind of item (the items themselves) and by index (their entries there)."""
    stored: Counter[str] = Counter()
    for item in items:
        for part, size in storage(item, spec).items():
            stored[kind_of(item) if part == TABLE else part] += size
    return stored


def _stack(send_mode: str) -> LocalResources:
    resources = provision("bench")
    os.environ |= environment_of(resources) | {
        "ENQUEUE_DELAY_SECONDS": "0",
        "SEND_MODE": send_mode,
        "MAX_RECEIVE_COUNT": str(DEFAULT_MAX_RECEIVE_COUNT),
        # Units are counted, not time: the fleet's rate must not make the run wait (the bucket's one
        # write per batch is counted all the same).
        "SEND_RATE_PER_SECOND": "100000",
    }
    clear_all()  # each case is a new stack: what a new container would build
    return resources


def _send_all(stack: LocalResources, max_rounds: int) -> int:
    sent = 0
    for _ in range(max_rounds):
        polled = poll_once(stack.queue_url, stack.queue_arn, worker.handler.handler, wait_seconds=0)
        if polled.received == 0:
            return sent
        if polled.failed:
            raise RuntimeError(f"the worker failed {polled.failed} messages")
        sent += polled.received
    raise RuntimeError("the queue did not empty")


def _per_email(totals: Mapping[str, float], emails: int, names: tuple[str, ...] = ()) -> dict[str, float]:
    keys = [*names, *sorted(k for k in totals if k not in names)]
    return {key: round(totals.get(key, 0) / emails, 3) for key in keys}


def run_ours(case: Case, content: bytes, emails: int, send_mode: str) -> dict[str, Any]:
    clear_all()
    with mock_aws():
        stack = _stack(send_mode)
        spec = table_spec(create_table_request(stack.table_name))
        with BackendMeter({stack.table_name: spec}).installed() as meter:
            meter.phase = "ingest"
            result = ingest_csv(content, ingest_gateways_for(stack.table_name, stack.queue_url, 0, RETENTION))
            if result.enqueued != emails:
                raise RuntimeError(f"{case.name}: {result.enqueued} of {emails} emails were queued")
            meter.phase = "send"
            sent = _send_all(stack, max_rounds=emails + 10)
            meter.phase = "counts"
            StreamPoller(stack.table_name).drain(worker.count_changes.handler)
            meter.phase = "-"
        table = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_table(stack.table_name)
        items = [item.to_json()["Attributes"] for item in table.all_items()]
    clear_all()
    return _ours_result(case, items, meter, spec, emails, sent)


def _ours_result(
    case: Case, items: list[Item], meter: BackendMeter, spec: TableSpec, emails: int, sent: int
) -> dict[str, Any]:
    rows = [i for i in items if kind_of(i) == "row"]
    if sent != emails or sum(1 for r in rows if r["status"]["S"] == "SENT") != emails:
        raise RuntimeError(f"{case.name}: {sent} messages taken, not every one of {emails} rows SENT")
    counts = next(i for i in items if kind_of(i) == "counts")
    if int(counts.get("sent", {}).get("N", "0")) != emails:
        raise RuntimeError(f"{case.name}: the consumer counted {counts.get('sent')} sent, not {emails}")
    unseen = [i[PARTITION_KEY]["S"] for i in items if i[PARTITION_KEY]["S"] not in meter.written]
    if unseen:
        raise RuntimeError(f"{case.name}: {len(unseen)} items were written past the meter, e.g. {unseen[0]}")
    stored = storage_parts(items, spec)
    bodies = [i for i in items if kind_of(i) == "body"]
    tally = meter.tally
    return {
        "write_units_per_email": round(tally.total / emails, 3),
        "storage_bytes_per_email": round(sum(stored.values()) / emails, 1),
        "by_phase": _per_email(tally.by_phase(), emails, PHASES),
        "by_kind": _per_email(tally.by_kind(), emails, tuple(KINDS.values())),
        "by_index": _per_email(tally.by_index(), emails, (TABLE,)),
        "by_phase_and_kind": {phase: _per_email(kinds, emails) for phase, kinds in tally.by_phase_and_kind().items()},
        "storage_by_part": {part: round(size / emails, 1) for part, size in sorted(stored.items())},
        "rows_with_inline_content": sum(1 for r in rows if "content" in r),
        "bodies_stored": len(bodies),
        "bodies_compressed": sum(1 for b in bodies if "contentZ" in b),
        "body_item_bytes_mean": round(sum(item_size(b) for b in bodies) / len(bodies)) if bodies else 0,
        "row_item_bytes_mean": round(sum(item_size(r) for r in rows) / len(rows)),
        "counts_transaction_units": meter.counts_transactions,
        "failed_conditional_writes": meter.failed_writes,
    }


# ---------------------------------------------------------------------------------------------------
# The old layout (c2fd28d), modelled

OLD_STATUS_INDEX, OLD_STATUS_KEY = "status-created", "statusKey"
OLD_BATCH_STATUS_INDEX, OLD_BATCH_STATUS_KEY = "batch-status-created", "batchStatusKey"
OLD_CREATED_KEY = "createdKey"
OLD_INDEX_SHARDS = 8


def old_create_table_request(table_name: str) -> dict[str, Any]:
    """c2fd28d's campaign/aws/table_schema.py `create_table_request`."""

    def index(name: str, partition: str) -> dict[str, Any]:
        return {
            "IndexName": name,
            "KeySchema": [
                {"AttributeName": partition, "KeyType": "HASH"},
                {"AttributeName": OLD_CREATED_KEY, "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }

    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"}
            for name in (PARTITION_KEY, OLD_STATUS_KEY, OLD_BATCH_STATUS_KEY, OLD_CREATED_KEY)
        ],
        "GlobalSecondaryIndexes": [
            index(OLD_STATUS_INDEX, OLD_STATUS_KEY),
            index(OLD_BATCH_STATUS_INDEX, OLD_BATCH_STATUS_KEY),
        ],
    }


def old_status_keys(batch_id: str, send_id: str, status: str) -> dict[str, object]:
    """c2fd28d's `status_keys`: the keys that move with the status, sharded by crc32 of the send id."""
    shard = zlib.crc32(send_id.encode()) % OLD_INDEX_SHARDS
    return {"status": status, OLD_STATUS_KEY: f"{status}#{shard}", OLD_BATCH_STATUS_KEY: f"{batch_id}#{status}#{shard}"}


def old_row_item(row: CampaignRow, batch_id: str, created_at: str) -> Item:
    """c2fd28d's `send_row_item` for a new QUEUED row: the whole content sits in the row."""
    send_id = send_id_for(batch_id, row.email_key)
    return to_attributes(
        {
            PARTITION_KEY: send_pk(send_id),
            OLD_CREATED_KEY: f"{created_at}#{send_id}",
            **old_status_keys(batch_id, send_id, "QUEUED"),
            "sendId": send_id,
            "batchId": batch_id,
            "email": row.email,
            "subject": row.subject,
            "content": row.content,
            "createdAt": created_at,
            "updatedAt": created_at,
            "attempts": 0,
        }
    )


def old_batch_item(batch_id: str, created_at: str, total: int, *, done: bool) -> Item:
    """c2fd28d's `batch_item`, as the claim writes it and as `finish` leaves it."""
    values: dict[str, object] = {
        PARTITION_KEY: batch_pk(batch_id),
        "batchId": batch_id,
        "createdAt": created_at,
        "state": "DONE" if done else "INGESTING",
        "total": total,
        "skipped": 0,
        "enqueued": total if done else 0,
        "notEnqueued": 0,
        "skippedRows": [],
        "leaseUntil": None if done else created_at,
        "rowsRead": total if done else 0,
    }
    return to_attributes(values)


def run_old_layout(content: bytes, emails: int) -> dict[str, Any]:
    """Each row's put, claim and SENT update, and the batch record's put and finish, charged by the meter."""
    spec = table_spec(old_create_table_request("old"))
    rows = parse_campaign_csv(content).rows
    batch_id = batch_id_for(content)
    created, claimed, finished = (to_iso(_MOMENT + timedelta(seconds=s)) for s in (0, 5, 6))
    tally, kept = Tally(), []
    batch_new = old_batch_item(batch_id, created, len(rows), done=False)
    batch_done = old_batch_item(batch_id, created, len(rows), done=True)
    tally.add("ingest", "batch", write_cost(spec, None, batch_new))
    tally.add("ingest", "batch", write_cost(spec, batch_new, batch_done))
    kept.append(batch_done)
    for row in rows:
        queued = old_row_item(row, batch_id, created)
        # SET claimedAt = :now, updatedAt = :now ADD attempts :one
        claim = queued | to_attributes({"claimedAt": claimed, "updatedAt": claimed, "attempts": 1})
        # SET the status keys, providerMessageId, updatedAt REMOVE claimedAt
        sent = {name: value for name, value in claim.items() if name != "claimedAt"} | to_attributes(
            old_status_keys(batch_id, queued["sendId"]["S"], "SENT")
            | {"providerMessageId": PROVIDER_MESSAGE_ID, "updatedAt": finished}
        )
        tally.add("ingest", "row", write_cost(spec, None, queued))
        tally.add("claim", "row", write_cost(spec, queued, claim))
        tally.add("finish", "row", write_cost(spec, claim, sent))
        kept.append(sent)
    stored = storage_parts(kept, spec)
    return {
        "write_units_per_email": round(tally.total / emails, 3),
        "storage_bytes_per_email": round(sum(stored.values()) / emails, 1),
        "by_phase": _per_email(tally.by_phase(), emails, PHASES[:3]),
        "by_index": _per_email(tally.by_index(), emails, (TABLE,)),
        "storage_by_part": {part: round(size / emails, 1) for part, size in sorted(stored.items())},
        "row_item_bytes_mean": round(sum(item_size(old_row_item(r, batch_id, created)) for r in rows) / len(rows)),
    }


# ---------------------------------------------------------------------------------------------------


def measure(emails: int, send_mode: str, cases: tuple[Case, ...] = CASES) -> dict[str, Any]:
    out: dict[str, Any] = {"emails": emails, "send_mode": send_mode, "cases": {}}
    for case in cases:
        content = campaign_file(case, emails)
        parsed = parse_campaign_csv(content)
        if len(parsed.rows) != emails or any(len(r.content.encode()) != case.content_bytes for r in parsed.rows):
            raise RuntimeError(f"{case.name}: the file does not hold {emails} rows of {case.content_bytes} bytes")
        out["cases"][case.name] = {
            "content_bytes": case.content_bytes,
            "ours": run_ours(case, content, emails, send_mode),
            "old_layout": run_old_layout(content, emails),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emails", type=int, default=50, help="emails (CSV rows) per file, one file per case")
    parser.add_argument(
        "--send-mode",
        choices=("dry-run", "ses"),
        default="dry-run",
        help="the worker's SEND_MODE; ses sends through moto's SESv2, whose message ids the rows then keep",
    )
    parser.add_argument("--case", action="append", choices=[c.name for c in CASES], help="only these cases")
    args = parser.parse_args()
    cases = tuple(c for c in CASES if not args.case or c.name in args.case)
    install_dynamodb_item_lock()
    install_transaction_tokens()
    install_transaction_checks_first()
    install_ses_account()
    # The Powertools logger keeps the stream it was built with; metrics (EMF) print to stdout. This
    # process's stdout carries the JSON answer only.
    handler = logger.registered_handler
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        previous = handler.setStream(sink) if isinstance(handler, logging.StreamHandler) else None
        try:
            out = measure(args.emails, args.send_mode, cases)
        finally:
            if isinstance(handler, logging.StreamHandler) and previous is not None:
                handler.setStream(previous)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
