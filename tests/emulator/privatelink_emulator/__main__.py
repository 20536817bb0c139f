"""Launcher: `python -m privatelink_emulator --host 127.0.0.1 --port N [options]`.

Patches moto (`ec2_patches.apply()`), wraps moto's server app (the one `moto_server`
runs: `DomainDispatcherApplication(create_backend_app)`) in `PrivateLinkMiddleware`, and
serves it with werkzeug's threaded server. Once the socket accepts connections it prints
exactly one line, `privatelink-emulator ready on http://HOST:PORT`, to stdout (`--port 0`
picks a free port, shown in that line). With `--parent-pid PID` the process exits as
soon as PID is gone, so a test harness can never leave it running.
"""

import argparse
import os
import sys
import threading
import time

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from . import (
    az_mapping,
    dynamodb_strict,
    ec2_patches,
    elbv2_patches,
    lambda_limits,
    route53_strict,
    route53_zones,
)
from .connections import SETTINGS
from .server import PrivateLinkMiddleware


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a dead parent that nobody reaped yet is a zombie: gone for our purposes
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _exit_when_gone(pid: int) -> None:
    while _alive(pid):
        time.sleep(0.5)
    print(f"privatelink-emulator: parent {pid} is gone, exiting", file=sys.stderr, flush=True)
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m privatelink_emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument(
        "--pending-seconds",
        type=float,
        default=2.0,
        help="how long an accepted connection stays 'pending' before 'available'",
    )
    parser.add_argument(
        "--deleting-seconds",
        type=float,
        default=0.5,
        help="how long a deleted endpoint stays 'deleting' before 'deleted'",
    )
    parser.add_argument(
        "--deleted-visible-seconds",
        type=float,
        default=60.0,
        help="how long a 'deleted' endpoint is still listed before it is gone",
    )
    parser.add_argument(
        "--route53-pending-seconds",
        type=float,
        default=0.5,
        help="how long a Route 53 change is PENDING before INSYNC",
    )
    parser.add_argument("--parent-pid", type=int, help="exit when this process is gone")
    args = parser.parse_args()

    SETTINGS.pending_seconds = args.pending_seconds
    SETTINGS.deleting_seconds = args.deleting_seconds
    SETTINGS.deleted_visible_seconds = args.deleted_visible_seconds
    SETTINGS.route53_pending_seconds = args.route53_pending_seconds
    ec2_patches.apply()
    route53_zones.apply()
    route53_strict.apply()  # after route53_zones: it wraps that CreateHostedZone
    az_mapping.apply()
    elbv2_patches.apply()
    lambda_limits.apply()
    dynamodb_strict.apply()
    app = PrivateLinkMiddleware(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=True)
    # moto calls itself at this port in some features (Step Functions, Lambda env vars).
    os.environ.setdefault("MOTO_PORT", str(server.server_port))
    if args.parent_pid:
        threading.Thread(target=_exit_when_gone, args=(args.parent_pid,), daemon=True).start()
    print(f"privatelink-emulator ready on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
