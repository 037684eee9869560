"""The GitHub workflows keep to the rules: least permissions, no stored credentials, bounded jobs."""

from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"


def _load(name: str) -> dict[Any, Any]:
    workflow: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return workflow


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_read_only_by_default_and_every_job_bounded(name: str) -> None:
    workflow = _load(name)
    assert workflow["permissions"] == {"contents": "read"}
    for job_name, job in workflow["jobs"].items():
        assert job.get("timeout-minutes"), f"{name}:{job_name} has no timeout"


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_checkouts_keep_no_credentials_and_actions_are_versioned(name: str) -> None:
    for step in _steps(_load(name)):
        if "uses" not in step:
            continue
        action, _, version = step["uses"].partition("@")
        assert version.startswith("v") or len(version) == 40, step["uses"]
        if action == "actions/checkout":
            assert step["with"]["persist-credentials"] is False


def test_only_the_deploy_job_may_request_an_oidc_token() -> None:
    ci, deploy = _load("ci.yml"), _load("deploy.yml")
    assert not [job for job in ci["jobs"].values() if "id-token" in job.get("permissions", {})]
    with_token = {n for n, job in deploy["jobs"].items() if job.get("permissions", {}).get("id-token") == "write"}
    assert with_token == {"deploy"}


def test_deploy_uses_oidc_workspaces_and_an_approved_prod_environment() -> None:
    deploy = _load("deploy.yml")
    job = deploy["jobs"]["deploy"]
    triggers = deploy[True]  # YAML 1.1 reads the key `on` as True
    assert "workflow_dispatch" in triggers and triggers["push"]["branches"] == ["main"]
    assert "dev" in job["environment"] and "inputs.stage" in job["environment"]
    (credentials,) = [s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials")]
    assert "role-to-assume" in credentials["with"]
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(credentials["with"])
    commands = "\n".join(s.get("run", "") for s in job["steps"])
    assert "terraform workspace select -or-create" in commands
    assert '-var-file="${STAGE}.tfvars"' in commands


def test_ci_runs_the_checks_the_issue_lists() -> None:
    commands = "\n".join(s.get("run", "") for s in _steps(_load("ci.yml")))
    for needed in (
        "make test",
        "make package",
        "terraform fmt -check",
        "terraform init -backend=false",
        "terraform validate",
        "checkov -d terraform",
    ):
        assert needed in commands, needed
