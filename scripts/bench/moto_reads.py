"""Bench-only speed-ups for moto's DynamoDB reads of a table that no longer changes.

moto 5.2 answers every Query by sorting the whole table and walking all of it, every Scan page by
sorting the whole table again and stepping over everything before the start key, and serializes each
returned item field by field (about 3 ms an item). At 100,000 rows one Query takes seconds and one
full Scan many minutes: the emulator's cost, which says nothing about ours or the baseline's reads.

Inside `frozen_reads()` moto is handed, for the same requests, the candidates it would have found
itself: for a Query, the items of the one index partition named by the key condition (in the order
moto's own sort gives them); for a Scan, the table in moto's order starting at the ExclusiveStartKey;
and Query/Scan replies are written with json.dumps (attribute values in DynamoDB's JSON). moto still
applies the key conditions, Limit, the 1 MB page limit, filters, ScannedCount, Count and
LastEvaluatedKey with its own code. Writes raise inside the context, so a cache can never go stale.
`check_same_answers` in scripts/bench/queries.py compares every reply with plain moto's on a small
table before the big one is measured.
"""

import base64
import inspect
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from typing import Any

from moto.core.responses import ActionContext
from moto.dynamodb import responses as ddb_responses
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import Table
from moto.dynamodb.models.utilities import dynamo_to_dict

_QUERY_PARTITION: ContextVar[tuple[str, str] | None] = ContextVar("bench_query_partition", default=None)
_SCAN_START: ContextVar[str | None] = ContextVar("bench_scan_start", default=None)
_SCAN_ACTIVE: ContextVar[bool] = ContextVar("bench_scan_active", default=False)
_WRITES = {
    DynamoDBBackend: ("put_item", "update_item", "delete_item", "transact_write_items"),
    Table: ("put_item", "delete_item"),
}
_JSON_OPERATIONS = frozenset({"Query", "Scan"})


class FrozenTableError(RuntimeError):
    """A write reached moto while its read caches were in use."""


class _TableView:
    """One table's items in moto's own order, and each index partition in moto's query order.

    moto orders by DynamoType comparisons, which for string ("S") keys compare the strings
    themselves: sorting by the strings gives the same order in a fraction of the time. Tables or
    partitions with other key types are sorted by moto's own code.
    """

    def __init__(
        self, table: Table, all_items: Callable[[Table], list[Item]], sorted_items: Callable[..., list[Item]]
    ) -> None:
        self._table = table
        self._sorted_items = sorted_items
        items = [item for hash_set in table.items.values() for item in _members(hash_set)]
        if table.range_key_attr is None and all(item.hash_key.type == "S" for item in items):
            self.ordered = sorted(items, key=lambda item: str(item.hash_key.value))
        else:
            self.ordered = all_items(table)
        self.position = {str(item.hash_key.value): i for i, item in enumerate(self.ordered)}
        self._groups: dict[str, dict[str | None, list[Item]]] = {}
        self._partitions: dict[tuple[str, str], list[Item]] = {}

    def partition(self, attribute: str, value: str) -> list[Item]:
        key = (attribute, value)
        if key not in self._partitions:
            if attribute not in self._groups:
                groups: dict[str | None, list[Item]] = {}
                for item in self.ordered:
                    groups.setdefault(_string(item, attribute), []).append(item)
                self._groups[attribute] = groups
            self._partitions[key] = self._sorted_like_moto(attribute, self._groups[attribute].get(value, []))
        return self._partitions[key]

    def _sorted_like_moto(self, attribute: str, members: list[Item]) -> list[Item]:
        """The order moto's Query sorts an index partition's candidates into."""
        for index in self._table.all_indexes():
            keys = {k["KeyType"]: k["AttributeName"] for k in index.schema}
            if keys.get("HASH") != attribute:
                continue
            hash_attrs = [attribute, self._table.hash_key_attr]
            range_attrs: list[str | None] = [keys.get("RANGE"), self._table.range_key_attr]
            sort_by = self._table._generate_attr_to_sort_by(hash_attrs, range_attrs)
            if all(_sortable(item, name) is not None for item in members for name in sort_by):
                return sorted(members, key=lambda item: tuple(_sortable(item, name) for name in sort_by))
            return self._sorted_items(self._table, hash_attrs, range_attrs, list(members))
        return members


def _members(hash_set: Any) -> list[Item]:
    return list(hash_set.values()) if isinstance(hash_set, dict) else [hash_set]


def _wire(value: object) -> object:
    """DynamoDB's JSON for an attribute value (json.dumps calls this for each one it meets)."""
    if isinstance(value, DynamoType):
        if value.type == "B" and isinstance(value.value, bytes):
            return {"B": base64.b64encode(value.value).decode()}
        if value.type == "BS":
            return {"BS": [v if isinstance(v, str) else base64.b64encode(v).decode() for v in value.value]}
        return {value.type: value.value}
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _sortable(item: Item, attribute: str) -> str | Decimal | None:
    """The key moto's DynamoType comparison orders by, for string and number attributes."""
    value = item.attrs.get(attribute)
    if value is None:
        return None
    if value.type == "S":
        return str(value.value)
    if value.type == "N":
        return Decimal(str(value.value))
    return None


