"""Read terraform/ with python-hcl2 and evaluate the few expressions the infra tests compare with code.

The evaluator knows literals (`null`, `true`, `false`, list and object constructors), arithmetic,
comparisons, `!`, `&&` and `||` (both sides evaluated, as Terraform does), conditionals (`c ? a : b`),
`for` expressions (`[for x in xs : ...]`, `{for k, v in m : k => ...}`), `local.*`, `var.*` (default,
or the stage's tfvars value), `terraform.workspace`, `tostring()`, `lookup()`, `coalesce()`, `join()`,
`split()`, `replace()` (of a literal), `concat()`, `contains()`, `min()`, `max()`, `ceil()`, `floor()`,
`length()`, `flatten()`, `keys()`, `values()`, `lower()`, `alltrue()`, `anytrue()`, `regex()` (RE2 patterns read as
Python's), `can()` (of a `regex()` only),
`merge()` and string templates. Anything else that is not a plain reference raises, so a test never
compares against a value it could not really work out. A reference to a resource or data source
evaluates to a `Ref` holding its address (e.g. `aws_sqs_queue.dlq.arn`,
`aws_secretsmanager_secret.smtp[0].arn`). `load(directory)` reads another root module
(terraform/bootstrap) or a local module (terraform/modules/<name>) the same way; a root's calls of local
modules are in `modules`, its `moved` blocks in `moved`.
"""

import ast
import dataclasses
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import hcl2

TERRAFORM_DIR = Path(__file__).resolve().parents[2] / "terraform"
MODULES_DIR = TERRAFORM_DIR / "modules"
STAGES = ("dev", "prod")
# The source every Lambda function of terraform/ is declared through.
LAMBDA_MODULE = "./modules/lambda_function"

_OPTIONS = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)


