"""Build the two Lambda packages, build/ingestor.zip and build/worker.zip, byte for byte reproducibly.

Each zip holds the third-party wheels for the Lambda platform (Linux arm64, CPython 3.12), installed by
pip from its lock file, requirements/<name>.txt (see "Locked" below), plus our own packages:

- worker:   the base dependencies + email-validator + campaign/ + worker/
- ingestor: the base dependencies + [api]             + campaign/ + app/

The worker zip serves two functions: the SQS worker (worker/handler.py) and the streaming ingest
(worker/s3_ingest.py), which judges CSV rows with campaign/domain/csv_rules.py and so needs
email-validator (pinned in the [api] extra; taken from there by name, without the rest of the extra).

boto3, botocore and s3transfer are left out: the Lambda Python runtime ships them, and leaving them out
keeps the packages small and the cold start short. When a dependency requires one of them (as
aws-xray-sdk requires botocore), the lock for the zip leaves it out, together with every distribution
that only it needed (closure() below, over uv.lock's dependency graph), and the build checks the installed
tree the same way (prune_runtime_provided). The price is that the runtime's boto3 version (not
the pinned one) runs in AWS; docs/deploy.md says so. Lambda puts the package ahead of the runtime on
sys.path, so the runtime's botocore imports our copy of any library it shares with us (jmespath,
python-dateutil): uv.lock resolves them together with the pinned boto3 and its botocore, so they are
within botocore's own ranges.

Precompiled: every .py in the zip ships with its bytecode (__pycache__/*.cpython-312.pyc), compiled by a
CPython 3.12 (the runtime's version) found on this machine. /var/task is read-only, so without it
Python compiles every module it imports from source, on every cold start: measured here with Python
3.12, that is about 350 ms for what the worker imports from its zip and 1.7 s for the API's. The
bytecode is hash-based and unchecked (PEP 552): it carries no timestamp, and the runtime loads it
without reading the source first. `--no-bytecode` builds without it.

Left out: `pydantic.v1`, from the ingestor. Pydantic 2 ships its predecessor as a compatibility layer
that nothing in the API uses; FastAPI only imports it to ask whether a route's types are v1 models, and
answers "no" when the import fails (its code expects pydantic to drop it). Importing it costs the API
about 94 ms of every cold start here (28 modules, 82 million instructions). Left out of the zip, the
API runs as it does with it (tests/integration/test_api_as_packaged.py), and the cold-start bench
imports the handler the same way (scripts/bench/coldstart.py).

Locked: uv.lock (`uv lock`, the version pinned in pyproject.toml) is one resolution of every pin in
pyproject.toml, transitive dependencies included, for every platform, with the hash of every file.
`--lock` (run by `make lock`) derives each zip's lock from it: the closure of the zip's requirements on
the Lambda platform (markers evaluated there), less what the runtime provides, each distribution with the
hash of the one wheel pip installs for that platform. The build installs exactly those lines
(`--require-hashes --no-deps`), so no resolver runs on the day. tests/infra/test_locks.py fails when
pyproject.toml's pins, uv.lock and the requirements/ files disagree.

Reproducible: entries are sorted, every timestamp is 1980-01-01, every mode is 0644, bytecode
records the /var/task path rather than the build directory, and no console scripts (bin/) go in. pip
writes a console script's launcher with the installing interpreter's path in its #! line, and the
RECORD file of its distribution lists the launcher's hash: with the launchers left out, their RECORD
lines go too (normalise_records), so the zip holds nothing that depends on the build machine's paths
and two builds of the same inputs are identical wherever they run. RECORD is read only by tools that
uninstall or verify an installation (pip uninstall); nothing reads it in /var/task.
Each build writes build/<name>.requirements.txt listing what went in.

Usage: python scripts/package_lambdas.py [--out build] [--only worker|ingestor] [--no-bytecode]
       python scripts/package_lambdas.py --lock   (writes requirements/worker.txt and requirements/ingestor.txt)
(LAMBDA_PYTHON=/path/to/python3.12 names the interpreter that compiles the bytecode.)
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from packaging import tags
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

ROOT = Path(__file__).resolve().parent.parent

# The runtime provides these (see the module docstring).
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})
# The worker must stay free of the web stack (cold start); checked on the finished zip.
WORKER_FORBIDDEN = frozenset({"fastapi", "strawberry", "mangum", "starlette"})

# The Lambda runtime's Python (terraform/ deploys python3.12; tests/infra checks they agree).
LAMBDA_PYTHON_VERSION = (3, 12)
_LAMBDA_PYTHON = ".".join(map(str, LAMBDA_PYTHON_VERSION))
LAMBDA_TASK_ROOT = "/var/task"
LAMBDA_PLATFORM = "manylinux2014_aarch64"
PIP_PLATFORM = ["--platform", LAMBDA_PLATFORM, "--implementation", "cp", "--python-version", _LAMBDA_PYTHON]
# The wheel tags pip accepts with PIP_PLATFORM, best first (as pip ranks them).
_ABI = f"cp{LAMBDA_PYTHON_VERSION[0]}{LAMBDA_PYTHON_VERSION[1]}"
LAMBDA_WHEEL_TAGS = [
    *tags.cpython_tags(LAMBDA_PYTHON_VERSION, abis=[_ABI], platforms=[LAMBDA_PLATFORM]),
    *tags.compatible_tags(LAMBDA_PYTHON_VERSION, _ABI, platforms=[LAMBDA_PLATFORM]),
]
LOCK_FILE = ROOT / "uv.lock"
LOCKS_DIR = ROOT / "requirements"  # requirements/<component>.txt, derived from uv.lock by --lock
# Where requirement markers are evaluated: the Lambda platform, not this machine.
LAMBDA_MARKERS = {
    "python_version": _LAMBDA_PYTHON,
    "python_full_version": f"{_LAMBDA_PYTHON}.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "aarch64",
    "os_name": "posix",
}
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644 << 16  # regular file, rw-r--r--
SKIPPED_DIRS = frozenset({"__pycache__", "bin"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")
# The local stack, the benches and the tests: never in a Lambda.
DEV_ONLY = frozenset({"scripts", "tests"})


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    extras: tuple[str, ...]
    packages: tuple[str, ...]  # our top-level packages that go in
    # Single distributions taken, at their pyproject.toml pin, from an optional extra.
    picked: tuple[str, ...] = ()
    # Modules of dependencies that are removed from the package (see the module docstring).
    left_out: tuple[str, ...] = ()


COMPONENTS = {
    # email-validator: the streaming ingest (worker/s3_ingest.py) validates addresses as the API does.
    "worker": Component("worker", extras=(), packages=("campaign", "worker"), picked=("email-validator",)),
    "ingestor": Component("ingestor", extras=("api",), packages=("campaign", "app"), left_out=("pydantic.v1",)),
}


def distribution_name(requirement: str) -> str:
    """'aws-lambda-powertools==3.37.0' -> 'aws_lambda_powertools' (PEP 503 normalised, underscores)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if match is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    return re.sub(r"[-_.]+", "_", match.group(1)).lower()


