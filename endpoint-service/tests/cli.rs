//! Bad input to the `endpoint-service` binary is a usage error (exit 2)
//! that names what to fix, before any AWS call. (Its `--help`, `--version`
//! and completions are checked with the other CLIs' in
//! `tests/tests/scenarios/cli_help.rs`.)
//!
//! Being an integration test of this package also makes `cargo test
//! --workspace` build the binary (with the same features as every test
//! target), which the workspace-level tests in `tests/` then run.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_endpoint-service"))
        .args(args)
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("running endpoint-service")
}

#[test]
fn an_unknown_flag_is_a_usage_error_that_names_it() {
    let output = run(&["--no-such-flag"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("--no-such-flag"));
}

#[test]
fn a_malformed_endpoint_url_is_refused_before_any_call() {
    let output = run(&[
        "--endpoint-url",
        "127.0.0.1:5055",
        "status",
        "--stack",
        "demo",
    ]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("127.0.0.1:5055"), "{err}");
}

#[test]
fn a_missing_config_file_is_named() {
    let output = run(&["plan", "--config", "no-such-dir/stack.toml"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("no-such-dir/stack.toml"), "{err}");
}
