//! The log lines, as CloudWatch gets them: the same JSON formatter as
//! main.rs, captured in memory. Its own test binary, because `tracing`
//! caches per-callsite interest process-wide and a scoped subscriber races
//! with other tests' threads.

mod common;

use approver_lambda::handler::{handle, Approver};
use common::{config, conn, suspended, tenant, Fake, FakeRegistry, ALLOWED, OTHER};
use privatelink_core::approval::tenant::now_epoch;
use privatelink_core::approval::{NonAllowlistedPolicy, Tenant};
use serde_json::Value;

const A1: &str = "vpce-0aaaaaaaaaaaaaaa1";

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const SUSPENDED: &str = "222222222222";
const EXPIRED: &str = "333333333333";

/// ALLOWED active, SUSPENDED suspended, EXPIRED expired; OTHER no tenant.
fn approver(fake: &Fake, policy: NonAllowlistedPolicy, revoke: bool) -> Approver<FakeRegistry> {
    let registry = FakeRegistry::new([
        tenant(ALLOWED),
        suspended(SUSPENDED),
        Tenant {
            expires_at: Some(now_epoch() - 1),
            ..tenant(EXPIRED)
        },
    ]);
    Approver::new(fake.client(), Ok(config(policy, revoke)), |_| registry)
}

/// A `MakeWriter` collecting log output in memory.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut out) = self.0.lock() {
            out.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// The log lines of one invocation, parsed, with the raw text.
fn logged(approver: &Approver<FakeRegistry>, event: &str) -> (Vec<Value>, String) {
    let captured = Captured::default();
    // The same formatter set-up as main.rs.
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .without_time()
        .with_writer(captured.clone())
        .finish();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    tracing::subscriber::with_default(subscriber, || {
        runtime
            .block_on(handle(approver, fixture(event)))
            .expect("ok")
    });
    let text =
        String::from_utf8(captured.0.lock().map(|o| o.clone()).unwrap_or_default()).expect("utf-8");
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    (lines, text)
}

/// One test, so no other test thread of this binary logs meanwhile.
#[test]
fn decisions_are_json_log_lines_that_name_their_rule() {
    every_decision_is_one_json_log_line();
    a_notification_is_logged_raw_and_each_registry_refusal_names_its_rule();
}

fn every_decision_is_one_json_log_line() {
    let fake = Fake::new(vec![
        conn(A1, ALLOWED, "pendingAcceptance"),
        conn("vpce-0000000000000000b", OTHER, "AVAILABLE"),
    ]);
    // A sweep that does not revoke lists only the requests; one that does
    // lists (and logs a decision for) every connection.
    let approver = approver(&fake, NonAllowlistedPolicy::Reject, true);
    let (lines, text) = logged(&approver, "eventbridge-scheduled.json");
    let decisions: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "decision")
        .collect();
    assert_eq!(decisions.len(), 2, "{text}");
    let accept = decisions
        .iter()
        .find(|d| d["endpoint_id"] == A1)
        .expect("a record for A1");
    for (key, value) in [
        ("owner_account", ALLOWED),
        ("state_before", "pendingAcceptance"),
        ("decision", "accept"),
        ("reason", "entitled_tenant"),
        ("trigger", "sweep"),
        ("outcome", "applied"),
    ] {
        assert_eq!(accept[key], value, "{key} in {accept}");
    }
    assert_eq!(accept["dry_run"], false);
    assert_eq!(accept["target"], "approval::decision");
    let record: Value =
        serde_json::from_str(accept["record"].as_str().unwrap_or_default()).expect("record");
    assert_eq!(record["trigger"], "sweep");
    assert_eq!(record["reason"], "entitled_tenant");
    let revoked = decisions
        .iter()
        .find(|d| d["endpoint_id"] == "vpce-0000000000000000b")
        .expect("a record for the other");
    assert_eq!(revoked["decision"], "reject");
    assert_eq!(revoked["reason"], "not_a_tenant");
    assert_eq!(revoked["state_before"], "available");
}

fn a_notification_is_logged_raw_and_each_registry_refusal_names_its_rule() {
    let fake = Fake::new(vec![
        conn(A1, ALLOWED, "pendingAcceptance"),
        conn("vpce-0000000000000000b", OTHER, "pendingAcceptance"),
        conn("vpce-0000000000000000c", SUSPENDED, "pendingAcceptance"),
        conn("vpce-0000000000000000d", EXPIRED, "pendingAcceptance"),
    ]);
    let approver = approver(&fake, NonAllowlistedPolicy::LeavePending, false);
    let (lines, text) = logged(&approver, "sns-connect.json");
    let decision = |id: &str| {
        lines
            .iter()
            .find(|l| l["message"] == "decision" && l["endpoint_id"] == id)
            .unwrap_or_else(|| panic!("no decision for {id}: {text}"))
            .clone()
    };
    let accept = decision(A1);
    assert_eq!(accept["reason"], "entitled_tenant");
    assert_eq!(accept["trigger"], "sns");
    assert_eq!(
        accept["sns_message_ids"],
        "11111111-0000-4000-8000-000000000007"
    );
    for (id, owner, reason) in [
        ("vpce-0000000000000000b", OTHER, "not_a_tenant"),
        ("vpce-0000000000000000c", SUSPENDED, "tenant_suspended"),
        ("vpce-0000000000000000d", EXPIRED, "tenant_expired"),
    ] {
        let line = decision(id);
        assert_eq!(line["decision"], "leave", "{line}");
        assert_eq!(line["reason"], reason, "{line}");
        assert_eq!(line["owner_account"], owner, "{line}");
        assert_eq!(line["outcome"], "nothing_to_do", "{line}");
    }
    // The raw notification was logged too.
    assert!(lines.iter().any(|l| l["message"] == "notification received"
        && l["sns_message"]
            .as_str()
            .is_some_and(|m| m.contains("vpce-0aaaaaaaaaaaaaaa1"))));
}