def requirements(component: Component, pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The pinned requirements of one Lambda, as written in pyproject.toml, less what the runtime has."""
    project = tomllib.loads(pyproject.read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in component.extras:
        wanted += project["optional-dependencies"][extra]
    optional = {r for extra in project["optional-dependencies"].values() for r in extra}
    for name in component.picked:
        pins = {r for r in optional if distribution_name(r) == distribution_name(name)}
        if len(pins) != 1:
            raise SystemExit(f"{component.name}: {name} must be pinned exactly once in an optional extra: {pins}")
        wanted += pins
    unpinned = [r for r in wanted if "==" not in r]
    if unpinned:
        raise SystemExit(f"pyproject.toml must pin every Lambda dependency with ==: {unpinned}")
    return sorted({r for r in wanted if distribution_name(r) not in RUNTIME_PROVIDED})


def own_files(component: Component, root: Path = ROOT) -> dict[str, Path]:
    """Our source files for one Lambda: {path in the zip: path on disk}."""
    files: dict[str, Path] = {}
    for package in component.packages:
        for path in sorted((root / package).rglob("*")):
            arcname = path.relative_to(root).as_posix()
            if not path.is_file() or _skipped(arcname):
                continue
            files[arcname] = path
    return files


def _skipped(arcname: str) -> bool:
    parts = arcname.split("/")
    return any(part in SKIPPED_DIRS for part in parts[:-1]) or arcname.endswith(SKIPPED_SUFFIXES)


def _lock_entries(lock: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{canonical name: its uv.lock entry on Lambda}. A name locked at several versions (a fork by Python
    version) counts with the version whose resolution markers hold on the Lambda platform."""
    entries: dict[str, dict[str, Any]] = {}
    for entry in lock["package"]:
        markers = entry.get("resolution-markers")
        if markers and not any(Marker(marker).evaluate(LAMBDA_MARKERS) for marker in markers):
            continue
        name = str(canonicalize_name(entry["name"]))
        if name in entries:
            raise SystemExit(f"uv.lock holds {name} twice for the Lambda platform")
        entries[name] = entry
    return entries


def _lock_requires(entry: dict[str, Any]) -> list[str]:
    """Requires-Dist lines of a uv.lock entry: its dependencies, and its optional ones under `extra == '<x>'`."""

    def line(dependency: dict[str, Any], extra: str | None = None) -> str:
        markers = [f"({dependency['marker']})"] if "marker" in dependency else []
        markers += [f"extra == '{extra}'"] if extra else []
        extras = f"[{','.join(dependency['extra'])}]" if dependency.get("extra") else ""
        return f"{dependency['name']}{extras}" + (f"; {' and '.join(markers)}" if markers else "")

    lines = [line(dependency) for dependency in entry.get("dependencies", [])]
    for extra, dependencies in sorted(entry.get("optional-dependencies", {}).items()):
        lines += [line(dependency, extra) for dependency in dependencies]
    return lines


def lambda_wheel(entry: dict[str, Any]) -> dict[str, Any]:
    """The wheel of a uv.lock entry that pip installs on the Lambda platform: the best-ranked tag."""
    rank = {tag: index for index, tag in enumerate(LAMBDA_WHEEL_TAGS)}
    ranked: list[tuple[int, str, dict[str, Any]]] = []
    for wheel in entry.get("wheels", []):
        _, _, _, wheel_tags = parse_wheel_filename(unquote(wheel["url"].rsplit("/", 1)[-1]))
        best = min((rank[tag] for tag in wheel_tags if tag in rank), default=None)
        if best is not None:
            ranked.append((best, wheel["url"], wheel))
    if not ranked:
        raise SystemExit(f"uv.lock has no wheel of {entry['name']} {entry['version']} for {LAMBDA_PLATFORM}, {_ABI}")
    return min(ranked)[2]


def lambda_lock(component: Component, lock: Path = LOCK_FILE, pyproject: Path = ROOT / "pyproject.toml") -> str:
    """requirements/<component>.txt as uv.lock says it should be: every distribution the component's
    requirements need on Lambda, less the runtime-provided ones and what only they need, at its locked
    version, with the hash of the wheel pip installs there."""
    entries = _lock_entries(tomllib.loads(lock.read_text(encoding="utf-8")))
    roots = requirements(component, pyproject)
    locked = {r: entries.get(str(canonicalize_name(Requirement(r).name))) for r in roots}
    stale = [r for r, e in locked.items() if e is None or not Requirement(r).specifier.contains(e["version"], True)]
    if stale:
        raise SystemExit(f"uv.lock does not hold {stale} at these pins: run `make lock`")

    def requires(name: str) -> list[str]:
        if name not in entries:
            raise SystemExit(f"uv.lock does not hold {name}: run `make lock`")
        return _lock_requires(entries[name])

    provided = {str(canonicalize_name(name)) for name in RUNTIME_PROVIDED}
    lines = [
        f"# The {component.name} zip's dependencies on Lambda (CPython {_LAMBDA_PYTHON}, {LAMBDA_PLATFORM}): the",
        f"# closure of {', '.join(roots)}",
        f"# in uv.lock, less {', '.join(sorted(RUNTIME_PROVIDED))} and what only they need. Written by",
        "# `python scripts/package_lambdas.py --lock` (make lock); do not edit.",
    ]
    for name in sorted(closure(roots, requires, provided)):
        entry = entries[name]
        lines += [f"{name}=={entry['version']} \\", f"    --hash={lambda_wheel(entry)['hash']}"]
    return "\n".join(lines) + "\n"


def write_locks(lock: Path = LOCK_FILE, locks_dir: Path = LOCKS_DIR) -> list[Path]:
    """Write requirements/<component>.txt for every component from uv.lock."""
    locks_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, component in sorted(COMPONENTS.items()):
        path = locks_dir / f"{name}.txt"
        path.write_text(lambda_lock(component, lock), encoding="utf-8")
        written.append(path)
    return written


def install_locked(lock_file: Path, target: Path) -> None:
    """pip-install exactly the lock's wheels for the Lambda platform into `target`, each checked against
    its hash and none of their dependencies resolved anew; bytecode is compiled later, by a 3.12."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--require-hashes",
        "--no-deps",
        *PIP_PLATFORM,
        "--only-binary=:all:",
        "--target",
        str(target),
        "--requirement",
        str(lock_file),
    ]
    subprocess.run(command, check=True)


def normalise_records(tree: Path) -> None:
    """Remove the console-script launchers (bin/) and the RECORD lines of every file the package does not hold.

    pip writes a launcher's #! line with the installing interpreter's path, and the distribution's RECORD
    lists the launcher with its hash, so RECORD would differ from one virtualenv path to another. RECORD
    is read by pip uninstall and by tools that verify an installation, never in /var/task, and lines for
    files that are not there serve neither.
    """
    shutil.rmtree(tree / "bin", ignore_errors=True)
    root = tree.resolve()
    for record in sorted(tree.glob("*.dist-info/RECORD")):
        with record.open(encoding="utf-8", newline="") as lines:  # as pip wrote them, \r\n and all
            kept = [line for line in lines if _holds(tree, root, next(csv.reader([line]))[0])]
        with record.open("w", encoding="utf-8", newline="") as rewritten:
            rewritten.writelines(kept)


def _holds(tree: Path, root: Path, listed: str) -> bool:
    path = (tree / listed).resolve()
    return path.is_relative_to(root) and path.is_file()


def _installed(target: Path) -> dict[str, tuple[Path, list[str]]]:
    """{canonical name: (dist-info folder, Requires-Dist lines)} of what pip put into `target`."""
    found: dict[str, tuple[Path, list[str]]] = {}
    for meta in target.glob("*.dist-info/METADATA"):
        headers = HeaderParser().parsestr(meta.read_text(encoding="utf-8"))
        found[str(canonicalize_name(headers["Name"]))] = (meta.parent, headers.get_all("Requires-Dist") or [])
    return found


def _wanted(requirement: Requirement, extras: set[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate(LAMBDA_MARKERS | {"extra": extra}) for extra in extras or {""})


def closure(roots: list[str], requires: Callable[[str], list[str] | None], stop: set[str]) -> set[str]:
    """Canonical names of the distributions `roots` need on Lambda, following Requires-Dist (with
    extras and markers), without entering `stop` or distributions that `requires` does not know."""
    needed: set[str] = set()
    pending = [(str(canonicalize_name(r.name)), set(r.extras)) for r in map(Requirement, roots)]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        name, extras = pending.pop()
        lines = None if name in stop or (name, frozenset(extras)) in seen else requires(name)
        if lines is None:
            continue
        seen.add((name, frozenset(extras)))
        needed.add(name)
        for line in lines:
            requirement = Requirement(line)
            if _wanted(requirement, extras):
                pending.append((str(canonicalize_name(requirement.name)), set(requirement.extras)))
    return needed


def prune_runtime_provided(target: Path, roots: list[str]) -> list[str]:
    """Remove the runtime-provided distributions and those only they required; returns what went."""
    installed = _installed(target)
    provided = {str(canonicalize_name(name)) for name in RUNTIME_PROVIDED}
    keep = closure(roots, lambda name: installed[name][1] if name in installed else None, provided)
    removed = sorted(set(installed) - keep)
    for name in removed:
        dist_info = installed[name][0]
        for line in (dist_info / "RECORD").read_text(encoding="utf-8").splitlines():
            path = (target / line.split(",", 1)[0]).resolve()
            if path.is_relative_to(target.resolve()) and path.is_file():
                path.unlink()
    for folder in sorted((p for p in target.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    return removed


def tree_files(tree: Path) -> dict[str, Path]:
    """{path in the zip: path on disk} for a staged package tree, bytecode included, console scripts not."""
    files: dict[str, Path] = {}
    for path in sorted(tree.rglob("*")):
        arcname = path.relative_to(tree).as_posix()
        if path.is_file() and not arcname.startswith("bin/"):
            files[arcname] = path
    return files


def python_version(python: str) -> tuple[int, int] | None:
    """(major, minor) of an interpreter, or None when it does not run."""
    try:
        done = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True, timeout=30
        )
    except OSError:
        return None
    major, _, minor = done.stdout.strip().partition(" ")
    return (int(major), int(minor)) if done.returncode == 0 and minor.isdigit() else None


def lambda_python() -> str:
    """A CPython of the runtime's minor version (bytecode is specific to it): $LAMBDA_PYTHON, this
    interpreter, python3.12 on PATH, or a pyenv 3.12, in that order."""
    override = os.environ.get("LAMBDA_PYTHON")
    if override:
        candidates = [override]
    else:
        pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
        pyenv = sorted(pyenv_root.glob(f"versions/{_LAMBDA_PYTHON}.*/bin/python{_LAMBDA_PYTHON}"), reverse=True)
        candidates = [sys.executable, shutil.which(f"python{_LAMBDA_PYTHON}") or "", *map(str, pyenv)]
    for candidate in filter(None, candidates):
        if python_version(candidate) == LAMBDA_PYTHON_VERSION:
            return candidate
    raise SystemExit(
        f"precompiling the Lambda bytecode needs a CPython {_LAMBDA_PYTHON} (the runtime's version); none found in "
        f"{candidates}. Set LAMBDA_PYTHON=/path/to/python{_LAMBDA_PYTHON}, or pass --no-bytecode to build without it."
    )


def compile_bytecode(tree: Path, python: str) -> None:
    """Compile every module in `tree` as Lambda will find it under /var/task.

    Unchecked hash-based pycs carry no timestamp and are loaded without reading the source, and the
    path they record is /var/task's, not this build directory's, so the bytes repeat from build to build.
    """
    command = [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash"]
    command += ["-s", str(tree), "-p", LAMBDA_TASK_ROOT, str(tree)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"compiling the bytecode in {tree} failed:\n{done.stdout}{done.stderr}")


def installed_versions(target: Path) -> list[str]:
    """'name==version' for every distribution pip installed into `target`."""
    found = []
    for meta in target.glob("*.dist-info/METADATA"):
        headers = HeaderParser().parsestr(meta.read_text(encoding="utf-8"))
        found.append(f"{headers['Name']}=={headers['Version']}")
    return sorted(found, key=str.lower)


def top_level_names(arcnames: list[str]) -> set[str]:
    """Importable top-level names in a zip: first path segments, without .py / .dist-info suffixes."""
    names = set()
    for arcname in arcnames:
        first = arcname.split("/", 1)[0]
        if first.endswith((".dist-info", ".data")):
            continue
        names.add(first.removesuffix(".py").split(".", 1)[0].lower())
    return names


def write_zip(files: dict[str, Path], destination: Path) -> None:
    """A deterministic zip: sorted entries, fixed date and mode, fixed compression."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for arcname in sorted(files):
            info = zipfile.ZipInfo(arcname, date_time=FIXED_DATE)
            info.external_attr = FILE_MODE
            info.create_system = 3  # Unix, so the mode bits are honoured
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[arcname].read_bytes(), compresslevel=9)
    tmp.replace(destination)


