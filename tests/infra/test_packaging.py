"""scripts/package_lambdas.py: what goes into each zip, and that zips are reproducible.

All but one run offline and cover the selection and the zip writer. The slow one builds the worker zip
twice, as `make package` does: it needs PyPI (pip fetches the locked wheels, or takes them from its
cache) and a CPython 3.12 for the bytecode (tests/infra/test_locks.py checks the locks themselves).
"""

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from packaging.utils import canonicalize_name

from tests.infra.terraform import MODULES_DIR, load

ROOT = Path(__file__).resolve().parents[2]


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("package_lambdas", ROOT / "scripts" / "package_lambdas.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


package_lambdas = _load_script()
# Every Lambda function in terraform/, each deployed from one of the packages.
FUNCTIONS = sorted(load().functions)


def _component(function: str) -> Any:
    """The package Terraform deploys the function from (its filename is var.<package>_zip)."""
    match = re.fullmatch(r"\$\{var\.(\w+)_zip\}", load().function(function)["filename"])
    assert match is not None and match.group(1) in package_lambdas.COMPONENTS, function
    return package_lambdas.COMPONENTS[match.group(1)]


def test_the_streaming_ingest_and_the_stream_consumer_ship_in_the_worker_package() -> None:
    # Given the packages the functions ship in
    # Then the streaming ingest and the stream consumer ship in the worker's
    assert _component("stream_ingest").name == "worker"
    assert _component("counts").name == "worker"


def _pyproject() -> dict[str, list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {"base": project["dependencies"], "api": project["optional-dependencies"]["api"]}


def test_worker_gets_the_base_dependencies_and_the_address_validator_without_the_runtime_sdk() -> None:
    # Given the base dependencies of pyproject.toml, less the SDK the runtime provides
    expected = {package_lambdas.distribution_name(r) for r in _pyproject()["base"]} - {"boto3"}
    # When the worker's requirements are listed
    reqs = package_lambdas.requirements(package_lambdas.COMPONENTS["worker"])
    names = {package_lambdas.distribution_name(r) for r in reqs}
    # Then they are those, pinned, and the address validator: the streaming ingest (worker/s3_ingest.py)
    # shares the zip and validates addresses as the API does
    assert names == expected | {"email_validator"}
    assert all("==" in r for r in reqs)
    # And the validator is at the same pin as the API's
    assert {r for r in reqs if r.startswith("email-validator")} <= set(_pyproject()["api"])


def test_a_picked_distribution_must_be_pinned_once(tmp_path: Path) -> None:
    # Given a component that picks a distribution pyproject.toml does not pin
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = []\n[project.optional-dependencies]\napi = ["other==1"]\n')
    component = package_lambdas.Component("x", extras=(), packages=(), picked=("email-validator",))
    # When its requirements are listed, then the packaging stops, naming it
    with pytest.raises(SystemExit, match="email-validator"):
        package_lambdas.requirements(component, pyproject)


def test_ingestor_adds_the_api_extra() -> None:
    # Given the ingestor's requirements
    reqs = set(package_lambdas.requirements(package_lambdas.COMPONENTS["ingestor"]))
    # Then they hold the api extra and nothing the runtime provides
    assert set(_pyproject()["api"]) <= reqs
    assert not {package_lambdas.distribution_name(r) for r in reqs} & package_lambdas.RUNTIME_PROVIDED


@pytest.mark.parametrize("function", FUNCTIONS)
def test_own_files_hold_the_terraform_handler_and_no_local_tooling(function: str) -> None:
    # Given the project's own files the function's package takes, and the handler Terraform names
    files = package_lambdas.own_files(_component(function))
    handler_module = load().function(function)["handler"].rpartition(".")[0]
    # Then they hold the handler and the settings, and no local tooling or bytecode of the working tree
    assert handler_module.replace(".", "/") + ".py" in files
    assert "campaign/config.py" in files
    assert not [name for name in files if name.split("/")[0] in package_lambdas.DEV_ONLY]
    assert not [name for name in files if "__pycache__" in name or name.endswith(".pyc")]


def test_worker_leaves_the_api_out() -> None:
    # Given the project's own files the worker's package takes
    files = package_lambdas.own_files(package_lambdas.COMPONENTS["worker"])
    # Then none is the API's
    assert not [name for name in files if name.startswith("app/")]


def test_zip_is_byte_identical_whatever_the_file_times(tmp_path: Path) -> None:
    # Given the same files written twice, with different modification times and modes
    sources = {}
    for name, text in {"b/mod.py": "x = 1\n", "a.py": "y = 2\n"}.items():
        path = tmp_path / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        sources[name] = path
    first, second = tmp_path / "one.zip", tmp_path / "two.zip"
    package_lambdas.write_zip(sources, first)
    for path in sources.values():
        os.utime(path, (1_700_000_000, 1_700_000_000))
        path.chmod(0o600)
    package_lambdas.write_zip(dict(reversed(sources.items())), second)
    # Then the archives are identical, sorted, dated 1980-01-01 and world-readable
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == ["a.py", "b/mod.py"]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_wheels_and_bytecode_target_the_runtime_terraform_deploys(function: str) -> None:
    # Given the Python version the packaging targets
    major, minor = package_lambdas.LAMBDA_PYTHON_VERSION
    # Then it is the runtime Terraform deploys the function on, and the platform pip installs wheels for
    assert function in load().functions  # every function is the one module's, on its one runtime
    runtime = load(MODULES_DIR / "lambda_function").resource("aws_lambda_function", "this")["runtime"]
    assert runtime == f"python{major}.{minor}"
    assert package_lambdas.PIP_PLATFORM[-1] == f"{major}.{minor}"


def _compiled_tree(root: Path) -> dict[str, bytes]:
    """A small package compiled as `make package` compiles one: {path: bytes} of what it holds."""
    source = root / "pkg" / "mod.py"
    source.parent.mkdir(parents=True)
    source.write_text('def choose(x):\n    return x in {"alpha", "beta", "gamma"}\n')
    package_lambdas.compile_bytecode(root, package_lambdas.lambda_python())
    return {name: path.read_bytes() for name, path in package_lambdas.tree_files(root).items()}


def test_bytecode_is_unchecked_hash_based_under_var_task(tmp_path: Path) -> None:
    # Given a module compiled by the runtime's Python version
    files = _compiled_tree(tmp_path / "build")
    major, minor = package_lambdas.LAMBDA_PYTHON_VERSION
    pyc = files[f"pkg/__pycache__/mod.cpython-{major}{minor}.pyc"]
    # Then it is a PEP 552 pyc that the runtime loads without checking the source (flags 0b01), and the
    # path it records is where Lambda unpacks the zip, not the build directory
    assert int.from_bytes(pyc[4:8], "little") == 0b01
    assert b"/var/task/pkg/mod.py" in pyc and str(tmp_path).encode() not in pyc
    assert package_lambdas.missing_bytecode(list(files)) == []


def test_bytecode_is_identical_from_build_to_build(tmp_path: Path) -> None:
    # Given the same sources compiled twice, in two build directories
    first, second = _compiled_tree(tmp_path / "one"), _compiled_tree(tmp_path / "two")
    # Then the bytes are the same, set constants included
    assert first == second


def test_a_module_without_bytecode_is_reported() -> None:
    # Given a module with the runtime's bytecode, one with another Python's only, and a data file
    names = ["a.py", "__pycache__/a.cpython-312.pyc", "pkg/b.py", "pkg/__pycache__/b.cpython-311.pyc", "c.txt"]
    # When the package is checked for bytecode
    missing = package_lambdas.missing_bytecode(names)
    # Then the module without the runtime's bytecode is reported
    assert missing == ["pkg/b.py"]


def test_console_scripts_stay_out_of_the_package(tmp_path: Path) -> None:
    # Given an installed tree with a console script, a module and its bytecode
    for name in ("bin/tool", "pkg/__init__.py", "pkg/__pycache__/__init__.cpython-312.pyc"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    # When the files to package are listed, then the console script is not among them
    assert list(package_lambdas.tree_files(tmp_path)) == ["pkg/__init__.py", "pkg/__pycache__/__init__.cpython-312.pyc"]


def test_records_keep_only_the_files_the_package_holds(tmp_path: Path) -> None:
    # Given what pip --target leaves: a console script whose #! line names the installing interpreter,
    # listed in its distribution's RECORD (relative to pip's scratch site-packages), with pip's \r\n lines
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "tool").write_text("#!/some/venv/bin/python\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    dist_info = tmp_path / "pkg-1.0.dist-info"
    dist_info.mkdir()
    lines = ["../../bin/tool,sha256=abc,24", "pkg/__init__.py,sha256=def,0", "pkg/gone.py,sha256=ghi,3"]
    lines += ['"pkg-1.0.dist-info/RECORD",,']
    (dist_info / "RECORD").write_bytes("".join(f"{line}\r\n" for line in lines).encode())
    # When the tree is normalised
    package_lambdas.normalise_records(tmp_path)
    # Then the launchers are gone, and so are the RECORD lines of files the package does not hold
    assert not (tmp_path / "bin").exists()
    assert (dist_info / "RECORD").read_bytes() == b'pkg/__init__.py,sha256=def,0\r\n"pkg-1.0.dist-info/RECORD",,\r\n'


def _project_copy(root: Path) -> Path:
    """What the worker build reads, copied to `root`."""
    for name in ("pyproject.toml", "uv.lock", "requirements", "scripts/package_lambdas.py", "campaign", "worker"):
        source, copy = ROOT / name, root / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, copy)
    return root


def _virtualenv(path: Path) -> Path:
    """A virtualenv at `path` that imports this one's packages (pip among them): only its path differs."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    query: list[str | Path] = [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]
    site_packages = Path(subprocess.run(query, capture_output=True, text=True, check=True).stdout.strip())
    (site_packages / "this-venv.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return python


def _build_worker(project: Path, python: Path | str, out: Path) -> dict[str, bytes]:
    command = [str(python), str(project / "scripts" / "package_lambdas.py"), "--only", "worker", "--out", str(out)]
    done = subprocess.run(command, cwd=project, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    with zipfile.ZipFile(out / "worker.zip") as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


@pytest.mark.slow
def test_the_worker_zip_is_identical_from_another_directory_and_virtualenv(tmp_path: Path) -> None:
    # Given two copies of the project in different directories, and a second virtualenv at another path
    first, second = _project_copy(tmp_path / "one"), _project_copy(tmp_path / "elsewhere" / "two")
    other_python = _virtualenv(tmp_path / "elsewhere" / "venvs" / "build-venv")
    # When each builds the worker zip, bytecode and all, with its own interpreter
    built = [
        _build_worker(first, sys.executable, tmp_path / "out-one"),
        _build_worker(second, other_python, tmp_path / "elsewhere" / "out-two"),
    ]
    # Then every entry and the zips themselves are byte for byte the same
    assert [name for name in built[0] if built[0][name] != built[1].get(name)] == []
    assert set(built[0]) == set(built[1])
    digests = {
        hashlib.sha256((out / "worker.zip").read_bytes()).hexdigest()
        for out in (tmp_path / "out-one", tmp_path / "elsewhere" / "out-two")
    }
    assert len(digests) == 1
    # And the build paths appear nowhere in it
    assert not [name for name, data in built[0].items() if str(tmp_path).encode() in data]


def test_top_level_names_spot_forbidden_packages() -> None:
    # Given a package, its distribution's metadata and a single-module distribution
    files = ["fastapi/__init__.py", "fastapi-0.1.dist-info/METADATA", "six.py"]
    # When their top-level names are taken
    names = package_lambdas.top_level_names(files)
    # Then they are the importable names, without the metadata
    assert names == {"fastapi", "six"}


def _fake_distribution(target: Path, name: str, requires: list[str]) -> None:
    module = target / name / "__init__.py"
    module.parent.mkdir(parents=True)
    module.write_text("")
    dist_info = target / f"{name}-1.0.dist-info"
    dist_info.mkdir()
    lines = [f"Name: {name}", "Version: 1.0", *(f"Requires-Dist: {r}" for r in requires)]
    (dist_info / "METADATA").write_text("\n".join(lines) + "\n")
    record = [f"{name}/__init__.py,,", f"{dist_info.name}/METADATA,,", f"{dist_info.name}/RECORD,,"]
    (dist_info / "RECORD").write_text("\n".join(record) + "\n")


@pytest.mark.parametrize(
    ("root", "pruned"), [("app", ["botocore", "urllib3", "xtra"]), ("app[x]", ["botocore", "urllib3"])]
)
def test_runtime_provided_distributions_and_what_only_they_need_are_pruned(
    tmp_path: Path, root: str, pruned: list[str]
) -> None:
    # Given an install where a dependency pulled in botocore (as aws-xray-sdk does)
    _fake_distribution(tmp_path, "app", ["shared", "botocore>=1", "xtra; extra == 'x'"])
    _fake_distribution(tmp_path, "botocore", ["urllib3", "shared"])
    for name in ("urllib3", "shared", "xtra"):
        _fake_distribution(tmp_path, name, [])
    # When the install is pruned for the root requirement
    removed = package_lambdas.prune_runtime_provided(tmp_path, [root])
    # Then botocore and what only it needed are gone, shared and requested extras stay
    assert removed == pruned
    left = {path.name for path in tmp_path.iterdir()}
    assert {"app", "shared"} <= left
    assert not {"botocore", "urllib3"} & left


# botocore.httpsession tries `from certifi import where` and falls back to its own CA bundle: an
# optional import of the runtime's botocore, not something our package must hold.
OPTIONAL_RUNTIME_IMPORTS = {"certifi"}


def _requires(name: str) -> list[str] | None:
    try:
        return importlib.metadata.requires(name) or []
    except importlib.metadata.PackageNotFoundError:
        return None


def _at_cold_start(script: str) -> Any:
    """The JSON `script` prints last, run in a fresh interpreter with a handler's settings."""
    env = os.environ | {
        "TABLE_NAME": "t",
        "QUEUE_URL": "q",
        "API_KEY": "k",
        "UNSUBSCRIBE_KEY": "u",
        "UPLOAD_BUCKET": "b",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "cold-start-check",
        "POWERTOOLS_METRICS_NAMESPACE": "ColdStartCheck",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def _cold_start_imports(module: str) -> tuple[set[str], set[str]]:
    """(distributions, top-level modules) loaded by importing `module` in a fresh interpreter."""
    distributions, tops = _at_cold_start(
        "import importlib, importlib.metadata as md, json, sys\n"
        "before = set(sys.modules)\n"  # the interpreter's own start-up (site hooks such as _distutils_hack)
        f"importlib.import_module({module!r})\n"
        "tops = sorted({name.split('.')[0] for name in set(sys.modules) - before})\n"
        "by_top = md.packages_distributions()\n"
        "print(json.dumps([sorted({d for top in tops for d in by_top.get(top, [])}), tops]))\n"
    )
    return {str(canonicalize_name(d)) for d in distributions}, set(tops)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_cold_start_needs_only_what_the_package_and_runtime_hold(function: str) -> None:
    # Given the distributions the handler module loads when Lambda imports it
    handler_module = load().function(function)["handler"].rpartition(".")[0]
    imported, modules = _cold_start_imports(handler_module)
    # When compared with what its zip will hold (pinned requirements and their dependencies) and what the
    # runtime provides (boto3 and its dependencies)
    runtime_provided = {str(canonicalize_name(n)) for n in package_lambdas.RUNTIME_PROVIDED}
    component = _component(function)
    packaged = package_lambdas.closure(package_lambdas.requirements(component), _requires, runtime_provided)
    runtime = package_lambdas.closure(sorted(runtime_provided), _requires, set())
    own = str(canonicalize_name(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]))
    # Then nothing is missing in Lambda, and what ships in the worker zip loads none of the web stack
    assert imported - packaged - runtime - OPTIONAL_RUNTIME_IMPORTS - {own} == set()
    if component.name == "worker":
        assert not modules & package_lambdas.WORKER_FORBIDDEN
    # The SQS worker does not load the CSV rules' address validator either (only the streaming ingest does)
    if function == "worker":
        assert "email_validator" not in modules


def test_a_module_left_out_is_removed_from_the_tree_and_found_if_it_comes_back(tmp_path: Path) -> None:
    # Given an installed tree of pydantic with its v1 module
    tree = tmp_path / "package"
    for name in ("pydantic/__init__.py", "pydantic/main.py", "pydantic/v1/__init__.py", "pydantic/v1/main.py"):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text("")
    # When pydantic.v1 is left out
    package_lambdas.leave_out(tree, ("pydantic.v1",))
    # Then the rest of pydantic stays, and the module's files are found if they come back
    assert sorted(package_lambdas.tree_files(tree)) == ["pydantic/__init__.py", "pydantic/main.py"]
    names = ["pydantic/main.py", "pydantic/v1/main.py", "pydantic/v1/__pycache__/main.cpython-312.pyc"]
    assert package_lambdas.left_in(names, ("pydantic.v1",)) == names[1:]


def test_the_sqs_worker_starts_without_asyncio() -> None:
    # Given the modules the SQS worker's handler loads when Lambda imports it
    handler_module = load().function("worker")["handler"].rpartition(".")[0]
    _, modules = _cold_start_imports(handler_module)
    # Then asyncio is not among them: nothing in the worker is async, and what brought it in (wrapt 2.x
    # under the X-Ray SDK, Powertools' batch utility) cost 6-7% of the worker's cold start each
    assert "asyncio" not in modules


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_cold_start_runs_no_garbage_collection_and_leaves_the_collector_on(function: str) -> None:
    # Given a fresh interpreter that counts the collector's passes
    handler_module = load().function(function)["handler"].rpartition(".")[0]
    # When Lambda imports the handler module
    passes, enabled, frozen = _at_cold_start(
        "import gc, importlib, json, sys\n"
        "passes = []\n"
        "def count(phase, info):\n"  # from the moment the handler can pause the collector
        "    if phase == 'start' and hasattr(sys.modules.get('campaign.cold_start'), 'collector_paused'):\n"
        "        passes.append(info['generation'])\n"
        "gc.callbacks.append(count)\n"
        f"importlib.import_module({handler_module!r})\n"
        "print(json.dumps([passes, gc.isenabled(), gc.get_freeze_count()]))\n"
    )
    # Then the import ran without a single collection (campaign/cold_start.py), the collector is on again
    # for the invocations, and what the import built is frozen out of their collections
    assert passes == []
    assert enabled
    assert frozen > 10_000
