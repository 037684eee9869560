"""A fast in-memory stand-in for DynamoDB and SQS, for the pace benchmark (scripts/bench/pace.py).

Why: moto's server spends about 7 ms of CPU per request in one process (17-21 ms per send on this
machine), so it alone caps the whole system at 50-60 sends a second, below the targets the pace phase
measures. This process answers the same requests in a fraction of that, so what the bench measures
is the worker, not the emulator. tests/unit/test_bench_standin.py runs the same gateway calls against
moto and against this stand-in and requires equal outcomes: that is what makes it faithful enough.

Run as its own process (`python -m scripts.bench.aws_standin --port N`); boto3 reaches it through
AWS_ENDPOINT_URL. It speaks what botocore sends for both services: JSON 1.0 over POST, the operation
in `X-Amz-Target` (`DynamoDB_20120810.<Operation>`, `AmazonSQS.<Operation>`); signatures are ignored.
One global lock makes every request atomic (a long-polling ReceiveMessage waits on a condition of
that lock, releasing it). Only what the pace bench's processes call is implemented; anything else (an
unknown operation, a parameter not handled, an expression construct not parsed) is answered 400
ValidationException "stand-in does not support ...", so that unsupported use fails loudly.

* DynamoDB: tables keyed by `pk` (a string) only; CreateTable, GetItem, PutItem, UpdateItem,
  DeleteItem, BatchGetItem, BatchWriteItem. Expressions are tokenized and parsed (recursive descent,
  no eval): UpdateExpression SET (`a = v`, `a = v + v`, `a = v - v`, `if_not_exists(a, v)`), ADD
  (numbers), REMOVE; ConditionExpression with attribute_exists, attribute_not_exists, comparisons,
  BETWEEN, IN, AND, OR, NOT and parentheses; ProjectionExpression of top-level names. Numbers compare
  as Decimal; top-level attribute names only (no `.` or `[i]` paths).
* SQS (standard queues, by URL): CreateQueue, GetQueueUrl, GetQueueAttributes, SendMessage(Batch),
  ReceiveMessage (long polling, visibility timeout, ApproximateReceiveCount), DeleteMessage(Batch).
  No redrive policy, no message attributes, no FIFO.

Control endpoints (not AWS's): `POST /standin/reset` empties everything; `GET /standin/stats` returns
the requests answered per operation.
"""

import argparse
import base64
import contextlib
import hashlib
import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Context, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from scripts.loopback import REGION, AwsLikeHandler, AwsLikeServer, serving

if TYPE_CHECKING:
    from scripts.local.provision import LocalResources

DDB_PREFIX = "DynamoDB_20120810"
SQS_PREFIX = "AmazonSQS"
DDB_ERROR = "com.amazonaws.dynamodb.v20120810#"
SQS_ERROR = "com.amazonaws.sqs#"
ACCOUNT_ID = "123456789012"
KEY = "pk"
RESET_PATH = "/standin/reset"
STATS_PATH = "/standin/stats"
BATCH_WRITE_MAX = 25
BATCH_GET_MAX = 100
SQS_BATCH_MAX = 10
SQS_MAX_WAIT_SECONDS = 20
SQS_MAX_DELAY_SECONDS = 900
SQS_MAX_VISIBILITY_SECONDS = 43_200
DEFAULT_VISIBILITY_SECONDS = 30
# DynamoDB's number precision.
_NUMBERS = Context(prec=38)

Item = dict[str, Any]
Value = dict[str, Any]