def parse(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return hcl2.load(handle, serialization_options=_OPTIONS)


@dataclass(frozen=True)
class Ref:
    """A reference to something only Terraform knows, such as `aws_sqs_queue.this.arn`."""

    address: str

    @property
    def root(self) -> str:
        """The resource or data source address: `aws_sqs_queue.this`, `data.x.y`."""
        parts = self.address.split(".")
        return ".".join(parts[:3] if parts[0] == "data" else parts[:2])


@dataclass
class Configuration:
    resources: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    data: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    ephemeral: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    moved: list[dict[str, str]] = field(default_factory=list)
    terraform: list[dict[str, Any]] = field(default_factory=list)
    providers: list[dict[str, Any]] = field(default_factory=list)
    directory: Path = TERRAFORM_DIR

    def resource(self, kind: str, name: str) -> dict[str, Any]:
        return self.resources[kind][name]

    @property
    def functions(self) -> dict[str, dict[str, Any]]:
        """The Lambda functions, by module name: the arguments of each call of modules/lambda_function."""
        return {name: call for name, call in self.modules.items() if call["source"] == LAMBDA_MODULE}

    def function(self, name: str) -> dict[str, Any]:
        return self.functions[name]

    def called_modules(self) -> dict[str, "Configuration"]:
        """Each local module this configuration calls, read as a configuration of its own, by source."""
        return {
            call["source"]: load((self.directory / call["source"]).resolve())
            for call in self.modules.values()
            if call["source"].startswith(("./", "../"))
        }

    def call_evaluator(self, call: str, stage: str) -> tuple["Configuration", "Evaluator"]:
        """The local module that the module call `call` calls, and an evaluator of its expressions in the stage:
        its variables are their defaults, then the call's arguments as this configuration evaluates them."""
        arguments = self.modules[call]
        module = load((self.directory / arguments["source"]).resolve())
        outer = self.evaluator(stage)
        values = {name: spec.get("default") for name, spec in module.variables.items()}
        values |= {name: outer.value(arguments[name]) for name in module.variables if name in arguments}
        return module, Evaluator(module, stage, values)

    def function_name(self, function: str, stage: str) -> Any:
        """The function's name in the stage, as modules/lambda_function builds it from the call's arguments."""
        module = load(MODULES_DIR / "lambda_function")
        call, outer = self.function(function), self.evaluator(stage)
        arguments = {name: outer.value(call[name]) for name in ("name_prefix", "name")}
        return Evaluator(module, stage, arguments).value(module.locals["function_name"])

    def tfvars(self, stage: str) -> dict[str, Any]:
        return parse(self.directory / f"{stage}.tfvars")

    def evaluator(
        self, stage: str, *, with_tfvars: bool = True, overrides: dict[str, Any] | None = None
    ) -> "Evaluator":
        """Variables are their defaults, then the stage's tfvars, then `overrides` (as -var would)."""
        values = {name: spec.get("default") for name, spec in self.variables.items()}
        if with_tfvars:
            values |= self.tfvars(stage)
        unknown = set(overrides or {}) - set(self.variables)
        assert not unknown, f"no such variables: {unknown}"
        return Evaluator(self, stage, values | (overrides or {}))

    def lambda_variables(self, function: str) -> dict[str, Any]:
        """Every environment variable the function may get (unevaluated), whatever its condition."""
        raw = self.function(function)["environment_variables"]
        merged: dict[str, Any] = {}
        for _condition, entries in merge_arguments(raw):
            merged |= entries
        return merged


@lru_cache(maxsize=8)
def load(directory: Path = TERRAFORM_DIR) -> Configuration:
    config = Configuration(directory=directory)
    for path in sorted(directory.glob("*.tf")):
        parsed = parse(path)
        for block in parsed.get("resource", []):
            for kind, named in block.items():
                config.resources.setdefault(kind, {}).update(named)
        for block in parsed.get("data", []):
            for kind, named in block.items():
                config.data.setdefault(kind, {}).update(named)
        for block in parsed.get("ephemeral", []):
            for kind, named in block.items():
                config.ephemeral.setdefault(kind, {}).update(named)
        for block in parsed.get("locals", []):
            config.locals.update(block)
        for block in parsed.get("variable", []):
            config.variables.update(block)
        for block in parsed.get("output", []):
            config.outputs.update(block)
        for block in parsed.get("module", []):
            config.modules.update(block)
        config.moved += parsed.get("moved", [])
        config.terraform += parsed.get("terraform", [])
        config.providers += parsed.get("provider", [])
    return config


def interpolation(text: str) -> str | None:
    """The expression inside a value that is exactly one `${...}`, else None."""
    if not (text.startswith("${") and text.endswith("}")):
        return None
    end = _closing_brace(text, 1)
    return text[2:end] if end == len(text) - 1 else None


def _closing_brace(text: str, opening: int) -> int:
    depth = 0
    in_string = False
    for index in range(opening, len(text)):
        char = text[index]
        if char == '"' and text[index - 1] != "\\":
            in_string = not in_string
        elif not in_string and char == "{":
            depth += 1
        elif not in_string and char == "}":
            depth -= 1
            if depth == 0:
                return index
    raise ValueError(f"unbalanced braces in {text!r}")


def _scan(text: str) -> Iterator[tuple[int, str]]:
    """(index, character) of each character of an expression outside brackets and string literals
    (interpolations inside strings included). Raises ValueError when they do not pair up."""
    stack: list[str] = []  # '(', '[', '{', '"' (a string), '$' (an interpolation inside a string)
    closing = {")": "(", "]": "[", "}": "{"}
    index = 0
    while index < len(text):
        char = text[index]
        top = stack[-1] if stack else None
        if top == '"':
            if char == "\\":
                index += 1
            elif char == '"':
                stack.pop()
            elif text.startswith("${", index):
                stack.append("$")
                index += 1
        elif char == '"':
            stack.append('"')
        elif char in "([{":
            stack.append(char)
        elif char in closing:
            if top != closing[char] and not (char == "}" and top == "$"):
                raise ValueError(f"unbalanced {char!r} in {text!r}")
            stack.pop()
        elif top is None:
            yield index, char
        index += 1
    if stack:
        raise ValueError(f"unclosed {stack[-1]!r} in {text!r}")


def _balanced(text: str) -> bool:
    """Every bracket and string of `text` closes within it (`a) + (b` does not)."""
    try:
        for _ in _scan(text):
            pass
    except ValueError:
        return False
    return True


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """`a, f(b, c), {d = e}` split at its top-level commas (empty parts dropped)."""
    cuts = [index for index, char in _scan(text) if char == separator]
    parts = [text[start + 1 : end] for start, end in zip([-1, *cuts], [*cuts, len(text)], strict=True)]
    return [part.strip() for part in parts if part.strip()]


def conditional(text: str) -> tuple[str, str, str] | None:
    """(condition, if true, if false) of `c ? a : b` at the top level of `text`, else None."""
    question, depth = None, 0
    for index, char in _scan(text):
        if char == "?":
            if question is None:
                question = index
            else:
                depth += 1
        elif char == ":" and question is not None:
            if depth == 0:
                return text[:question].strip(), text[question + 1 : index].strip(), text[index + 1 :].strip()
            depth -= 1
    return None


def _call(text: str, function: str) -> str | None:
    """The argument text of `function(...)` when `text` is exactly that one call."""
    prefix = f"{function}("
    if not (text.startswith(prefix) and text.endswith(")") and _balanced(text[len(prefix) : -1])):
        return None
    return text[len(prefix) : -1]


def merge_arguments(raw: Any) -> list[tuple[str | None, dict[str, Any]]]:
    """The objects a map is built from, each with the condition it is merged under (None: always).

    A plain object is one unconditional entry; `merge({...}, c ? {...} : null, ...)` is one entry per
    argument, where a conditional argument's other branch must be null or {} (nothing merged)."""
    if isinstance(raw, dict):
        return [(None, raw)]
    inner = interpolation(raw) if isinstance(raw, str) else None
    arguments = _call(inner.strip(), "merge") if inner is not None else None
    if arguments is None:
        raise ValueError(f"not an object or a merge() of objects: {raw!r}")
    entries: list[tuple[str | None, dict[str, Any]]] = []
    for argument in split_top_level(arguments):
        branches = conditional(argument)
        if branches is None:
            entries.append((None, hcl_object(argument)))
            continue
        condition, if_true, if_false = branches
        if if_false in ("null", "{}"):
            entries.append((condition, hcl_object(if_true)))
        elif if_true in ("null", "{}"):
            entries.append((f"!({condition})", hcl_object(if_false)))
        else:
            raise ValueError(f"a merged conditional must leave one side empty: {argument!r}")
    return entries


def _flatten(value: list[Any]) -> list[Any]:
    """flatten(): the items of nested lists, in order, as one list."""
    return [leaf for item in value for leaf in (_flatten(item) if isinstance(item, list) else [item])]


class NoMatchError(ValueError):
    """regex() found no match: the one error can() turns into false."""


@dataclass
class Evaluator:
    config: Configuration
    stage: str
    variables: dict[str, Any]
    # Names bound by the `for` expressions being evaluated.
    scope: dict[str, Any] = field(default_factory=dict)

    def value(self, raw: Any) -> Any:
        if isinstance(raw, list):
            return [self.value(item) for item in raw]
        if isinstance(raw, dict):
            return {key: self.value(item) for key, item in raw.items()}
        if not isinstance(raw, str):
            return raw
        if raw in self.scope:
            # python-hcl2 writes a bare reference to one name (`provider = provider`) as that name, like
            # a string: inside a `for` body, a value that is exactly one of its variables' names is it.
            return self.scope[raw]
        inner = interpolation(raw)
        if inner is not None:
            return self.expression(inner)
        return self._template(raw)

    def _template(self, text: str) -> str:
        out, index = [], 0
        while (start := text.find("${", index)) != -1:
            end = _closing_brace(text, start + 1)
            out += [text[index:start], str(self.expression(text[start + 2 : end]))]
            index = end + 1
        return "".join([*out, text[index:]])

    def expression(self, text: str) -> Any:
        text = text.strip()
        while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
            text = text[1:-1].strip()  # (expression)
        branches = conditional(text)
        if branches is not None:
            # Only the chosen branch is evaluated, as Terraform reports only the chosen branch's errors.
            condition, if_true, if_false = branches
            return self.expression(if_true if self._truth(self.expression(condition)) else if_false)
        for operator, combine in (("||", any), ("&&", all)):
            operands = _split_operator(text, operator)
            if len(operands) > 1:
                # Every operand is evaluated (no short-circuit), so an operand that would fail on a
                # null fails here as it does in Terraform.
                return combine([self._truth(self.expression(operand)) for operand in operands])
        if text.startswith("!") and not text.startswith("!="):
            return not self._truth(self.expression(text[1:]))
        for_expression = self._for(text)
        if for_expression is not None:
            return for_expression
        if text.startswith("{") and text.endswith("}") and _balanced(text[1:-1]):
            return self.value(hcl_object(text))
        if text.startswith("[") and text.endswith("]") and _balanced(text[1:-1]):
            return [self.expression(item) for item in split_top_level(text[1:-1])]  # a list of any items
        arguments = _call(text, "concat")
        if arguments is not None:
            return [item for argument in split_top_level(arguments) for item in self.expression(argument)]
        arguments = _call(text, "merge")
        if arguments is not None:
            merged: dict[str, Any] = {}
            for argument in split_top_level(arguments):
                value = self.expression(argument)
                merged |= value if value is not None else {}  # merge() skips null arguments
            return merged
        call = re.fullmatch(r"(\w+)\((.*)\)", text, re.DOTALL)
        if call is not None and call.group(1) != "can" and _balanced(call.group(2)):
            parts = split_top_level(call.group(2))
            if any(re.match(r"[\[{]\s*for\s", part) for part in parts):
                # A for expression is no Python: evaluate the arguments one by one.
                return self._apply(call.group(1), [self.expression(part) for part in parts])
        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError as exc:
            raise ValueError(f"cannot evaluate Terraform expression {text!r}") from exc
        return self._node(tree.body)

    def _for(self, text: str) -> list[Any] | dict[str, Any] | None:
        """`[for x in xs : body if cond]` or `{for k, v in m : key => value}`, else None."""
        if (text[:1], text[-1:]) not in (("[", "]"), ("{", "}")) or not _balanced(text[1:-1]):
            return None
        match = re.fullmatch(r"for\s+(\w+)(?:\s*,\s*(\w+))?\s+in\s+(.+)", text[1:-1].strip(), re.DOTALL)
        if match is None:
            return None
        first, second, rest = match.groups()
        colons = [index for index, char in _scan(rest) if char == ":"]
        if not colons:
            raise ValueError(f"a for expression without ':' in {text!r}")
        collection = self.expression(rest[: colons[0]])
        body = rest[colons[0] + 1 :]
        ifs = [index for index in range(len(body)) if body.startswith(" if ", index) and _balanced(body[:index])]
        body, condition = (body[: ifs[-1]], body[ifs[-1] + 4 :]) if ifs else (body, None)
        pairs = list(collection.items()) if isinstance(collection, dict) else list(enumerate(collection))
        is_object = text.startswith("{")
        results: list[tuple[Any, Any]] = []
        for key, item in pairs:
            names = {first: item} if second is None else {first: key, second: item}
            inner = dataclasses.replace(self, scope={**self.scope, **names})
            if condition is not None and not inner._truth(inner.expression(condition)):
                continue
            if is_object:
                arrows = [index for index, _ in _scan(body) if body.startswith("=>", index)]
                if not arrows:
                    raise ValueError(f"an object for expression without '=>' in {text!r}")
                results.append((inner.expression(body[: arrows[0]]), inner.expression(body[arrows[0] + 2 :])))
            else:
                results.append((None, inner.expression(body)))
        return dict(results) if is_object else [value for _, value in results]

    @staticmethod
    def _truth(value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"a condition must be a bool, not {value!r}")
        return value

    def _node(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            # A string literal inside an expression is a template too: "repo:${var.x}".
            return self._template(node.value) if isinstance(node.value, str) and "${" in node.value else node.value
        if isinstance(node, ast.Name) and node.id in _LITERALS:
            return _LITERALS[node.id]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div):
            left, right = self._node(node.left), self._node(node.right)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Div):
                return left / right
            return left - right if isinstance(node.op, ast.Sub) else left * right
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            left, right = self._node(node.left), self._node(node.comparators[0])
            compare = _COMPARISONS.get(type(node.ops[0]))
            if compare is not None:
                return compare(left, right)
        if isinstance(node, ast.Attribute | ast.Name):
            return self._reference(_dotted(node))
        if isinstance(node, ast.Subscript):
            return self._node(node.value)[self._node(node.slice)]
        if isinstance(node, ast.List):
            return [self._node(item) for item in node.elts]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "can":
            (argument,) = node.args
            callee = argument.func if isinstance(argument, ast.Call) else None
            if not (isinstance(callee, ast.Name) and callee.id == "regex"):
                raise ValueError(f"can() is only evaluated around regex(): {ast.unparse(node)!r}")
            try:
                self._node(argument)
            except NoMatchError:
                return False
            return True
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -self._node(node.operand)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return self._apply(node.func.id, [self._node(arg) for arg in node.args])
        raise ValueError(f"cannot evaluate {ast.unparse(node)!r}")

    def _apply(self, function: str, args: list[Any]) -> Any:
        if function == "tostring":
            return str(args[0]).lower() if isinstance(args[0], bool) else _number_text(args[0])
        if function == "lookup":
            return args[0].get(args[1], *args[2:])
        if function == "replace":
            if str(args[1]).startswith("/"):
                raise ValueError("replace() with a regular expression")
            return str(args[0]).replace(str(args[1]), str(args[2]))
        if function == "join":
            return str(args[0]).join(args[1])
        if function == "split":
            return str(args[1]).split(str(args[0]))
        if function == "contains":
            return args[1] in args[0]
        if function == "coalesce":
            return next(arg for arg in args if arg is not None and arg != "")
        if function in ("min", "max"):
            return min(args) if function == "min" else max(args)
        if function == "ceil":
            return math.ceil(args[0])
        if function == "floor":
            return math.floor(args[0])
        if function == "length":
            return len(args[0])
        if function == "flatten":
            return _flatten(args[0])
        if function == "keys":
            return sorted(args[0])
        if function == "values":
            return [args[0][key] for key in sorted(args[0])]
        if function == "lower":
            if not isinstance(args[0], str):
                raise ValueError(f"lower() of {args[0]!r}")  # Terraform fails on null too
            return args[0].lower()
        if function in ("alltrue", "anytrue"):
            truths = [self._truth(arg) for arg in args[0]]
            return all(truths) if function == "alltrue" else any(truths)
        if function == "regex":
            if not isinstance(args[1], str):
                raise ValueError(f"regex() of {args[1]!r}")
            found = re.search(args[0], args[1])
            if found is None:
                raise NoMatchError(f"{args[0]!r} does not match {args[1]!r}")
            return found.group(0) if not found.groups() else list(found.groups())
        raise ValueError(f"cannot evaluate {function}()")

    def _reference(self, dotted: str) -> Any:
        root, _, rest = dotted.partition(".")
        if root in self.scope:
            value = self.scope[root]
            for part in filter(None, rest.split(".")):
                value = value[part]
            return value
        if dotted == "terraform.workspace":
            return self.stage
        if root == "local":
            name, _, path = rest.partition(".")
            value = self.value(self.config.locals[name])
            for part in filter(None, path.split(".")):
                value = value[part]
            return value
        if root == "var":
            name, _, path = rest.partition(".")
            value = self.variables[name]
            for part in filter(None, path.split(".")):
                value = value[part]
            return value
        return Ref(dotted)


