//! The consumer CLI and the approver explain themselves: `--help` succeeds
//! and names their commands (or settings) and the shared AWS flags; an
//! unknown flag is a usage error (exit 2) that names the flag. Runs the real
//! binaries, which `cargo test --workspace` builds (tests/run.sh). The
//! provider CLI's own are in `endpoint-service/tests/cli.rs`.

use std::process::{Command, Output};

use privatelink_tests::bins::binary;

fn run(name: &str, args: &[&str]) -> Output {
    let path = binary(name).unwrap_or_else(|e| panic!("{e:#}"));
    Command::new(path)
        .args(args)
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap_or_else(|e| panic!("running {name}: {e}"))
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn assert_help(name: &str, words: &[&str]) {
    let output = run(name, &["--help"]);
    assert!(output.status.success(), "{name} --help failed: {output:?}");
    let text = stdout(&output);
    for word in words {
        assert!(
            text.contains(word),
            "`{name} --help` does not mention {word}:\n{text}"
        );
    }
}

const AWS_FLAGS: [&str; 5] = [
    "--profile",
    "--region",
    "--endpoint-url",
    "--max-attempts",
    "--output",
];

#[test]
fn consumer_cli_help_lists_every_command_and_the_aws_flags() {
    assert_help(
        "consumer-cli",
        &["connect", "verify", "status", "disconnect"],
    );
    assert_help("consumer-cli", &AWS_FLAGS);
}

#[test]
fn approver_help_lists_its_settings() {
    assert_help(
        "approver-lambda",
        &[
            "APPROVER_SERVICE_ID",
            "APPROVER_ALLOWLIST",
            "APPROVER_NON_ALLOWLISTED_POLICY",
            "APPROVER_REVOKE",
            "APPROVER_DRY_RUN",
        ],
    );
}

#[test]
fn an_unknown_flag_is_a_usage_error_that_names_it() {
    let output = run("consumer-cli", &["--no-such-flag"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("--no-such-flag"), "{err}");
}
