"""API Lambda entry point. The app and adapter are built once per container; lifespan is off because
Mangum would otherwise run it on every invocation."""

from campaign.cold_start import collector_paused

# The imports and the app's construction, with the garbage collector paused (campaign/cold_start.py).
with collector_paused():
    from typing import Any

    from aws_lambda_powertools.logging import correlation_paths
    from mangum import Mangum

    from app.main import create_app
    from campaign.observability import logger, metrics, tracer

    app = create_app()
    _asgi = Mangum(app, lifespan="off")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _asgi(event, context)
