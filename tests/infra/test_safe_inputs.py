"""Variable validations refuse placeholders and a prod without alarms, saying what to set.

Every validation of terraform/variables.tf is evaluated here with the evaluator (tests/infra/terraform.py),
as `terraform plan` would before anything else."""

import re
from typing import Any

import pytest

from tests.infra.terraform import STAGES, TERRAFORM_DIR, load

# What a user of the stage really sets (docs/deploy.md), replacing the var-files' placeholders.
REAL_VALUES: dict[str, dict[str, Any]] = {
    "dev": {"ses_identity": "dev.mail.acme-corp.io", "sender_address": "campaigns@dev.mail.acme-corp.io"},
    "prod": {
        "ses_identity": "mail.acme-corp.io",
        "sender_address": "campaigns@mail.acme-corp.io",
        "alarm_email": "oncall@acme-corp.io",
    },
}
PLACEHOLDERS = ["example.com", "mail.example.com", "EXAMPLE.ORG", "dev.mail.example.net"]
HOST_VARIABLES = ["ses_identity", "sender_address", "alarm_email", "smtp_host", "cors_allow_origins"]


def refusals(stage: str, overrides: dict[str, Any] | None = None) -> dict[str, list[str]]:
    """The error messages of every validation that fails, per variable, for the stage's var-file."""
    config = load()
    evaluator = config.evaluator(stage, overrides=overrides)
    failed: dict[str, list[str]] = {}
    for name, spec in config.variables.items():
        for check in spec.get("validation", []):
            if not evaluator.value(check["condition"]):
                failed.setdefault(name, []).append(check["error_message"])
    return failed


@pytest.mark.parametrize("stage", STAGES)
def test_unedited_var_file_is_refused_with_what_to_set(stage: str) -> None:
    # Given the stage's var-file as committed (placeholders) / When its variables are validated
    failed = refusals(stage)
    # Then the plan stops at the placeholders, and each message says what to set
    expected = {"ses_identity", "sender_address"} | ({"alarm_email"} if stage == "prod" else set())
    assert set(failed) == expected
    assert any("set ses_identity to a domain you have verified in SES" in m for m in failed["ses_identity"])
    assert any("set sender_address to" in m for m in failed["sender_address"])
    if stage == "prod":
        assert any("set alarm_email to" in m for m in failed["alarm_email"])


@pytest.mark.parametrize("stage", STAGES)
def test_var_file_with_real_values_passes_every_validation(stage: str) -> None:
    # Given the var-file with its placeholders replaced
    # Then every validation holds (and each evaluates)
    assert refusals(stage, REAL_VALUES[stage]) == {}


@pytest.mark.parametrize("placeholder", PLACEHOLDERS)
@pytest.mark.parametrize("variable", HOST_VARIABLES)
def test_placeholder_domains_are_refused_everywhere(variable: str, placeholder: str) -> None:
    # Given a value under a documentation domain (RFC 2606) in any variable that names a host or address
    value: Any = {
        "ses_identity": placeholder,
        "sender_address": f"campaigns@{placeholder}",
        "alarm_email": f"oncall@{placeholder}",
        "smtp_host": f"smtp.{placeholder}",
        "cors_allow_origins": [f"https://{placeholder}:8443"],
    }[variable]
    overrides = REAL_VALUES["prod"] | {variable: value}
    if variable == "smtp_host":
        overrides |= {"send_mode": "ses,smtp"}
    # When the prod var-file is validated with it
    failed = refusals("prod", overrides)
    # Then only that variable is refused, as a placeholder, with what to set instead
    assert list(failed) == [variable]
    assert any("placeholder" in m and f"set {variable} to" in m for m in failed[variable])


@pytest.mark.parametrize("identity", ["myexample.com", "example.com.au", "example.co", "mail.example-corp.com"])
def test_real_domains_resembling_placeholders_are_accepted(identity: str) -> None:
    # Given a real domain that resembles a documentation domain
    overrides = REAL_VALUES["dev"] | {"ses_identity": identity, "sender_address": f"campaigns@{identity}"}
    # When the dev var-file is validated with it
    failed = refusals("dev", overrides)
    # Then nothing is refused
    assert failed == {}


def test_prod_requires_an_alarm_address_and_dev_does_not() -> None:
    # Given prod and dev without an alarm address
    prod = refusals("prod", REAL_VALUES["prod"] | {"alarm_email": None})
    dev = refusals("dev", REAL_VALUES["dev"] | {"alarm_email": None})
    # Then prod's plan is refused with what to set, and dev's is not
    assert list(prod) == ["alarm_email"]
    assert any("set alarm_email in prod.tfvars" in m for m in prod["alarm_email"])
    assert dev == {}


@pytest.mark.parametrize("stage", STAGES)
def test_each_var_file_names_its_region_and_marks_its_placeholders(stage: str) -> None:
    # Given the stage's var-file
    # Then it names its region (the variable has no default to fall back on)
    assert "default" not in load().variables["aws_region"]
    assert re.fullmatch(r"[a-z]{2}(-[a-z]+)+-[0-9]", load().tfvars(stage)["aws_region"])
    # And every placeholder line says to replace it before applying
    text = (TERRAFORM_DIR / f"{stage}.tfvars").read_text()
    placeholder_lines = [line for line in text.splitlines() if "example." in line and not line.lstrip().startswith("#")]
    assert placeholder_lines and all("# replace before applying" in line for line in placeholder_lines)
