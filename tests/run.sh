#!/usr/bin/env bash
# The project's test command (README "Run the tests"; .ci/run calls exactly this).
#
# 1. installs the pinned test tools it needs (idempotent; skipped when up to date):
#    the emulator's venv (moto + our PrivateLink layer) and cargo-lambda (parliament, the IAM
#    linter, is installed by tests/tools/lint-iam.sh in step 4);
# 2. runs the emulator layer's own tests (pytest, a few seconds);
# 3. checks the dependency walls (cargo tree), then runs every Rust test of the workspace. `cargo test --workspace` also builds the binaries
#    the workspace-level tests run (each crate has an integration test, which makes cargo build
#    its binary), all with one feature set: a separate `cargo build --bins` would compile the
#    AWS SDK a second time, because dev-dependencies (aws-smithy-mocks) add `test-util`
#    features to the SDK's runtime crates. The tests that run the approver as it ships build its package with `cargo lambda build
#    --release` on first use (tests/src/lambda_runtime.rs; minutes the first time, then
#    instant), so the binary they test is the one in bootstrap.zip;
# 4. lints every IAM policy the built binaries generate with parliament
#    (tests/tools/lint-iam.sh; exceptions, each with its reason, in tests/tools/iam-lint-exceptions.yaml).
#
# Each Rust test process starts its own emulator on a free 127.0.0.1 port and stops it when it
# exits (see tests/src/emulator.rs); nothing is left running. Extra arguments go to `cargo test`
# (e.g. `tests/run.sh --test scenarios provider::`: the emulator tests are one binary, `scenarios`,
# whose modules are the filter).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

step() { printf '\n==> %s\n' "$*"; }

step "installing the emulator (pinned moto, from PyPI)"
tests/emulator/install.sh

step "installing cargo-lambda (pinned, from PyPI)"
tests/tools/install-cargo-lambda.sh

# Every runner's output is also kept, to print one total at the end.
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

step "emulator layer tests (pytest)"
PYTHONPATH=tests/emulator .venv-emulator/bin/python -m pytest -q tests/emulator/tests 2>&1 | tee -a "$log"

step "dependency walls (cargo tree): each binary links only the SDK clients it calls"
# README "Architecture": the consumer CLI has no ELBv2, SNS, Lambda, IAM, EventBridge or DynamoDB
# SDK; the Lambda has only EC2 and DynamoDB (and aws-config's own STS) and no SSO crates.
walls_ok=true
check_wall() {
  local package="$1" forbidden="$2" found
  found="$(cargo tree -p "$package" -e normal --locked --prefix none 2>/dev/null \
    | sed 's/ .*//' | sort -u | grep -Ex "$forbidden" || true)"
  if [[ -n "$found" ]]; then
    echo "dependency wall broken: $package links $(echo "$found" | tr '\n' ' ')" >&2
    walls_ok=false
  else
    echo "$package: none of $forbidden"
  fi
}
check_wall consumer-cli 'aws-sdk-(elasticloadbalancingv2|sns|lambda|iam|eventbridge|dynamodb)'
check_wall approver-lambda 'aws-sdk-(elasticloadbalancingv2|sns|lambda|iam|eventbridge|route53|sso|ssooidc)'
$walls_ok

step "running the workspace tests"
cargo test --workspace --locked "$@" 2>&1 | tee -a "$log"

# After cargo test: the binaries it built print the policies that are linted. Skipped for a
# partial run (extra arguments), which may not build both binaries.
if [[ $# -eq 0 ]]; then
  step "linting the generated IAM policies (parliament, pinned, from PyPI)"
  tests/tools/lint-iam.sh
fi

# One line for people and CI: pytest's "N passed" plus every cargo "test result:" line.
awk '
  /^[0-9]+ passed/ { passed += $1; if (match($0, /[0-9]+ failed/)) failed += substr($0, RSTART, RLENGTH) + 0 }
  /^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) passed += $i; if ($(i+1) ~ /^failed/) failed += $i } }
  END { printf "tests/run.sh: %d passed, %d failed\n", passed, failed }
' "$log"
