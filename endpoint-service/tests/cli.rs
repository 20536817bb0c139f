//! The `endpoint-service` binary explains itself: `--help` names every
//! command and the shared AWS flags, and bad input is a usage error (exit 2)
//! that names what to fix, before any AWS call.
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
fn help_lists_every_command_and_the_aws_flags() {
    let output = run(&["--help"]);
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    for word in [
        "plan",
        "up",
        "status",
        "down",
        "iam-policy",
        "connections",
        "accept",
        "reject",
        "allow",
        "disallow",
        "sweep",
        "history",
        "--profile",
        "--region",
        "--endpoint-url",
        "--max-attempts",
        "--output",
    ] {
        assert!(
            text.contains(word),
            "--help does not mention {word}:\n{text}"
        );
    }
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
