"""The import arrows a newcomer can rely on: the Lambdas' packages never reach the local stack, the
benches or the tests; the domain stays plain Python; services never reach the web app or the handlers."""

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.loopback import PROJECT_ROOT

RUNTIME_PACKAGES = ("app", "worker", "campaign")
# Development-only code and the libraries only it installs: never importable in a Lambda.
DEVELOPMENT_ONLY = {"scripts", "tests", "moto", "aiosmtpd", "pytest", "hypothesis", "httpx"}
# email-validator and idna (its dependency, which the domain uses for internationalised domains), and
# of this project only the domain itself and the limits.
DOMAIN_MAY_IMPORT = {"email_validator", "idna", "campaign.domain", "campaign.limits"}


def _imported_modules(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def _imports_under(folder: Path, depth: int = 1) -> dict[str, set[str]]:
    """{module's path: the modules it imports, each cut to its first `depth` dotted names}."""
    return {
        str(path.relative_to(PROJECT_ROOT)): {".".join(name.split(".")[:depth]) for name in _imported_modules(path)}
        for path in sorted(folder.rglob("*.py"))
    }


@pytest.mark.parametrize("package", RUNTIME_PACKAGES)
def test_runtime_packages_import_no_development_code(package: str) -> None:
    # Given every module a Lambda package takes from this folder
    imports = _imports_under(PROJECT_ROOT / package)
    # Then none imports the local stack, the benches, the tests or a library only they install
    assert {module: found & DEVELOPMENT_ONLY for module, found in imports.items() if found & DEVELOPMENT_ONLY} == {}


def test_domain_imports_only_the_standard_library_and_email_validator() -> None:
    # Given the domain's modules
    imports = _imports_under(PROJECT_ROOT / "campaign" / "domain", depth=2)
    # Then each imports the standard library, the domain, the limits and email-validator, and nothing else
    stdlib = {name for found in imports.values() for name in found if name.split(".")[0] in sys.stdlib_module_names}
    allowed = stdlib | DOMAIN_MAY_IMPORT
    assert {module: found - allowed for module, found in imports.items() if found - allowed} == {}


def test_services_import_neither_the_app_nor_the_handlers() -> None:
    # Given the services' modules
    imports = _imports_under(PROJECT_ROOT / "campaign" / "services")
    # Then none reaches up into the web app or the Lambda handlers
    assert {module: found & {"app", "worker"} for module, found in imports.items() if found & {"app", "worker"}} == {}
