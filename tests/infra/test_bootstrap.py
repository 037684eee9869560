"""terraform/bootstrap: the state bucket, the GitHub OIDC trust and a deploy policy that covers the stack."""

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.infra.terraform import TERRAFORM_DIR, load
from tests.infra.test_private_bucket import private_bucket_call

BOOTSTRAP_DIR = TERRAFORM_DIR / "bootstrap"
DEPLOY_WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "deploy.yml"
REPOSITORY = "acme/csv-campaign"

# What Terraform calls to create, read and delete each kind of block of terraform/ (a sample of the
# calls, enough that a missing grant shows). A block kind that is not listed fails
# test_every_block_kind_of_the_stack_is_known: add its calls here and grant them in bootstrap/main.tf.
REQUIRED_ACTIONS: dict[str, frozenset[str]] = {
    "aws_apigatewayv2_api": frozenset({"apigateway:POST", "apigateway:GET", "apigateway:PATCH", "apigateway:DELETE"}),
    "aws_apigatewayv2_integration": frozenset({"apigateway:POST", "apigateway:GET", "apigateway:DELETE"}),
    "aws_apigatewayv2_route": frozenset({"apigateway:POST", "apigateway:GET", "apigateway:DELETE"}),
    # Access logs: API Gateway's documented caller permissions for log delivery.
    "aws_apigatewayv2_stage": frozenset(
        {"apigateway:POST", "apigateway:GET", "apigateway:DELETE", "logs:CreateLogDelivery", "logs:GetLogDelivery"}
    ),
    "aws_cloudwatch_dashboard": frozenset(
        {"cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards"}
    ),
    "aws_cloudwatch_log_group": frozenset(
        {"logs:CreateLogGroup", "logs:DescribeLogGroups", "logs:PutRetentionPolicy", "logs:DeleteLogGroup"}
    ),
    "aws_cloudwatch_metric_alarm": frozenset(
        {"cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"}
    ),
    "aws_dynamodb_table": frozenset(
        {
            "dynamodb:CreateTable",
            "dynamodb:DescribeTable",
            "dynamodb:UpdateTable",
            "dynamodb:UpdateTimeToLive",
            "dynamodb:UpdateContinuousBackups",
            "dynamodb:DeleteTable",
        }
    ),
    "aws_iam_role": frozenset({"iam:CreateRole", "iam:GetRole", "iam:UpdateAssumeRolePolicy", "iam:DeleteRole"}),
    "aws_iam_role_policy": frozenset({"iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy"}),
    "aws_lambda_event_source_mapping": frozenset(
        {
            "lambda:CreateEventSourceMapping",
            "lambda:GetEventSourceMapping",
            "lambda:UpdateEventSourceMapping",
            "lambda:DeleteEventSourceMapping",
        }
    ),
    "aws_lambda_function": frozenset(
        {
            "lambda:CreateFunction",
            "lambda:GetFunction",
            "lambda:UpdateFunctionCode",
            "lambda:UpdateFunctionConfiguration",
            "lambda:PutFunctionConcurrency",
            "lambda:DeleteFunction",
            "iam:PassRole",
        }
    ),
    "aws_lambda_function_event_invoke_config": frozenset(
        {
            "lambda:PutFunctionEventInvokeConfig",
            "lambda:GetFunctionEventInvokeConfig",
            "lambda:DeleteFunctionEventInvokeConfig",
        }
    ),
    "aws_lambda_permission": frozenset({"lambda:AddPermission", "lambda:GetPolicy", "lambda:RemovePermission"}),
    "aws_s3_bucket": frozenset({"s3:CreateBucket", "s3:ListBucket", "s3:GetBucketTagging", "s3:DeleteBucket"}),
    "aws_s3_bucket_cors_configuration": frozenset({"s3:PutBucketCORS", "s3:GetBucketCORS"}),
    "aws_s3_bucket_lifecycle_configuration": frozenset(
        {"s3:PutLifecycleConfiguration", "s3:GetLifecycleConfiguration"}
    ),
    "aws_s3_bucket_notification": frozenset({"s3:PutBucketNotification", "s3:GetBucketNotification"}),
    "aws_s3_bucket_ownership_controls": frozenset({"s3:PutBucketOwnershipControls", "s3:GetBucketOwnershipControls"}),
    "aws_s3_bucket_policy": frozenset({"s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:DeleteBucketPolicy"}),
    "aws_s3_bucket_public_access_block": frozenset({"s3:PutBucketPublicAccessBlock", "s3:GetBucketPublicAccessBlock"}),
    "aws_s3_bucket_server_side_encryption_configuration": frozenset(
        {"s3:PutEncryptionConfiguration", "s3:GetEncryptionConfiguration"}
    ),
    "aws_secretsmanager_secret": frozenset(
        {"secretsmanager:CreateSecret", "secretsmanager:DescribeSecret", "secretsmanager:DeleteSecret"}
    ),
    "aws_secretsmanager_secret_version": frozenset({"secretsmanager:PutSecretValue", "secretsmanager:GetSecretValue"}),
    "aws_sesv2_configuration_set": frozenset(
        {"ses:CreateConfigurationSet", "ses:GetConfigurationSet", "ses:DeleteConfigurationSet"}
    ),
    "aws_sesv2_configuration_set_event_destination": frozenset(
        {
            "ses:CreateConfigurationSetEventDestination",
            "ses:GetConfigurationSetEventDestinations",
            "ses:DeleteConfigurationSetEventDestination",
        }
    ),
    "aws_sesv2_email_identity": frozenset(
        {"ses:CreateEmailIdentity", "ses:GetEmailIdentity", "ses:DeleteEmailIdentity"}
    ),
    "aws_sns_topic": frozenset({"sns:CreateTopic", "sns:GetTopicAttributes", "sns:DeleteTopic"}),
    "aws_sns_topic_policy": frozenset({"sns:SetTopicAttributes", "sns:GetTopicAttributes"}),
    "aws_sns_topic_subscription": frozenset({"sns:Subscribe", "sns:GetSubscriptionAttributes", "sns:Unsubscribe"}),
    "aws_sqs_queue": frozenset(
        {"sqs:CreateQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes", "sqs:DeleteQueue"}
    ),
    "aws_sqs_queue_policy": frozenset({"sqs:SetQueueAttributes", "sqs:GetQueueAttributes"}),
    "aws_sqs_queue_redrive_allow_policy": frozenset({"sqs:SetQueueAttributes", "sqs:GetQueueAttributes"}),
    # Terraform itself; no AWS call.
    "terraform_data": frozenset(),
    # Data sources: STS GetCallerIdentity needs no permission; the others are computed by the provider.
    "data.aws_caller_identity": frozenset(),
    "data.aws_partition": frozenset(),
    "data.aws_iam_policy_document": frozenset(),
    # Ephemeral values: random_password is local; the AWS provider's own generator calls Secrets Manager.
    "ephemeral.random_password": frozenset(),
    "ephemeral.aws_secretsmanager_random_password": frozenset({"secretsmanager:GetRandomPassword"}),
}

