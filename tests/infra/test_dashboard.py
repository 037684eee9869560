"""The dashboard charts the metrics the code really emits, under the dimensions it emits them with."""

from collections.abc import Iterator
from typing import Any

from campaign import observability
from campaign.config import Provider
from tests.infra.terraform import Ref, load, reference

# The widgets as the dashboard body renders them (prod's values; references stay `Ref`s).
EVALUATOR = load().evaluator("prod")
WIDGETS = EVALUATOR.value("${local.dashboard_widgets}")
NAMESPACE = EVALUATOR.value("${local.metrics_namespace}")
WORKER_SERVICE = EVALUATOR.value("${local.worker_service}")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


EMITTED = {value for name, value in vars(observability).items() if name.startswith("METRIC_")}
CHARTED = set(_strings(WIDGETS))


def test_sends_failures_latency_and_accepted_rows_are_charted() -> None:
    # Given the metrics of sends, failures, SES latency and accepted rows
    wanted = {
        observability.METRIC_EMAILS_SENT,
        observability.METRIC_EMAILS_FAILED,
        observability.METRIC_SES_LATENCY,
        observability.METRIC_ROWS_ACCEPTED,
    }
    # Then the dashboard charts each
    assert wanted <= CHARTED


def _custom_metric_rows() -> list[list[Any]]:
    rows = [row for widget in WIDGETS for row in widget["properties"]["metrics"]]
    return [row for row in rows if row and row[0] == NAMESPACE]


def test_every_charted_custom_metric_is_one_the_code_emits() -> None:
    # Given the custom metrics the dashboard charts
    charted = {row[1] for row in _custom_metric_rows()}
    # Then there are some, and the code emits each
    assert charted and charted <= EMITTED


def test_custom_metrics_are_charted_under_the_service_dimension() -> None:
    # Given the dashboard's custom metric rows
    # Then each is charted under the service dimension, as the code emits it
    assert all(row[2] == "service" for row in _custom_metric_rows())


def test_failures_are_charted_by_each_kind_the_worker_reports() -> None:
    # Given the kinds of failure the worker reports
    kinds = set(observability.FailureKind)
    # Then the dashboard charts failures by kind, each kind among them
    assert observability.DIMENSION_FAILURE_KIND in CHARTED
    assert kinds <= CHARTED


def test_error_rate_is_a_metric_math_expression() -> None:
    # Given the dashboard's widgets
    # Then one charts a metric math expression (the error rate)
    assert any("expression" in s or "/" in s for s in CHARTED if "(" in s)


def test_dashboard_services_are_the_functions_service_names() -> None:
    # Given the environment of each function in the Terraform
    config = load()
    worker_env = config.lambda_variables("worker")
    api_env = config.lambda_variables("ingestor")
    stream_env = config.lambda_variables("stream_ingest")
    counts_env = config.lambda_variables("counts")
    # Then each names its service as the dashboard does
    assert worker_env["POWERTOOLS_SERVICE_NAME"] == "${local.worker_service}"
    assert api_env["POWERTOOLS_SERVICE_NAME"] == "${local.api_service}"
    assert stream_env["POWERTOOLS_SERVICE_NAME"] == "${local.stream_ingest_service}"
    assert counts_env["POWERTOOLS_SERVICE_NAME"] == "${local.counts_service}"


def test_every_function_emitting_ingest_metrics_is_charted() -> None:
    # Given the services whose accepted rows the dashboard charts
    services = {row[3] for row in _custom_metric_rows() if row[1] == observability.METRIC_ROWS_ACCEPTED}
    # Then they are both ingest paths, each emitting RowsAccepted under its own service name
    assert services == {EVALUATOR.value("${local.api_service}"), EVALUATOR.value("${local.stream_ingest_service}")}


def test_every_background_function_has_its_errors_charted() -> None:
    # Given the functions whose Lambda errors the dashboard charts
    charted = {
        row[3] for widget in WIDGETS for row in widget["properties"]["metrics"] if row[:2] == ["AWS/Lambda", "Errors"]
    }
    functions = load().functions
    # Then they include every function but the API, whose failures reach its callers as 5xx answers
    # (alarmed); the others fail unseen but for these
    assert charted >= {Ref(f"module.{name}.function_name") for name in functions if name != "ingestor"}


def test_queue_age_and_dlq_depth_are_charted() -> None:
    # Given the dashboard's widgets
    # Then the send queue's oldest message's age and the dead-letter queues' depth are charted
    assert {"ApproximateAgeOfOldestMessage", "ApproximateNumberOfMessagesVisible"} <= CHARTED


def test_every_stream_consumer_has_its_lag_charted() -> None:
    # Given the functions whose lag (IteratorAge: how far behind the table's changes their counts are)
    # the dashboard charts
    charted = {
        row[3]
        for widget in WIDGETS
        for row in widget["properties"]["metrics"]
        if row[:2] == ["AWS/Lambda", "IteratorAge"]
    }
    # Mappings with a starting position read a stream (an SQS mapping has none)
    mappings = load().resources["aws_lambda_event_source_mapping"].values()
    consumers = {
        Ref(str(reference(m["function_name"])).replace(".arn", ".function_name"))
        for m in mappings
        if "starting_position" in m
    }
    # Then they are exactly the stream consumers
    assert consumers and charted == consumers


