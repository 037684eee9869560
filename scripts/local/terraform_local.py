"""terraform/ applied to the local emulator (scripts/local/emulator.py), offline.

Used by tests/infra/test_apply_on_emulator.py and `make deploy-local` (`python -m scripts.local.terraform_local`).

* Providers come from a local filesystem mirror (`TF_PLUGIN_MIRROR`, else the first of MIRROR_CANDIDATES that
  holds registry.terraform.io/hashicorp/aws) through a generated CLI configuration (TF_CLI_CONFIG_FILE); with
  no mirror, `terraform init` uses the registry as usual.
* The stacks are copied to a working directory, so no state, `.terraform/` or override lands in the repo, and
  an override file points every AWS endpoint the stacks use at the emulator, with dummy credentials. The copy
  keeps the repository's layout (terraform/, terraform/bootstrap/, terraform/modules/), so both stacks' local
  module sources (./modules/..., ../modules/...) resolve there as they do here. The
  provider asks the emulator's STS for the account id (no skip_requesting_account_id): without it, the ARNs
  the provider builds (SESv2's) have no account, and its tag reads by those ARNs find nothing.
* The bootstrap stack (local state) makes the state bucket; the stage stack then keeps its state there, in the
  S3 backend with its lock file, configured as the deploy workflow does (backend_s3.tf + -backend-config),
  with the backend's endpoints pointed at the emulator too.
* The Lambda zips are placeholders (a one-line handler): the emulator never runs them, and what is applied
  here is the infrastructure, not the code (the real zips are tested in tests/infra/test_packaging.py).
* The var-files refuse their example.com placeholders on purpose (terraform/variables.tf); LOCAL_VARS gives
  real-looking values in their place.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from scripts.loopback import PROJECT_ROOT, REGION, offline_aws_env

TERRAFORM_DIR = PROJECT_ROOT / "terraform"
BOOTSTRAP_DIR = TERRAFORM_DIR / "bootstrap"
MODULES_DIR = TERRAFORM_DIR / "modules"

ENV_PLUGIN_MIRROR = "TF_PLUGIN_MIRROR"
MIRROR_CANDIDATES = (
    Path("/opt/tf-plugins"),
    Path.home() / ".terraform.d" / "plugins",
    Path.home() / ".local" / "share" / "terraform" / "plugins",
    Path("/usr/local/share/terraform/plugins"),
    Path("/usr/share/terraform/plugins"),
)
AWS_PROVIDER = Path("registry.terraform.io") / "hashicorp" / "aws"

# The provider's endpoint names for every service terraform/ and terraform/bootstrap/ call (tests/infra checks
# that each resource kind's service is here).
SERVICES = (
    "apigatewayv2",
    "cloudwatch",
    "dynamodb",
    "iam",
    "lambda",
    "logs",
    "s3",
    "secretsmanager",
    "sesv2",
    "sns",
    "sqs",
    "sts",
)

DEFAULT_ENDPOINT = "http://127.0.0.1:4566"
STATE_BUCKET = "csv-campaign-tfstate-local"
STATE_KEY = "csv-campaign/terraform.tfstate"
GITHUB_REPOSITORY = "acme/csv-campaign"

# In place of the var-files' example.com placeholders, which a plan refuses (terraform/variables.tf).
LOCAL_VARS: dict[str, dict[str, str]] = {
    "dev": {
        "ses_identity": "dev.mail.acme-campaigns.io",
        "sender_address": "campaigns@dev.mail.acme-campaigns.io",
    },
    "prod": {
        "ses_identity": "mail.acme-campaigns.io",
        "sender_address": "campaigns@mail.acme-campaigns.io",
        "alarm_email": "oncall@acme-campaigns.io",
    },
}

# Seconds: init resolves from the mirror; applies create ~55 resources on the emulator.
TIMEOUTS = {"init": 120.0, "validate": 60.0, "workspace": 60.0, "plan": 180.0, "apply": 300.0, "destroy": 300.0}
DEFAULT_TIMEOUT = 120.0


def find_plugin_mirror(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The filesystem mirror holding the AWS provider: TF_PLUGIN_MIRROR, else the first candidate that has it."""
    if environ.get(ENV_PLUGIN_MIRROR):
        mirror = Path(environ[ENV_PLUGIN_MIRROR])
        if not (mirror / AWS_PROVIDER).is_dir():
            raise FileNotFoundError(f"{ENV_PLUGIN_MIRROR}={mirror} has no {AWS_PROVIDER}/<version>/<os>_<arch>/")
        return mirror
    return next((path for path in MIRROR_CANDIDATES if (path / AWS_PROVIDER).is_dir()), None)


def cli_config(mirror: Path) -> str:
    """A CLI configuration installing hashicorp/* providers from `mirror` only (never the registry)."""
    return (
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {json.dumps(str(mirror))}\n"
        '    include = ["registry.terraform.io/hashicorp/*"]\n'
        "  }\n"
        "  direct {\n"
        '    exclude = ["registry.terraform.io/hashicorp/*"]\n'
        "  }\n"
        "}\n"
    )


