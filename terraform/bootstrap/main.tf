################################################################################
# Bootstrap: what an AWS account needs once, before the stage workspaces of ../ can be applied by the
# deploy workflow: the state bucket, the GitHub OIDC provider and one deploy role per stage.
# Applied by hand with an administrator's credentials; its own state stays local (docs/deploy.md).
################################################################################

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = {
      Project   = local.project
      Stack     = "bootstrap"
      ManagedBy = "terraform"
    }
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  # ../locals.tf: every resource of a stage is named csv-campaign-<stage>[-...].
  project    = "csv-campaign"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  state_bucket_name = coalesce(var.state_bucket_name, "${local.project}-tfstate-${local.account_id}")
  # The key the deploy workflow passes (-backend-config=key=...); workspace <stage> keeps its state at
  # env:/<stage>/<key>, and the S3-native lock beside it at <that>.tflock.
  state_key = "${local.project}/terraform.tfstate"

  github_oidc_host = "token.actions.githubusercontent.com"
  github_oidc_provider_arn = (var.create_github_oidc_provider
    ? aws_iam_openid_connect_provider.github[0].arn
  : data.aws_iam_openid_connect_provider.github[0].arn)

  # One deploy role per stage, named outside the stage's prefix (csv-campaign-deploy-dev, not
  # csv-campaign-dev-...), so that no role can change its own policy. A stage's region is the one its
  # var-file names (aws_region there); the two are assumed equal unless stage_regions says otherwise.
  stages = { for stage in keys(var.github_environments) : stage => {
    name      = "${local.project}-${stage}"
    region    = lookup(var.stage_regions, stage, var.aws_region)
    role_name = "${local.project}-deploy-${stage}"
    subjects  = [for environment in var.github_environments[stage] : "repo:${var.github_repository}:environment:${environment}"]
  } }
}

################################################################################
# State bucket
################################################################################

resource "aws_s3_bucket" "state" {
  #checkov:skip=CKV_AWS_18:Only the deploy roles and administrators touch the state; CloudTrail records who did what, and a log bucket would need a bootstrap of its own.
  #checkov:skip=CKV_AWS_144:Versioning keeps every state written; a replica in a second region adds cost without a recovery need for a state that can be re-imported.
  #checkov:skip=CKV_AWS_145:SSE-S3, as the stacks' buckets use (../modules/private_bucket); a customer-managed KMS key would add cost and key grants to every deploy role for no extra control over who reads the state (IAM and the bucket policy decide that).
  #checkov:skip=CKV2_AWS_62:Nothing reacts to a state write; the deploy workflow's logs record each apply.
  bucket = local.state_bucket_name

  # Losing the bucket loses every stage's state: a plan that would destroy it fails.
  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id

  versioning_configuration {
    status = "Enabled"
  }
}

# Private, encrypted, TLS 1.2 or later only; the objects are the bucket owner's, whichever role wrote them.
module "state_bucket" {
  source = "../modules/private_bucket"

  bucket              = aws_s3_bucket.state.id
  bucket_arn          = aws_s3_bucket.state.arn
  minimum_tls_version = "1.2"

  # Every apply writes a version; old ones are only for recovery. The 10 newest stay whatever their age.
  # A deleted lock file leaves a delete marker; it is dropped once its versions are gone.
  lifecycle_rules = [{
    id                           = "expire-old-state-versions"
    expired_object_delete_marker = true
    noncurrent_version_expiration = {
      noncurrent_days           = var.state_noncurrent_version_days
      newer_noncurrent_versions = 10
    }
  }]

  # The lifecycle rules apply to the versions that exist when versioning is on.
  depends_on = [aws_s3_bucket_versioning.state]
}

# Where these resources were before the module: Terraform moves them, nothing is replaced.
moved {
  from = aws_s3_bucket_server_side_encryption_configuration.state
  to   = module.state_bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_public_access_block.state
  to   = module.state_bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.state
  to   = module.state_bucket.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_policy.state
  to   = module.state_bucket.aws_s3_bucket_policy.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.state
  to   = module.state_bucket.aws_s3_bucket_lifecycle_configuration.this
}

