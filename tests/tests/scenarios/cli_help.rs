//! The CLIs and the approver explain themselves: `--help` succeeds and lists
//! exactly their subcommands (whole names: `list` is not found inside
//! `history`, nor `add` inside `address`) or settings and the shared AWS
//! flags, and `tenants --help` its own; `--version` names the
//! commit; `completions` prints a script; an unknown flag is a usage error
//! (exit 2) that names the flag. Runs the real binaries, which `cargo test
//! --workspace` builds (tests/run.sh). The provider CLI's usage errors are
//! in `endpoint-service/tests/cli.rs`.

use privatelink_tests::bins::{command, Run};

/// Runs `name ARGS` with no AWS at all: none of these may need it.
fn run(name: &str, args: &[&str]) -> Run {
    command(name, None)
        .and_then(|mut command| Run::capture(command.args(args).env_remove("AWS_ENDPOINT_URL")))
        .unwrap_or_else(|e| panic!("{e:#}"))
}

fn assert_help(name: &str, words: &[&str]) {
    let output = run(name, &["--help"]);
    assert!(output.code == 0, "{name} --help failed: {output:?}");
    let text = &output.stdout;
    for word in words {
        assert!(
            text.contains(word),
            "`{name} --help` does not mention {word}:\n{text}"
        );
    }
}

/// The subcommand names of a clap `--help` page: the first word of each
/// line of its `Commands:` section.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| line.trim() != "Commands:")
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

fn assert_subcommands(name: &str, expected: &[&str]) {
    assert_subcommands_of(name, &[], expected);
}

/// [`assert_subcommands`] of a subcommand group (`endpoint-service tenants`).
fn assert_subcommands_of(name: &str, group: &[&str], expected: &[&str]) {
    let mut args = group.to_vec();
    args.push("--help");
    let output = run(name, &args);
    assert!(output.code == 0, "{name} {args:?} failed: {output:?}");
    let mut listed = subcommands(&output.stdout);
    listed.sort();
    let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    want.push("help".into());
    want.sort();
    assert_eq!(listed, want, "`{name} {args:?}` lists other subcommands");
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
    assert_subcommands(
        "consumer-cli",
        &[
            "connect",
            "verify",
            "status",
            "disconnect",
            "iam-policy",
            "completions",
        ],
    );
    assert_help("consumer-cli", &AWS_FLAGS);
}

#[test]
fn endpoint_service_help_lists_every_command_and_the_aws_flags() {
    assert_subcommands(
        "endpoint-service",
        &[
            "plan",
            "up",
            "status",
            "down",
            "iam-policy",
            "connections",
            "accept",
            "reject",
            "tenants",
            "drift",
            "sweep",
            "history",
            "completions",
        ],
    );
    assert_help("endpoint-service", &AWS_FLAGS);
    assert_subcommands_of(
        "endpoint-service",
        &["tenants"],
        &[
            "list", "add", "suspend", "resume", "remove", "import", "export",
        ],
    );
}

#[test]
fn the_help_parser_takes_whole_names() {
    let help = "Usage: x\n\nCommands:\n  history  Show\n  address  Old\n  help  Print\n\nOptions:\n  --list\n";
    assert_eq!(subcommands(help), ["history", "address", "help"]);
}

#[test]
fn both_clis_name_their_commit_and_print_completions() {
    for (name, a_subcommand) in [
        ("endpoint-service", "tenants"),
        ("consumer-cli", "disconnect"),
    ] {
        let version = run(name, &["--version"]);
        assert!(version.code == 0, "{version:?}");
        let text = &version.stdout;
        // `NAME 0.1.0 (commit abcdef012345)`, or "unknown" outside git.
        assert!(
            text.starts_with(&format!("{name} {}", env!("CARGO_PKG_VERSION")))
                && text.contains("(commit "),
            "{text}"
        );
        for shell in ["bash", "zsh", "fish"] {
            let script = run(name, &["completions", shell]);
            assert!(script.code == 0, "{script:?}");
            let text = &script.stdout;
            assert!(
                text.contains(name) && text.contains(a_subcommand),
                "{name} completions {shell}:\n{text}"
            );
        }
        let bad = run(name, &["completions", "cmd.exe"]);
        assert_eq!(bad.code, 2, "{bad:?}");
    }
}

#[test]
fn consumer_cli_prints_its_iam_policy_without_aws() {
    let output = run(
        "consumer-cli",
        &[
            "iam-policy",
            "--account",
            "222222222222",
            "--region",
            "us-east-1",
            "--vpc",
            "vpc-0abc",
            "--output",
            "json",
        ],
    );
    assert!(output.code == 0, "{output:?}");
    let report = output.json().expect("iam-policy --output json prints JSON");
    let policy = &report["consumer_policy"];
    assert_eq!(policy["Version"], "2012-10-17");
    let text = policy.to_string();
    assert!(text.contains("ec2:CreateVpcEndpoint"), "{text}");
    assert!(
        text.contains("arn:aws:ec2:us-east-1:222222222222:vpc/vpc-0abc"),
        "{text}"
    );
    let bad = run("consumer-cli", &["iam-policy", "--vpc", "not-a-vpc"]);
    assert_eq!(bad.code, 2, "{bad:?}");
}

#[test]
fn approver_help_lists_its_settings() {
    assert_help(
        "approver-lambda",
        &[
            "APPROVER_SERVICE_ID",
            "APPROVER_TABLE",
            "APPROVER_NON_ALLOWLISTED_POLICY",
            "APPROVER_REVOKE",
            "APPROVER_DRY_RUN",
        ],
    );
}

#[test]
fn an_unknown_flag_is_a_usage_error_that_names_it() {
    let output = run("consumer-cli", &["--no-such-flag"]);
    assert_eq!(output.code, 2, "{output:?}");
    let err = &output.stderr;
    assert!(err.contains("--no-such-flag"), "{err}");
}
