"""WSGI middleware in front of moto's server app: control API, faults, error sanitising.

- `/_privatelink/...` is the control API (JSON in and out) and never reaches moto:
  `GET health`, `GET|POST|DELETE faults`, `GET|POST config`, `GET|DELETE calls` (the
  recorded AWS requests, `calls.py`) (see README.md).
- Injected faults: the next `count` requests for `action` (optionally only from one
  account) fail in their protocol's AWS format without reaching moto, marked with the
  response header `x-privatelink-fault: injected`.
- Crashes: moto's Flask apps run with debug on, so exceptions propagate out of them
  (PROPAGATE_EXCEPTIONS) instead of becoming werkzeug's HTML 500 page. They are caught
  here, logged to stderr and answered as AWS errors: an unimplemented action becomes
  400 `InvalidAction` (what AWS answers for unknown actions), anything else 500
  `InternalError`/`InternalFailure` with the exception text.
"""

import json
import re
import sys
import threading
import traceback
from http import HTTPStatus
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wrappers import Request, Response

from .calls import CallLog
from .connections import SETTINGS
from .protocols import FAULTS, AwsRequest, error_response, internal_error_code

UNIMPLEMENTED = re.compile(r"^The (\w+) action has not been implemented")


class FaultStore:
    """Pending injected faults, consumed by matching requests in arrival order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[dict[str, Any]] = []

    def add(self, spec: Any) -> None:
        if not isinstance(spec, dict):
            raise ValueError("body must be a JSON object")
        action, count, kind = spec.get("action"), spec.get("count", 1), spec.get("kind")
        account = spec.get("account")
        if not isinstance(action, str) or not action:
            raise ValueError("'action' must be a non-empty string, e.g. 'DescribeVpcs'")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError("'count' must be a positive integer")
        if kind not in FAULTS:
            raise ValueError(f"'kind' must be one of {sorted(FAULTS)}")
        if account is not None and not (
            isinstance(account, str) and re.fullmatch(r"\d{12}", account)
        ):
            raise ValueError("'account' must be a 12-digit account id string")
        with self._lock:
            self._faults.append(
                {"action": action, "count": count, "kind": kind, "account": account}
            )

    def take(self, request: AwsRequest) -> str | None:
        """The kind of the first fault this request matches (using one up), or None."""
        with self._lock:
            if not self._faults or request.action is None:
                return None
            for fault in self._faults:
                if fault["action"] == request.action and fault["account"] in (
                    None,
                    request.account,
                ):
                    fault["count"] -= 1
                    if fault["count"] == 0:
                        self._faults.remove(fault)
                    return fault["kind"]
        return None

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(f) for f in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


StartResponse = Callable[..., Any]


class PrivateLinkMiddleware:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.faults = FaultStore()
        self.calls = CallLog()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith("/_privatelink/"):
            return self._control(Request(environ))(environ, start_response)
        request = AwsRequest(environ)
        start_response = self.calls.recording(request, start_response)
        try:
            kind = self.faults.take(request)
            if kind is None:
                return self.app(environ, start_response)
        except Exception as exc:  # noqa: BLE001 - every crash becomes an AWS error
            traceback.print_exc(file=sys.stderr)
            return _send(start_response, _crash_error(request, exc))
        status, code, message = FAULTS[kind][request.protocol]
        return _send(
            start_response,
            error_response(request.protocol, status, code, message),
            [("x-privatelink-fault", "injected")],
        )

    def _control(self, request: Request) -> Response:
        route = (request.path, request.method)
        try:
            if route == ("/_privatelink/health", "GET"):
                return _json({"ok": True})
            if request.path == "/_privatelink/faults":
                if request.method == "POST":
                    self.faults.add(_body(request))
                elif request.method == "DELETE":
                    self.faults.clear()
                elif request.method != "GET":
                    return _json({"error": "method not allowed"}, 405)
                return _json({"faults": self.faults.list()})
            if request.path == "/_privatelink/calls":
                return self.calls.control(request)
            if request.path == "/_privatelink/config":
                if request.method == "POST":
                    _set_config(_body(request))
                elif request.method != "GET":
                    return _json({"error": "method not allowed"}, 405)
                return _json(SETTINGS.to_dict())
        except ValueError as exc:
            return _json({"error": str(exc)}, 400)
        return _json({"error": f"no such control endpoint: {request.path}"}, 404)


def _crash_error(request: AwsRequest, exc: Exception) -> tuple[int, list, bytes]:
    protocol = request.protocol
    unimplemented = isinstance(exc, NotImplementedError) and UNIMPLEMENTED.match(str(exc))
    if unimplemented:
        action = request.action or unimplemented[1]
        return error_response(
            protocol,
            400,
            "InvalidAction",
            f"The action {action} is not valid for this web service.",
        )
    return error_response(
        protocol, 500, internal_error_code(protocol), f"{type(exc).__name__}: {exc}"
    )


def _send(
    start_response: StartResponse,
    response: tuple[int, list[tuple[str, str]], bytes],
    extra_headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    status, headers, body = response
    start_response(f"{status} {HTTPStatus(status).phrase}", headers + (extra_headers or []))
    return [body]


def _json(value: Any, status: int = 200) -> Response:
    return Response(json.dumps(value), status, content_type="application/json")


def _body(request: Request) -> Any:
    try:
        return json.loads(request.get_data(as_text=True) or "null")
    except json.JSONDecodeError as exc:
        raise ValueError(f"body is not valid JSON: {exc}") from None


def _set_config(body: Any) -> None:
    keys = SETTINGS.KEYS
    if not isinstance(body, dict) or set(body) - set(keys):
        raise ValueError(f"body must be a JSON object with only keys from {list(keys)}")
    for key, value in body.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"'{key}' must be a number >= 0")
    for key, value in body.items():
        setattr(SETTINGS, key, float(value))