# The IAM service of a block kind, by the longest matching prefix of its type; otherwise the word after aws_.
SERVICE_OF_PREFIX = {
    "aws_apigatewayv2_": "apigateway",
    "aws_cloudwatch_log_": "logs",
    "aws_cloudwatch_": "cloudwatch",
    "aws_sesv2_": "ses",
    "aws_lambda_": "lambda",
}
NO_SERVICE = frozenset({"terraform_data", "random_password", "aws_caller_identity", "aws_partition"})
NO_SERVICE_DATA = frozenset({"aws_iam_policy_document"})  # rendered by the provider, no call

# Deploy-policy statements whose resources are not the stage's names or its state objects, and why.
UNSCOPED_STATEMENTS = {
    "LambdaEventSourceMappingsCreate": "CreateEventSourceMapping authorises no resource; lambda:FunctionArn holds it",
    "LambdaEventSourceMappingsChange": "a mapping's ARN is a UUID; lambda:FunctionArn holds it to the stage",
    "LambdaEventSourceMappingsReadAndTag": "a mapping's ARN is a UUID",
    "SnsSubscriptions": "SNS authorises subscription calls on no resource",
    "SecretsManagerRandomPassword": "GetRandomPassword authorises no resource and touches no secret",
    "SesIdentity": "the identity is the operator's domain, not a name under the stage's prefix",
    "ApiGatewayHttpApis": "an HTTP API's ARN holds its generated id, not its name",
    "ApiGatewayAccessLogDelivery": "log delivery calls authorise no resource",
    "LogGroupsDescribe": "DescribeLogGroups is authorised on the account's log groups as a whole",
}


