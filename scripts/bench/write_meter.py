"""DynamoDB's write units and storage for one item write, by AWS's documented rules, from the item as it
was before the write and as it is after it (None where there is no item).

* A write costs 1 unit per started 1,024 bytes (at least 1), for a put, an update and a delete alike.
  A put that replaces an item and an update are charged for the larger of the item before and after;
  a delete for the item it removes. A TransactWriteItems item costs twice that.
* Every global secondary index whose entry for the item changes costs a write there, sized by the
  entry (the table's key, the index's keys and the projected attributes, sized like an item): an entry
  that appears (the sparse key is added) costs a put of the new entry, one that disappears a delete of
  the old one, a change of the index's keys a delete of the old entry and a put of the new one, and a
  change of projected attributes under the same keys an update charged for the larger entry. A write
  that leaves an index's entry as it was costs nothing there. Index writes are not doubled in a
  transaction: the factor applies to the transaction's own item writes.
* A conditional write whose condition fails still costs the table a write sized by the existing item.
* Storage: every item's size plus 100 bytes, and every index entry's size plus 100 bytes.
* Time-to-live deletes are free, so no rule here charges them.

Sizes come from `campaign.aws.items.item_size` (DynamoDB's documented item-size rules).
"""

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from campaign.aws.items import Item, item_size
from campaign.limits import WRITE_UNIT_BYTES

STORAGE_OVERHEAD_BYTES = 100
TRANSACTION_FACTOR = 2
TABLE = "table"


@dataclass(frozen=True, slots=True)
class IndexSpec:
    name: str
    keys: tuple[str, ...]
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    non_key: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class TableSpec:
    keys: tuple[str, ...]
    indexes: tuple[IndexSpec, ...]


def table_spec(create_table_request: Mapping[str, Any]) -> TableSpec:
    """The keys and global secondary indexes of a CreateTable request."""

    def key_names(schema: Iterable[Mapping[str, str]]) -> tuple[str, ...]:
        ordered = sorted(schema, key=lambda k: k["KeyType"] != "HASH")
        return tuple(k["AttributeName"] for k in ordered)

    indexes = tuple(
        IndexSpec(
            name=index["IndexName"],
            keys=key_names(index["KeySchema"]),
            projection=index["Projection"]["ProjectionType"],
            non_key=frozenset(index["Projection"].get("NonKeyAttributes", ())),
        )
        for index in create_table_request.get("GlobalSecondaryIndexes", ())
    )
    return TableSpec(keys=key_names(create_table_request["KeySchema"]), indexes=indexes)


def write_units(size: int) -> int:
    """Units for a write of `size` bytes: one per started 1,024 bytes, at least one."""
    return max(1, -(-size // WRITE_UNIT_BYTES))


def index_entry(item: Item | None, table: TableSpec, index: IndexSpec) -> Item | None:
    """The item's entry in an index, or None when the item lacks one of the index's keys (sparse)."""
    if item is None or any(key not in item for key in index.keys):
        return None
    if index.projection == "ALL":
        return dict(item)
    kept = set(table.keys) | set(index.keys)
    if index.projection == "INCLUDE":
        kept |= index.non_key
    return {name: value for name, value in item.items() if name in kept}


def _index_units(before: Item | None, after: Item | None, index: IndexSpec) -> int:
    if before == after:
        return 0
    if before is None or after is None:  # the entry appears (a put) or disappears (a delete)
        return write_units(item_size(after or before or {}))
    if any(before[key] != after[key] for key in index.keys):
        return write_units(item_size(before)) + write_units(item_size(after))
    return write_units(max(item_size(before), item_size(after)))


@dataclass(frozen=True, slots=True)
class WriteCost:
    table: int
    indexes: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.table + sum(self.indexes.values())


def write_cost(table: TableSpec, before: Item | None, after: Item | None, *, transactional: bool = False) -> WriteCost:
    """What one put, update or delete costs, given the item before and after it."""
    size = max(item_size(before) if before else 0, item_size(after) if after else 0)
    factor = TRANSACTION_FACTOR if transactional else 1
    indexes = {
        index.name: units
        for index in table.indexes
        if (units := _index_units(index_entry(before, table, index), index_entry(after, table, index), index))
    }
    return WriteCost(table=factor * write_units(size), indexes=indexes)


def failed_write_cost(existing: Item | None, *, transactional: bool = False) -> WriteCost:
    """A conditional write whose condition failed: the table is charged for the existing item."""
    factor = TRANSACTION_FACTOR if transactional else 1
    return WriteCost(table=factor * write_units(item_size(existing) if existing else 0))


def storage(item: Item, table: TableSpec) -> dict[str, int]:
    """Bytes stored for an item: under TABLE the item itself, under each index name its entry there."""
    stored = {TABLE: item_size(item) + STORAGE_OVERHEAD_BYTES}
    for index in table.indexes:
        entry = index_entry(item, table, index)
        if entry is not None:
            stored[index.name] = item_size(entry) + STORAGE_OVERHEAD_BYTES
    return stored


class Charge(NamedTuple):
    phase: str
    kind: str
    cost: WriteCost


@dataclass
class Tally:
    """Write units by phase, by item kind and by table or index, over a run of writes."""

    charges: list[Charge] = field(default_factory=list)

    def add(self, phase: str, kind: str, cost: WriteCost) -> None:
        self.charges.append(Charge(phase, kind, cost))

    @property
    def total(self) -> int:
        return sum(charge.cost.total for charge in self.charges)

    def by_phase(self) -> Counter[str]:
        return _sum((c.phase, c.cost.total) for c in self.charges)

    def by_kind(self) -> Counter[str]:
        return _sum((c.kind, c.cost.total) for c in self.charges)

    def by_phase_and_kind(self) -> dict[str, Counter[str]]:
        table: dict[str, Counter[str]] = {}
        for charge in self.charges:
            table.setdefault(charge.phase, Counter())[charge.kind] += charge.cost.total
        return table

    def by_index(self) -> Counter[str]:
        totals = _sum((TABLE, c.cost.table) for c in self.charges)
        for charge in self.charges:
            totals.update(charge.cost.indexes)
        return totals


def _sum(pairs: Iterable[tuple[str, int]]) -> Counter[str]:
    totals: Counter[str] = Counter()
    for name, units in pairs:
        totals[name] += units
    return totals
