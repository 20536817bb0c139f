#!/usr/bin/env bash
# Installs parliament (Duo Labs' IAM policy linter, https://github.com/duo-labs/parliament) from
# PyPI at a pinned version into its own virtualenv, and prints the path of the `parliament`
# command on its last line. Used by tests/tools/lint-iam.sh. Its own venv, so that its
# dependencies (boto3, jsoncfg, pyyaml) never replace the emulator's pinned ones.
#
# Venv: $PRIVATELINK_IAM_LINT_VENV, default <repo root>/.venv-iam-lint.
# Idempotent and fast (tests/tools/pip-tool.sh does the work).
set -euo pipefail

requirement="parliament==1.6.4"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
venv="${PRIVATELINK_IAM_LINT_VENV:-$repo_root/.venv-iam-lint}"
exec "$here/pip-tool.sh" parliament "$venv" "$requirement" parliament --help
