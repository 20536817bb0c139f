"""What an incoming AWS request is, and AWS-style error responses in its protocol.

`AwsRequest` works out, lazily and generically:
- the service (its SigV4 signing name) and the access key id from the credential scope
  (`Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request`);
- the protocol: query-family when the request has an `Action` parameter (`ec2` for EC2),
  JSON when it has `X-Amz-Target`, otherwise the REST protocol of the botocore model;
- the action: the `Action` parameter, the `X-Amz-Target` suffix, or for REST protocols
  the operation whose `requestUri` and method match the request;
- the account: moto's own lookup (MOTO_ACCOUNT_ID, `x-moto-account-id`, access key id).

`error_response` renders an error the way each protocol's SDK parser expects it.
Not covered: the smithy-rpc-v2-cbor protocol (a CBOR body cannot be produced here).
"""

import gzip
import io
import json
import os
import re
import uuid
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import botocore.session

CREDENTIAL = re.compile(r"Credential=(?P<key>[^/,\s]+)/[^/]+/[^/]+/(?P<service>[^/]+)/")

_SESSION = botocore.session.get_session()


@lru_cache(maxsize=None)
def _models_by_signing_name() -> dict[str, list[str]]:
    """botocore service names per SigV4 signing name (slow: reads every model, once)."""
    loader = _SESSION.get_component("data_loader")
    result: dict[str, list[str]] = {}
    for name in loader.list_available_services("service-2"):
        metadata = loader.load_service_model(name, "service-2")["metadata"]
        signing = metadata.get("signingName") or metadata.get("endpointPrefix")
        result.setdefault(signing, []).append(name)
    return result


def _path_regex(path: str) -> re.Pattern[str]:
    """A requestUri path template as a regex: `{Label}` one segment, `{Label+}` greedy."""
    parts = [
        (".+" if part.endswith("+}") else "[^/]+") if part.startswith("{") else re.escape(part)
        for part in re.split(r"(\{[^}]+\})", path)
    ]
    return re.compile("".join(parts).rstrip("/") + "/?")


@lru_cache(maxsize=None)
def rest_service(signing_name: str) -> tuple[str | None, list[tuple[Any, ...]]]:
    """The REST protocol and operations of the botocore models with this signing name.

    Operations are (specificity, method, path regex, required query keys, name), most
    specific first: query-qualified URIs, then longer literal paths.
    """
    if signing_name in _SESSION.get_available_services():
        names = [signing_name]  # the common case, without reading every model
    else:
        names = _models_by_signing_name().get(signing_name, [])
    protocol, operations = None, []
    for model in map(_SESSION.get_service_model, names):
        if model.protocol not in ("rest-json", "rest-xml"):
            continue
        protocol = model.protocol
        for name in model.operation_names:
            http = model.operation_model(name).http
            path, _, query = http["requestUri"].partition("?")
            required = list(parse_qs(query, keep_blank_values=True))
            literal = len(re.sub(r"\{[^}]+\}", "", path))
            operations.append(
                ((len(required), literal), http["method"], _path_regex(path), required, name)
            )
    operations.sort(key=lambda op: op[0], reverse=True)
    return protocol, operations


class AwsRequest:
    """One WSGI request. Creating it buffers the body so moto can still read it."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(self.body)
        match = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        self.access_key = match["key"] if match else None
        self.signing_name = match["service"].lower() if match else None
        self.target = environ.get("HTTP_X_AMZ_TARGET")

    @cached_property
    def params(self) -> dict[str, list[str]]:
        params = parse_qs(self.environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if self.environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            body = self.body
            if self.environ.get("HTTP_CONTENT_ENCODING") == "gzip":
                try:
                    body = gzip.decompress(body)
                except (OSError, EOFError):
                    pass  # not really gzip: moto will complain in its own way
            for key, values in parse_qs(body.decode("utf-8", "replace")).items():
                params.setdefault(key, []).extend(values)
        return params

    @cached_property
    def protocol(self) -> str:
        if "Action" in self.params:
            return "ec2" if self.signing_name == "ec2" else "query"
        if self.target:
            return "json"
        return rest_service(self.signing_name or "")[0] or "query"

    @cached_property
    def action(self) -> str | None:
        if "Action" in self.params:
            return self.params["Action"][0]
        if self.target:
            return self.target.rsplit(".", 1)[-1]
        method, path = self.environ["REQUEST_METHOD"], self.environ.get("PATH_INFO", "")
        for _, op_method, regex, required, name in rest_service(self.signing_name or "")[1]:
            if (
                op_method == method
                and regex.fullmatch(path)
                and all(k in self.params for k in required)
            ):
                return name
        return None

    @cached_property
    def account(self) -> str:
        # The same order as moto's BaseResponse.get_current_account().
        if "MOTO_ACCOUNT_ID" in os.environ:
            return os.environ["MOTO_ACCOUNT_ID"]
        if "HTTP_X_MOTO_ACCOUNT_ID" in self.environ:
            return self.environ["HTTP_X_MOTO_ACCOUNT_ID"]
        from moto.iam.models import get_account_id_from

        return get_account_id_from(self.access_key or "")


def error_response(
    protocol: str, status: int, code: str, message: str
) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of an AWS error in `protocol`'s wire format."""
    request_id = str(uuid.uuid4())
    code_x, message_x = escape(code), escape(message)
    headers = [("x-amzn-RequestId", request_id)]
    if protocol == "ec2":
        content_type = "text/xml;charset=UTF-8"
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f"<Code>{code_x}</Code><Message>{message_x}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        )
    elif protocol in ("query", "rest-xml"):
        content_type = "text/xml"
        kind = "Sender" if status < 500 else "Receiver"
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error>'
            f"<Type>{kind}</Type><Code>{code_x}</Code><Message>{message_x}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    elif protocol == "json":
        content_type = "application/x-amz-json-1.1"
        body = json.dumps({"__type": code, "message": message})
    else:  # rest-json: the SDKs read the code from x-amzn-ErrorType
        content_type = "application/json"
        headers.append(("x-amzn-ErrorType", code))
        body = json.dumps({"__type": code, "message": message})
    data = body.encode()
    headers += [("Content-Type", content_type), ("Content-Length", str(len(data)))]
    return status, headers, data


# kind -> protocol -> (HTTP status, code, message), per each protocol's AWS convention.
FAULTS = {
    "throttle": {
        "ec2": (503, "RequestLimitExceeded", "Request limit exceeded."),
        "query": (400, "Throttling", "Rate exceeded"),
        "json": (400, "ThrottlingException", "Rate exceeded"),
        "rest-xml": (400, "Throttling", "Rate exceeded"),
        "rest-json": (429, "TooManyRequestsException", "Rate exceeded"),
    },
    "server-error": {
        "ec2": (500, "InternalError", "An internal error has occurred."),
        **{
            p: (500, "InternalFailure", "An internal error has occurred.")
            for p in ("query", "json", "rest-xml", "rest-json")
        },
    },
}


def internal_error_code(protocol: str) -> str:
    return "InternalError" if protocol == "ec2" else "InternalFailure"