def bootstrap() -> Any:
    return load(BOOTSTRAP_DIR)


def stages(repository: str = REPOSITORY) -> dict[str, dict[str, Any]]:
    config = bootstrap()
    evaluator = config.evaluator("dev", with_tfvars=False, overrides={"github_repository": repository})
    result: dict[str, dict[str, Any]] = evaluator.value(config.locals["stages"])
    return result


def deploy_statements() -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = bootstrap().data["aws_iam_policy_document"]["deploy"]["statement"]
    return statements


def granted_actions() -> set[str]:
    return {action for statement in deploy_statements() for action in statement["actions"]}


def is_granted(action: str) -> bool:
    return any(fnmatch.fnmatchcase(action, granted) for granted in granted_actions())


def stack_block_kinds() -> set[str]:
    """The kinds of block terraform/ declares, its local modules' included."""
    configs = [load(), *load().called_modules().values()]
    return set().union(
        *(
            set(config.resources)
            | {f"data.{kind}" for kind in config.data}
            | {f"ephemeral.{kind}" for kind in config.ephemeral}
            for config in configs
        )
    )


def service_of(kind: str) -> str | None:
    family, _, name = kind.rpartition(".")
    if name in NO_SERVICE or (family == "data" and name in NO_SERVICE_DATA):
        return None
    prefix = max((p for p in SERVICE_OF_PREFIX if name.startswith(p)), key=len, default=None)
    if prefix is not None:
        return SERVICE_OF_PREFIX[prefix]
    return name.split("_")[1]  # aws_sqs_queue -> sqs, aws_secretsmanager_secret -> secretsmanager


def failing_validations(variable: str, value: Any) -> list[str]:
    config = bootstrap()
    evaluator = config.evaluator("dev", with_tfvars=False, overrides={variable: value})
    checks = config.variables[variable].get("validation", [])
    return [check["error_message"] for check in checks if not evaluator.value(check["condition"])]


def test_bootstrap_is_split_and_documented() -> None:
    # Given the bootstrap stack
    config = bootstrap()
    # Then it follows the terraform-aws-modules split, with every variable typed and described and
    # every output described
    assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf"} <= {p.name for p in BOOTSTRAP_DIR.glob("*.tf")}
    for name, spec in config.variables.items():
        assert spec.get("type") and spec.get("description"), name
    for name, spec in config.outputs.items():
        assert spec.get("description"), name
    assert {"state_bucket_name", "deploy_role_arns", "backend_config"} <= set(config.outputs)
    (block,) = config.terraform
    assert block["required_version"] == load().terraform[0]["required_version"]


def test_state_bucket_is_versioned_encrypted_private_and_kept() -> None:
    # Given the state bucket and its settings
    config = bootstrap()
    bucket = config.resource("aws_s3_bucket", "state")
    versioning = config.resource("aws_s3_bucket_versioning", "state")
    call = private_bucket_call(config, "state")
    # Then it keeps every version, is made private, encrypted and TLS-only by the module
    # (tests/infra/test_private_bucket.py), and cannot be destroyed by a plan
    assert versioning["versioning_configuration"][0]["status"] == "Enabled"
    assert versioning["bucket"] == "${aws_s3_bucket.state.id}"
    assert bucket["lifecycle"][0]["prevent_destroy"] is True
    # And old state versions expire, but never the 10 newest; the rules wait for versioning
    (rule,) = call["lifecycle_rules"]
    assert rule["noncurrent_version_expiration"] == {
        "noncurrent_days": "${var.state_noncurrent_version_days}",
        "newer_noncurrent_versions": 10,
    }
    assert rule["expired_object_delete_marker"] is True and "prefix" not in rule
    assert call["depends_on"] == ["${aws_s3_bucket_versioning.state}"]


def test_state_bucket_policy_refuses_requests_without_tls_or_below_tls_1_2() -> None:
    # Given the state bucket's call of the module, whose policy refuses requests without TLS
    call = private_bucket_call(bootstrap(), "state")
    # Then it also refuses TLS older than 1.2
    assert call["minimum_tls_version"] == "1.2"


