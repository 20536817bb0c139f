#!/usr/bin/env bash
# Runs the PrivateLink emulator in the foreground, for a person: ./start.sh [PORT]
# (default port 5055). Installs the virtualenv first if needed. Ctrl-C stops it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
venv="${PRIVATELINK_EMULATOR_VENV:-$repo_root/.venv-emulator}"
port="${1:-5055}"

"$here/install.sh"
echo
echo "Point AWS SDKs and the AWS CLI at it with:"
echo "  export AWS_ENDPOINT_URL=http://127.0.0.1:$port AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1"
echo "(AWS_DEFAULT_REGION is for the Python-based AWS CLI v1 and boto3, which ignore AWS_REGION.)"
echo "Control API: http://127.0.0.1:$port/_privatelink/health (see tests/emulator/README.md)"
echo "Press Ctrl-C to stop."
echo
PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" exec "$venv/bin/python" -m privatelink_emulator \
  --host 127.0.0.1 --port "$port"