################################################################################
# GitHub OIDC provider: one per account
################################################################################

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_github_oidc_provider ? 1 : 0

  url            = "https://${local.github_oidc_host}"
  client_id_list = ["sts.amazonaws.com"]
  # IAM trusts GitHub's certificate authority itself and ignores these; older providers and emulators
  # still want a list. GitHub's published intermediate thumbprints.
  thumbprint_list = [
    "6938fd4d98bab03faadb97b34396831e3780aea1",
    "1c58a3a8518e8759bf075b76b750d4f2df264fcd",
  ]
}

data "aws_iam_openid_connect_provider" "github" {
  count = var.create_github_oidc_provider ? 0 : 1

  url = "https://${local.github_oidc_host}"
}

################################################################################
# Deploy roles: one per stage, assumable only from that stage's GitHub environments
################################################################################

data "aws_iam_policy_document" "deploy_trust" {
  for_each = local.stages

  statement {
    sid     = "GitHubActionsOfThisRepositoryAndStage"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.github_oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.github_oidc_host}:aud"
      values   = ["sts.amazonaws.com"]
    }

    # Exact subjects (StringEquals, no wildcards): repo:<owner>/<name>:environment:<environment>.
    condition {
      test     = "StringEquals"
      variable = "${local.github_oidc_host}:sub"
      values   = each.value.subjects
    }
  }
}

resource "aws_iam_role" "deploy" {
  for_each = local.stages

  name                 = each.value.role_name
  description          = "Deploys the ${each.key} stage of ${local.project} from GitHub Actions (${var.github_repository})"
  assume_role_policy   = data.aws_iam_policy_document.deploy_trust[each.key].json
  max_session_duration = 3600
}

resource "aws_iam_role_policy" "deploy" {
  for_each = local.stages

  name   = "deploy-${each.key}"
  role   = aws_iam_role.deploy[each.key].id
  policy = data.aws_iam_policy_document.deploy[each.key].json
}