def stage_own_files(ours: dict[str, Path], tree: Path) -> None:
    """Copy our sources into the staged tree, beside the dependencies, refusing to overwrite one."""
    clash = sorted(arcname for arcname in ours if (tree / arcname).exists())
    if clash:
        raise SystemExit(f"our files clash with dependencies: {clash[:5]}")
    for arcname, path in ours.items():
        staged = tree / arcname
        staged.parent.mkdir(parents=True, exist_ok=True)
        staged.write_bytes(path.read_bytes())


def build(component: Component, out_dir: Path, bytecode_python: str | None, locks_dir: Path = LOCKS_DIR) -> Path:
    lock_file = locks_dir / f"{component.name}.txt"
    if not lock_file.is_file() or lock_file.read_text(encoding="utf-8") != lambda_lock(component):
        raise SystemExit(f"{lock_file} is missing or out of date with uv.lock: run `make lock`")
    with tempfile.TemporaryDirectory(prefix=f"package-{component.name}-") as scratch:
        tree = Path(scratch) / "package"  # the zip's contents, as /var/task will hold them
        reqs = requirements(component)
        install_locked(lock_file, tree)
        normalise_records(tree)
        # The lock leaves the runtime-provided distributions out already: anything to prune is a bad lock.
        extra = prune_runtime_provided(tree, reqs)
        leaked = top_level_names(list(tree_files(tree))) & RUNTIME_PROVIDED
        if extra or leaked:
            raise SystemExit(
                f"{component.name}: {lock_file} installed {extra or sorted(leaked)}, which Lambda does not need"
            )
        leave_out(tree, component.left_out)
        stage_own_files(own_files(component), tree)
        if bytecode_python is not None:
            compile_bytecode(tree, bytecode_python)
        out_dir.mkdir(parents=True, exist_ok=True)
        manifest = out_dir / f"{component.name}.requirements.txt"
        manifest.write_text("\n".join(installed_versions(tree)) + "\n")
        destination = out_dir / f"{component.name}.zip"
        write_zip(tree_files(tree), destination)
    check_contents(component, destination, bytecode=bytecode_python is not None)
    return destination


