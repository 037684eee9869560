"""Read terraform/ with python-hcl2 and evaluate the few expressions the infra tests compare with code.

The evaluator knows literals, arithmetic, `local.*`, `var.*` (default, or the stage's tfvars value),
`terraform.workspace`, `tostring()`, `lookup()`, `coalesce()`, `join()` and string templates. Anything
else that is not a plain reference raises, so a test never compares against a value it could not really
work out. A reference to a resource or data source evaluates to a `Ref` holding its address (e.g.
`aws_sqs_queue.dlq.arn`).
"""

import ast
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import hcl2

TERRAFORM_DIR = Path(__file__).resolve().parents[2] / "terraform"
STAGES = ("dev", "prod")

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
    locals: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    terraform: list[dict[str, Any]] = field(default_factory=list)
    providers: list[dict[str, Any]] = field(default_factory=list)

    def resource(self, kind: str, name: str) -> dict[str, Any]:
        return self.resources[kind][name]

    def tfvars(self, stage: str) -> dict[str, Any]:
        return parse(TERRAFORM_DIR / f"{stage}.tfvars")

    def evaluator(self, stage: str, *, with_tfvars: bool = True) -> "Evaluator":
        values = {name: spec.get("default") for name, spec in self.variables.items()}
        if with_tfvars:
            values |= self.tfvars(stage)
        return Evaluator(self, stage, values)


@lru_cache(maxsize=1)
def load() -> Configuration:
    config = Configuration()
    for path in sorted(TERRAFORM_DIR.glob("*.tf")):
        parsed = parse(path)
        for block in parsed.get("resource", []):
            for kind, named in block.items():
                config.resources.setdefault(kind, {}).update(named)
        for block in parsed.get("data", []):
            for kind, named in block.items():
                config.data.setdefault(kind, {}).update(named)
        for block in parsed.get("locals", []):
            config.locals.update(block)
        for block in parsed.get("variable", []):
            config.variables.update(block)
        for block in parsed.get("output", []):
            config.outputs.update(block)
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


@dataclass
class Evaluator:
    config: Configuration
    stage: str
    variables: dict[str, Any]

    def value(self, raw: Any) -> Any:
        if isinstance(raw, list):
            return [self.value(item) for item in raw]
        if isinstance(raw, dict):
            return {key: self.value(item) for key, item in raw.items()}
        if not isinstance(raw, str):
            return raw
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
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise ValueError(f"cannot evaluate Terraform expression {text!r}") from exc
        return self._node(tree.body)

    def _node(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult):
            left, right = self._node(node.left), self._node(node.right)
            if isinstance(node.op, ast.Add):
                return left + right
            return left - right if isinstance(node.op, ast.Sub) else left * right
        if isinstance(node, ast.Attribute | ast.Name):
            return self._reference(_dotted(node))
        if isinstance(node, ast.Subscript):
            return self._node(node.value)[self._node(node.slice)]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            args = [self._node(arg) for arg in node.args]
            if node.func.id == "tostring":
                return str(args[0]).lower() if isinstance(args[0], bool) else str(args[0])
            if node.func.id == "lookup":
                return args[0].get(args[1], *args[2:])
            if node.func.id == "join":
                return str(args[0]).join(args[1])
            if node.func.id == "coalesce":
                return next(arg for arg in args if arg is not None and arg != "")
        raise ValueError(f"cannot evaluate {ast.unparse(node)!r}")

    def _reference(self, dotted: str) -> Any:
        root, _, rest = dotted.partition(".")
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


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
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