class AwsError(Exception):
    """An error answer: HTTP status, the error code (the part after '#') and extra fields."""

    def __init__(self, code: str, message: str, status: int = 400, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.extra = code, message, status, extra or {}


def unsupported(what: str) -> AwsError:
    return AwsError("ValidationException", f"stand-in does not support {what}")


def invalid(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def _reserved_words() -> frozenset[str]:
    """DynamoDB's reserved words (a bare attribute name may not be one); moto keeps the list."""
    try:
        from moto.dynamodb.parsing.reserved_keywords import ReservedKeywords
    except ImportError:  # pragma: no cover (moto is a development dependency)
        return frozenset()
    return frozenset(word.upper() for word in ReservedKeywords.get_reserved_keywords())


RESERVED = _reserved_words()


# ---------------------------------------------------------------------------------------------------
# Attribute values


def _number(text: str) -> Decimal:
    try:
        number = _NUMBERS.create_decimal(text)
    except InvalidOperation as exc:
        raise invalid(f"A value provided cannot be converted into a number: {text}") from exc
    if not number.is_finite():
        raise invalid(f"A value provided cannot be converted into a number: {text}")
    return number


def _number_text(number: Decimal) -> str:
    """DynamoDB's canonical form: no exponent, no trailing zeros."""
    text = format(number.normalize(_NUMBERS), "f")
    return "0" if text in ("-0", "0") else text


def _checked(value: Any) -> Value:
    """An attribute value as botocore sends it, numbers made canonical; a type not handled is refused."""
    if not isinstance(value, dict) or len(value) != 1:
        raise invalid("Supplied AttributeValue has more than one datatypes set, must contain exactly one")
    kind, data = next(iter(value.items()))
    if kind == "N":
        return {"N": _number_text(_number(str(data)))}
    if kind in ("S", "B"):
        return {kind: str(data)}
    if kind in ("BOOL", "NULL"):
        return {kind: bool(data)}
    if kind in ("SS", "BS"):
        return {kind: [str(member) for member in data]}
    if kind == "NS":
        return {kind: [_number_text(_number(str(member))) for member in data]}
    if kind == "L":
        return {kind: [_checked(member) for member in data]}
    if kind == "M":
        return {kind: {name: _checked(member) for name, member in data.items()}}
    raise unsupported(f"the attribute type {kind}")


def _kind(value: Value) -> str:
    return next(iter(value))


def _equal(a: Value | None, b: Value | None) -> bool:
    if a is None or b is None or _kind(a) != _kind(b):
        return False
    kind, x, y = _kind(a), a[_kind(a)], b[_kind(b)]
    if kind == "N":
        return _number(x) == _number(y)
    if kind == "B":
        return base64.b64decode(x) == base64.b64decode(y)
    if kind == "NS":
        return {_number(m) for m in x} == {_number(m) for m in y}
    if kind in ("SS", "BS"):
        return set(x) == set(y)
    if kind == "L":
        return len(x) == len(y) and all(_equal(m, n) for m, n in zip(x, y, strict=True))
    if kind == "M":
        return x.keys() == y.keys() and all(_equal(x[k], y[k]) for k in x)
    return bool(x == y)


def _ordered(value: Value) -> Any:
    """A comparable form of a scalar (N, S, B); None for a type that has no order."""
    kind = _kind(value)
    if kind == "N":
        return _number(value["N"])
    if kind == "S":
        return value["S"]
    if kind == "B":
        return base64.b64decode(value["B"])
    return None


def _compare(op: str, a: Value | None, b: Value | None) -> bool:
    if op == "=":
        return _equal(a, b)
    if op == "<>":
        return not _equal(a, b)
    if a is None or b is None or _kind(a) != _kind(b):
        return False
    x, y = _ordered(a), _ordered(b)
    if x is None:
        return False
    return bool({"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op])


# ---------------------------------------------------------------------------------------------------
# Expressions: tokenizer and recursive-descent parser

_TOKEN = re.compile(
    r"\s*(?:(?P<name>#[A-Za-z0-9_]+)|(?P<value>:[A-Za-z0-9_]+)|(?P<op><>|<=|>=|[=<>(),+\-])"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<other>\S))"
)
_KEYWORDS = frozenset({"AND", "OR", "NOT", "BETWEEN", "IN", "SET", "ADD", "REMOVE", "DELETE"})
_CONDITION_FUNCTIONS = frozenset({"attribute_exists", "attribute_not_exists"})
_COMPARATORS = frozenset({"=", "<>", "<", "<=", ">", ">="})

# Nodes are tuples: ("path", name) | ("value", attribute value) | ("if_not_exists", name, node) |
# ("+" or "-", node, node); conditions ("or"|"and", a, b) | ("not", a) | ("exists"|"not_exists", name) |
# ("cmp", op, a, b) | ("between", a, low, high) | ("in", a, [nodes]).
Node = tuple[Any, ...]


@dataclass
class Placeholders:
    """A request's ExpressionAttributeNames and Values, and which of them its expressions used."""

    names: dict[str, str]
    values: dict[str, Value]
    used_names: set[str] = field(default_factory=set)
    used_values: set[str] = field(default_factory=set)

    def check_all_used(self) -> None:
        for parameter, given, used in (
            ("ExpressionAttributeNames", self.names, self.used_names),
            ("ExpressionAttributeValues", self.values, self.used_values),
        ):
            unused = sorted(set(given) - used)
            if unused:
                raise invalid(f"Value provided in {parameter} unused in expressions: keys: {{{', '.join(unused)}}}")


class _Parser:
    def __init__(self, text: str, where: str, placeholders: Placeholders) -> None:
        self.where = where
        self.refs = placeholders
        self.tokens: list[tuple[str, str]] = []
        for match in _TOKEN.finditer(text):
            kind = match.lastgroup
            assert kind is not None
            token = match.group(kind)
            if kind == "other":
                raise unsupported(f"{token!r} in {where} {text!r} (top-level attribute names only)")
            if kind == "word" and token.upper() in _KEYWORDS:
                kind, token = "keyword", token.upper()
            self.tokens.append((kind, token))
        if not self.tokens:
            raise invalid(f"Invalid {where}: The expression can not be empty;")
        self.at = 0
        self.text = text

    # --- tokens
    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        index = self.at + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise invalid(f"Invalid {self.where}: Syntax error; token: <EOF>, near: {self.text!r}")
        self.at += 1
        return token

    def accept(self, kind: str, token: str) -> bool:
        if self.peek() == (kind, token):
            self.at += 1
            return True
        return False

    def expect(self, kind: str, token: str) -> None:
        found = self.take()
        if found != (kind, token):
            raise invalid(f"Invalid {self.where}: Syntax error; token: {found[1]!r}, near: {self.text!r}")

    def done(self) -> None:
        if self.peek() is not None:
            raise invalid(f"Invalid {self.where}: Syntax error; token: {self.peek()[1]!r}, near: {self.text!r}")  # type: ignore[index]

    # --- operands
    def name(self) -> str:
        kind, token = self.take()
        if kind == "name":
            if token not in self.refs.names:
                raise invalid(
                    f"Invalid {self.where}: An expression attribute name used in the document path is not defined; "
                    f"attribute name: {token}"
                )
            self.refs.used_names.add(token)
            return self.refs.names[token]
        if kind == "word":
            if token.upper() in RESERVED:
                raise invalid(f"Invalid {self.where}: Attribute name is a reserved keyword; reserved keyword: {token}")
            return token
        raise invalid(f"Invalid {self.where}: Syntax error; token: {token!r}, near: {self.text!r}")

    def operand(self) -> Node:
        kind, token = self.peek() or ("", "")
        if kind == "value":
            self.take()
            if token not in self.refs.values:
                raise invalid(
                    f"Invalid {self.where}: An expression attribute value used in expression is not defined; "
                    f"attribute value: {token}"
                )
            self.refs.used_values.add(token)
            return ("value", self.refs.values[token])
        if kind == "word" and self.peek(1) == ("op", "("):
            raise unsupported(f"the function {token} in {self.where} {self.text!r}")
        return ("path", self.name())

    # --- conditions
    def condition(self) -> Node:
        node = self.conjunction()
        while self.accept("keyword", "OR"):
            node = ("or", node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.accept("keyword", "AND"):
            node = ("and", node, self.negation())
        return node

    def negation(self) -> Node:
        if self.accept("keyword", "NOT"):
            return ("not", self.negation())
        return self.primary()

    def primary(self) -> Node:
        if self.accept("op", "("):
            node = self.condition()
            self.expect("op", ")")
            return node
        kind, token = self.peek() or ("", "")
        if kind == "word" and token in _CONDITION_FUNCTIONS and self.peek(1) == ("op", "("):
            self.take()
            self.expect("op", "(")
            name = self.name()
            self.expect("op", ")")
            return ("exists" if token == "attribute_exists" else "not_exists", name)
        left = self.operand()
        if self.accept("keyword", "BETWEEN"):
            low = self.operand()
            self.expect("keyword", "AND")
            return ("between", left, low, self.operand())
        if self.accept("keyword", "IN"):
            self.expect("op", "(")
            options = [self.operand()]
            while self.accept("op", ","):
                options.append(self.operand())
            self.expect("op", ")")
            return ("in", left, options)
        kind, token = self.take()
        if kind != "op" or token not in _COMPARATORS:
            raise invalid(f"Invalid {self.where}: Syntax error; token: {token!r}, near: {self.text!r}")
        return ("cmp", token, left, self.operand())

    # --- updates
    def update(self) -> dict[str, list[Any]]:
        clauses: dict[str, list[Any]] = {}
        while self.peek() is not None:
            kind, word = self.take()
            if kind != "keyword" or word not in ("SET", "ADD", "REMOVE", "DELETE"):
                raise invalid(f"Invalid {self.where}: Syntax error; token: {word!r}, near: {self.text!r}")
            if word == "DELETE":
                raise unsupported(f"DELETE in {self.where} {self.text!r}")
            if word in clauses:
                raise invalid(
                    f'Invalid {self.where}: The "{word}" section can only be used once in an update expression;'
                )
            actions = [self.action(word)]
            while self.accept("op", ","):
                actions.append(self.action(word))
            clauses[word] = actions
        return clauses

    def action(self, clause: str) -> Any:
        name = self.name()
        if clause == "REMOVE":
            return name
        if clause == "ADD":
            return (name, self.operand())
        self.expect("op", "=")
        return (name, self.set_value())

    def set_value(self) -> Node:
        node = self.set_operand()
        if self.accept("op", "+"):
            return ("+", node, self.set_operand())
        if self.accept("op", "-"):
            return ("-", node, self.set_operand())
        return node

    def set_operand(self) -> Node:
        if self.peek() == ("word", "if_not_exists") and self.peek(1) == ("op", "("):
            self.take()
            self.expect("op", "(")
            name = self.name()
            self.expect("op", ",")
            fallback = self.set_operand()
            self.expect("op", ")")
            return ("if_not_exists", name, fallback)
        return self.operand()


def parse_condition(text: str, refs: Placeholders, where: str = "ConditionExpression") -> Node:
    parser = _Parser(text, where, refs)
    node = parser.condition()
    parser.done()
    return node


def parse_update(text: str, refs: Placeholders) -> dict[str, list[Any]]:
    parser = _Parser(text, "UpdateExpression", refs)
    clauses = parser.update()
    names = [action if clause == "REMOVE" else action[0] for clause, actions in clauses.items() for action in actions]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise invalid(
            f"Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of "
            f"these paths; path one: [{repeated[0]}], path two: [{repeated[0]}]"
        )
    return clauses


def parse_projection(text: str, refs: Placeholders) -> list[str]:
    parser = _Parser(text, "ProjectionExpression", refs)
    names = [parser.name()]
    while parser.accept("op", ","):
        names.append(parser.name())
    parser.done()
    return names


def _operand_value(node: Node, item: Item) -> Value | None:
    if node[0] == "value":
        return dict(node[1])
    if node[0] == "path":
        return item.get(node[1])
    raise AssertionError(node)


def evaluate(node: Node, item: Item) -> bool:
    kind = node[0]
    if kind == "or":
        return evaluate(node[1], item) or evaluate(node[2], item)
    if kind == "and":
        return evaluate(node[1], item) and evaluate(node[2], item)
    if kind == "not":
        return not evaluate(node[1], item)
    if kind == "exists":
        return node[1] in item
    if kind == "not_exists":
        return node[1] not in item
    if kind == "cmp":
        return _compare(node[1], _operand_value(node[2], item), _operand_value(node[3], item))
    if kind == "between":
        value, low, high = (_operand_value(n, item) for n in node[1:])
        if low is not None and high is not None and _compare(">", low, high):
            raise invalid(
                "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to "
                f"lower bound; lower bound operand: AttributeValue: {low}, upper bound operand: AttributeValue: {high}"
            )
        return _compare(">=", value, low) and _compare("<=", value, high)
    if kind == "in":
        value = _operand_value(node[1], item)
        return any(_equal(value, _operand_value(option, item)) for option in node[2])
    raise AssertionError(node)


def _set_value(node: Node, item: Item) -> Value:
    """A SET action's right-hand side, read from the item before the update."""
    kind = node[0]
    if kind in ("+", "-"):
        a, b = _set_value(node[1], item), _set_value(node[2], item)
        if _kind(a) != "N" or _kind(b) != "N":
            raise invalid("An operand in the update expression has an incorrect data type")
        x, y = _number(a["N"]), _number(b["N"])
        return {"N": _number_text(_NUMBERS.add(x, y) if kind == "+" else _NUMBERS.subtract(x, y))}
    if kind == "if_not_exists":
        return dict(item[node[1]]) if node[1] in item else _set_value(node[2], item)
    found = _operand_value(node, item)
    if found is None:
        raise invalid("The provided expression refers to an attribute that does not exist in the item")
    return found


def apply_update(clauses: dict[str, list[Any]], old: Item) -> tuple[Item, list[str]]:
    """The item after the update, and the names it set or added (for UPDATED_NEW / UPDATED_OLD)."""
    new = dict(old)
    changed: list[str] = []
    for name, node in clauses.get("SET", []):
        new[name] = _set_value(node, old)
        changed.append(name)
    for name, node in clauses.get("ADD", []):
        addend = _operand_value(node, old)
        assert addend is not None
        if _kind(addend) != "N":
            raise unsupported("ADD of anything but a number")
        current = old.get(name)
        if current is not None and _kind(current) != "N":
            raise invalid("An operand in the update expression has an incorrect data type")
        base = _number(current["N"]) if current is not None else Decimal(0)
        new[name] = {"N": _number_text(_NUMBERS.add(base, _number(addend["N"])))}
        changed.append(name)
    for name in clauses.get("REMOVE", []):
        new.pop(name, None)
    return new, changed


# ---------------------------------------------------------------------------------------------------
# DynamoDB


# The parameters every conditional single-item write takes besides what names its item.
_CONDITIONAL_WRITE = frozenset(
    {
        "TableName",
        "ConditionExpression",
        "ExpressionAttributeNames",
        "ExpressionAttributeValues",
        "ReturnValues",
        "ReturnValuesOnConditionCheckFailure",
    }
)


def _params(request: dict[str, Any], operation: str, allowed: set[str] | frozenset[str]) -> None:
    extra = sorted(set(request) - allowed)
    if extra:
        raise unsupported(f"the parameter(s) {', '.join(extra)} of {operation}")


def _choice(request: dict[str, Any], name: str, allowed: tuple[str, ...], default: str = "NONE") -> str:
    value = str(request.get(name, default))
    if value not in allowed:
        raise unsupported(f"{name}={value}")
    return value


class Dynamo:
    def __init__(self) -> None:
        self.tables: dict[str, dict[str, Item]] = {}

    def handle(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        method: Callable[[dict[str, Any]], dict[str, Any]] | None = getattr(self, f"op_{operation}", None)
        if method is None:
            raise unsupported(f"the DynamoDB operation {operation}")
        return method(request)

    def _table(self, name: Any) -> dict[str, Item]:
        if name not in self.tables:
            raise AwsError("ResourceNotFoundException", "Requested resource not found")
        return self.tables[name]

    @staticmethod
    def _key_of(key: Any, what: str = "key") -> str:
        if not isinstance(key, dict) or set(key) != {KEY} or _kind(key[KEY]) != "S":
            raise invalid(f"The provided {what} element does not match the schema")
        return str(key[KEY]["S"])

    @staticmethod
    def _refs(request: dict[str, Any]) -> Placeholders:
        values = {name: _checked(value) for name, value in (request.get("ExpressionAttributeValues") or {}).items()}
        return Placeholders(dict(request.get("ExpressionAttributeNames") or {}), values)

    def op_CreateTable(self, request: dict[str, Any]) -> dict[str, Any]:
        _params(request, "CreateTable", {"TableName", "KeySchema", "AttributeDefinitions", "BillingMode"})
        if request.get("KeySchema") != [{"AttributeName": KEY, "KeyType": "HASH"}] or request.get(
            "AttributeDefinitions"
        ) != [{"AttributeName": KEY, "AttributeType": "S"}]:
            raise unsupported("a key schema other than a string partition key `pk`")
        if request.get("BillingMode", "PAY_PER_REQUEST") != "PAY_PER_REQUEST":
            raise unsupported("provisioned capacity")
        name = str(request["TableName"])
        if name in self.tables:
            raise AwsError("ResourceInUseException", f"Table already exists: {name}")
        self.tables[name] = {}
        description = {
            "TableName": name,
            "TableStatus": "ACTIVE",
            "KeySchema": request["KeySchema"],
            "AttributeDefinitions": request["AttributeDefinitions"],
            "TableArn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}",
            "ItemCount": 0,
            "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
        }
        return {"TableDescription": description}

    def op_GetItem(self, request: dict[str, Any]) -> dict[str, Any]:
        _params(
            request,
            "GetItem",
            {"TableName", "Key", "ConsistentRead", "ProjectionExpression", "ExpressionAttributeNames"},
        )
        table = self._table(request.get("TableName"))
        refs = self._refs(request)
        projection = (
            parse_projection(request["ProjectionExpression"], refs) if "ProjectionExpression" in request else None
        )
        refs.check_all_used()
        item = table.get(self._key_of(request.get("Key")))
        return {} if item is None else {"Item": _project(item, projection)}

    def op_PutItem(self, request: dict[str, Any]) -> dict[str, Any]:
        _params(request, "PutItem", _CONDITIONAL_WRITE | {"Item"})
        table = self._table(request.get("TableName"))
        returns = _choice(request, "ReturnValues", ("NONE", "ALL_OLD"))
        raw = request.get("Item")
        if not isinstance(raw, dict):
            raise invalid("Item is required")
        item = {name: _checked(value) for name, value in raw.items()}
        key = self._key_of({KEY: item[KEY]} if KEY in item else {}, "Item's key")
        old = self._conditional(table, key, request)
        table[key] = item
        return {"Attributes": old} if returns == "ALL_OLD" and old is not None else {}

    def op_UpdateItem(self, request: dict[str, Any]) -> dict[str, Any]:
        _params(request, "UpdateItem", _CONDITIONAL_WRITE | {"Key", "UpdateExpression"})
        table = self._table(request.get("TableName"))
        returns = _choice(request, "ReturnValues", ("NONE", "ALL_NEW", "UPDATED_NEW", "ALL_OLD", "UPDATED_OLD"))
        key = self._key_of(request.get("Key"))
        if "UpdateExpression" not in request:
            raise unsupported("UpdateItem without an UpdateExpression (AttributeUpdates)")
        refs = self._refs(request)
        clauses = parse_update(request["UpdateExpression"], refs)
        condition = parse_condition(request["ConditionExpression"], refs) if "ConditionExpression" in request else None
        refs.check_all_used()
        touched = [a if c == "REMOVE" else a[0] for c, actions in clauses.items() for a in actions]
        if KEY in touched:
            raise invalid(f"Cannot update attribute {KEY}. This attribute is part of the key")
        old = table.get(key)
        self._check(condition, old, request)
        new, changed = apply_update(clauses, old if old is not None else {KEY: {"S": key}})
        table[key] = new
        if returns == "ALL_NEW":
            return {"Attributes": new}
        if returns == "UPDATED_NEW":
            return {"Attributes": {n: new[n] for n in changed}} if changed else {}
        if returns == "ALL_OLD":
            return {"Attributes": old} if old is not None else {}
        if returns == "UPDATED_OLD":
            before = {n: old[n] for n in touched if old is not None and n in old}
            return {"Attributes": before} if before else {}
        return {}

    def op_DeleteItem(self, request: dict[str, Any]) -> dict[str, Any]:
        _params(request, "DeleteItem", _CONDITIONAL_WRITE | {"Key"})
        table = self._table(request.get("TableName"))
        returns = _choice(request, "ReturnValues", ("NONE", "ALL_OLD"))
        key = self._key_of(request.get("Key"))
        old = self._conditional(table, key, request)
        table.pop(key, None)
        return {"Attributes": old} if returns == "ALL_OLD" and old is not None else {}

    def op_BatchGetItem(self, request: dict[str, Any]) -> dict[str, Any]:
        _params(request, "BatchGetItem", {"RequestItems"})
        responses: dict[str, list[Item]] = {}
        wanted = request.get("RequestItems") or {}
        if sum(len(spec.get("Keys", [])) for spec in wanted.values()) > BATCH_GET_MAX:
            raise invalid("Too many items requested for the BatchGetItem call")
        for name, spec in wanted.items():
            _params(
                spec,
                "BatchGetItem's table request",
                {"Keys", "ConsistentRead", "ProjectionExpression", "ExpressionAttributeNames"},
            )
            table = self._table(name)
            keys = [self._key_of(key) for key in spec.get("Keys", [])]
            if len(set(keys)) != len(keys):
                raise invalid("Provided list of item keys contains duplicates")
            refs = self._refs(spec)
            projection = (
                parse_projection(spec["ProjectionExpression"], refs) if "ProjectionExpression" in spec else None
            )
            refs.check_all_used()
            responses[name] = [_project(table[key], projection) for key in keys if key in table]
        return {"Responses": responses, "UnprocessedKeys": {}}

    def op_BatchWriteItem(self, request: dict[str, Any]) -> dict[str, Any]:
        _params(request, "BatchWriteItem", {"RequestItems"})
        writes = request.get("RequestItems") or {}
        if sum(len(requests) for requests in writes.values()) > BATCH_WRITE_MAX:
            raise invalid("Too many items requested for the BatchWriteItem call")
        planned: list[tuple[dict[str, Item], str, Item | None]] = []
        for name, requests in writes.items():
            table = self._table(name)
            keys: list[str] = []
            for entry in requests:
                if set(entry) == {"PutRequest"}:
                    item = {n: _checked(v) for n, v in entry["PutRequest"]["Item"].items()}
                    keys.append(self._key_of({KEY: item[KEY]} if KEY in item else {}, "Item's key"))
                    planned.append((table, keys[-1], item))
                elif set(entry) == {"DeleteRequest"}:
                    keys.append(self._key_of(entry["DeleteRequest"]["Key"]))
                    planned.append((table, keys[-1], None))
                else:
                    raise unsupported(f"the BatchWriteItem request {sorted(entry)}")
            if len(set(keys)) != len(keys):
                raise invalid("Provided list of item keys contains duplicates")
        for table, key, put in planned:
            if put is None:
                table.pop(key, None)
            else:
                table[key] = put
        return {"UnprocessedItems": {}}

    def _conditional(self, table: dict[str, Item], key: str, request: dict[str, Any]) -> Item | None:
        """The item as it is, once the request's condition (if any) held on it."""
        refs = self._refs(request)
        condition = parse_condition(request["ConditionExpression"], refs) if "ConditionExpression" in request else None
        refs.check_all_used()
        old = table.get(key)
        self._check(condition, old, request)
        return old

    @staticmethod
    def _check(condition: Node | None, old: Item | None, request: dict[str, Any]) -> None:
        on_failure = _choice(request, "ReturnValuesOnConditionCheckFailure", ("NONE", "ALL_OLD"))
        if condition is None or evaluate(condition, old or {}):
            return
        extra = {"Item": old} if on_failure == "ALL_OLD" and old is not None else {}
        raise AwsError("ConditionalCheckFailedException", "The conditional request failed", extra=extra)


def _project(item: Item, names: list[str] | None) -> Item:
    return dict(item) if names is None else {name: item[name] for name in names if name in item}


# ---------------------------------------------------------------------------------------------------
# SQS


@dataclass
class Message:
    message_id: str
    body: str
    md5: str
    sent_ms: int
    visible_at: float  # time.monotonic()
    delayed: bool  # not yet received, still within its DelaySeconds
    receive_count: int = 0
    first_receive_ms: int | None = None
    handle: str | None = None  # the latest receive's handle


@dataclass
class Queue:
    name: str
    url: str
    attributes: dict[str, str]
    created: int
    messages: dict[str, Message] = field(default_factory=dict)
    handles: dict[str, str] = field(default_factory=dict)  # every handle issued -> message id

    @property
    def arn(self) -> str:
        return f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{self.name}"

    def counters(self, now: float) -> dict[str, str]:
        visible = hidden = delayed = 0
        for message in self.messages.values():
            if message.visible_at <= now:
                visible += 1
            elif message.delayed:
                delayed += 1
            else:
                hidden += 1
        return {
            "ApproximateNumberOfMessages": str(visible),
            "ApproximateNumberOfMessagesNotVisible": str(hidden),
            "ApproximateNumberOfMessagesDelayed": str(delayed),
        }


_QUEUE_SETTINGS = {
    "VisibilityTimeout": str(DEFAULT_VISIBILITY_SECONDS),
    "DelaySeconds": "0",
    "MessageRetentionPeriod": "345600",
}
_QUEUE_ATTRIBUTES = (
    "QueueArn",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    *_QUEUE_SETTINGS,
)
_MESSAGE_ATTRIBUTES = ("SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp")


def _whole(request: dict[str, Any], name: str, low: int, high: int, default: int) -> int:
    value = request.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise AwsError(
            "InvalidParameterValue", f"Value {value} for parameter {name} is invalid. Must be between {low} and {high}."
        )
    return value


class Sqs:
    def __init__(self, condition: threading.Condition) -> None:
        self.queues: dict[str, Queue] = {}
        self.changed = condition  # notified whenever a message may have become receivable
        self.endpoint = ""

    def handle(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        method: Callable[[dict[str, Any]], dict[str, Any]] | None = getattr(self, f"op_{operation}", None)
        if method is None:
            raise unsupported(f"the SQS operation {operation}")
        return method(request)

    def _queue(self, request: dict[str, Any]) -> Queue:
        url = request.get("QueueUrl")
        if url not in self.queues:
            raise AwsError("QueueDoesNotExist", "The specified queue does not exist.")
        return self.queues[url]

    def op_CreateQueue(self, request: dict[str, Any]) -> dict[str, Any]:
        _params(request, "CreateQueue", {"QueueName", "Attributes"})
        name = str(request.get("QueueName", ""))
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,80}", name):
            raise AwsError(
                "InvalidParameterValue",
                "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
            )
        given = dict(request.get("Attributes") or {})
        unknown = sorted(set(given) - set(_QUEUE_SETTINGS))
        if unknown:
            raise unsupported(f"the queue attribute(s) {', '.join(unknown)}")
        attributes = _QUEUE_SETTINGS | {k: str(v) for k, v in given.items()}
        url = f"{self.endpoint}/{ACCOUNT_ID}/{name}"
        existing = self.queues.get(url)
        if existing is not None:
            if existing.attributes != attributes:
                raise AwsError(
                    "QueueAlreadyExists",
                    "A queue already exists with the same name and a different value for attribute(s)",
                )
            return {"QueueUrl": url}
        self.queues[url] = Queue(name, url, attributes, int(time.time()))
        return {"QueueUrl": url}

    def op_GetQueueUrl(self, request: dict[str, Any]) -> dict[str, Any]:
        _params(request, "GetQueueUrl", {"QueueName"})
        for queue in self.queues.values():
            if queue.name == request.get("QueueName"):
                return {"QueueUrl": queue.url}
        raise AwsError("QueueDoesNotExist", "The specified queue does not exist.")

    def op_GetQueueAttributes(self, request: dict[str, Any]) -> dict[str, Any]:
        _params(request, "GetQueueAttributes", {"QueueUrl", "AttributeNames"})
        queue = self._queue(request)
        names = list(request.get("AttributeNames") or [])
        if "All" in names:
            names = list(_QUEUE_ATTRIBUTES)
        unknown = [name for name in names if name not in _QUEUE_ATTRIBUTES]
        if unknown:
            raise unsupported(f"the queue attribute(s) {', '.join(unknown)}")
        every = {
            "QueueArn": queue.arn,
            "CreatedTimestamp": str(queue.created),
            "LastModifiedTimestamp": str(queue.created),
            **queue.attributes,
            **queue.counters(time.monotonic()),
        }
        chosen = {name: every[name] for name in names}
        return {"Attributes": chosen} if chosen else {}

    def _new_message(self, queue: Queue, body: Any, delay: int) -> Message:
        if not isinstance(body, str) or not body:
            raise AwsError("MissingParameter", "The request must contain the parameter MessageBody.")
        now = time.monotonic()
        message = Message(
            message_id=str(uuid.uuid4()),
            body=body,
            md5=hashlib.md5(body.encode()).hexdigest(),
            sent_ms=int(time.time() * 1000),
            visible_at=now + delay,
            delayed=delay > 0,
        )
        queue.messages[message.message_id] = message
        return message

    def _delay(self, queue: Queue, request: dict[str, Any]) -> int:
        return _whole(request, "DelaySeconds", 0, SQS_MAX_DELAY_SECONDS, int(queue.attributes["DelaySeconds"]))

    def op_SendMessage(self, request: dict[str, Any]) -> dict[str, Any]:
        _params(request, "SendMessage", {"QueueUrl", "MessageBody", "DelaySeconds"})
        queue = self._queue(request)
        message = self._new_message(queue, request.get("MessageBody"), self._delay(queue, request))
        self.changed.notify_all()
        return {"MessageId": message.message_id, "MD5OfMessageBody": message.md5}

    def op_SendMessageBatch(self, request: dict[str, Any]) -> dict[str, Any]:
        _params(request, "SendMessageBatch", {"QueueUrl", "Entries"})
        queue = self._queue(request)
        entries = self._entries(request)
        successful = []
        for entry in entries:
            _params(entry, "a SendMessageBatch entry", {"Id", "MessageBody", "DelaySeconds"})
            message = self._new_message(queue, entry.get("MessageBody"), self._delay(queue, entry))
            successful.append({"Id": entry["Id"], "MessageId": message.message_id, "MD5OfMessageBody": message.md5})
        self.changed.notify_all()
        return {"Successful": successful, "Failed": []}

    @staticmethod
    def _entries(request: dict[str, Any]) -> list[dict[str, Any]]:
        entries = list(request.get("Entries") or [])
        if not entries:
            raise AwsError(
                "EmptyBatchRequest", "There should be at least one SendMessageBatchRequestEntry in the request."
            )
        if len(entries) > SQS_BATCH_MAX:
            raise AwsError(
                "TooManyEntriesInBatchRequest", f"Maximum number of entries per request are {SQS_BATCH_MAX}."
            )
        ids = [entry.get("Id") for entry in entries]
        if len(set(ids)) != len(ids):
            raise AwsError("BatchEntryIdsNotDistinct", "Two or more batch entries in the request have the same Id.")
        return entries

    def op_ReceiveMessage(self, request: dict[str, Any]) -> dict[str, Any]:
        _params(
            request,
            "ReceiveMessage",
            {
                "QueueUrl",
                "MaxNumberOfMessages",
                "VisibilityTimeout",
                "WaitTimeSeconds",
                "AttributeNames",
                "MessageSystemAttributeNames",
                "MessageAttributeNames",
            },
        )
        queue = self._queue(request)
        wanted = _whole(request, "MaxNumberOfMessages", 1, SQS_BATCH_MAX, 1)
        hidden_for = _whole(
            request, "VisibilityTimeout", 0, SQS_MAX_VISIBILITY_SECONDS, int(queue.attributes["VisibilityTimeout"])
        )
        wait = _whole(request, "WaitTimeSeconds", 0, SQS_MAX_WAIT_SECONDS, 0)
        names = set(request.get("AttributeNames") or []) | set(request.get("MessageSystemAttributeNames") or [])
        if names - {"All", *_MESSAGE_ATTRIBUTES}:
            raise unsupported(f"the message attribute(s) {', '.join(sorted(names - {'All', *_MESSAGE_ATTRIBUTES}))}")
        if set(request.get("MessageAttributeNames") or []) - {"All"}:
            raise unsupported("message attributes by name (the stand-in keeps none)")
        chosen = _MESSAGE_ATTRIBUTES if "All" in names else tuple(n for n in _MESSAGE_ATTRIBUTES if n in names)
        deadline = time.monotonic() + wait
        while True:
            now = time.monotonic()
            ready = [m for m in queue.messages.values() if m.visible_at <= now][:wanted]
            if ready or now >= deadline or self.queues.get(queue.url) is not queue:
                break
            upcoming = [m.visible_at for m in queue.messages.values()]
            self.changed.wait(min([deadline, *upcoming]) - now)
        return {"Messages": [self._received(queue, m, now, hidden_for, chosen) for m in ready]} if ready else {}

    @staticmethod
    def _received(
        queue: Queue, message: Message, now: float, hidden_for: int, chosen: tuple[str, ...]
    ) -> dict[str, Any]:
        message.receive_count += 1
        message.delayed = False
        if message.first_receive_ms is None:
            message.first_receive_ms = int(time.time() * 1000)
        message.visible_at = now + hidden_for
        message.handle = base64.b64encode(f"{message.message_id}:{uuid.uuid4().hex}".encode()).decode()
        queue.handles[message.handle] = message.message_id
        every = {
            "SenderId": ACCOUNT_ID,
            "SentTimestamp": str(message.sent_ms),
            "ApproximateReceiveCount": str(message.receive_count),
            "ApproximateFirstReceiveTimestamp": str(message.first_receive_ms),
        }
        answer: dict[str, Any] = {
            "MessageId": message.message_id,
            "ReceiptHandle": message.handle,
            "MD5OfBody": message.md5,
            "Body": message.body,
        }
        if chosen:
            answer["Attributes"] = {name: every[name] for name in chosen}
        return answer

    def _delete(self, queue: Queue, handle: Any) -> None:
        """SQS deletes a message by its latest receipt handle; an older one is accepted and deletes
        nothing, a handle never issued is refused, a message already deleted is no error."""
        message_id = queue.handles.get(handle) if isinstance(handle, str) else None
        if message_id is None:
            raise AwsError(
                "ReceiptHandleIsInvalid", f'The input receipt handle "{handle}" is not a valid receipt handle.'
            )
        message = queue.messages.get(message_id)
        if message is not None and message.handle == handle:
            del queue.messages[message_id]

    def op_DeleteMessage(self, request: dict[str, Any]) -> dict[str, Any]:
        _params(request, "DeleteMessage", {"QueueUrl", "ReceiptHandle"})
        self._delete(self._queue(request), request.get("ReceiptHandle"))
        return {}

    def op_DeleteMessageBatch(self, request: dict[str, Any]) -> dict[str, Any]:
        _params(request, "DeleteMessageBatch", {"QueueUrl", "Entries"})
        queue = self._queue(request)
        successful, failed = [], []
        for entry in self._entries(request):
            _params(entry, "a DeleteMessageBatch entry", {"Id", "ReceiptHandle"})
            try:
                self._delete(queue, entry.get("ReceiptHandle"))
            except AwsError as exc:
                failed.append({"Id": entry["Id"], "SenderFault": True, "Code": exc.code, "Message": exc.message})
                continue
            successful.append({"Id": entry["Id"]})
        return {"Successful": successful, "Failed": failed}


# ---------------------------------------------------------------------------------------------------
# The server


class StandIn:
    def __init__(self) -> None:
        self.lock = threading.Condition(threading.Lock())
        self.dynamo = Dynamo()
        self.sqs = Sqs(self.lock)
        self.requests: Counter[str] = Counter()
        # Wall seconds from a request's first byte read to its reply written, summed (the time a
        # client's request spends in this process, its waits for the lock and the interpreter included).
        self.residence_seconds = 0.0

    def reset(self) -> None:
        with self.lock:
            self.dynamo.tables.clear()
            self.sqs.queues.clear()
            self.requests.clear()
            self.residence_seconds = 0.0
            self.lock.notify_all()  # a long poll on a queue that is gone ends

    def call(self, target: str, request: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """(the error namespace, the reply) for one request; AwsError for an error answer."""
        prefix, _, operation = target.partition(".")
        with self.lock:
            self.requests[target] += 1
            if prefix == DDB_PREFIX:
                return DDB_ERROR, self.dynamo.handle(operation, request)
            if prefix == SQS_PREFIX:
                return SQS_ERROR, self.sqs.handle(operation, request)
        raise unsupported(f"the service of X-Amz-Target {target!r}")


class _Handler(AwsLikeHandler):
    server: "_Server"

    def _answer(self, status: int, payload: dict[str, Any], content_type: str = "application/x-amz-json-1.0") -> None:
        self.answer(status, payload, content_type)

    def handle_one_request(self) -> None:
        self._started: float | None = None
        super().handle_one_request()
        if self._started is not None:
            with self.server.standin.lock:
                self.server.standin.residence_seconds += time.perf_counter() - self._started

    def parse_request(self) -> bool:
        self._started = time.perf_counter()  # the request line is read: the request has arrived
        return super().parse_request()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path == RESET_PATH:
            self.server.standin.reset()
            self._answer(200, {}, "application/json")
            return
        target = self.headers.get("X-Amz-Target", "")
        namespace = SQS_ERROR if target.startswith(SQS_PREFIX) else DDB_ERROR
        try:
            request = json.loads(raw) if raw.strip() else {}
            if not isinstance(request, dict):
                raise invalid("the request body is not a JSON object")
            namespace, reply = self.server.standin.call(target, request)
        except AwsError as exc:
            self._answer(exc.status, {"__type": namespace + exc.code, "message": exc.message, **exc.extra})
            return
        except (ValueError, KeyError, TypeError) as exc:  # a request shape not handled: loud, not a 500
            self._answer(
                400,
                {
                    "__type": namespace + "ValidationException",
                    "message": f"stand-in does not support this request: {exc!r}",
                },
            )
            return
        self._answer(200, reply)

    def do_GET(self) -> None:
        if self.path == STATS_PATH:
            with self.server.standin.lock:
                stats = {
                    "requests": dict(self.server.standin.requests),
                    "residence_seconds": self.server.standin.residence_seconds,
                }
            self._started = None
            self._answer(200, stats, "application/json")
            return
        self._answer(404, {"__type": "NotFound", "message": f"no route for GET {self.path}"}, "application/json")


class _Server(AwsLikeServer):
    def __init__(self, address: tuple[str, int], standin: StandIn) -> None:
        super().__init__(address, _Handler)
        self.standin = standin
        standin.sqs.endpoint = f"http://{address[0]}:{self.server_address[1]}"


def serve(port: int) -> None:
    server = _Server(("127.0.0.1", port), StandIn())
    server.serve_until_interrupted()


# ---------------------------------------------------------------------------------------------------
# Client side: start it, reset it, provision the bench's resources in it


@contextlib.contextmanager
def standin_process() -> Iterator[tuple[str, int]]:
    """The stand-in in a process of its own: yields (endpoint, pid)."""
    with serving("scripts.bench.aws_standin") as running:
        yield running


def control(endpoint: str, path: str) -> Any:
    import urllib.request

    method = "POST" if path == RESET_PATH else "GET"
    request = urllib.request.Request(f"{endpoint}{path}", data=b"{}" if method == "POST" else None, method=method)
    with urllib.request.urlopen(request, timeout=30) as reply:
        return json.load(reply)


def provision_standin(stage: str) -> "LocalResources":
    """The bench's table and queues in the (reset) stand-in, through the project's clients (their
    AWS_ENDPOINT_URL pointing at it): the table keyed by `pk` alone (no index: nothing the bench
    runs queries one), the send queue and its DLQ, with the project's visibility timeout and no
    redrive policy (no message of the bench is received five times). Returns LocalResources."""
    from campaign.aws.clients import client
    from campaign.aws.queue_spec import VISIBILITY_TIMEOUT_SECONDS
    from scripts.local.provision import DEFAULT_SENDER, LocalResources, resource_names, upload_bucket_name

    table, queue_name, dlq_name = resource_names(stage)
    client("dynamodb").create_table(
        TableName=table,
        KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    sqs = client("sqs")
    dlq_url = sqs.create_queue(QueueName=dlq_name)["QueueUrl"]
    url = sqs.create_queue(QueueName=queue_name, Attributes={"VisibilityTimeout": str(VISIBILITY_TIMEOUT_SECONDS)})[
        "QueueUrl"
    ]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return LocalResources(table, url, arn, dlq_url, DEFAULT_SENDER, upload_bucket_name(stage))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve(args.port)


if __name__ == "__main__":
    main()