def leave_out(tree: Path, modules: tuple[str, ...]) -> None:
    for module in modules:
        package = tree.joinpath(*module.split("."))
        if not (package / "__init__.py").is_file():
            raise SystemExit(f"{module} was to be left out, but the dependencies do not hold it as a package")
        shutil.rmtree(package)


def without_modules(statement: str, modules: tuple[str, ...]) -> str:
    """Python source that runs `statement` where `modules` cannot be imported, as in a package that
    leaves them out (`import` of a name mapped to None in sys.modules raises ImportError, as it does for
    a module that is not there). The bench and the tests run the handlers this way."""
    return f"import sys\nsys.modules.update(dict.fromkeys({modules!r}))\n{statement}"


def left_in(names: list[str], modules: tuple[str, ...]) -> list[str]:
    """The zip entries of modules that should have been left out."""
    folders = tuple(module.replace(".", "/") + "/" for module in modules)
    return [name for name in names if name.startswith(folders)]


def missing_bytecode(names: list[str]) -> list[str]:
    """The modules in a zip listing that have no runtime bytecode beside them."""
    present = set(names)
    tag = f"cpython-{LAMBDA_PYTHON_VERSION[0]}{LAMBDA_PYTHON_VERSION[1]}"
    missing = []
    for name in names:
        folder, _, filename = name.rpartition("/")
        if filename.endswith(".py"):
            pyc = f"{folder}/__pycache__/{filename[:-3]}.{tag}.pyc".lstrip("/")
            if pyc not in present:
                missing.append(name)
    return missing


