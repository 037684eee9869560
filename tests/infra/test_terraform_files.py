"""terraform/ as files: it parses, every variable and output is documented, stages are guarded."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.infra.terraform import MODULES_DIR, STAGES, TERRAFORM_DIR, Configuration, load, parse

TERRAFORM_FILES = sorted(TERRAFORM_DIR.glob("*.tf")) + sorted(TERRAFORM_DIR.glob("*.tfvars"))
MODULE_DIRS = sorted(path for path in MODULES_DIR.iterdir() if path.is_dir())
MODULE_FILES = sorted(MODULES_DIR.glob("*/*.tf"))
# Names that would put a secret into a committed var-file.
SECRET_WORDS = re.compile(r"secret|password|api_key$|token|credential", re.IGNORECASE)


@pytest.mark.parametrize("path", TERRAFORM_FILES + MODULE_FILES, ids=lambda p: str(p.relative_to(TERRAFORM_DIR)))
def test_every_file_parses(path: Path) -> None:
    # Given a Terraform or tfvars file / When python-hcl2 parses it / Then it is valid HCL
    assert isinstance(parse(path), dict)


def test_one_file_per_concern_exists() -> None:
    # Given the layout the issue asks for / Then every file is there, plus a var-file per stage
    expected = {
        "versions.tf",
        "providers.tf",
        "backend.tf",
        "locals.tf",
        "variables.tf",
        "outputs.tf",
        "table.tf",
        "queue.tf",
        "api.tf",
        "ingestor.tf",
        "worker.tf",
        "ses.tf",
        "secrets.tf",
        "alarms.tf",
        "iam.tf",
        "uploads.tf",
        "stream_ingest.tf",
        "counts.tf",
    } | {f"{stage}.tfvars" for stage in STAGES}
    assert expected <= {path.name for path in TERRAFORM_FILES}


@pytest.mark.parametrize("directory", MODULE_DIRS, ids=lambda p: p.name)
def test_local_modules_are_split_typed_and_described(directory: Path) -> None:
    # Given a local module of terraform/modules
    module = load(directory)
    # Then it follows the terraform-aws-modules split, every variable typed and described, every output
    # described, and it needs no provider the stacks do not already lock
    assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf"} <= {p.name for p in directory.glob("*.tf")}
    for name, spec in module.variables.items():
        assert spec.get("type") and spec.get("description"), name
    for name, spec in module.outputs.items():
        assert spec.get("description"), name
    (block,) = module.terraform
    assert set(block["required_providers"][0]) == {"aws"}
    assert block["required_providers"][0]["aws"] == load().terraform[0]["required_providers"][0]["aws"]
    # And a stack calls it
    called = {path.resolve() for config in (load(), load(TERRAFORM_DIR / "bootstrap")) for path in _sources(config)}
    assert directory.resolve() in called


def _sources(config: Configuration) -> list[Path]:
    return [config.directory / call["source"] for call in config.modules.values()]


def test_every_moved_block_lands_on_something_declared() -> None:
    # Given the moved blocks of the stacks (addresses renamed when blocks became for_each or a module call)
    for config in (load(), load(TERRAFORM_DIR / "bootstrap")):
        for moved in config.moved:
            target = moved["to"].removeprefix("${").removesuffix("}")
            # Then each lands on a module call or a resource that the stack declares
            if target.startswith("module."):
                assert target.split(".")[1].split("[")[0] in config.modules, target
            else:
                kind, name = target.split("[")[0].split(".")[:2]
                assert name in config.resources.get(kind, {}), target
        # And no address is moved twice
        sources = [moved["from"] for moved in config.moved]
        assert len(sources) == len(set(sources))


def test_versions_are_pinned() -> None:
    # Given versions.tf
    (block,) = load().terraform
    # Then Terraform and the one provider carry bounded version constraints (.terraform.lock.hcl pins the exact one)
    assert block["required_version"].startswith(">=") and "<" in block["required_version"]
    providers = block["required_providers"][0]
    assert set(providers) == {"aws"}
    for name, spec in providers.items():
        assert spec["source"] == f"hashicorp/{name}"
        assert spec["version"].startswith("~>") or (spec["version"].startswith(">=") and "<" in spec["version"])


def test_provider_tags_every_resource() -> None:
    # Given the AWS provider / Then default_tags name the project and the stage
    (aws,) = [p["aws"] for p in load().providers if "aws" in p]
    tags = aws["default_tags"][0]["tags"]
    assert {"Project", "Stage", "ManagedBy"} <= set(tags)


def test_backend_is_documented_but_inactive() -> None:
    # Given backend.tf / Then it only documents the S3 backend (init works without it), with locking
    text = (TERRAFORM_DIR / "backend.tf").read_text()
    assert parse(TERRAFORM_DIR / "backend.tf") == {}
    assert 'backend "s3"' in text and "use_lockfile = true" in text


def test_every_variable_is_typed_described_and_ranged() -> None:
    # Given variables.tf
    variables = load().variables
    for name, spec in variables.items():
        # Then each variable has a type and a description, and every number has a range check
        assert spec.get("type"), f"{name} has no type"
        assert spec.get("description"), f"{name} has no description"
        if spec["type"] == "number":
            assert spec.get("validation"), f"{name} is a number without a validation"


def test_every_output_is_described_and_the_required_ones_exist() -> None:
    # Given the stack's outputs
    outputs = load().outputs
    # Then the ones the docs, the smoke test and the operator scripts read are there, each described
    assert {
        "api_url",
        "table_name",
        "queue_name",
        "dlq_name",
        "upload_bucket_name",
        "stream_ingest_function_name",
        "counts_function_name",
        # What the re-drive scripts read as the functions do (campaign.config.operator_settings), with
        # table_name above
        "queue_url",
        "dlq_url",
        "dedupe_window_days",
        "retention_days",
    } <= set(outputs)
    for name, spec in outputs.items():
        assert spec.get("description"), f"output {name} has no description"


@pytest.mark.parametrize("stage", STAGES)
def test_var_files_set_known_variables_and_no_secrets(stage: str) -> None:
    # Given the stage's var-file
    values = load().tfvars(stage)
    # Then it names its own stage, sets only declared variables and never a secret
    assert values["stage"] == stage
    assert set(values) <= set(load().variables)
    assert not [name for name in values if SECRET_WORDS.search(name)]


def test_only_dev_and_prod_workspaces_can_plan() -> None:
    # Given the per-stage configuration and the guard
    config = load()
    assert set(config.locals["stage_config"]) == set(STAGES)
    assert config.locals["stage"] == "${terraform.workspace}"
    guard = config.resource("terraform_data", "stage_guard")["lifecycle"][0]["precondition"]
    conditions = [check["condition"] for check in guard]
    # Then a plan fails outside dev/prod, and when the var-file is for another stage
    assert "${contains(keys(local.stage_config), local.stage)}" in conditions
    assert "${var.stage == local.stage}" in conditions


TERRAFORM = shutil.which("terraform")


@pytest.mark.skipif(TERRAFORM is None, reason="no terraform binary on this machine")
def test_terraform_fmt_is_clean() -> None:
    # Given a terraform binary (fmt needs no providers) / When fmt -check runs / Then nothing would change
    assert TERRAFORM is not None
    result = subprocess.run(
        [TERRAFORM, "fmt", "-check", "-diff", "-recursive", str(TERRAFORM_DIR)],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
