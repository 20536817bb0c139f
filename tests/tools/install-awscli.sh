#!/usr/bin/env bash
# Installs the AWS CLI (v1, the `awscli` package) from PyPI at a pinned version into its own
# virtualenv, and prints the path of the `aws` command on its last line. Used by the provider
# benchmark (tests/benches/provider_up.rs) to time the equivalent AWS CLI sequence against the
# same emulator. Its own venv, because awscli pins its own botocore, which must not replace the
# emulator's pinned one.
#
# Venv: $PRIVATELINK_AWSCLI_VENV, default <repo root>/.venv-awscli.
# Idempotent and fast (tests/tools/pip-tool.sh does the work).
set -euo pipefail

requirement="awscli==1.46.2"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
venv="${PRIVATELINK_AWSCLI_VENV:-$repo_root/.venv-awscli}"
exec "$here/pip-tool.sh" awscli "$venv" "$requirement" aws --version
