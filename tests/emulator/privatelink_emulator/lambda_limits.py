"""Lambda: a function's environment variables are limited to 4 KB in total.

The Lambda quotas page (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html)
limits a function's environment variables to 4 KB, all of them together (a hard limit).
AWS measures the variables as one compact JSON object and quotes it in the error, as
public reports of the real answer show (github-aws-runners/terraform-aws-github-runner
#3594, UpdateFunctionConfiguration):

    InvalidParameterValueException: Lambda was unable to configure your environment
    variables because the environment variables you have provided exceeded the 4KB limit.
    String measured: {"KEY":"value",...}

So the size is the UTF-8 length of `json.dumps(variables, separators=(",", ":"))` and
more than 4096 bytes is refused, on CreateFunction and UpdateFunctionConfiguration.
moto 5.2.1 accepted any size.
"""

import json
from typing import Any

from moto.awslambda.exceptions import InvalidParameterValueException
from moto.awslambda.models import LambdaBackend

LIMIT_BYTES = 4 * 1024

MOTO_CREATE_FUNCTION = LambdaBackend.create_function
MOTO_UPDATE_FUNCTION_CONFIGURATION = LambdaBackend.update_function_configuration


def check_environment(spec: dict[str, Any] | None) -> None:
    variables = ((spec or {}).get("Environment") or {}).get("Variables")
    if not variables:
        return
    measured = json.dumps(variables, separators=(",", ":"), ensure_ascii=False)
    if len(measured.encode("utf-8")) > LIMIT_BYTES:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the "
            "environment variables you have provided exceeded the 4KB limit. "
            f"String measured: {measured}"
        )


def create_function(self: Any, spec: dict[str, Any]) -> Any:
    check_environment(spec)
    return MOTO_CREATE_FUNCTION(self, spec)


def update_function_configuration(
    self: Any, function_name: str, qualifier: str, body: dict[str, Any]
) -> Any:
    check_environment(body)
    return MOTO_UPDATE_FUNCTION_CONFIGURATION(self, function_name, qualifier, body)


def apply() -> None:
    """Patch moto in place. Idempotent."""
    LambdaBackend.create_function = create_function
    LambdaBackend.update_function_configuration = update_function_configuration