def check_contents(component: Component, zip_path: Path, *, bytecode: bool) -> None:
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
    uncompiled = missing_bytecode(names) if bytecode else []
    if uncompiled:
        raise SystemExit(f"{zip_path}: modules without bytecode: {uncompiled[:5]}")
    present = top_level_names(names)
    missing = {p for p in component.packages if p not in present}
    if missing:
        raise SystemExit(f"{zip_path}: missing our packages {sorted(missing)}")
    if left_in(names, component.left_out):
        raise SystemExit(f"{zip_path}: holds {left_in(names, component.left_out)[:3]}, meant to be left out")
    if present & DEV_ONLY:
        raise SystemExit(f"{zip_path}: development code must not be deployed: {sorted(present & DEV_ONLY)}")
    if component.name == "worker" and present & WORKER_FORBIDDEN:
        raise SystemExit(f"{zip_path}: the worker must not contain {sorted(present & WORKER_FORBIDDEN)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build", help="output directory (default: build/)")
    parser.add_argument("--only", choices=sorted(COMPONENTS), help="build one package only")
    parser.add_argument("--no-bytecode", action="store_true", help="leave out the precompiled bytecode")
    parser.add_argument("--lock", action="store_true", help="write requirements/<name>.txt from uv.lock; build nothing")
    args = parser.parse_args(argv)
    if args.lock:
        for path in write_locks():
            print(path.relative_to(ROOT))
        return 0
    names = [args.only] if args.only else sorted(COMPONENTS)
    bytecode_python = None if args.no_bytecode else lambda_python()
    for name in names:
        path = build(COMPONENTS[name], args.out, bytecode_python)
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"{shown}: {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
