//! The log lines, as CloudWatch gets them: the same JSON formatter as
//! main.rs, captured in memory. Its own test binary, because `tracing`
//! caches per-callsite interest process-wide and a scoped subscriber races
//! with other tests' threads.

mod common;

use approver_lambda::handler::{handle, Approver};
use common::{config, conn, Fake, ALLOWED, OTHER};
use privatelink_core::approval::NonAllowlistedPolicy;
use serde_json::Value;

const A1: &str = "vpce-0aaaaaaaaaaaaaaa1";

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn approver(fake: &Fake, policy: NonAllowlistedPolicy) -> Approver {
    Approver {
        ec2: fake.client(),
        config: Ok(config(policy, false)),
    }
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

#[test]
fn every_decision_is_one_json_log_line() {
    let fake = Fake::new(vec![
        conn(A1, ALLOWED, "pendingAcceptance"),
        conn("vpce-0000000000000000b", OTHER, "AVAILABLE"),
    ]);
    let approver = approver(&fake, NonAllowlistedPolicy::Reject);
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
            .block_on(handle(&approver, fixture("sns-connect.json")))
            .expect("ok")
    });
    let text =
        String::from_utf8(captured.0.lock().map(|o| o.clone()).unwrap_or_default()).expect("utf-8");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
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
        ("reason", "allowlisted_request"),
        ("trigger", "sns"),
        ("sns_message_ids", "11111111-0000-4000-8000-000000000007"),
        ("outcome", "applied"),
    ] {
        assert_eq!(accept[key], value, "{key} in {accept}");
    }
    assert_eq!(accept["dry_run"], false);
    let record: Value =
        serde_json::from_str(accept["record"].as_str().unwrap_or_default()).expect("record");
    assert_eq!(
        record["trigger"]["sns"][0],
        "11111111-0000-4000-8000-000000000007"
    );
    let left = decisions
        .iter()
        .find(|d| d["endpoint_id"] == "vpce-0000000000000000b")
        .expect("a record for the other");
    assert_eq!(left["reason"], "not_allowlisted_revocation_off");
    assert_eq!(left["state_before"], "available");
    // The raw notification was logged too.
    assert!(lines.iter().any(|l| l["message"] == "notification received"
        && l["sns_message"]
            .as_str()
            .is_some_and(|m| m.contains("vpce-0aaaaaaaaaaaaaaa1"))));
}
