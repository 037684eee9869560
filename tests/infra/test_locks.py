"""The Python locks agree with pyproject.toml and with each other, offline.

uv.lock is the one resolution of pyproject.toml's pins (`make lock`); requirements/dev.txt (the
virtualenv, Makefile) is exported from it by uv, and requirements/<zip>.txt (the Lambda zips) is derived
from it by scripts/package_lambdas.py --lock. A pin changed without `make lock` fails here.
"""

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.infra.test_packaging import package_lambdas

ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).parent / "uv"  # the version the lock pins, installed from it into the virtualenv
# The export `make lock` writes (Makefile), less its output file.
DEV_EXPORT = ["export", "--frozen", "--extra", "api", "--extra", "dev", "--no-emit-project", "--format"]
DEV_EXPORT += ["requirements-txt"]


def _pins(pyproject: dict[str, Any]) -> list[Requirement]:
    project = pyproject["project"]
    listed = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return [Requirement(r) for r in listed]


def pin_mismatches(pyproject: dict[str, Any], lock: dict[str, Any]) -> list[str]:
    """'name: pinned X, locked Y' for every direct dependency whose locked version is not its pin."""
    locked: dict[str, set[str]] = {}
    for entry in lock["package"]:
        locked.setdefault(str(canonicalize_name(entry["name"])), set()).add(entry["version"])
    mismatches = []
    for pin in _pins(pyproject):
        versions = locked.get(str(canonicalize_name(pin.name)), set())
        if not versions or not all(pin.specifier.contains(v, prereleases=True) for v in versions):
            mismatches.append(f"{pin.name}: pinned {pin.specifier}, locked {sorted(versions) or 'nowhere'}")
    return mismatches


def _load(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_every_direct_dependency_is_locked_at_its_pin() -> None:
    # Given pyproject.toml and uv.lock
    pyproject = _load(ROOT / "pyproject.toml")
    # Then every pin is an == (so the pins are the versions the lock must hold), and the lock holds each
    assert [str(p) for p in _pins(pyproject) if not str(p.specifier).startswith("==")] == []
    assert pin_mismatches(pyproject, _load(ROOT / "uv.lock")) == [], "run `make lock`"


def test_a_pin_that_moved_without_a_new_lock_is_reported() -> None:
    # Given a pin the lock holds at another version, and a pin the lock does not hold
    pyproject = {"project": {"dependencies": ["wrapt==1.17.3"], "optional-dependencies": {"x": ["idna==3.20"]}}}
    lock = {"package": [{"name": "wrapt", "version": "2.0.0"}, {"name": "other", "version": "1"}]}
    # When the pins are checked against the lock
    mismatches = pin_mismatches(pyproject, lock)
    # Then both are reported, with what is locked
    assert mismatches == [
        "wrapt: pinned ==1.17.3, locked ['2.0.0']",
        "idna: pinned ==3.20, locked nowhere",
    ]


def test_uv_lock_is_up_to_date_with_pyproject() -> None:
    # Given the committed uv.lock
    # When `uv lock` checks it against pyproject.toml
    done = subprocess.run([UV, "lock", "--check", "--offline"], cwd=ROOT, capture_output=True, text=True, check=False)
    # Then what it would write is what is committed: no dependency added, removed or re-pinned since
    assert done.returncode == 0, f"{done.stderr}\nrun `make lock`"


def test_the_lock_tool_is_the_version_pyproject_pins() -> None:
    # Given the pins of pyproject.toml and the uv of the virtualenv
    pyproject = _load(ROOT / "pyproject.toml")
    pinned = {str(canonicalize_name(p.name)): str(p.specifier) for p in _pins(pyproject)}
    version = subprocess.run([UV, "--version"], capture_output=True, text=True, check=True).stdout.split()[1]
    # Then uv requires the pinned version of itself, and that is the one installed
    assert pyproject["tool"]["uv"]["required-version"] == pinned["uv"]
    assert f"=={version}" == pinned["uv"]


def _without_header(text: str) -> list[str]:
    lines = text.splitlines()
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return lines


def test_the_virtualenv_requirements_are_exported_from_the_lock() -> None:
    # Given the committed requirements/dev.txt
    committed = (ROOT / "requirements" / "dev.txt").read_text(encoding="utf-8")
    # When uv exports the lock as `make lock` does
    done = subprocess.run([UV, *DEV_EXPORT, "--offline"], cwd=ROOT, capture_output=True, text=True, check=True)
    # Then the export is what is committed
    assert _without_header(committed) == _without_header(done.stdout), "run `make lock`"
    # And every line carries its hashes (the Makefile installs with --require-hashes)
    assert all(
        line.startswith(("    --hash=sha256:", "    # via", "    #   "))
        for line in _without_header(committed)
        if line.startswith(" ")
    )


@pytest.mark.parametrize("name", sorted(package_lambdas.COMPONENTS))
def test_each_zip_lock_is_derived_from_uv_lock(name: str) -> None:
    # Given the zip's committed lock
    component = package_lambdas.COMPONENTS[name]
    committed = (ROOT / "requirements" / f"{name}.txt").read_text(encoding="utf-8")
    # When it is derived again from uv.lock
    derived = package_lambdas.lambda_lock(component)
    # Then it is what is committed
    assert committed == derived, "run `make lock`"
    # And it holds one wheel per distribution, none of them runtime-provided
    pinned = [Requirement(line.rstrip(" \\")) for line in committed.splitlines() if line[:1].isalnum()]
    assert committed.count("--hash=sha256:") == len(pinned)
    assert not {str(canonicalize_name(r.name)) for r in pinned} & package_lambdas.RUNTIME_PROVIDED


def test_the_worker_lock_leaves_out_botocore_and_what_only_it_needs() -> None:
    # Given the worker zip's lock (aws-xray-sdk requires botocore, which requires urllib3 and jmespath;
    # powertools needs jmespath itself)
    names = {line.split("==")[0] for line in (ROOT / "requirements" / "worker.txt").read_text().splitlines()}
    # Then it holds aws-xray-sdk and jmespath, but not botocore nor what only botocore needs
    assert {"aws-xray-sdk", "jmespath"} <= names
    assert not {"botocore", "urllib3", "python-dateutil", "six"} & names


def test_a_zip_lock_takes_the_wheel_pip_installs_on_lambda() -> None:
    # Given a distribution with wheels for both architectures, for another Python, and a pure one
    wheels = []
    for tag in ("cp312-cp312-manylinux_2_17_x86_64", "cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64"):
        wheels.append({"url": f"https://host/x-1-{tag}.whl", "hash": tag})
    wheels.append({"url": "https://host/x-1-cp311-cp311-manylinux2014_aarch64.whl", "hash": "cp311"})
    wheels.append({"url": "https://host/x-1-py3-none-any.whl", "hash": "pure"})
    entry: dict[str, Any] = {"name": "x", "version": "1", "wheels": wheels}
    # When a wheel is chosen for the Lambda, then the platform's compiled wheel ranks before the pure
    # one, and the other architecture and Python do not count
    assert package_lambdas.lambda_wheel(entry)["hash"].endswith("aarch64")
    entry["wheels"] = [w for w in entry["wheels"] if "aarch64" not in w["hash"]]
    assert package_lambdas.lambda_wheel(entry)["hash"] == "pure"
    # And with no wheel for the platform, the choice fails
    entry["wheels"] = entry["wheels"][:1]
    with pytest.raises(SystemExit, match="no wheel"):
        package_lambdas.lambda_wheel(entry)
