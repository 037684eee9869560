################################################################################
# HTTP API (API Gateway v2) -> ingestor Lambda
################################################################################

resource "aws_apigatewayv2_api" "this" {
  name          = local.name
  description   = "CSV campaign sender: upload, GraphQL status, docs"
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_integration" "ingestor" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = module.ingestor.invoke_arn
  payload_format_version = "2.0"
  # The HTTP API's ceiling; the function itself stops at 29 s (locals.tf).
  timeout_milliseconds = 30000
}

# Explicit routes rather than a $default catch-all: an unknown path is answered 404 by API Gateway
# without invoking (and paying for) the Lambda, and FastAPI's /redoc and /docs/oauth2-redirect stay
# unexposed.
resource "aws_apigatewayv2_route" "ingestor" {
  #checkov:skip=CKV_AWS_309:The app checks an API key (app/auth.py, secret in secrets.tf) on uploads and queries; /health, /docs, /openapi.json and the GraphiQL page are public by design.
  for_each = toset(local.api_routes)

  api_id    = aws_apigatewayv2_api.this.id
  route_key = each.value
  target    = "integrations/${aws_apigatewayv2_integration.ingestor.id}"
}

resource "aws_apigatewayv2_route" "preflight" {
  #checkov:skip=CKV_AWS_309:CORS preflight requests carry no credentials by design; the app answers them for the allowed origins only.
  for_each = length(var.cors_allow_origins) > 0 ? toset(local.api_preflight_routes) : toset([])

  api_id    = aws_apigatewayv2_api.this.id
  route_key = each.value
  target    = "integrations/${aws_apigatewayv2_integration.ingestor.id}"
}

resource "aws_cloudwatch_log_group" "api_access" {
  #checkov:skip=CKV_AWS_158:Access logs hold request metadata only and are encrypted by CloudWatch's own key; a CMK per stage is not worth its cost here.
  name              = "/aws/apigateway/${local.name}"
  retention_in_days = local.cfg.log_retention_days
}

# The $default stage serves at the root path, so /docs fetches /openapi.json at the right URL
# (a named stage breaks that under Mangum).
resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit  = local.cfg.api_rate_limit
    throttling_burst_limit = local.cfg.api_burst_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      sourceIp           = "$context.identity.sourceIp"
      requestTime        = "$context.requestTime"
      httpMethod         = "$context.httpMethod"
      routeKey           = "$context.routeKey"
      status             = "$context.status"
      protocol           = "$context.protocol"
      responseLength     = "$context.responseLength"
      responseLatency    = "$context.responseLatency"
      integrationStatus  = "$context.integrationStatus"
      integrationLatency = "$context.integrationLatency"
      integrationError   = "$context.integrationErrorMessage"
    })
  }
}

resource "aws_lambda_permission" "api" {
  statement_id  = "AllowHttpApiInvoke"
  action        = "lambda:InvokeFunction"
  function_name = module.ingestor.function_name
  principal     = "apigateway.amazonaws.com"
  # Any stage and route of this API only.
  source_arn = "${aws_apigatewayv2_api.this.execution_arn}/*/*"
}
