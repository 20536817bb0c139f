#!/usr/bin/env bash
# README's first command: the whole flow on a local AWS emulator, with the real binaries.
# Installs what it needs (pinned, idempotent), builds the workspace binaries, then runs the
# narrated demo (tests/src/demo.rs), which builds the approver package with
# `cargo lambda build --release`, starts the emulator and the Lambda Runtime API emulator
# itself, and stops them on exit or Ctrl-C.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

echo "==> installing the emulator and cargo-lambda (pinned, from PyPI; skipped when up to date)"
tests/emulator/install.sh
tests/tools/install-cargo-lambda.sh

echo "==> building the kit's binaries"
# Built the way tests/run.sh builds them (`cargo test --no-run`), so running the demo and then
# the tests compiles the AWS SDK crates once, not twice (dev-dependencies change their features).
cargo test --workspace --no-run --locked

echo "==> running the demo"
exec target/debug/demo