def test_trust_policy_allows_only_this_repository_and_its_environments() -> None:
    # Given the OIDC provider and a deploy role's trust policy
    config = bootstrap()
    provider = config.resource("aws_iam_openid_connect_provider", "github")
    (statement,) = config.data["aws_iam_policy_document"]["deploy_trust"]["statement"]
    conditions = {c["variable"]: c for c in statement["condition"]}
    host = config.locals["github_oidc_host"]
    # Then the provider is GitHub's with the STS audience
    assert provider["url"] == "https://${local.github_oidc_host}" and host == "token.actions.githubusercontent.com"
    assert provider["client_id_list"] == ["sts.amazonaws.com"]
    # And only web identities from it may assume the role, for the STS audience and exact subjects
    assert statement["actions"] == ["sts:AssumeRoleWithWebIdentity"]
    assert statement["principals"] == [{"type": "Federated", "identifiers": ["${local.github_oidc_provider_arn}"]}]
    assert set(conditions) == {"${local.github_oidc_host}:aud", "${local.github_oidc_host}:sub"}
    aud, sub = conditions["${local.github_oidc_host}:aud"], conditions["${local.github_oidc_host}:sub"]
    assert (aud["test"], aud["values"]) == ("StringEquals", ["sts.amazonaws.com"])
    assert (sub["test"], sub["values"]) == ("StringEquals", "${each.value.subjects}")
    # And the subjects are this repository's environments of the stage (the deploy workflow's plan job
    # runs in <stage>-plan, its apply job in <stage>), one role per stage
    assert {stage: spec["subjects"] for stage, spec in stages().items()} == {
        stage: [f"repo:{REPOSITORY}:environment:{stage}-plan", f"repo:{REPOSITORY}:environment:{stage}"]
        for stage in ("dev", "prod")
    }
    workflow = DEPLOY_WORKFLOW.read_text()
    assert "environment: ${{ github.event_name == 'push' && 'dev' || inputs.stage }}-plan" in workflow
    assert config.resource("aws_iam_role", "deploy")["for_each"] == "${local.stages}"


@pytest.mark.parametrize(
    "repository",
    ["*", "*/*", "acme/*", "acme/csv-?", "acme", "acme/csv/x", "https://github.com/acme/csv", "repo:acme/csv", ""],
)
def test_github_repository_must_be_one_owner_and_name(repository: str) -> None:
    # Given a repository that is not exactly owner/name
    # Then the variable's validation refuses it
    assert failing_validations("github_repository", repository)


@pytest.mark.parametrize("repository", ["acme/csv-campaign", "Acme-Corp/csv.campaign_2"])
def test_github_repository_accepts_owner_and_name(repository: str) -> None:
    # Given a repository named as owner/name
    # Then the variable's validation accepts it
    assert failing_validations("github_repository", repository) == []


@pytest.mark.parametrize(
    "environments", [{"staging": ["staging"]}, {"prod": ["*"]}, {"prod": []}, {"dev": ["dev", "d?v"]}, {}]
)
def test_github_environments_are_exact_names_per_stage(environments: dict[str, list[str]]) -> None:
    # Given environments that are not exact names, or not per stage
    # Then the variable's validation refuses them
    assert failing_validations("github_environments", environments)


@pytest.mark.parametrize("name", ["Tfstate", "ab", "my.state.bucket", "xn--state", "state-s3alias", "-state", "a" * 64])
def test_state_bucket_name_follows_s3_rules(name: str) -> None:
    # Given a bucket name S3 would refuse
    # Then the variable's validation refuses it
    assert failing_validations("state_bucket_name", name)


@pytest.mark.parametrize("name", [None, "acme-tfstate-123456789012", "abc"])
def test_state_bucket_name_accepts_valid_names(name: str | None) -> None:
    # Given a valid bucket name, or none (a name is then derived)
    # Then the variable's validation accepts it
    assert failing_validations("state_bucket_name", name) == []


