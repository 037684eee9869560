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
    # pyproject.toml pins with == only, so its pins are the versions the lock must hold
    pyproject = _load(ROOT / "pyproject.toml")
    assert [str(p) for p in _pins(pyproject) if not str(p.specifier).startswith("==")] == []
    assert pin_mismatches(pyproject, _load(ROOT / "uv.lock")) == [], "run `make lock`"


def test_a_pin_that_moved_without_a_new_lock_is_reported() -> None:
    pyproject = {"project": {"dependencies": ["wrapt==1.17.3"], "optional-dependencies": {"x": ["idna==3.20"]}}}
    lock = {"package": [{"name": "wrapt", "version": "2.0.0"}, {"name": "other", "version": "1"}]}
    assert pin_mismatches(pyproject, lock) == [
        "wrapt: pinned ==1.17.3, locked ['2.0.0']",
        "idna: pinned ==3.20, locked nowhere",
    ]


def test_uv_lock_is_up_to_date_with_pyproject() -> None:
    # What `uv lock` would write is what is committed: no dependency added, removed or re-pinned since
    done = subprocess.run([UV, "lock", "--check", "--offline"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{done.stderr}\nrun `make lock`"


def test_the_lock_tool_is_the_version_pyproject_pins() -> None:
    pyproject = _load(ROOT / "pyproject.toml")
    pinned = {str(canonicalize_name(p.name)): str(p.specifier) for p in _pins(pyproject)}
    assert pyproject["tool"]["uv"]["required-version"] == pinned["uv"]
    version = subprocess.run([UV, "--version"], capture_output=True, text=True, check=True).stdout.split()[1]
    assert f"=={version}" == pinned["uv"]


def _without_header(text: str) -> list[str]:
    lines = text.splitlines()
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return lines


def test_the_virtualenv_requirements_are_exported_from_the_lock() -> None:
    done = subprocess.run([UV, *DEV_EXPORT, "--offline"], cwd=ROOT, capture_output=True, text=True, check=True)
    committed = (ROOT / "requirements" / "dev.txt").read_text(encoding="utf-8")
    assert _without_header(committed) == _without_header(done.stdout), "run `make lock`"
    # Every line carries its hashes (the Makefile installs with --require-hashes)
    assert all(
        line.startswith(("    --hash=sha256:", "    # via", "    #   "))
        for line in _without_header(committed)
        if line.startswith(" ")
    )


@pytest.mark.parametrize("name", sorted(package_lambdas.COMPONENTS))
def test_each_zip_lock_is_derived_from_uv_lock(name: str) -> None:
    component = package_lambdas.COMPONENTS[name]
    committed = (ROOT / "requirements" / f"{name}.txt").read_text(encoding="utf-8")
    assert committed == package_lambdas.lambda_lock(component), "run `make lock`"
    # One wheel per distribution, none of them runtime-provided
    pinned = [Requirement(line.rstrip(" \\")) for line in committed.splitlines() if line[:1].isalnum()]
    assert committed.count("--hash=sha256:") == len(pinned)
    assert not {str(canonicalize_name(r.name)) for r in pinned} & package_lambdas.RUNTIME_PROVIDED


def test_the_worker_lock_leaves_out_botocore_and_what_only_it_needs() -> None:
    # aws-xray-sdk requires botocore, which requires urllib3 and jmespath; powertools needs jmespath itself
    names = {line.split("==")[0] for line in (ROOT / "requirements" / "worker.txt").read_text().splitlines()}
    assert {"aws-xray-sdk", "jmespath"} <= names
    assert not {"botocore", "urllib3", "python-dateutil", "six"} & names


def test_a_zip_lock_takes_the_wheel_pip_installs_on_lambda() -> None:
    wheels = []
    for tag in ("cp312-cp312-manylinux_2_17_x86_64", "cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64"):
        wheels.append({"url": f"https://host/x-1-{tag}.whl", "hash": tag})
    wheels.append({"url": "https://host/x-1-cp311-cp311-manylinux2014_aarch64.whl", "hash": "cp311"})
    wheels.append({"url": "https://host/x-1-py3-none-any.whl", "hash": "pure"})
    entry: dict[str, Any] = {"name": "x", "version": "1", "wheels": wheels}
    # The platform's compiled wheel ranks before the pure one, the other architecture and Python do not count
    assert package_lambdas.lambda_wheel(entry)["hash"].endswith("aarch64")
    entry["wheels"] = [w for w in entry["wheels"] if "aarch64" not in w["hash"]]
    assert package_lambdas.lambda_wheel(entry)["hash"] == "pure"
    entry["wheels"] = entry["wheels"][:1]
    with pytest.raises(SystemExit, match="no wheel"):
        package_lambdas.lambda_wheel(entry)
