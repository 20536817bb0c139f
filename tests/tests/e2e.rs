//! The end-to-end test: the README demo's flow (`privatelink_tests::demo`),
//! quiet, with its outcome asserted. Real binaries: `endpoint-service`,
//! `consumer-cli`, and the approver's cargo-lambda build under the Lambda
//! Runtime API emulator, all against one emulator.

use privatelink_tests::demo::{self, DemoOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_flow_works_and_leaves_nothing_behind() {
    let workdir = std::env::temp_dir().join(format!("privatelink-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&workdir).unwrap();
    let options = DemoOptions::build(workdir.clone(), false).unwrap_or_else(|e| panic!("{e:#}"));
    let summary = demo::run(options).await.unwrap_or_else(|e| panic!("{e:#}"));
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
}
