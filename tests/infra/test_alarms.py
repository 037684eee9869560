"""The account's SES reputation: published, alarmed before SES reviews the account, to the alarm topic
the other alarms use. A provider's circuit breaker opening: alarmed per provider."""

import pytest

from campaign import observability
from campaign.config import DRY_RUN, Provider
from tests.infra.terraform import STAGES, load

# alarm key -> (metric, variable, default, SES's review level, SES's pause level); rates are fractions.
REPUTATION = {
    "bounce-rate": ("Reputation.BounceRate", "ses_bounce_rate_alarm_threshold", 0.04, 0.05, 0.1),
    "complaint-rate": ("Reputation.ComplaintRate", "ses_complaint_rate_alarm_threshold", 0.0008, 0.001, 0.005),
}


def test_the_configuration_set_publishes_reputation_metrics() -> None:
    # Given the SES configuration set in the Terraform
    configuration_set = load().resource("aws_sesv2_configuration_set", "this")
    # Then it publishes the reputation metrics
    assert configuration_set["reputation_options"][0]["reputation_metrics_enabled"] is True


def test_one_alarm_per_rate_on_the_account_metric_to_the_alarm_topic() -> None:
    # Given the SES reputation alarm in the Terraform
    config_ = load()
    alarm = config_.resource("aws_cloudwatch_metric_alarm", "ses_reputation")
    # Then one resource shape serves both rates, one instance per entry of the map
    assert alarm["for_each"] == "${local.ses_reputation_alarms}"
    assert set(config_.locals["ses_reputation_alarms"]) == set(REPUTATION)
    assert alarm["alarm_name"] == "${local.name}-ses-${each.key}"
    assert alarm["metric_name"] == "${each.value.metric_name}"
    assert alarm["threshold"] == "${each.value.threshold}"
    # And it watches the account's rates: SES publishes them in AWS/SES without dimensions
    assert alarm["namespace"] == "AWS/SES"
    assert "dimensions" not in alarm
    # And it fires at or over the threshold, on the highest value of the period, to the alarm topic; an
    # account that sent nothing is OK
    assert (alarm["comparison_operator"], alarm["statistic"]) == ("GreaterThanOrEqualToThreshold", "Maximum")
    assert alarm["treat_missing_data"] == "notBreaching"
    assert alarm["alarm_actions"] == alarm["ok_actions"] == "${local.alarm_actions}"
    assert config_.locals["alarm_actions"] == ["${aws_sns_topic.alarms.arn}"]


@pytest.mark.parametrize("stage", STAGES)
def test_thresholds_are_the_variables_and_fire_before_ses_reviews_the_account(stage: str) -> None:
    # Given the reputation alarms as this stage evaluates them
    evaluator = load().evaluator(stage)
    alarms = evaluator.value(load().locals["ses_reputation_alarms"])
    # Then each watches its rate, at its variable's threshold, which is below SES's review level
    for key, (metric, variable, _default, review, _pause) in REPUTATION.items():
        assert alarms[key]["metric_name"] == metric
        assert alarms[key]["threshold"] == evaluator.variables[variable]
        assert 0 < alarms[key]["threshold"] < review, key
        # The description names the threshold as the alarm compares it: a fraction
        assert str(evaluator.variables[variable]) in alarms[key]["description"]
    # And the alarm's period is a whole number of minutes
    assert evaluator.value(load().resource("aws_cloudwatch_metric_alarm", "ses_reputation")["period"]) % 60 == 0


def test_threshold_variables_are_fractions_below_the_pause_level() -> None:
    # Given the threshold variables in the Terraform
    variables = load().variables
    # Then each is a number with its default, and refuses what is not a fraction below SES's pause level
    for variable, default, pause in [(v, d, p) for _m, v, d, _r, p in REPUTATION.values()]:
        spec = variables[variable]
        assert (spec["type"], spec["default"]) == ("number", default)
        (validation,) = spec["validation"]
        # A percent typed by mistake (4 for 4%) is refused, as is a threshold at the pause level or above
        assert validation["condition"] == f"${{var.{variable} > 0 && var.{variable} < {pause}}}"


def test_a_breaker_opening_alarms_once_per_provider_of_send_mode() -> None:
    # Given the breaker alarm in the Terraform
    alarm = load().resource("aws_cloudwatch_metric_alarm", "breaker_opened")
    # Then there is one alarm per provider that send_mode names (none in a dry run)
    assert alarm["for_each"] == "${toset(local.send_providers)}"
    for mode, providers in [
        (DRY_RUN, []),
        (Provider.SES.value, [Provider.SES.value]),
        (f"{Provider.SMTP},{Provider.SES}", [Provider.SMTP.value, Provider.SES.value]),
    ]:
        evaluator = load().evaluator("prod", overrides={"send_mode": mode, "smtp_host": "smtp.example.com"})
        assert evaluator.value("${local.send_providers}") == providers, mode
    # And it is on the metric the worker emits, under the dimensions it emits it with
    assert alarm["namespace"] == "${local.metrics_namespace}"
    assert alarm["metric_name"] == observability.METRIC_BREAKER_OPENED
    assert alarm["dimensions"] == {
        "service": "${local.worker_service}",
        observability.DIMENSION_PROVIDER: "${each.key}",
    }
    assert alarm["alarm_name"] == "${local.name}-breaker-opened-${each.key}"
    # And it fires on any opening in a period, to the alarm topic; no sends (or no failures) is OK
    assert (alarm["statistic"], alarm["comparison_operator"], alarm["threshold"]) == (
        "Sum",
        "GreaterThanOrEqualToThreshold",
        1,
    )
    assert alarm["treat_missing_data"] == "notBreaching"
    assert alarm["alarm_actions"] == alarm["ok_actions"] == "${local.alarm_actions}"
    # And it is charted over the alarm's own period (the dashboard's breaker widget), a whole number of minutes
    period = load().evaluator("prod").value(alarm["period"])
    assert period % 60 == 0 and period == load().evaluator("prod").value("${local.breaker_alarm_period}")
