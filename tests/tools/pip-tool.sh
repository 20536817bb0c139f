#!/usr/bin/env bash
# Shared by the install-*.sh scripts: installs one pinned PyPI package into a virtualenv and
# prints the path of the command it provides on its last line (progress goes to stderr).
#   pip-tool.sh LABEL VENV REQUIREMENT COMMAND [VERSION-ARGS...]
# Idempotent and fast: a stamp file in the venv holds the requirement; when it matches and the
# command exists, nothing is installed. Needs only python3 with venv/pip.
set -euo pipefail

label="$1" venv="$2" requirement="$3" command="$4"
shift 4
stamp="$venv/.$label-stamp"
binary="$venv/bin/$command"

if [[ -x "$binary" && -f "$stamp" && "$(cat "$stamp")" == "$requirement" ]]; then
  echo "$label: $venv is up to date ($requirement)" >&2
  echo "$binary"
  exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
  echo "$label: creating virtualenv $venv" >&2
  python3 -m venv "$venv"
fi
echo "$label: installing $requirement (from PyPI)" >&2
"$venv/bin/python" -m pip install --disable-pip-version-check --quiet "$requirement" >&2
if [[ ! -x "$binary" ]]; then
  echo "$label: the package installed no $binary" >&2
  exit 1
fi
"$binary" "$@" >&2
echo "$requirement" > "$stamp"
echo "$binary"
