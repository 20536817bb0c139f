#!/usr/bin/env bash
# Creates (or updates) the virtualenv of the PrivateLink emulator and installs its pinned
# dependencies from PyPI: requirements.txt (top level) constrained by constraints.txt
# (the full freeze). Needs only python3 with venv/pip.
#
# Venv: $PRIVATELINK_EMULATOR_VENV, default <repo root>/.venv-emulator.
# Idempotent and fast: a stamp file in the venv holds a hash of both pin files; when it
# matches, nothing is done.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
venv="${PRIVATELINK_EMULATOR_VENV:-$repo_root/.venv-emulator}"
stamp="$venv/.privatelink-emulator-stamp"

want="$(python3 -c 'import hashlib, sys
print(hashlib.sha256(b"".join(open(p, "rb").read() for p in sys.argv[1:])).hexdigest())' \
  "$here/requirements.txt" "$here/constraints.txt")"

if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "privatelink-emulator: $venv is up to date"
  exit 0
fi

echo "privatelink-emulator: creating virtualenv $venv"
python3 -m venv "$venv"
echo "privatelink-emulator: installing requirements.txt with constraints.txt (from PyPI)"
"$venv/bin/python" -m pip install --disable-pip-version-check --quiet \
  -r "$here/requirements.txt" -c "$here/constraints.txt"
echo "$want" > "$stamp"
echo "privatelink-emulator: installed into $venv"