def _dummy_credentials() -> str:
    return '  access_key = "test"\n  secret_key = "test"\n'


def provider_override(endpoint: str) -> str:
    """providers_override.tf: the stack's provider "aws", merged with every endpoint at the emulator."""
    endpoints = "".join(f"    {service:<14} = {json.dumps(endpoint)}\n" for service in SERVICES)
    return (
        "# Written by scripts/local/terraform_local.py: the emulator in place of AWS.\n"
        'provider "aws" {\n'
        f"{_dummy_credentials()}"
        "  skip_credentials_validation = true\n"
        "  skip_metadata_api_check     = true\n"
        "  s3_use_path_style           = true\n"
        "  endpoints {\n"
        f"{endpoints}"
        "  }\n"
        "}\n"
    )


def backend_config(endpoint: str, bucket: str = STATE_BUCKET) -> list[str]:
    """-backend-config arguments: the deploy workflow's five, plus the emulator's endpoints and dummy credentials."""
    settings = {
        "bucket": bucket,
        "key": STATE_KEY,
        "region": REGION,
        "encrypt": "true",
        "use_lockfile": "true",
        "access_key": "test",
        "secret_key": "test",
        "skip_credentials_validation": "true",
        "skip_requesting_account_id": "true",
        "skip_metadata_api_check": "true",
        "skip_region_validation": "true",
        "use_path_style": "true",
    }
    arguments = [f"-backend-config={name}={value}" for name, value in settings.items()]
    # A map argument: -backend-config takes HCL for it.
    endpoints = ", ".join(f"{service} = {json.dumps(endpoint)}" for service in ("s3", "sts", "iam"))
    return [*arguments, f"-backend-config=endpoints={{ {endpoints} }}"]


def write_dummy_zip(path: Path) -> Path:
    """A placeholder Lambda package: the emulator stores it and never runs it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        info = zipfile.ZipInfo("handler.py", date_time=(2020, 1, 1, 0, 0, 0))
        archive.writestr(info, "def handler(event, context):\n    return None\n")
    return path


class TerraformError(RuntimeError):
    def __init__(self, args: Sequence[str], result: subprocess.CompletedProcess[str]) -> None:
        super().__init__(
            f"terraform {' '.join(args)} exited {result.returncode}:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
        )
        self.returncode = result.returncode
        self.stdout = result.stdout
        self.stderr = result.stderr


@dataclass
class Terraform:
    """terraform run in `workdir` with its own CLI configuration, each command bounded by a timeout."""

    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def run(
        self, *args: str, ok: Sequence[int] = (0,), timeout: float | None = None, workspace: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        seconds = timeout or TIMEOUTS.get(args[0], DEFAULT_TIMEOUT)
        started = time.monotonic()
        result = subprocess.run(
            ["terraform", *args],
            cwd=self.workdir,
            env={**self.env, "TF_WORKSPACE": workspace} if workspace else self.env,
            capture_output=True,
            text=True,
            timeout=seconds,
            check=False,
        )
        label = f"{self.workdir.name}{'/' + workspace if workspace else ''}"
        self.log.append(f"terraform {args[0]} ({label}): {time.monotonic() - started:.1f} s, exit {result.returncode}")
        if result.returncode not in ok:
            raise TerraformError(args, result)
        return result


def terraform_env(config_dir: Path, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment of every terraform command: the mirror's CLI configuration, no prompts, no real AWS."""
    env = {name: value for name, value in environ.items() if not name.startswith(("AWS_", "TF_"))}
    mirror = find_plugin_mirror(environ)
    config = config_dir / "terraform.tfrc"
    config.write_text(cli_config(mirror) if mirror else "")
    env.update(
        TF_CLI_CONFIG_FILE=str(config),
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        CHECKPOINT_DISABLE="1",
        **offline_aws_env("test"),
        AWS_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
    )
    if ENV_PLUGIN_MIRROR in environ:
        env[ENV_PLUGIN_MIRROR] = environ[ENV_PLUGIN_MIRROR]
    return env


def copy_stack(source: Path, destination: Path, endpoint: str) -> Path:
    """`source`'s *.tf, var-files and lock file in `destination`, with the emulator's provider override."""
    destination.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.is_file() and (path.suffix in {".tf", ".tfvars"} or path.name == ".terraform.lock.hcl"):
            shutil.copy2(path, destination / path.name)
    (destination / "providers_override.tf").write_text(provider_override(endpoint))
    return destination