_LITERALS: dict[str, Any] = {"null": None, "true": True, "false": False}
_COMPARISONS: dict[type, Any] = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
}


def _split_operator(text: str, operator: str) -> list[str]:
    """`a || (b || c) || d` split at its top-level `||` (or `&&`): ["a", "(b || c)", "d"]."""
    cuts = [index for index, char in _scan(text) if char == operator[0] and text.startswith(operator, index)]
    cuts = [index for index in cuts if index - 1 not in cuts]  # `|||` would be a syntax error anyway
    parts = [text[start:end] for start, end in zip([0, *[c + 2 for c in cuts]], [*cuts, len(text)], strict=True)]
    return [part.strip() for part in parts]


def _number_text(value: Any) -> str:
    """tostring() of a number as Terraform writes it: 14 for 14.0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, int):
        return f"{_dotted(node.value)}[{node.slice.value}]"  # one instance of a counted resource
    raise ValueError(f"not a reference: {ast.unparse(node)!r}")


def reference(raw: Any) -> str | None:
    """`aws_sqs_queue.this.arn` for the value "${aws_sqs_queue.this.arn}", else None."""
    if not isinstance(raw, str):
        return None
    inner = interpolation(raw)
    if inner is None:
        return None
    try:
        return _dotted(ast.parse(inner.strip(), mode="eval").body)
    except (SyntaxError, ValueError):
        return None


def call_argument(raw: str, function: str) -> str:
    """The argument text of `${function(...)}`, e.g. the object inside jsonencode(...)."""
    inner = interpolation(raw)
    prefix = f"{function}("
    if inner is None or not inner.startswith(prefix) or not inner.endswith(")"):
        raise ValueError(f"{raw!r} is not a call of {function}()")
    return inner[len(prefix) : -1]


def hcl_object(text: str) -> dict[str, Any]:
    """Parse an HCL object expression such as the argument of jsonencode({...})."""
    value: dict[str, Any] = hcl2.loads(f"value = {text}\n", serialization_options=_OPTIONS)["value"]
    return value
