//! Counting the AWS calls a command makes, so `up` can prove that a
//! converged stack costs no mutating call, and `plan` that it made none.
//!
//! An SDK interceptor on every client records each operation once (not each
//! retry attempt) by the name the SDK gives it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// True for operations that only read (`Describe*`, `Get*`, `List*`, and
/// DynamoDB's `Scan`, `Query` and `BatchGetItem`).
pub fn is_read_only(operation: &str) -> bool {
    ["Describe", "Get", "List", "Scan", "Query", "BatchGet"]
        .iter()
        .any(|prefix| operation.starts_with(prefix))
}

/// The calls made through the clients that share this log.
#[derive(Debug, Clone, Default)]
pub struct CallLog(Arc<Mutex<Vec<String>>>);

impl CallLog {
    fn record(&self, operation: &str) {
        if let Ok(mut calls) = self.0.lock() {
            calls.push(operation.to_string());
        }
    }

    /// The calls so far, in order.
    pub fn calls(&self) -> Vec<String> {
        self.0.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Totals and per-operation counts.
    pub fn summary(&self) -> CallSummary {
        let calls = self.calls();
        let mut by_operation = BTreeMap::new();
        for call in &calls {
            *by_operation.entry(call.clone()).or_insert(0u32) += 1;
        }
        let mutating: Vec<String> = calls.iter().filter(|c| !is_read_only(c)).cloned().collect();
        CallSummary {
            total: u32::try_from(calls.len()).unwrap_or(u32::MAX),
            mutating: u32::try_from(mutating.len()).unwrap_or(u32::MAX),
            mutating_operations: mutating,
            by_operation,
        }
    }

    /// The interceptor to install on a client's config.
    pub fn interceptor(&self) -> CallCounter {
        CallCounter(self.clone())
    }
}

/// How many AWS calls a command made.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CallSummary {
    pub total: u32,
    pub mutating: u32,
    /// The mutating calls, in order.
    pub mutating_operations: Vec<String>,
    pub by_operation: BTreeMap<String, u32>,
}

/// The SDK interceptor behind [`CallLog`].
#[derive(Debug, Clone)]
pub struct CallCounter(CallLog);

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "privatelink-kit call counter"
    }

    // Not `read_before_execution`: client interceptors run that before the
    // operation's configuration (which names the operation) is applied.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let name = cfg
            .load::<Metadata>()
            .map(|m| m.name().to_string())
            .unwrap_or_else(|| "Unknown".to_string());
        self.0.record(&name);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_are_told_apart() {
        let log = CallLog::default();
        for op in [
            "DescribeVpcs",
            "CreateVpc",
            "GetRole",
            "ListTargetsByRule",
            "PutRule",
            "Scan",
            "TransactWriteItems",
        ] {
            log.record(op);
        }
        let summary = log.summary();
        assert_eq!(summary.total, 7);
        assert_eq!(summary.mutating, 3);
        assert_eq!(
            summary.mutating_operations,
            ["CreateVpc", "PutRule", "TransactWriteItems"]
        );
        assert_eq!(summary.by_operation.get("DescribeVpcs"), Some(&1));
    }
}