def test_the_account_reputation_rates_are_charted_with_the_alarm_thresholds() -> None:
    # Given the SES reputation alarms and the dashboard's SES widget
    alarms = EVALUATOR.value("${local.ses_reputation_alarms}")
    (widget,) = [w for w in WIDGETS if any(row[0] == "AWS/SES" for row in w["properties"]["metrics"])]
    rows = [row for row in widget["properties"]["metrics"] if row[0] == "AWS/SES"]
    # Then it charts the rates the alarms watch, as they watch them: AWS/SES, no dimensions, their period
    assert sorted(row[1] for row in rows) == sorted(alarm["metric_name"] for alarm in alarms.values())
    assert all(len(row) == 3 for row in rows)
    assert widget["properties"]["period"] == EVALUATOR.value("${local.ses_reputation_period}")
    # And a line at each alarm's threshold
    lines = [line["value"] for line in widget["properties"]["annotations"]["horizontal"]]
    assert sorted(lines) == sorted(alarm["threshold"] for alarm in alarms.values())


def _widget(metric: str) -> dict[str, Any]:
    widgets: list[dict[str, Any]] = [
        w for w in WIDGETS if any(row[1] == metric for row in w["properties"]["metrics"] if len(row) > 1)
    ]
    (widget,) = widgets
    return widget


def test_the_achieved_send_rate_is_emails_sent_per_second() -> None:
    # Given the widget of the achieved rate: EmailsSent summed per period, divided by the period
    (widget,) = [w for w in WIDGETS if "send rate" in w["properties"]["title"].lower()]
    (expression,) = [row[0] for row in widget["properties"]["metrics"] if "expression" in row[0]]
    (sent,) = [row for row in widget["properties"]["metrics"] if row[1:2] == [observability.METRIC_EMAILS_SENT]]
    # Then it is SUM / PERIOD of the worker's EmailsSent
    assert sent[2:4] == ["service", WORKER_SERVICE]
    assert sent[-1]["stat"] == "Sum" and sent[-1]["visible"] is False
    assert expression["expression"] == f"{sent[-1]['id']} / PERIOD({sent[-1]['id']})"


def test_the_pace_is_charted() -> None:
    # Given the widgets of how long sends waited for a token, and of how many were put back on the queue
    # for want of one
    wait = _widget(observability.METRIC_TOKEN_WAIT)
    deferred = _widget(observability.METRIC_SENDS_DEFERRED)
    # Then the wait is charted at its median and 99th percentile, and the deferred sends as a sum
    assert {row[-1]["stat"] for row in wait["properties"]["metrics"]} >= {"p50", "p99"}
    assert deferred["properties"]["stat"] == "Sum"


def test_provider_metrics_are_charted_for_every_provider() -> None:
    # Given the metrics the worker emits per provider, under the provider dimension
    per_provider = {
        observability.METRIC_EMAILS_SENT_VIA,
        observability.METRIC_SENDS_FAILED_OVER,
        observability.METRIC_BREAKER_OPENED,
    }
    for metric in per_provider:
        rows = [row for row in _custom_metric_rows() if row[1] == metric]
        # Then each is charted once per provider the worker knows, by the provider dimension
        assert all(row[4] == observability.DIMENSION_PROVIDER for row in rows), metric
        assert sorted(row[5] for row in rows) == sorted(provider.value for provider in Provider), metric
        assert all(row[2:4] == ["service", WORKER_SERVICE] for row in rows), metric


def test_widgets_tile_the_dashboard_without_overlap() -> None:
    # Given each widget's place on the dashboard's 24-column grid
    cells = [
        {
            (column, row)
            for column in range(int(w["x"]), int(w["x"] + w["width"]))
            for row in range(w["y"], w["y"] + w["height"])
        }
        for w in WIDGETS
    ]
    # Then every widget is a metric chart inside the grid, and no two share a cell
    assert all(w["type"] == "metric" and w["x"] + w["width"] <= 24 for w in WIDGETS)
    assert sum(len(c) for c in cells) == len(set().union(*cells))
    # And each row of widgets fills the width, so the grid has no holes
    rows: dict[int, float] = {}
    for w in WIDGETS:
        rows[w["y"]] = rows.get(w["y"], 0) + w["width"]
    assert set(rows.values()) == {24}


def test_every_chart_is_a_time_series_in_the_stacks_region() -> None:
    # Given the widgets' properties
    properties = [w["properties"] for w in WIDGETS]
    # Then each is a time series of the stack's region, with its title, period and metrics
    assert all(p["view"] == "timeSeries" and p["region"] == EVALUATOR.value("${var.aws_region}") for p in properties)
    assert all({"title", "period", "metrics"} <= set(p) for p in properties)
