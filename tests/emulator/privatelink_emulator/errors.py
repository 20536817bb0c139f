"""EC2 errors raised by the PrivateLink actions, and `Unsuccessful[]` items.

Raising an `EC2ClientError` from a response method makes moto serialise it as the EC2
error XML with HTTP 400, exactly like its own errors. Codes come from the EC2 error list
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html) unless
marked ASSUMED (see README.md).
"""

from typing import Any

from moto.ec2.exceptions import EC2ClientError


def error(code: str, message: str) -> EC2ClientError:
    return EC2ClientError(code, message)


def invalid_service_name(name: str) -> EC2ClientError:
    return error("InvalidServiceName", f"The Vpc Endpoint Service '{name}' does not exist")


def service_id_not_found(service_id: str) -> EC2ClientError:
    # Same wording as moto's own UnknownVpcEndpointService.
    return error(
        "InvalidVpcEndpointServiceId.NotFound",
        f"The VpcEndpointService Id '{service_id}' does not exist",
    )


def endpoint_id_not_found(endpoint_id: str) -> EC2ClientError:
    return error(
        "InvalidVpcEndpointId.NotFound",
        f"The Vpc Endpoint Id '{endpoint_id}' does not exist",
    )


def missing_parameter(name: str) -> EC2ClientError:
    return error("MissingParameter", f"The request must contain the parameter {name}")


def invalid_value(message: str) -> EC2ClientError:
    return error("InvalidParameterValue", message)


def idempotent_mismatch(token: str) -> EC2ClientError:
    return error(
        "IdempotentParameterMismatch",
        f"The client token '{token}' was already used with different parameters.",
    )


def unsuccessful(resource_id: str, exc: EC2ClientError) -> dict[str, Any]:
    """`exc` as one `UnsuccessfulItem` of a bulk EC2 call."""
    return {"ResourceId": resource_id, "Error": {"Code": exc.code, "Message": exc.message}}