def test_every_block_kind_of_the_stack_is_known() -> None:
    # Given every resource, data source and ephemeral kind terraform/*.tf declares
    unknown = stack_block_kinds() - set(REQUIRED_ACTIONS)
    # Then each has its calls listed above (and granted by the bootstrap's deploy policy)
    assert not unknown, f"list the calls of {sorted(unknown)} in REQUIRED_ACTIONS and grant them in bootstrap/main.tf"


def test_deploy_policy_grants_every_service_of_the_stack() -> None:
    # Given the IAM service of each kind of block the stack declares, derived from its type
    services = {service for kind in stack_block_kinds() if (service := service_of(kind)) is not None}
    granted = {action.split(":")[0] for action in granted_actions()}
    # Then the deploy policy grants actions of every one of them
    assert services - granted == set(), f"the deploy policy grants nothing of {sorted(services - granted)}"


def test_deploy_policy_grants_the_calls_of_each_block_kind() -> None:
    # Given the calls each kind of block of the stack needs
    # When each is checked against the deploy policy
    missing = {
        kind: sorted(action for action in REQUIRED_ACTIONS.get(kind, ()) if not is_granted(action))
        for kind in stack_block_kinds()
    }
    # Then the deploy policy grants them all
    assert {kind: actions for kind, actions in missing.items() if actions} == {}


def test_deploy_policy_is_scoped_to_the_stage_and_its_state() -> None:
    # Given the deploy policy's statements
    statements = {s["sid"]: s for s in deploy_statements()}
    scoped = ("${each.value.name}", "${aws_s3_bucket.state.arn}")
    unscoped = {sid for sid, s in statements.items() if not all(any(p in r for p in scoped) for r in s["resources"])}
    # Then every statement's resources are the stage's names or the state bucket, but the listed ones
    assert unscoped == set(UNSCOPED_STATEMENTS)
    # And only Allow statements, with no action wildcards
    assert all(s.get("effect", "Allow") == "Allow" for s in statements.values())
    assert not [a for a in granted_actions() if "*" in a]
    # And the state objects are the stage's own workspace only
    state = [r for s in statements.values() for r in s["resources"] if "/env:/" in r]
    assert state and all("/env:/${each.key}/${local.state_key}" in r for r in state)


def test_deploy_roles_are_outside_the_prefix_they_manage() -> None:
    # Given the stages' names in the stack (../locals.tf) and the bootstrap
    stack = load()
    assert bootstrap().locals["project"] == stack.locals["project"]
    assert stack.locals["name"] == "${local.project}-${local.stage}"
    for stage, spec in stages().items():
        # Then the stage prefix is the stack's, and the deploy role cannot change itself through it
        assert spec["name"] == stack.evaluator(stage).value(stack.locals["name"])
        assert not fnmatch.fnmatchcase(spec["role_name"], f"{spec['name']}-*")


def test_state_key_is_the_deploy_workflows() -> None:
    # Given the key the deploy workflow passes to the backend, if it passes one
    keys = set(re.findall(r"^\s*TF_STATE_KEY:\s*(\S+)\s*$", DEPLOY_WORKFLOW.read_text(), re.MULTILINE))
    # Then the deploy roles may use exactly that key
    evaluator = bootstrap().evaluator("dev", with_tfvars=False)
    assert keys == {evaluator.value(bootstrap().locals["state_key"])}


def test_deploy_policy_fits_an_inline_policy() -> None:
    # Given the deploy policy rendered with long names (prod, a long region and bucket ARN)
    values = {
        "${local.partition}": "aws-us-gov",
        "${each.value.region}": "ap-southeast-2",
        "${local.account_id}": "123456789012",
        "${each.value.name}": "csv-campaign-prod",
        "${aws_s3_bucket.state.arn}": "arn:aws-us-gov:s3:::" + "b" * 63,
        "${each.key}": "prod",
        "${local.state_key}": "csv-campaign/terraform.tfstate",
    }
    rendered = [
        {
            "Sid": s["sid"],
            "Effect": "Allow",
            "Action": s["actions"],
            "Resource": s["resources"],
            "Condition": {c["test"]: {c["variable"]: c["values"]} for c in s.get("condition", [])},
        }
        for s in deploy_statements()
    ]
    text = json.dumps({"Version": "2012-10-17", "Statement": rendered}, separators=(",", ":"))
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    # Then it stays under IAM's 10,240 characters for a role's inline policies
    assert "${" not in text and len(text) < 10240
