"""Lambda refuses environment variables over 4 KB (measured as compact JSON)."""

import io
import json
import uuid
import zipfile

import pytest
from botocore.exceptions import ClientError

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bootstrap", "#!/bin/sh\n")
    return buffer.getvalue()


def _variables(size: int) -> dict[str, str]:
    """Variables whose compact JSON is exactly `size` bytes."""
    overhead = len(json.dumps({"BIG": ""}, separators=(",", ":")))
    return {"BIG": "x" * (size - overhead)}


def _refused(call, **kwargs):
    with pytest.raises(ClientError) as excinfo:
        call(**kwargs)
    return excinfo.value.response


def test_environment_over_4_kb_is_refused_on_create_and_update(world):
    account = world.account()
    role = account.client("iam").create_role(
        RoleName=f"fn-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=json.dumps(TRUST)
    )["Role"]["Arn"]
    lambda_ = account.client("lambda")
    name = f"fn-{uuid.uuid4().hex[:8]}"
    common = {
        "Role": role,
        "Runtime": "provided.al2023",
        "Handler": "bootstrap",
        "Code": {"ZipFile": _zip()},
    }

    too_big = _variables(4097)
    response = _refused(
        lambda_.create_function, FunctionName=name, Environment={"Variables": too_big}, **common
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Code"] == "InvalidParameterValueException"
    assert response["Error"]["Message"] == (
        "Lambda was unable to configure your environment variables because the environment "
        "variables you have provided exceeded the 4KB limit. String measured: "
        + json.dumps(too_big, separators=(",", ":"))
    )
    with pytest.raises(ClientError):
        lambda_.get_function(FunctionName=name)

    at_limit = _variables(4096)
    lambda_.create_function(FunctionName=name, Environment={"Variables": at_limit}, **common)

    response = _refused(
        lambda_.update_function_configuration,
        FunctionName=name,
        Environment={"Variables": {**at_limit, "MORE": "1"}},
    )
    assert response["Error"]["Code"] == "InvalidParameterValueException"
    config = lambda_.get_function_configuration(FunctionName=name)
    assert config["Environment"]["Variables"] == at_limit

    # Multi-byte characters count as their UTF-8 bytes.
    response = _refused(
        lambda_.update_function_configuration,
        FunctionName=name,
        Environment={"Variables": {"BIG": "é" * 2050}},
    )
    assert response["Error"]["Code"] == "InvalidParameterValueException"