# What `terraform plan/apply/destroy` of ../ needs in one stage, derived from the resources it declares
# (tests/infra/test_bootstrap.py fails when a resource of a service that is not granted here appears).
# Resources are scoped to the stage's names (csv-campaign-<stage>[-...], ../locals.tf) wherever the
# service allows; the statements whose resource is "*" or a whole kind say why.
data "aws_iam_policy_document" "deploy" {
  for_each = local.stages

  # ---- Terraform state: this stage's workspace only ---------------------------------------------------

  statement {
    sid       = "StateBucketList"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.state.arn]
  }

  statement {
    sid       = "StateReadWrite"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${aws_s3_bucket.state.arn}/env:/${each.key}/${local.state_key}"]
  }

  statement {
    sid       = "StateLockFile"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.state.arn}/env:/${each.key}/${local.state_key}.tflock"]
  }

  # `terraform init` reads the default workspace's state before a workspace is selected; the stage guard
  # (../locals.tf) keeps it empty.
  statement {
    sid       = "StateDefaultWorkspaceRead"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.state.arn}/${local.state_key}"]
  }

  # ---- Lambda -------------------------------------------------------------------------------------

  statement {
    sid = "LambdaFunctions"
    actions = [
      "lambda:AddPermission",
      "lambda:CreateFunction",
      "lambda:DeleteFunction",
      "lambda:DeleteFunctionConcurrency",
      "lambda:DeleteFunctionEventInvokeConfig",
      "lambda:GetFunction",
      "lambda:GetFunctionCodeSigningConfig",
      "lambda:GetFunctionConcurrency",
      "lambda:GetFunctionConfiguration",
      "lambda:GetFunctionEventInvokeConfig",
      "lambda:GetPolicy",
      "lambda:GetRuntimeManagementConfig",
      "lambda:ListTags",
      "lambda:ListVersionsByFunction",
      "lambda:PutFunctionConcurrency",
      "lambda:PutFunctionEventInvokeConfig",
      "lambda:RemovePermission",
      "lambda:TagResource",
      "lambda:UntagResource",
      "lambda:UpdateFunctionCode",
      "lambda:UpdateFunctionConfiguration",
      "lambda:UpdateFunctionEventInvokeConfig",
    ]
    resources = ["arn:${local.partition}:lambda:${each.value.region}:${local.account_id}:function:${each.value.name}-*"]
  }

  # CreateEventSourceMapping authorises no resource ("*"); the condition holds it to the stage's functions.
  statement {
    sid       = "LambdaEventSourceMappingsCreate"
    actions   = ["lambda:CreateEventSourceMapping"]
    resources = ["*"]

    condition {
      test     = "ArnLike"
      variable = "lambda:FunctionArn"
      values   = ["arn:${local.partition}:lambda:${each.value.region}:${local.account_id}:function:${each.value.name}-*"]
    }
  }

  statement {
    sid       = "LambdaEventSourceMappingsChange"
    actions   = ["lambda:DeleteEventSourceMapping", "lambda:UpdateEventSourceMapping"]
    resources = ["arn:${local.partition}:lambda:${each.value.region}:${local.account_id}:event-source-mapping:*"]

    condition {
      test     = "ArnLike"
      variable = "lambda:FunctionArn"
      values   = ["arn:${local.partition}:lambda:${each.value.region}:${local.account_id}:function:${each.value.name}-*"]
    }
  }

  # A mapping's ARN is a generated UUID: reading and tagging cannot be held to the stage by name.
  statement {
    sid       = "LambdaEventSourceMappingsReadAndTag"
    actions   = ["lambda:GetEventSourceMapping", "lambda:ListTags", "lambda:TagResource", "lambda:UntagResource"]
    resources = ["arn:${local.partition}:lambda:${each.value.region}:${local.account_id}:event-source-mapping:*"]
  }

  # ---- IAM: the stage's own execution roles -------------------------------------------------------

  statement {
    sid = "IamStageRoles"
    actions = [
      "iam:CreateRole",
      "iam:DeleteRole",
      "iam:DeleteRolePolicy",
      "iam:GetRole",
      "iam:GetRolePolicy",
      "iam:ListAttachedRolePolicies",
      "iam:ListInstanceProfilesForRole",
      "iam:ListRolePolicies",
      "iam:ListRoleTags",
      "iam:PutRolePolicy",
      "iam:TagRole",
      "iam:UntagRole",
      "iam:UpdateAssumeRolePolicy",
      "iam:UpdateRole",
    ]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/${each.value.name}-*"]
  }

  statement {
    sid       = "IamPassStageRolesToLambda"
    actions   = ["iam:PassRole"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/${each.value.name}-*"]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["lambda.amazonaws.com"]
    }
  }

  # ---- DynamoDB -----------------------------------------------------------------------------------

  statement {
    sid = "DynamoDbTable"
    actions = [
      "dynamodb:CreateTable",
      "dynamodb:DeleteTable",
      "dynamodb:DescribeContinuousBackups",
      "dynamodb:DescribeTable",
      "dynamodb:DescribeTimeToLive",
      "dynamodb:ListTagsOfResource",
      "dynamodb:TagResource",
      "dynamodb:UntagResource",
      "dynamodb:UpdateContinuousBackups",
      "dynamodb:UpdateTable",
      "dynamodb:UpdateTimeToLive",
    ]
    resources = [
      "arn:${local.partition}:dynamodb:${each.value.region}:${local.account_id}:table/${each.value.name}",
      "arn:${local.partition}:dynamodb:${each.value.region}:${local.account_id}:table/${each.value.name}/*",
    ]
  }

  # ---- SQS ----------------------------------------------------------------------------------------

  statement {
    sid = "SqsQueues"
    actions = [
      "sqs:CreateQueue",
      "sqs:DeleteQueue",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:ListQueueTags",
      "sqs:SetQueueAttributes",
      "sqs:TagQueue",
      "sqs:UntagQueue",
    ]
    resources = ["arn:${local.partition}:sqs:${each.value.region}:${local.account_id}:${each.value.name}-*"]
  }

  # ---- SNS ----------------------------------------------------------------------------------------

  statement {
    sid = "SnsTopics"
    actions = [
      "sns:CreateTopic",
      "sns:DeleteTopic",
      "sns:GetTopicAttributes",
      "sns:ListSubscriptionsByTopic",
      "sns:ListTagsForResource",
      "sns:SetTopicAttributes",
      "sns:Subscribe",
      "sns:TagResource",
      "sns:UntagResource",
    ]
    resources = ["arn:${local.partition}:sns:${each.value.region}:${local.account_id}:${each.value.name}-*"]
  }

  # SNS authorises these on no resource (a subscription is not a resource type of its own).
  statement {
    sid       = "SnsSubscriptions"
    actions   = ["sns:GetSubscriptionAttributes", "sns:SetSubscriptionAttributes", "sns:Unsubscribe"]
    resources = ["*"]
  }

  # ---- S3: the stage's upload bucket (csv-campaign-<stage>-uploads-<account>) ----------------------

  statement {
    sid = "S3UploadBucket"
    actions = [
      "s3:CreateBucket",
      "s3:DeleteBucket",
      "s3:DeleteBucketPolicy",
      "s3:GetAccelerateConfiguration",
      "s3:GetBucketAcl",
      "s3:GetBucketCORS",
      "s3:GetBucketLocation",
      "s3:GetBucketLogging",
      "s3:GetBucketNotification",
      "s3:GetBucketObjectLockConfiguration",
      "s3:GetBucketOwnershipControls",
      "s3:GetBucketPolicy",
      "s3:GetBucketPublicAccessBlock",
      "s3:GetBucketRequestPayment",
      "s3:GetBucketTagging",
      "s3:GetBucketVersioning",
      "s3:GetBucketWebsite",
      "s3:GetEncryptionConfiguration",
      "s3:GetLifecycleConfiguration",
      "s3:GetReplicationConfiguration",
      "s3:ListBucket",
      "s3:ListBucketVersions",
      "s3:PutBucketCORS",
      "s3:PutBucketNotification",
      "s3:PutBucketOwnershipControls",
      "s3:PutBucketPolicy",
      "s3:PutBucketPublicAccessBlock",
      "s3:PutBucketTagging",
      "s3:PutEncryptionConfiguration",
      "s3:PutLifecycleConfiguration",
    ]
    resources = ["arn:${local.partition}:s3:::${each.value.name}-*"]
  }

  # force_destroy (dev, ../uploads.tf) empties the bucket before deleting it.
  statement {
    sid       = "S3UploadObjectsOnDestroy"
    actions   = ["s3:DeleteObject", "s3:DeleteObjectVersion"]
    resources = ["arn:${local.partition}:s3:::${each.value.name}-*/*"]
  }

  # ---- Secrets Manager ----------------------------------------------------------------------------

  # GetSecretValue: the provider reads a secret version back after writing it, and the workflow's smoke
  # test reads the API key.
  statement {
    sid = "SecretsManagerStageSecrets"
    actions = [
      "secretsmanager:CreateSecret",
      "secretsmanager:DeleteSecret",
      "secretsmanager:DescribeSecret",
      "secretsmanager:GetResourcePolicy",
      "secretsmanager:GetSecretValue",
      "secretsmanager:ListSecretVersionIds",
      "secretsmanager:PutSecretValue",
      "secretsmanager:TagResource",
      "secretsmanager:UntagResource",
      "secretsmanager:UpdateSecret",
    ]
    resources = ["arn:${local.partition}:secretsmanager:${each.value.region}:${local.account_id}:secret:${each.value.name}/*"]
  }

  # GetRandomPassword (ephemeral aws_secretsmanager_random_password) returns random characters and
  # touches no secret: it authorises no resource.
  statement {
    sid       = "SecretsManagerRandomPassword"
    actions   = ["secretsmanager:GetRandomPassword"]
    resources = ["*"]
  }

  # ---- SES v2 -------------------------------------------------------------------------------------

  statement {
    sid = "SesConfigurationSet"
    actions = [
      "ses:CreateConfigurationSet",
      "ses:CreateConfigurationSetEventDestination",
      "ses:DeleteConfigurationSet",
      "ses:DeleteConfigurationSetEventDestination",
      "ses:GetConfigurationSet",
      "ses:GetConfigurationSetEventDestinations",
      "ses:ListTagsForResource",
      "ses:PutConfigurationSetDeliveryOptions",
      "ses:PutConfigurationSetReputationOptions",
      "ses:PutConfigurationSetSendingOptions",
      "ses:PutConfigurationSetSuppressionOptions",
      "ses:PutConfigurationSetTrackingOptions",
      "ses:PutConfigurationSetVdmOptions",
      "ses:TagResource",
      "ses:UntagResource",
      "ses:UpdateConfigurationSetEventDestination",
    ]
    resources = ["arn:${local.partition}:ses:${each.value.region}:${local.account_id}:configuration-set/${each.value.name}"]
  }

  # The identity is the operator's own domain or address (ses_identity in the var-file), not a name
  # under the stage's prefix: any identity of the account in the stage's region.
  statement {
    sid = "SesIdentity"
    actions = [
      "ses:CreateEmailIdentity",
      "ses:DeleteEmailIdentity",
      "ses:GetEmailIdentity",
      "ses:ListTagsForResource",
      "ses:PutEmailIdentityConfigurationSetAttributes",
      "ses:PutEmailIdentityDkimAttributes",
      "ses:PutEmailIdentityFeedbackAttributes",
      "ses:PutEmailIdentityMailFromAttributes",
      "ses:TagResource",
      "ses:UntagResource",
    ]
    resources = ["arn:${local.partition}:ses:${each.value.region}:${local.account_id}:identity/*"]
  }

  # ---- API Gateway v2 (HTTP API) ------------------------------------------------------------------

  # An API's ARN holds its generated id, not its name: any HTTP API (and its routes, integrations and
  # stages) in the stage's region.
  statement {
    sid     = "ApiGatewayHttpApis"
    actions = ["apigateway:DELETE", "apigateway:GET", "apigateway:PATCH", "apigateway:POST", "apigateway:PUT"]
    resources = [
      "arn:${local.partition}:apigateway:${each.value.region}::/apis",
      "arn:${local.partition}:apigateway:${each.value.region}::/apis/*",
      "arn:${local.partition}:apigateway:${each.value.region}::/tags/*",
    ]
  }

  # Turning on a stage's access logs: API Gateway's documented caller permissions, on no resource.
  statement {
    sid = "ApiGatewayAccessLogDelivery"
    actions = [
      "logs:CreateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:DescribeResourcePolicies",
      "logs:GetLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:UpdateLogDelivery",
    ]
    resources = ["*"]
  }

  # ---- CloudWatch Logs, alarms, dashboard ---------------------------------------------------------

  statement {
    sid = "LogGroups"
    actions = [
      "logs:CreateLogGroup",
      "logs:DeleteLogGroup",
      "logs:DeleteRetentionPolicy",
      "logs:ListTagsForResource",
      "logs:ListTagsLogGroup",
      "logs:PutRetentionPolicy",
      "logs:TagLogGroup",
      "logs:TagResource",
      "logs:UntagLogGroup",
      "logs:UntagResource",
    ]
    resources = [
      "arn:${local.partition}:logs:${each.value.region}:${local.account_id}:log-group:/aws/lambda/${each.value.name}-*",
      "arn:${local.partition}:logs:${each.value.region}:${local.account_id}:log-group:/aws/apigateway/${each.value.name}",
      "arn:${local.partition}:logs:${each.value.region}:${local.account_id}:log-group:/aws/apigateway/${each.value.name}:*",
    ]
  }

  # DescribeLogGroups is authorised on the account's log groups as a whole (it lists names and settings).
  statement {
    sid       = "LogGroupsDescribe"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["arn:${local.partition}:logs:${each.value.region}:${local.account_id}:log-group:*"]
  }

  statement {
    sid = "CloudWatchAlarms"
    actions = [
      "cloudwatch:DeleteAlarms",
      "cloudwatch:DescribeAlarms",
      "cloudwatch:ListTagsForResource",
      "cloudwatch:PutMetricAlarm",
      "cloudwatch:TagResource",
      "cloudwatch:UntagResource",
    ]
    resources = ["arn:${local.partition}:cloudwatch:${each.value.region}:${local.account_id}:alarm:${each.value.name}-*"]
  }

  # Dashboards are global: their ARN has no region.
  statement {
    sid       = "CloudWatchDashboard"
    actions   = ["cloudwatch:DeleteDashboards", "cloudwatch:GetDashboard", "cloudwatch:PutDashboard"]
    resources = ["arn:${local.partition}:cloudwatch::${local.account_id}:dashboard/${each.value.name}"]
  }
}
