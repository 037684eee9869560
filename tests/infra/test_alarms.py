"""The account's SES reputation: published, alarmed before SES reviews the account, to the alarm topic
the other alarms use. A provider's circuit breaker opening: alarmed per provider."""

from typing import Any

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


def _alarms(stage: str = "prod", **overrides: Any) -> dict[str, dict[str, Any]]:
    """Every alarm of the stage, by its key (the alarm's name after csv-campaign-<stage>-), as evaluated."""
    alarms: dict[str, dict[str, Any]] = load().evaluator(stage, overrides=overrides).value("${local.alarms}")
    return alarms


def test_one_resource_serves_every_alarm_to_the_alarm_topic() -> None:
    # Given the one alarm resource of the Terraform
    alarm = load().resource("aws_cloudwatch_metric_alarm", "this")
    assert set(load().resources["aws_cloudwatch_metric_alarm"]) == {"this"}
    # Then it makes one alarm per entry of local.alarms, named after its key, with the entry's settings
    assert alarm["for_each"] == "${local.alarms}"
    assert alarm["alarm_name"] == "${local.name}-${each.key}"
    for argument in ("namespace", "metric_name", "dimensions", "statistic", "period", "threshold"):
        assert alarm[argument] == f"${{each.value.{argument}}}", argument
    assert alarm["comparison_operator"] == "${each.value.comparison_operator}"
    # And each alarm notifies the alarm topic, both ways; a metric with no data is OK
    assert alarm["treat_missing_data"] == "notBreaching"
    assert alarm["alarm_actions"] == alarm["ok_actions"] == "${local.alarm_actions}"
    assert load().locals["alarm_actions"] == ["${aws_sns_topic.alarms.arn}"]
    # And an entry fires over its threshold in a 5-minute period unless it says otherwise
    assert all(set(a) >= {"namespace", "metric_name", "statistic", "threshold"} for a in _alarms().values())
    assert load().evaluator("prod").value("${local.alarm_defaults}") == {
        "dimensions": None,
        "period": 300,
        "comparison_operator": "GreaterThanThreshold",
    }


def test_one_alarm_per_rate_on_the_account_metric() -> None:
    # Given the SES reputation alarms
    config_ = load()
    alarms = {key.removeprefix("ses-"): a for key, a in _alarms().items() if a["namespace"] == "AWS/SES"}
    # Then there is one per rate of the map
    assert set(alarms) == set(config_.locals["ses_reputation_alarms"]) == set(REPUTATION)
    for key, alarm in alarms.items():
        assert alarm["metric_name"] == REPUTATION[key][0]
        # And it watches the account's rate: SES publishes it without dimensions
        assert alarm["dimensions"] is None
        # And it fires at or over the threshold, on the highest value of the period
        assert (alarm["comparison_operator"], alarm["statistic"]) == ("GreaterThanOrEqualToThreshold", "Maximum")


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
    # And the alarms' period is a whole number of minutes
    periods = {
        a["period"] for key, a in _alarms(stage).items() if key.startswith("ses-") and a["namespace"] == "AWS/SES"
    }
    assert periods == {evaluator.value("${local.ses_reputation_period}")} and periods.pop() % 60 == 0


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
    # Given the breaker alarms for each send_mode
    for mode, providers in [
        (DRY_RUN, []),
        (Provider.SES.value, [Provider.SES.value]),
        (f"{Provider.SMTP},{Provider.SES}", [Provider.SMTP.value, Provider.SES.value]),
    ]:
        overrides = {"send_mode": mode, "smtp_host": "smtp.example.com"}
        evaluator = load().evaluator("prod", overrides=overrides)
        assert evaluator.value("${local.send_providers}") == providers, mode
        breakers = {key: a for key, a in _alarms(**overrides).items() if a["metric_name"] == "BreakerOpened"}
        # Then there is one alarm per provider that send_mode names (none in a dry run)
        assert sorted(breakers) == sorted(f"breaker-opened-{provider}" for provider in providers), mode
        for key, alarm in breakers.items():
            provider = key.removeprefix("breaker-opened-")
            # And it is on the metric the worker emits, under the dimensions it emits it with
            assert alarm["namespace"] == evaluator.value("${local.metrics_namespace}")
            assert alarm["metric_name"] == observability.METRIC_BREAKER_OPENED
            assert alarm["dimensions"] == {
                "service": evaluator.value("${local.worker_service}"),
                observability.DIMENSION_PROVIDER: provider,
            }
            # And it fires on any opening in a period; no sends (or no failures) is OK
            assert (alarm["statistic"], alarm["comparison_operator"], alarm["threshold"]) == (
                "Sum",
                "GreaterThanOrEqualToThreshold",
                1,
            )
            # And it is charted over the alarm's own period (the dashboard's breaker widget), whole minutes
            period = alarm["period"]
            assert period % 60 == 0 and period == evaluator.value("${local.breaker_alarm_period}")


def test_every_alarm_of_a_provider_send_mode_may_move_from_its_old_address() -> None:
    # Given the providers the worker knows: the breaker alarms there can be
    moved = {m["from"]: m["to"] for m in load().moved}
    # Then each one's alarm moves from the resource it had before all alarms shared one
    for provider in Provider:
        old = f'${{aws_cloudwatch_metric_alarm.breaker_opened["{provider.value}"]}}'
        assert moved[old] == f'${{aws_cloudwatch_metric_alarm.this["breaker-opened-{provider.value}"]}}'
