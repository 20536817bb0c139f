//! The doctor: checks a connection end to end and says, for each step,
//! whether it passed and what to fix when not. Two halves: what a client
//! sees ([`https`]: name resolution, TCP, TLS with rustls, HTTP with hyper,
//! expected status and body) and what the AWS API says ([`api`]: endpoint
//! state, security group rule, hosted zone, record). The outcome is kept as
//! a tag on the endpoint ([`crate::connection_key::LAST_VERIFICATION_TAG`]) so that
//! `status` can show the last verification without a local file.

pub mod api;
pub mod https;

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::connection_key::{Target, LAST_VERIFICATION_TAG};
use crate::endpoint::{self, EndpointInfo};
use crate::{Clients, ConsumerError};
use api::DnsSetup;

/// How one step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    /// Not run: an earlier step failed, or it does not apply.
    Skip,
}

/// One check with its result and, when it failed, what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub name: String,
    pub outcome: Outcome,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Step {
    pub fn pass(name: &str, detail: impl Into<String>) -> Step {
        Step {
            name: name.into(),
            outcome: Outcome::Pass,
            detail: detail.into(),
            hint: None,
        }
    }
    pub fn fail(name: &str, detail: impl Into<String>, hint: impl Into<String>) -> Step {
        Step {
            name: name.into(),
            outcome: Outcome::Fail,
            detail: detail.into(),
            hint: Some(hint.into()),
        }
    }
    pub fn skip(name: &str, detail: impl Into<String>) -> Step {
        Step {
            name: name.into(),
            outcome: Outcome::Skip,
            detail: detail.into(),
            hint: None,
        }
    }
}

/// The result of `verify` (also embedded in `connect`'s result).
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub endpoint_id: String,
    /// The name the HTTPS check used.
    pub name: String,
    pub port: u16,
    pub checked_at: String,
    pub passed: bool,
    pub steps: Vec<Step>,
}

impl VerifyReport {
    pub fn new(endpoint_id: &str, name: &str, port: u16, steps: Vec<Step>) -> VerifyReport {
        VerifyReport {
            endpoint_id: endpoint_id.to_string(),
            name: name.to_string(),
            port,
            checked_at: crate::time::rfc3339(crate::time::unix_now()),
            passed: steps.iter().all(|s| s.outcome != Outcome::Fail),
            steps,
        }
    }

    /// The first failed step.
    pub fn first_failure(&self) -> Option<&Step> {
        self.steps.iter().find(|s| s.outcome == Outcome::Fail)
    }

    /// The value stored in the endpoint's last-verification tag (at most
    /// 256 characters, the EC2 limit).
    pub fn tag_value(&self) -> String {
        let passed = self
            .steps
            .iter()
            .filter(|s| s.outcome == Outcome::Pass)
            .count();
        let mut value = match self.first_failure() {
            None => format!(
                "{} passed ({passed} checks) {}:{}",
                self.checked_at, self.name, self.port
            ),
            Some(step) => format!(
                "{} failed at {}: {}",
                self.checked_at, step.name, step.detail
            ),
        };
        if value.chars().count() > 256 {
            value = value.chars().take(255).collect::<String>() + "…";
        }
        value
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Verification of {} via {}:{}",
            self.endpoint_id, self.name, self.port
        )?;
        for step in &self.steps {
            let mark = match step.outcome {
                Outcome::Pass => "PASS",
                Outcome::Fail => "FAIL",
                Outcome::Skip => "SKIP",
            };
            writeln!(f, "  {mark}  {:<16} {}", step.name, step.detail)?;
            if let Some(hint) = &step.hint {
                writeln!(f, "        {:<16} fix: {hint}", "")?;
            }
        }
        if self.passed {
            write!(f, "All checks passed.")
        } else {
            write!(f, "Verification FAILED.")
        }
    }
}

/// The client-side options of a verification (flags of `verify` and
/// `connect`).
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// `--resolve NAME:IP`.
    pub resolve: Option<(String, IpAddr)>,
    pub ca_file: Option<PathBuf>,
    pub path: String,
    pub expect_status: Option<u16>,
    pub expect_body: Option<String>,
    /// Limit for each step.
    pub step_timeout: Duration,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            resolve: None,
            ca_file: None,
            path: "/".into(),
            expect_status: None,
            expect_body: None,
            step_timeout: Duration::from_secs(5),
        }
    }
}

/// Runs the API checks and the client checks against `name`:`port`.
#[allow(clippy::too_many_arguments)]
pub async fn doctor(
    clients: &Clients,
    target: &Target,
    endpoint: &EndpointInfo,
    dns: &DnsSetup,
    name: &str,
    port: u16,
    endpoint_ips: &[IpAddr],
    options: &CheckOptions,
) -> Result<VerifyReport, ConsumerError> {
    let mut steps = api::checks(&clients.ec2, &clients.r53, target, endpoint, port, dns).await?;
    let resolve = match &options.resolve {
        Some((resolve_name, ip)) if resolve_name == name => Some(*ip),
        Some((resolve_name, _)) => {
            return Err(ConsumerError::Input(format!(
                "--resolve is for {resolve_name}, but the name being checked is {name}: \
                 write --resolve {name}:IP"
            )))
        }
        None => None,
    };
    let check = https::HttpsCheck {
        name: name.to_string(),
        port,
        resolve,
        endpoint_ips: endpoint_ips.to_vec(),
        ca_file: options.ca_file.clone(),
        path: options.path.clone(),
        expect_status: options.expect_status,
        expect_body: options.expect_body.clone(),
        timeout: options.step_timeout,
    };
    steps.extend(https::run(&check).await);
    Ok(VerifyReport::new(&endpoint.endpoint_id, name, port, steps))
}

/// Keeps the outcome on the endpoint, for `status`.
pub async fn record(clients: &Clients, report: &VerifyReport) -> Result<(), ConsumerError> {
    endpoint::set_tag(
        &clients.ec2,
        &report.endpoint_id,
        LAST_VERIFICATION_TAG,
        &report.tag_value(),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_names_the_first_failure_and_fits() {
        let report = VerifyReport::new(
            "vpce-1",
            "api.vendor.internal",
            443,
            vec![
                Step::pass("tcp", "connected"),
                Step::fail("tls", "x".repeat(400), "fix it"),
                Step::skip("http", "not run"),
            ],
        );
        assert!(!report.passed);
        let tag = report.tag_value();
        assert!(tag.contains("failed at tls"), "{tag}");
        assert!(tag.chars().count() <= 256);
        let ok = VerifyReport::new("vpce-1", "n.example", 443, vec![Step::pass("tcp", "ok")]);
        assert!(ok.passed && ok.tag_value().contains("passed (1 checks)"));
        let text = report.to_string();
        assert!(
            text.contains("FAIL  tls") && text.contains("fix: fix it"),
            "{text}"
        );
    }
}
