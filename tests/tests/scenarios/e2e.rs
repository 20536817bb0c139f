//! The end-to-end test: the README demo's flow (`privatelink_tests::demo`),
//! quiet, with its outcome asserted. Real binaries: `endpoint-service`,
//! `consumer-cli`, and the approver's cargo-lambda build under the Lambda
//! Runtime API emulator, all against one emulator.
//!
//! The same run then checks IAM action coverage (`privatelink_tests::
//! iam_coverage`): the emulator recorded every AWS request with the calling
//! binary's app name, and every one of them (with what AWS authorizes on top
//! of it) must be allowed by the policy that binary's own `iam-policy`
//! command generates: `endpoint-service iam-policy` for `endpoint-service`
//! (the operator's policy), for `approver-lambda` (its role's policy) and
//! for `gateway` (the gateway role's policy), `consumer-cli iam-policy` for
//! `consumer-cli`.

use privatelink_core::aws::app;
use privatelink_core::naming::StackName;
use privatelink_tests::bins::{command, Run};
use privatelink_tests::demo::{self, DemoOptions, Summary};
use privatelink_tests::iam_coverage::{self, Policy, Report, RunFacts, Subject};
use privatelink_tests::Emulator;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_flow_works_and_leaves_nothing_behind() {
    let workdir = std::env::temp_dir().join(format!("privatelink-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&workdir).unwrap();
    let mut options =
        DemoOptions::build(workdir.clone(), false).unwrap_or_else(|e| panic!("{e:#}"));
    // Every other command once too, so the coverage check below sees a
    // second `up`, `plan`, `allow`/`disallow`, `sweep`, the consumer's
    // `status` and `verify`.
    options.operator_tour = true;
    // An emulator of its own, so that its call log is this run's alone.
    let emulator = Emulator::start().unwrap_or_else(|e| panic!("{e:#}"));
    let summary = demo::run_on(&emulator, options)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let _ = std::fs::remove_dir_all(&workdir);

    assert!(summary
        .service_name
        .starts_with("com.amazonaws.vpce.us-east-1.vpce-svc-"));
    // The allowlisted customer was accepted by the Lambda, not by anyone else.
    assert!(summary.auto_endpoint.starts_with("vpce-"));
    assert_eq!(summary.auto_decision, "accept (sns)");
    // The other customer was left for review by the Lambda and accepted by the override.
    assert!(summary.manual_endpoint.starts_with("vpce-"));
    assert_ne!(summary.manual_endpoint, summary.auto_endpoint);
    assert_eq!(summary.manual_decision_before_override, "leave");
    assert_eq!(summary.manual_decision_after_override, "accept (manual)");
    assert_eq!(summary.verified.len(), 2);
    assert!(
        summary.leftovers.is_empty(),
        "left behind: {:#?}",
        summary.leftovers
    );
    // The second `up` found the stack converged.
    assert_eq!(summary.rerun_changes, Some(0), "{:#?}", summary.tour);

    // Behind the gateway: `[gateway]` turned PROXY protocol v2 on, and the
    // app saw each customer as its own tenant, named as in the registry.
    assert!(summary.proxy_protocol_v2);
    assert_eq!(summary.tenant_names.len(), 2, "{:#?}", summary.tenant_names);
    assert_eq!(summary.tenants_seen, summary.tenant_names);
    assert_ne!(
        summary.tenants_seen[&summary.customer_account],
        summary.tenants_seen[&summary.other_account]
    );
    // The tenant customer claiming to be the other one: the app still saw
    // the true tenant.
    let (claimed, seen) = summary
        .impersonation
        .clone()
        .expect("the impersonation request");
    assert_eq!(claimed, summary.tenant_names[&summary.other_account]);
    assert_eq!(seen, summary.tenant_names[&summary.customer_account]);
    // Accepted by the operator but not a tenant yet: refused by the gateway.
    let (status, body) = summary
        .refused_before_tenant
        .clone()
        .expect("the request before the other customer was a tenant");
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("not_a_tenant") || body.contains("not a tenant"),
        "{body}"
    );

    // IAM action coverage of the same run.
    let log = emulator
        .calls()
        .await
        .unwrap_or_else(|e| panic!("reading the emulator's call log: {e:#}"));
    let report = coverage(&summary, &log).unwrap_or_else(|e| panic!("{e:#}"));
    println!("{report}");
    let gaps = report.gaps();
    assert!(
        gaps.is_empty(),
        "{} authorization(s) not covered by the generated policies:\n{report}",
        gaps.len()
    );
    // Every call came from a binary of the kit or from the test harness
    // (which names itself too): a product client built without its app name
    // would escape the check.
    let unknown: Vec<&String> = report
        .other_calls
        .keys()
        .filter(|app| app.as_str() != "privatelink-tests")
        .collect();
    assert!(
        unknown.is_empty(),
        "calls from callers that are neither a binary of the kit nor the harness: {:?}",
        report.other_calls
    );
    // Conditions the model does not evaluate are assumed to hold; only the
    // reviewed ones may appear, so a new unevaluated condition is looked at.
    let assumed: Vec<String> = report
        .apps
        .iter()
        .flat_map(|a| a.assumed.keys().map(move |c| format!("{}: {c}", a.app)))
        .filter(|c| !REVIEWED_ASSUMPTIONS.iter().any(|(r, _why)| c.contains(r)))
        .collect();
    assert!(
        assumed.is_empty(),
        "conditions assumed without review:\n{}",
        assumed.join("\n")
    );
}

/// Conditions the coverage model assumes to hold, each reviewed: (the
/// substring of the assumption, and why it is right). Empty while the model
/// evaluates every condition the policies use.
const REVIEWED_ASSUMPTIONS: &[(&str, &str)] = &[];

/// Checks the run's recorded calls against the policies the binaries print.
fn coverage(summary: &Summary, log: &Value) -> anyhow::Result<Report> {
    let calls = iam_coverage::parse_calls(log)?;
    let region = privatelink_tests::accounts::REGION;
    let provider = policy_output(
        app::ENDPOINT_SERVICE,
        &[
            "iam-policy",
            "--stack",
            &summary.stack,
            "--account",
            &summary.vendor_account,
            "--region",
            region,
            "--service-id",
            &summary.service_id,
        ],
    )?;
    // `endpoint-service`'s calls: the operator's policy plus
    // `boundary_admin_policy`, because the demo's vendor is also the
    // administrator who creates the boundary (first `up`) and deletes it
    // (last `down`).
    let (gateway_docs, provider_docs) = documents(&provider, |key| key.contains("gateway"));
    let (approver_docs, operator_docs): (Docs, Docs) = provider_docs
        .into_iter()
        .partition(|(key, _)| key.contains("approver"));
    // The approver role's permissions boundary, if the stack sets one:
    // allowed = allowed by the inline policy and by the boundary.
    let (boundary_docs, approver_docs): (Docs, Docs) = approver_docs
        .into_iter()
        .partition(|(key, _)| key.contains("boundary"));
    // The consumer's policy, once per customer, scoped as tightly as the
    // command allows (account, VPC, service); each is scoped to its own
    // account's ARNs, so the union allows no more than either does.
    let mut consumer_docs = Vec::new();
    let mut consumer_keys = Vec::new();
    for (account, vpc) in [
        (&summary.customer_account, &summary.customer_vpc),
        (&summary.other_account, &summary.other_vpc),
    ] {
        let out = policy_output(
            app::CONSUMER_CLI,
            &[
                "iam-policy",
                "--account",
                account,
                "--region",
                region,
                "--vpc",
                vpc,
                "--service-name",
                &summary.service_name,
                "--dns-name",
                demo::DNS_NAME,
            ],
        )?;
        let (docs, _) = documents(&out, |_| true);
        consumer_keys.extend(docs.iter().map(|(k, _)| k.clone()));
        consumer_docs.extend(docs);
    }
    consumer_keys.dedup();
    let policy = |docs: &[(String, Value)]| Policy::from_documents(docs.iter().map(|(_, d)| d));
    let source = |binary: &str, docs: &[(String, Value)]| {
        let keys: Vec<&str> = docs.iter().map(|(k, _)| k.as_str()).collect();
        format!("{binary} iam-policy: {}", keys.join(", "))
    };
    let function = StackName::parse(&summary.stack)?.function();
    let subjects = [
        Subject {
            app: app::ENDPOINT_SERVICE,
            policy_source: source("endpoint-service", &operator_docs),
            policy: policy(&operator_docs)?,
            boundary: None,
            extra: Vec::new(),
        },
        Subject {
            app: app::APPROVER_LAMBDA,
            policy_source: source(
                "endpoint-service",
                &[approver_docs.clone(), boundary_docs.clone()].concat(),
            ),
            policy: policy(&approver_docs)?,
            boundary: if boundary_docs.is_empty() {
                None
            } else {
                Some(policy(&boundary_docs)?)
            },
            extra: iam_coverage::approver_runtime_authorizations(
                region,
                &summary.vendor_account,
                &function,
            ),
        },
        // The gateway of the stack's `[gateway]`, run by the demo as the
        // vendor: its role's policy.
        Subject {
            app: "gateway",
            policy_source: source("endpoint-service", &gateway_docs),
            policy: policy(&gateway_docs)?,
            boundary: None,
            extra: Vec::new(),
        },
        Subject {
            app: app::CONSUMER_CLI,
            policy_source: format!("consumer-cli iam-policy: {}", consumer_keys.join(", ")),
            policy: policy(&consumer_docs)?,
            boundary: None,
            extra: Vec::new(),
        },
    ];
    for subject in &subjects {
        anyhow::ensure!(
            !subject.policy.is_empty(),
            "{}: no policy statements found ({})",
            subject.app,
            subject.policy_source
        );
    }
    let facts = RunFacts {
        service_ids: vec![summary.service_id.clone()],
        function_name: Some(function),
        ..Default::default()
    };
    Ok(iam_coverage::check(&calls, &subjects, &facts))
}

/// Runs `NAME ARGS --output json` (no AWS call) and parses its output.
fn policy_output(name: &str, args: &[&str]) -> anyhow::Result<Value> {
    let output = Run::capture(command(name, None)?.args(args).args(["--output", "json"]))?;
    anyhow::ensure!(
        output.code == 0,
        "`{name} {}` failed (exit code {}): {}",
        args.join(" "),
        output.code,
        output.stderr
    );
    output.json()
}

/// The policy documents in a command's JSON output, by top-level key (a
/// document is an object with a `Statement`; `{"policy": DOC}` and a bare
/// document count too), split into those whose key passes `pick` and the
/// rest. Trust policies (with a `Principal`) are never identity policies
/// and are skipped.
type Docs = Vec<(String, Value)>;
fn documents(output: &Value, pick: impl Fn(&str) -> bool) -> (Docs, Docs) {
    let mut found = Vec::new();
    if output.get("Statement").is_some() {
        found.push(("policy".to_string(), output.clone()));
    } else if let Some(map) = output.as_object() {
        for (key, value) in map {
            if value.get("Statement").is_some() {
                found.push((key.clone(), value.clone()));
            }
        }
    }
    let is_trust = |doc: &Value| {
        doc.get("Statement")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|s| s.get("Principal").is_some()))
    };
    found.retain(|(_, doc)| !is_trust(doc));
    found.into_iter().partition(|(key, _)| pick(key))
}
