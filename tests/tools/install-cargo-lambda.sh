#!/usr/bin/env bash
# Installs cargo-lambda (the `cargo lambda` subcommand: build/package for Lambda and the
# Lambda Runtime API emulator `cargo lambda watch`) from PyPI at a pinned version into a
# project virtualenv, and prints the path of the `cargo-lambda` binary on its last line.
# The wheel ships the prebuilt binary and pulls `ziglang` (zig, used only for
# cross-compiling, e.g. `--arm64`). Needs only python3 with venv/pip.
#
# Venv: $PRIVATELINK_TOOLS_VENV, default <repo root>/.venv-tools.
# Idempotent and fast: a stamp file in the venv holds the pinned requirement; when it
# matches, nothing is installed.
set -euo pipefail

requirement="cargo-lambda==1.9.2"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
venv="${PRIVATELINK_TOOLS_VENV:-$repo_root/.venv-tools}"
stamp="$venv/.cargo-lambda-stamp"
binary="$venv/bin/cargo-lambda"

if [[ -x "$binary" && -f "$stamp" && "$(cat "$stamp")" == "$requirement" ]]; then
  echo "cargo-lambda: $venv is up to date ($requirement)" >&2
  echo "$binary"
  exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
  echo "cargo-lambda: creating virtualenv $venv" >&2
  python3 -m venv "$venv"
fi
echo "cargo-lambda: installing $requirement (from PyPI)" >&2
"$venv/bin/python" -m pip install --disable-pip-version-check --quiet "$requirement" >&2
if [[ ! -x "$binary" ]]; then
  echo "cargo-lambda: the package installed no $binary" >&2
  exit 1
fi
"$binary" lambda --version >&2
echo "$requirement" > "$stamp"
echo "$binary"
