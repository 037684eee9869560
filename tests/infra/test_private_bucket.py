"""terraform/modules/private_bucket: what every bucket of the project has (the upload bucket of each stage,
the bootstrap's state bucket): private, the owner's objects, encrypted, TLS only, incomplete multipart
uploads aborted."""

from typing import Any

import pytest

from tests.infra.terraform import MODULES_DIR, TERRAFORM_DIR, Configuration, Evaluator, load

MODULE = MODULES_DIR / "private_bucket"
SOURCES = {TERRAFORM_DIR: "./modules/private_bucket", TERRAFORM_DIR / "bootstrap": "../modules/private_bucket"}


def private_bucket_call(config: Configuration, bucket: str) -> dict[str, Any]:
    """The stack's call of the module for `bucket` (an aws_s3_bucket's name), checked to name that bucket."""
    (call,) = [c for c in config.modules.values() if c["source"] == SOURCES[config.directory] and bucket in c["bucket"]]
    assert (call["bucket"], call["bucket_arn"]) == (
        f"${{aws_s3_bucket.{bucket}.id}}",
        f"${{aws_s3_bucket.{bucket}.arn}}",
    )
    return call


def test_public_access_is_blocked_acls_are_off_and_objects_are_encrypted() -> None:
    # Given the module's bucket settings
    module = load(MODULE)
    block = module.resource("aws_s3_bucket_public_access_block", "this")
    (ownership,) = module.resource("aws_s3_bucket_ownership_controls", "this")["rule"]
    (sse,) = module.resource("aws_s3_bucket_server_side_encryption_configuration", "this")["rule"]
    # Then every one is on the caller's bucket
    for kind in ("public_access_block", "ownership_controls", "server_side_encryption_configuration", "policy"):
        assert module.resource(f"aws_s3_bucket_{kind}", "this")["bucket"] == "${var.bucket}", kind
    assert module.resource("aws_s3_bucket_lifecycle_configuration", "this")["bucket"] == "${var.bucket}"
    # And the bucket is private, its objects the owner's, encrypted at rest
    flags = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    assert all(block[flag] is True for flag in flags)
    assert ownership["object_ownership"] == "BucketOwnerEnforced"
    assert sse["apply_server_side_encryption_by_default"][0]["sse_algorithm"] in {"AES256", "aws:kms"}


@pytest.mark.parametrize(("minimum_tls_version", "refused"), [(None, 1), ("1.2", 2)])
def test_requests_without_tls_are_refused_and_nothing_is_allowed(minimum_tls_version: str | None, refused: int) -> None:
    # Given the module's bucket policy, with and without a minimum TLS version
    module = load(MODULE)
    policy = module.resource("aws_s3_bucket_policy", "this")
    assert policy["policy"] == "${data.aws_iam_policy_document.this.json}"
    assert policy["depends_on"] == ["${aws_s3_bucket_public_access_block.this}"]
    document = module.data["aws_iam_policy_document"]["this"]
    assert "statement" not in document
    ((kind, dynamic),) = document["dynamic"][0].items()
    assert (kind, dynamic["for_each"]) == ("statement", "${local.denials}")
    (statement,) = dynamic["content"]
    denials = Evaluator(module, "prod", {"minimum_tls_version": minimum_tls_version}).value("${local.denials}")
    # Then every statement denies everything, to everyone, on the bucket and on every object: nothing is allowed
    assert (statement["effect"], statement["actions"]) == ("Deny", ["s3:*"])
    assert statement["principals"] == [{"type": "*", "identifiers": ["*"]}]
    assert statement["resources"] == ["${var.bucket_arn}", "${var.bucket_arn}/*"]
    assert statement["condition"] == [
        {
            "test": "${statement.value.test}",
            "variable": "${statement.value.variable}",
            "values": ["${statement.value.value}"],
        }
    ]
    # And it refuses requests without TLS, and, when a minimum version is set, older TLS too
    assert len(denials) == refused
    assert denials[0] == {
        "sid": "DenyInsecureTransport",
        "test": "Bool",
        "variable": "aws:SecureTransport",
        "value": "false",
    }
    if minimum_tls_version is not None:
        assert denials[1] == {
            "sid": "DenyTlsBelow12",
            "test": "NumericLessThan",
            "variable": "s3:TlsVersion",
            "value": minimum_tls_version,
        }


def test_incomplete_multipart_uploads_are_aborted_after_the_callers_rules() -> None:
    # Given the module's lifecycle configuration
    lifecycle = load(MODULE).resource("aws_s3_bucket_lifecycle_configuration", "this")
    (abort,) = lifecycle["rule"]
    (rules,) = lifecycle["dynamic"]
    # Then the caller's rules come first, each enabled, and a last one aborts stray multipart uploads in
    # the whole bucket after a day
    assert rules["rule"]["for_each"] == "${var.lifecycle_rules}"
    assert rules["rule"]["content"][0]["status"] == abort["status"] == "Enabled"
    assert abort["filter"] == [{}]
    assert abort["abort_incomplete_multipart_upload"][0]["days_after_initiation"] == 1


@pytest.mark.parametrize(("directory", "bucket"), [(TERRAFORM_DIR, "uploads"), (TERRAFORM_DIR / "bootstrap", "state")])
def test_every_bucket_of_the_project_is_made_private_by_the_module(directory: Any, bucket: str) -> None:
    # Given a stack's bucket
    config = load(directory)
    # Then the module makes it private, and the stack sets none of that itself
    assert private_bucket_call(config, bucket)
    assert set(config.resources["aws_s3_bucket"]) == {bucket}
    for kind in ("public_access_block", "ownership_controls", "server_side_encryption_configuration", "policy"):
        assert f"aws_s3_bucket_{kind}" not in config.resources, kind
