//! Every binary of the kit explains itself: `--help` succeeds and names its
//! commands and the shared AWS flags; an unknown flag is a usage error (exit
//! 2) that names the flag. Runs the real binaries (`cargo build --workspace
//! --bins` first; tests/run.sh does).

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
fn endpoint_service_help_lists_every_command_and_the_aws_flags() {
    let commands = [
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
    ];
    assert_help("endpoint-service", &commands);
    assert_help("endpoint-service", &AWS_FLAGS);
}

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
fn unknown_flags_are_usage_errors_that_name_the_flag() {
    for name in ["endpoint-service", "consumer-cli"] {
        let output = run(name, &["--no-such-flag"]);
        assert_eq!(output.status.code(), Some(2), "{name}: {output:?}");
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(err.contains("--no-such-flag"), "{name}: {err}");
    }
}

#[test]
fn a_malformed_endpoint_url_is_refused_before_any_call() {
    let output = run(
        "endpoint-service",
        &[
            "--endpoint-url",
            "127.0.0.1:5055",
            "status",
            "--stack",
            "demo",
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("127.0.0.1:5055"), "{err}");
}
