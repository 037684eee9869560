"""Build the two Lambda packages, build/ingestor.zip and build/worker.zip, byte for byte reproducibly.

Each zip holds the third-party wheels for the Lambda platform (Linux arm64, CPython 3.12), installed by
pip from the versions pinned in pyproject.toml, plus our own packages:

- worker:   the base dependencies + email-validator + campaign/ (less campaign/local/) + worker/
- ingestor: the base dependencies + [api]             + campaign/ (less campaign/local/) + app/

The worker zip serves two functions: the SQS worker (worker/handler.py) and the streaming ingest
(worker/s3_ingest.py), which judges CSV rows with campaign/domain/csv_rules.py and so needs
email-validator (pinned in the [api] extra; taken from there by name, without the rest of the extra).

boto3, botocore and s3transfer are left out: the Lambda Python runtime ships them, and leaving them out
keeps the packages small and the cold start short. When a dependency requires one of them (as
aws-xray-sdk requires botocore), pip installs it and this script removes it again, together with every
distribution that only it needed. The price is that the runtime's boto3 version (not
the pinned one) runs in AWS; docs/deploy.md says so. Lambda puts the package ahead of the runtime on
sys.path, so the runtime's botocore imports our copy of any library it shares with us (jmespath,
python-dateutil): pip is constrained to botocore's own ranges for those, read from the botocore
installed here.

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
imports the handler the same way (scripts/bench_coldstart.py).

Reproducible: entries are sorted, every timestamp is 1980-01-01, every mode is 0644, bytecode
records the /var/task path rather than the build directory, and no console scripts (bin/) go in, so two
builds of the same inputs are identical.
pyproject.toml pins the direct dependencies (and wrapt, for the cold start), so the other transitive
versions are whatever pip resolves on the day; each build writes build/<name>.requirements.txt listing
what went in.

Usage: python scripts/package_lambdas.py [--out build] [--only worker|ingestor] [--no-bytecode]
(LAMBDA_PYTHON=/path/to/python3.12 names the interpreter that compiles the bytecode.)
"""

from __future__ import annotations

import argparse
import importlib.metadata
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

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent

# The runtime provides these (see the module docstring).
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})
# The worker must stay free of the web stack (cold start); checked on the finished zip.
WORKER_FORBIDDEN = frozenset({"fastapi", "strawberry", "mangum", "starlette"})

# The Lambda runtime's Python (terraform/ deploys python3.12; tests/infra checks they agree).
LAMBDA_PYTHON_VERSION = (3, 12)
_LAMBDA_PYTHON = ".".join(map(str, LAMBDA_PYTHON_VERSION))
LAMBDA_TASK_ROOT = "/var/task"
PIP_PLATFORM = ["--platform", "manylinux2014_aarch64", "--implementation", "cp", "--python-version", _LAMBDA_PYTHON]
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


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    extras: tuple[str, ...]
    packages: tuple[str, ...]  # our top-level packages that go in
    excluded: tuple[str, ...] = ("campaign/local",)  # local tooling only, never deployed
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
            if any(arcname == ex or arcname.startswith(ex + "/") for ex in component.excluded):
                continue
            files[arcname] = path
    return files


def _skipped(arcname: str) -> bool:
    parts = arcname.split("/")
    return any(part in SKIPPED_DIRS for part in parts[:-1]) or arcname.endswith(SKIPPED_SUFFIXES)


def runtime_constraints() -> list[str]:
    """botocore's requirements (without extras), e.g. 'python-dateutil<3.0.0,>=2.1'."""
    try:
        required = importlib.metadata.requires("botocore") or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise SystemExit("botocore must be installed where this script runs (pip install -e .)") from exc
    constraints = []
    for requirement in required:
        if "extra ==" in requirement:
            continue
        name_and_spec, _, marker = requirement.partition(";")
        constraint = name_and_spec.replace("(", "").replace(")", "").replace(" ", "")
        constraints.append(f"{constraint}; {marker.strip()}" if marker.strip() else constraint)
    return sorted(constraints)


def install_dependencies(reqs: list[str], target: Path, constraints_file: Path) -> None:
    """pip-install wheels for the Lambda platform into `target`; bytecode is compiled later, by a 3.12."""
    if not reqs:
        return
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        *PIP_PLATFORM,
        "--only-binary=:all:",
        "--constraint",
        str(constraints_file),
        "--target",
        str(target),
        *reqs,
    ]
    subprocess.run(command, check=True)


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


def build(component: Component, out_dir: Path, bytecode_python: str | None) -> Path:
    with tempfile.TemporaryDirectory(prefix=f"package-{component.name}-") as scratch:
        tree = Path(scratch) / "package"  # the zip's contents, as /var/task will hold them
        constraints_file = Path(scratch) / "runtime-constraints.txt"
        constraints_file.write_text("\n".join(runtime_constraints()) + "\n")
        reqs = requirements(component)
        install_dependencies(reqs, tree, constraints_file)
        prune_runtime_provided(tree, reqs)
        leaked = top_level_names(list(tree_files(tree))) & RUNTIME_PROVIDED
        if leaked:
            raise SystemExit(f"{component.name}: dependencies pulled in {sorted(leaked)} (runtime-provided)")
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
    if any(n.startswith("campaign/local/") for n in names):
        raise SystemExit(f"{zip_path}: campaign/local/ must not be deployed")
    if component.name == "worker" and present & WORKER_FORBIDDEN:
        raise SystemExit(f"{zip_path}: the worker must not contain {sorted(present & WORKER_FORBIDDEN)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build", help="output directory (default: build/)")
    parser.add_argument("--only", choices=sorted(COMPONENTS), help="build one package only")
    parser.add_argument("--no-bytecode", action="store_true", help="leave out the precompiled bytecode")
    args = parser.parse_args(argv)
    names = [args.only] if args.only else sorted(COMPONENTS)
    bytecode_python = None if args.no_bytecode else lambda_python()
    for name in names:
        path = build(COMPONENTS[name], args.out, bytecode_python)
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"{shown}: {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