def _string(item: Item, attribute: str) -> str | None:
    value = item.attrs.get(attribute)
    return str(value.value) if value is not None and value.type == "S" else None


@contextmanager
def frozen_reads() -> Iterator[None]:
    """Fast Query/Scan over tables that must not change meanwhile (any write raises)."""
    views: dict[int, _TableView] = {}
    original_all_items = Table.all_items
    original_query = Table.query
    original_scan = Table.scan
    original_sorted_items = Table.sorted_items
    original_execute = ddb_responses.DynamoResult.execute_result
    query_signature = inspect.signature(original_query)
    scan_signature = inspect.signature(original_scan)

    def view_of(table: Table) -> _TableView:
        if id(table) not in views:
            views[id(table)] = _TableView(table, original_all_items, original_sorted_items)
        return views[id(table)]

    def all_items(self: Table) -> list[Item]:
        partition = _QUERY_PARTITION.get()
        if partition is not None:
            return list(view_of(self).partition(*partition))
        if _SCAN_ACTIVE.get():
            view = view_of(self)
            start = _SCAN_START.get()
            return view.ordered[view.position[start] :] if start is not None else list(view.ordered)
        return original_all_items(self)

    def sorted_items(self: Table, hash_attrs: list[str], range_attrs: list[str | None], items: list[Item]) -> Any:
        partition = _QUERY_PARTITION.get()
        if partition is not None:
            cached = view_of(self).partition(*partition)
            if len(cached) == len(items) and all(a is b for a, b in zip(cached, items, strict=True)):
                return items  # the candidates came from the cache in this very order
        return original_sorted_items(self, hash_attrs, range_attrs, items)

    def query(self: Table, *args: Any, **kwargs: Any) -> Any:
        bound = query_signature.bind(self, *args, **kwargs).arguments
        conditions = bound.get("hash_key_conditions") or []
        partition = None
        if bound.get("index_name") and len(conditions) == 1 and conditions[0][1].type == "S":
            partition = (conditions[0][0], str(conditions[0][1].value))
        token = _QUERY_PARTITION.set(partition)
        try:
            return original_query(self, *args, **kwargs)
        finally:
            _QUERY_PARTITION.reset(token)

    def scan(self: Table, *args: Any, **kwargs: Any) -> Any:
        bound = scan_signature.bind(self, *args, **kwargs).arguments
        if bound.get("index_name") or bound.get("segments", (None, None)) != (None, None):
            return original_scan(self, *args, **kwargs)
        start_key = bound.get("exclusive_start_key") or {}
        start = start_key.get(self.hash_key_attr, {}).get("S")
        active, begin = _SCAN_ACTIVE.set(True), _SCAN_START.set(start)
        try:
            return original_scan(self, *args, **kwargs)
        finally:
            _SCAN_START.reset(begin)
            _SCAN_ACTIVE.reset(active)

    def result_init(self: Any, result: object) -> None:
        self._result = result  # converted in execute_result, unless it is written as JSON directly

    def execute_result(self: Any, context: ActionContext) -> Any:
        if context.operation_model.name in _JSON_OPERATIONS:
            return 200, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(self._result, default=_wire)
        self._result = dynamo_to_dict(self._result)
        return original_execute(self, context)

    patches: list[tuple[Any, str, Any]] = [
        (Table, "all_items", all_items),
        (Table, "query", query),
        (Table, "scan", scan),
        (Table, "sorted_items", sorted_items),
        (ddb_responses.DynamoResult, "__init__", result_init),
        (ddb_responses.DynamoResult, "execute_result", execute_result),
    ]
    sizes: dict[int, int] = {}
    original_size = Item.size

    def size(self: Item) -> int:
        if id(self) not in sizes:
            sizes[id(self)] = original_size(self)
        return sizes[id(self)]

    def shared_copy(self: Item, memo: dict[int, Any]) -> Item:
        del memo
        return self  # nothing writes while frozen, and replies are built from new dicts

    patches += [(Item, "size", size), (Item, "__deepcopy__", shared_copy)]
    patches += [(owner, name, _refuse(name)) for owner, names in _WRITES.items() for name in names]
    saved = [(owner, name, owner.__dict__.get(name)) for owner, name, _ in patches]
    for owner, name, replacement in patches:
        setattr(owner, name, replacement)
    try:
        yield
    finally:
        for owner, name, original in saved:
            if original is None:
                delattr(owner, name)  # it was inherited
            else:
                setattr(owner, name, original)


def _refuse(name: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        del args, kwargs
        raise FrozenTableError(f"{name} while moto's read caches are in use (scripts/bench/moto_reads.py)")

    return refuse


@contextmanager
def unchecked_item_sizes() -> Iterator[None]:
    """moto re-measures the whole item for every attribute it stores (quadratic, ~0.5 ms an item);
    bulk loading of items far below DynamoDB's 400 KB limit skips that check."""
    original = LimitedSizeDict.__setitem__
    LimitedSizeDict.__setitem__ = dict.__setitem__  # type: ignore[method-assign]
    try:
        yield
    finally:
        LimitedSizeDict.__setitem__ = original  # type: ignore[method-assign]
