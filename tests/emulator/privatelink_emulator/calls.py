"""Call recording: every AWS request the emulator serves, for action-coverage tests.

Each SigV4-signed request (control API and `/moto-api/` calls are not AWS requests and
are not recorded) becomes one record, in the order responses start:

    {"account": "111111111111", "region": "us-east-1", "service": "ec2",
     "action": "DescribeVpcEndpointConnections", "app": "privatelink-operator",
     "params": {...}, "status": 200}

- `service`: the SigV4 signing name of the credential scope (`ec2`,
  `elasticloadbalancing`, `sns`, `lambda`, `iam`, `events`, `route53`, `sts`, ...);
  `region` the scope's Region; `account` the caller's account (as `protocols.py` finds it).
- `action`: the operation name (`protocols.AwsRequest.action`; null if unknown).
- `app`: the `app/NAME` token of `x-amz-user-agent` or `User-Agent` (the Rust SDK and
  botocore add it when an app name / `user_agent_appid` is configured), else null.
- `params`: query protocols (EC2, ELBv2, SNS, IAM, STS, ...): the form and query fields
  except `Action` and `Version`, each a string (a list if repeated). JSON protocols
  (DynamoDB, SQS, EventBridge, ...): the JSON body. REST protocols (Lambda, Route 53):
  `{"path": PATH, "labels": {URI label: value}, "query": {...}, "body": JSON body, or the
  XML body's root element as a dict, or null}`. Strings longer than 8192 characters
  (code zips, ...) are replaced by `"<N characters>"`.
- `status`: the HTTP status of the response (injected faults and crashes included).

At most `LIMIT` records are kept (the oldest go first). Control API:
`GET /_privatelink/calls[?app=NAME][&account=ID]` -> `{"calls": [...]}`,
`DELETE /_privatelink/calls` clears.
"""

import gzip
import json
import re
import threading
from collections import deque
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs
from xml.parsers.expat import ExpatError

import xmltodict
from werkzeug.wrappers import Request, Response

from .protocols import _SESSION, AwsRequest, _models_by_signing_name

LIMIT = 100_000
MAX_STRING = 8192

SCOPE = re.compile(r"Credential=[^/,\s]+/[^/]+/(?P<region>[^/]+)/[^/]+/")
APP = re.compile(r"(?:^|\s)app/(\S+)")


@lru_cache(maxsize=None)
def _uri_pattern(signing_name: str, action: str) -> re.Pattern[str] | None:
    """The requestUri path of the operation as a regex with a named group per label."""
    if signing_name in _SESSION.get_available_services():
        names = [signing_name]
    else:
        names = _models_by_signing_name().get(signing_name, [])
    for name in names:
        model = _SESSION.get_service_model(name)
        if action not in model.operation_names:
            continue
        path = model.operation_model(action).http["requestUri"].partition("?")[0]
        parts = []
        for part in re.split(r"(\{[^}]+\})", path):
            if part.startswith("{"):
                label = part.strip("{}+")
                parts.append(f"(?P<{label}>{'.+' if part.endswith('+}') else '[^/]+'})")
            else:
                parts.append(re.escape(part))
        return re.compile("".join(parts).rstrip("/") + "/?")
    return None


def _trim(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= MAX_STRING else f"<{len(value)} characters>"
    if isinstance(value, dict):
        return {str(k): _trim(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trim(v) for v in value]
    return value


def _flat(params: dict[str, list[str]]) -> dict[str, Any]:
    return {k: v[0] if len(v) == 1 else v for k, v in params.items()}


def _body(request: AwsRequest) -> Any:
    body = request.body
    if request.environ.get("HTTP_CONTENT_ENCODING") == "gzip":
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError):
            pass
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return None
    try:
        if text.startswith(("{", "[")):
            return json.loads(text)
        if text.startswith("<"):
            root = xmltodict.parse(text)
            content = next(iter(root.values())) if root else None
            if isinstance(content, dict):
                return {k: v for k, v in content.items() if not k.startswith("@")}
            return content
    except (ValueError, ExpatError):
        pass
    return f"<{len(body)} bytes>"


def _params(request: AwsRequest) -> Any:
    protocol = request.protocol
    if protocol in ("ec2", "query"):
        fields = {k: v for k, v in request.params.items() if k not in ("Action", "Version")}
        return _flat(fields)
    if protocol == "json":
        body = _body(request)
        return body if body is not None else {}
    path = request.environ.get("PATH_INFO", "")
    pattern = _uri_pattern(request.signing_name or "", request.action or "")
    match = pattern.fullmatch(path) if pattern else None
    return {
        "path": path,
        "labels": match.groupdict() if match else {},
        "query": _flat(parse_qs(request.environ.get("QUERY_STRING", ""), keep_blank_values=True)),
        "body": _body(request),
    }


def _app(environ: dict[str, Any]) -> str | None:
    for header in ("HTTP_X_AMZ_USER_AGENT", "HTTP_USER_AGENT"):
        match = APP.search(environ.get(header, ""))
        if match:
            return match[1]
    return None


class CallLog:
    def __init__(self, limit: int = LIMIT) -> None:
        self._lock = threading.Lock()
        self._calls: deque[dict[str, Any]] = deque(maxlen=limit)

    def recording(
        self, request: AwsRequest, start_response: Callable[..., Any]
    ) -> Callable[..., Any]:
        """`start_response`, wrapped so that the response's status records the call."""
        if request.signing_name is None:
            return start_response
        record: dict[str, Any] = {}

        def wrapped(status: str, headers: Any, exc_info: Any = None) -> Any:
            if not record:
                record.update(dict.fromkeys(("account", "region", "service", "action", "app")))
                try:
                    scope = SCOPE.search(request.environ.get("HTTP_AUTHORIZATION", ""))
                    record.update(
                        account=request.account,
                        region=scope["region"] if scope else None,
                        service=request.signing_name,
                        action=request.action,
                        app=_app(request.environ),
                        params=_trim(_params(request)),
                    )
                except Exception as exc:  # noqa: BLE001 - recording never fails a request
                    record["params"] = {"error": f"{type(exc).__name__}: {exc}"}
                record["status"] = int(status.split()[0])
                with self._lock:
                    self._calls.append(record)
            else:
                record["status"] = int(status.split()[0])
            if exc_info is not None:
                return start_response(status, headers, exc_info)
            return start_response(status, headers)

        return wrapped

    def list(self, app: str | None = None, account: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            calls = list(self._calls)
        return [
            dict(c)
            for c in calls
            if (app is None or c.get("app") == app)
            and (account is None or c.get("account") == account)
        ]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    def control(self, request: Request) -> Response:
        """`GET|DELETE /_privatelink/calls`."""
        if request.method == "DELETE":
            self.clear()
            return _json({"calls": []})
        if request.method != "GET":
            return _json({"error": "method not allowed"}, 405)
        calls = self.list(request.args.get("app"), request.args.get("account"))
        return _json({"calls": calls})


def _json(value: Any, status: int = 200) -> Response:
    return Response(json.dumps(value), status, content_type="application/json")
