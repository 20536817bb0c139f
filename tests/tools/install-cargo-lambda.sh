#!/usr/bin/env bash
# Installs cargo-lambda (the `cargo lambda` subcommand: build/package for Lambda and the
# Lambda Runtime API emulator `cargo lambda watch`) from PyPI at a pinned version into a
# project virtualenv, and prints the path of the `cargo-lambda` binary on its last line.
# The wheel ships the prebuilt binary and pulls `ziglang` (zig, used only for
# cross-compiling, e.g. `--arm64`). Needs only python3 with venv/pip.
#
# Venv: $PRIVATELINK_TOOLS_VENV, default <repo root>/.venv-tools.
# Idempotent and fast (tests/tools/pip-tool.sh does the work).
set -euo pipefail

requirement="cargo-lambda==1.9.2"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
venv="${PRIVATELINK_TOOLS_VENV:-$repo_root/.venv-tools}"
exec "$here/pip-tool.sh" cargo-lambda "$venv" "$requirement" cargo-lambda lambda --version
