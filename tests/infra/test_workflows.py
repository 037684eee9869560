"""The GitHub workflows keep to the rules: least permissions, no stored credentials, bounded jobs, actions
pinned to commits, and a deploy that applies exactly the plan its reviewers saw."""

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
# owner/repo[/path]@<40 hex> # v<version>: the commit, and the release it is, for the reader and for updates.
PINNED = re.compile(
    r"^\s*(?:- )?uses: (?P<action>[\w.-]+/[\w.-]+(?:/[\w./-]+)?)@(?P<sha>[0-9a-f]{40}) # v\d+(?:\.\d+)*$"
)


def _load(name: str) -> dict[Any, Any]:
    workflow: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return workflow


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def _commands(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def _uses(job: dict[str, Any], action: str) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [s for s in job["steps"] if s.get("uses", "").startswith(f"{action}@")]
    (step,) = steps
    return step


def _named(job: dict[str, Any], name: str) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [s for s in job["steps"] if s.get("name") == name]
    (step,) = steps
    return step


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_read_only_by_default_and_every_job_bounded(name: str) -> None:
    # Given a workflow
    # When it is loaded
    workflow = _load(name)
    # Then its token reads the contents only unless a job says more, and no job can run unbounded
    assert workflow["permissions"] == {"contents": "read"}
    for job_name, job in workflow["jobs"].items():
        assert job.get("timeout-minutes"), f"{name}:{job_name} has no timeout"


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_checkouts_keep_no_credentials_and_actions_are_pinned_to_commits(name: str) -> None:
    # Given a workflow's text and its steps
    lines = [line for line in (WORKFLOWS / name).read_text().splitlines() if re.match(r"^\s*(- )?uses:", line)]
    steps = [step for step in _steps(_load(name)) if "uses" in step]
    # When every `uses:` line is read
    unpinned = [line.strip() for line in lines if not PINNED.match(line)]
    # Then each names a full commit SHA with its release in a comment (none written another way)
    assert not unpinned
    assert len(lines) == len(steps)
    # And a checkout leaves no token behind for later steps
    for step in steps:
        if step["uses"].startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


def test_each_action_is_one_commit_across_the_workflows() -> None:
    # Given every pinned `uses:` line of both workflows
    pins: dict[str, set[str]] = {}
    for name in ("ci.yml", "deploy.yml"):
        for line in (WORKFLOWS / name).read_text().splitlines():
            if match := PINNED.match(line):
                pins.setdefault(match["action"], set()).add(line.split("@", 1)[1])
    # When they are grouped by action
    # Then CI checks with the same commit and release as the deploy runs
    assert pins
    assert {action: refs for action, refs in pins.items() if len(refs) > 1} == {}


def test_only_the_plan_and_apply_jobs_may_request_an_oidc_token() -> None:
    # Given both workflows
    ci, deploy = _load("ci.yml"), _load("deploy.yml")
    # When the jobs that may ask for an OIDC token are listed
    with_token = {n for n, job in deploy["jobs"].items() if job.get("permissions", {}).get("id-token") == "write"}
    # Then CI has none, and the deploy only the two jobs that talk to AWS
    assert not [job for job in ci["jobs"].values() if "id-token" in job.get("permissions", {})]
    assert with_token == {"plan", "apply"}


def test_a_push_deploys_dev_and_a_manual_run_defaults_to_dev() -> None:
    # Given the deploy's triggers
    deploy = _load("deploy.yml")
    triggers = deploy[True]  # YAML 1.1 reads the key `on` as True
    stage = triggers["workflow_dispatch"]["inputs"]["stage"]
    # When a run is started by a push to main, or by hand without choosing
    # Then the stage is dev (prod only when chosen), and both stages are offered
    assert triggers["push"]["branches"] == ["main"]
    assert stage["default"] == "dev"
    assert sorted(stage["options"]) == ["dev", "prod"]
    assert deploy["env"]["STAGE"] == "${{ github.event_name == 'push' && 'dev' || inputs.stage }}"


def test_runs_of_one_stage_queue_from_plan_to_apply() -> None:
    # Given the deploy's concurrency
    concurrency = _load("deploy.yml")["concurrency"]
    # When a second run for the same stage starts while a plan awaits approval
    # Then it waits for the whole first run (it is never cancelled, nor run beside it), per stage
    assert "inputs.stage" in concurrency["group"] and "'dev'" in concurrency["group"]
    assert concurrency["cancel-in-progress"] is False


def test_the_plan_job_saves_shows_and_uploads_the_plan_of_the_stage() -> None:
    # Given the plan job
    job = _load("deploy.yml")["jobs"]["plan"]
    commands = _commands(job)
    upload = _uses(job, "actions/upload-artifact")
    # When it runs for a stage
    # Then it builds the zips, plans in the stage's workspace with the stage's var-file into a file
    assert "make package" in commands
    assert 'terraform workspace select -or-create "${STAGE}"' in commands
    assert re.search(r'terraform plan .*-var-file="\$\{STAGE\}\.tfvars".* -out=tfplan', commands)
    assert "terraform apply" not in commands
    # And shows that file's text in the run's summary
    assert "terraform show -no-color tfplan > tfplan.txt" in commands
    assert '>> "${GITHUB_STEP_SUMMARY}"' in commands
    # And uploads the plan, its text, the provider locks and the zips it saw, kept for a few days only
    paths = upload["with"]["path"].split()
    for needed in ("terraform/tfplan", "terraform/tfplan.txt", "terraform/.terraform.lock.hcl", "build/*.zip"):
        assert needed in paths, needed
    assert upload["with"]["name"] == "tfplan-${{ env.STAGE }}"
    assert 1 <= upload["with"]["retention-days"] <= 7


def test_the_apply_job_applies_exactly_the_saved_plan_after_the_stage_approves() -> None:
    # Given the plan and apply jobs
    jobs = _load("deploy.yml")["jobs"]
    plan, apply = jobs["plan"], jobs["apply"]
    commands = _commands(apply)
    download = _uses(apply, "actions/download-artifact")
    # When the apply job runs
    # Then it waits for the plan job and for the stage's environment (its reviewers approve a plan that
    # exists); the plan job's own environment is another one, so planning needs no approval
    assert apply["needs"] == "plan"
    assert apply["environment"] == "${{ github.event_name == 'push' && 'dev' || inputs.stage }}"
    assert plan["environment"] == apply["environment"] + "-plan"
    # And it applies the plan file the plan job uploaded, with the zips that plan hashed, never planning
    # or building again
    assert download["with"]["name"] == _uses(plan, "actions/upload-artifact")["with"]["name"]
    assert "sha256sum --check --strict plan.sha256" in commands
    assert re.search(r"^terraform apply tfplan$", commands, re.MULTILINE)
    assert "terraform plan" not in commands
    assert "make package" not in commands
    assert not [s for s in apply["steps"] if s.get("uses", "").startswith("actions/setup-python@")]


def test_plan_and_apply_share_terraform_version_backend_and_workspace() -> None:
    # Given the plan and apply jobs
    deploy = _load("deploy.yml")
    plan, apply = deploy["jobs"]["plan"], deploy["jobs"]["apply"]
    # When their Terraform setup, backend and workspace are compared
    versions = {_uses(job, "hashicorp/setup-terraform")["with"]["terraform_version"] for job in (plan, apply)}
    backends = [
        sorted(re.findall(r'-backend-config="[^"]+"', _named(job, "terraform init (S3 backend)")["run"]))
        for job in (plan, apply)
    ]
    # Then they are the same: one Terraform version, the same S3 state, the stage's workspace
    assert versions == {"${{ env.TERRAFORM_VERSION }}"} and deploy["env"]["TERRAFORM_VERSION"]
    assert backends[0] == backends[1] and '-backend-config="key=${TF_STATE_KEY}"' in backends[0]
    for job in (plan, apply):
        assert _named(job, "terraform init (S3 backend)")["working-directory"] == "terraform"
        assert _named(job, "terraform workspace")["working-directory"] == "terraform"
        assert re.match(
            r'terraform workspace select (-or-create )?"\$\{STAGE\}"$', _named(job, "terraform workspace")["run"]
        )
    # And the apply installs exactly the providers the plan job locked
    assert "terraform init -lockfile=readonly" in _named(apply, "terraform init (S3 backend)")["run"]


def test_aws_access_is_oidc_with_no_stored_keys() -> None:
    # Given the jobs that configure AWS credentials
    jobs = _load("deploy.yml")["jobs"]
    for name in ("plan", "apply"):
        # When their credentials step is read
        credentials = _uses(jobs[name], "aws-actions/configure-aws-credentials")
        # Then it assumes a role through OIDC and is given no access keys
        assert "role-to-assume" in credentials["with"]
        assert not {"aws-access-key-id", "aws-secret-access-key"} & set(credentials["with"])


def test_no_input_reaches_a_shell_through_an_expression() -> None:
    # Given every `run:` of both workflows
    runs = [step["run"] for name in ("ci.yml", "deploy.yml") for step in _steps(_load(name)) if "run" in step]
    # When they are searched for expressions
    # Then none is expanded into a script (inputs and variables come in through env)
    assert runs
    assert not [run for run in runs if "${{" in run]


def test_the_plan_summary_shows_the_plan_cut_at_a_line_when_long(tmp_path: Path) -> None:
    # Given a plan whose text is longer than the summary keeps, and the plan job's summary step
    script = _named(_load("deploy.yml")["jobs"]["plan"], "plan summary")["run"]
    (tmp_path / "terraform").mkdir()
    resource = "  # aws_lambda_function.worker will be updated in-place\n" + "      ~ x = 1 -> 2\n" * 20
    (tmp_path / "terraform" / "tfplan.txt").write_text(
        resource * 600 + "Plan: 0 to add, 600 to change, 0 to destroy.\n"
    )
    (tmp_path / "plan.sha256").write_text(f"{'a' * 64}  build/worker.zip\n{'b' * 64}  terraform/tfplan\n")
    summary = tmp_path / "summary.md"
    env = {"PATH": "/usr/bin:/bin", "STAGE": "prod", "GITHUB_SHA": "c" * 40, "GITHUB_STEP_SUMMARY": str(summary)}
    # When the step runs
    subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path / "terraform", env=env, check=True)
    text = summary.read_text()
    # Then the summary names the stage and commit, leads with the plan's totals and the zips' hashes,
    # and holds the text cut at a whole line with a note saying where the rest is
    assert text.startswith(f"## terraform plan: prod @ {'c' * 40}")
    assert "Plan: 0 to add, 600 to change, 0 to destroy." in text.split("~~~~text")[0]
    assert f"{'a' * 64}  build/worker.zip" in text and "terraform/tfplan\n" not in text
    body = text.split("~~~~text\n", 1)[1]
    assert len(body) < 201_000
    assert "[truncated at 200000 bytes of" in body
    shown = body.split("\n\n[truncated", 1)[0].splitlines()
    assert shown[-1] in {"      ~ x = 1 -> 2", "  # aws_lambda_function.worker will be updated in-place"}


def test_ci_runs_the_checks_the_issue_lists() -> None:
    # Given the CI workflow
    commands = "\n".join(s.get("run", "") for s in _steps(_load("ci.yml")))
    # When its commands are read
    # Then they cover the Python suite, the packages and the Terraform checks
    for needed in (
        "make test",
        "make package",
        "terraform fmt -check",
        "terraform init -backend=false",
        "terraform validate",
        "checkov -d terraform",
    ):
        assert needed in commands, needed


def test_make_lint_audits_the_workflows_with_a_pinned_zizmor() -> None:
    # Given the Makefile's lint recipe (run by `make test`, so by CI) and the dev dependencies
    makefile = (ROOT / "Makefile").read_text()
    lint = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    # When it runs
    # Then zizmor audits .github/workflows offline (any finding fails it), at a pinned version
    assert re.search(r"zizmor --offline .*\.github/workflows", lint)
    assert re.search(r'"zizmor==[\d.]+"', (ROOT / "pyproject.toml").read_text())