@dataclass
class LocalDeployment:
    """The bootstrap stack and the stage stack, copied under `root` and pointed at the emulator at `endpoint`."""

    root: Path
    endpoint: str = DEFAULT_ENDPOINT
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.env = terraform_env(self.root, self.environ)
        stack_dir = self.root / "terraform"
        self.stack = Terraform(copy_stack(TERRAFORM_DIR, stack_dir, self.endpoint), self.env)
        self.bootstrap = Terraform(copy_stack(BOOTSTRAP_DIR, stack_dir / "bootstrap", self.endpoint), self.env)
        shutil.copytree(MODULES_DIR, stack_dir / "modules", dirs_exist_ok=True)
        self.stack.log = self.bootstrap.log
        (self.stack.workdir / "backend_s3.tf").write_text('terraform {\n  backend "s3" {}\n}\n')
        self.worker_zip = write_dummy_zip(self.root / "build" / "worker.zip")
        self.ingestor_zip = write_dummy_zip(self.root / "build" / "ingestor.zip")

    def bootstrap_vars(self) -> list[str]:
        return [
            f"-var=aws_region={REGION}",
            f"-var=github_repository={GITHUB_REPOSITORY}",
            f"-var=state_bucket_name={STATE_BUCKET}",
        ]

    def stage_vars(self, stage: str) -> list[str]:
        values = {"worker_zip": str(self.worker_zip), "ingestor_zip": str(self.ingestor_zip), **LOCAL_VARS[stage]}
        return [f"-var-file={stage}.tfvars", *(f"-var={name}={value}" for name, value in values.items())]

    def apply_bootstrap(self) -> None:
        self.bootstrap.run("init", "-input=false", "-lockfile=readonly")
        self.bootstrap.run("apply", "-auto-approve", "-input=false", *self.bootstrap_vars())

    def plan_bootstrap(self) -> tuple[int, Any]:
        """The bootstrap's `plan -detailed-exitcode` exit code and `terraform show -json` of the plan."""
        result = self.bootstrap.run(
            "plan", "-detailed-exitcode", "-input=false", "-out=tfplan", *self.bootstrap_vars(), ok=(0, 2)
        )
        return result.returncode, json.loads(self.bootstrap.run("show", "-json", "tfplan").stdout)

    def destroy_bootstrap(self, ok: Sequence[int] = (0,)) -> subprocess.CompletedProcess[str]:
        return self.bootstrap.run("destroy", "-auto-approve", "-input=false", *self.bootstrap_vars(), ok=ok)

    def init_stack(self, stages: Sequence[str] = ("dev", "prod")) -> None:
        """init with the S3 backend in the state bucket, and the stages' workspaces."""
        self.stack.run("init", "-input=false", "-lockfile=readonly", *backend_config(self.endpoint))
        existing = self.stack.run("workspace", "list").stdout.replace("*", " ").split()
        for stage in stages:
            if stage not in existing:
                self.stack.run("workspace", "new", stage)

    # Each stage's commands name their workspace through TF_WORKSPACE, so dev and prod can run side by side.
    def apply(self, stage: str) -> None:
        self.stack.run("apply", "-auto-approve", "-input=false", *self.stage_vars(stage), workspace=stage)

    def plan(self, stage: str) -> tuple[int, Any]:
        """`plan -detailed-exitcode`'s exit code (0 no changes, 2 changes) and `terraform show -json` of the plan."""
        out = f"tfplan-{stage}"
        result = self.stack.run(
            "plan",
            "-detailed-exitcode",
            "-input=false",
            f"-out={out}",
            *self.stage_vars(stage),
            ok=(0, 2),
            workspace=stage,
        )
        return result.returncode, json.loads(self.stack.run("show", "-json", out, workspace=stage).stdout)

    def outputs(self, stage: str) -> Any:
        return json.loads(self.stack.run("output", "-json", workspace=stage).stdout)

    def destroy(self, stage: str, ok: Sequence[int] = (0,)) -> subprocess.CompletedProcess[str]:
        return self.stack.run(
            "destroy", "-auto-approve", "-input=false", *self.stage_vars(stage), ok=ok, workspace=stage
        )


def wait_for_emulator(endpoint: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            # Not /moto-api/data.json: it fails (500) once some of the stack's resources exist.
            if httpx.get(f"{endpoint}/moto-api/", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"no emulator answers at {endpoint} (start it with `make run`)")
        time.sleep(0.25)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", default=DEFAULT_ENDPOINT, help="the running emulator (default: `make run`'s)")
    parser.add_argument("--stage", choices=sorted(LOCAL_VARS), default="dev")
    parser.add_argument("--workdir", type=Path, default=PROJECT_ROOT / "build" / "deploy-local")
    args = parser.parse_args(argv)
    wait_for_emulator(args.endpoint, seconds=5.0)
    # The stacks' files are copied afresh each time; the bootstrap's local state stays in the work directory
    # and the stage's state in the emulator's state bucket, so a rerun updates what the last one applied.
    deployment = LocalDeployment(args.workdir, args.endpoint)
    print(f"bootstrap -> {args.endpoint} (state bucket {STATE_BUCKET})", flush=True)
    deployment.apply_bootstrap()
    deployment.init_stack()
    print(f"{args.stage} -> {args.endpoint}", flush=True)
    deployment.apply(args.stage)
    outputs = deployment.outputs(args.stage)
    print(json.dumps({name: output["value"] for name, output in outputs.items()}, indent=2))
    print("\n".join(deployment.stack.log), file=sys.stderr)


if __name__ == "__main__":
    main()
