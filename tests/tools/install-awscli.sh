#!/usr/bin/env bash
# Installs the AWS CLI (v1, the `awscli` package) from PyPI at a pinned version into its own
# virtualenv, and prints the path of the `aws` command on its last line. Used by the provider
# benchmark (tests/benches/provider_up.rs) to time the equivalent AWS CLI sequence against the
# same emulator. Its own venv, because awscli pins its own botocore, which must not replace the
# emulator's pinned one.
#
# Venv: $PRIVATELINK_AWSCLI_VENV, default <repo root>/.venv-awscli.
# Idempotent and fast: a stamp file in the venv holds the pinned requirement; when it matches,
# nothing is installed.
set -euo pipefail

requirement="awscli==1.46.2"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
venv="${PRIVATELINK_AWSCLI_VENV:-$repo_root/.venv-awscli}"
stamp="$venv/.awscli-stamp"
binary="$venv/bin/aws"

if [[ -x "$binary" && -f "$stamp" && "$(cat "$stamp")" == "$requirement" ]]; then
  echo "awscli: $venv is up to date ($requirement)" >&2
  echo "$binary"
  exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
  echo "awscli: creating virtualenv $venv" >&2
  python3 -m venv "$venv"
fi
echo "awscli: installing $requirement (from PyPI)" >&2
"$venv/bin/python" -m pip install --disable-pip-version-check --quiet "$requirement" >&2
if [[ ! -x "$binary" ]]; then
  echo "awscli: the package installed no $binary" >&2
  exit 1
fi
"$binary" --version >&2
echo "$requirement" > "$stamp"
echo "$binary"
