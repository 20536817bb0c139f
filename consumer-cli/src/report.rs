//! The commands' results: one type per command, printed for people
//! (`Display`) or as one JSON document (`Serialize`, `--output json`).

use std::fmt;

use privatelink_core::state::EndpointState;
use serde::Serialize;

use crate::verify::VerifyReport;

/// One endpoint network interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Address {
    pub zone: String,
    pub subnet_id: String,
    pub ip: String,
}

/// How clients find the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "mode")]
pub enum DnsSummary {
    /// The vendor's verified private DNS name, served by the endpoint.
    PrivateDns { name: String },
    /// Our private hosted zone with an ALIAS record to the endpoint.
    HostedZone { name: String, zone_id: String },
    /// No name: the endpoint's own DNS name.
    None,
}

impl fmt::Display for DnsSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsSummary::PrivateDns { name } => write!(f, "{name} (private DNS)"),
            DnsSummary::HostedZone { name, zone_id } => {
                write!(f, "{name} (private hosted zone {zone_id})")
            }
            DnsSummary::None => write!(f, "none (use the endpoint's DNS name)"),
        }
    }
}

/// Milliseconds spent in each phase of `connect`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub preflight_ms: u64,
    pub security_group_ms: u64,
    pub endpoint_ms: u64,
    /// Waiting for the vendor's acceptance and `available`.
    pub wait_ms: u64,
    pub dns_ms: u64,
    pub verify_ms: u64,
    pub total_ms: u64,
}

/// The result of `connect`.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectReport {
    pub service_name: String,
    pub vpc_id: String,
    pub endpoint_id: String,
    pub state: EndpointState,
    pub security_group_id: String,
    pub addresses: Vec<Address>,
    pub dns: DnsSummary,
    /// The name clients should use.
    pub name_to_use: String,
    /// What this run changed; empty when everything was already in place.
    pub changes: Vec<String>,
    pub verification: Option<VerifyReport>,
    pub timings: Timings,
}

fn write_addresses(f: &mut fmt::Formatter<'_>, addresses: &[Address]) -> fmt::Result {
    if addresses.is_empty() {
        return writeln!(f, "  addresses:      (none reported yet)");
    }
    writeln!(f, "  addresses:")?;
    for a in addresses {
        writeln!(f, "    {:<14} {:<26} {}", a.zone, a.subnet_id, a.ip)?;
    }
    Ok(())
}

impl fmt::Display for ConnectReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Connected {} to {}", self.vpc_id, self.service_name)?;
        writeln!(f, "  endpoint:       {} ({})", self.endpoint_id, self.state)?;
        writeln!(f, "  security group: {}", self.security_group_id)?;
        write_addresses(f, &self.addresses)?;
        writeln!(f, "  dns:            {}", self.dns)?;
        writeln!(f, "  use:            {}", self.name_to_use)?;
        if self.changes.is_empty() {
            writeln!(
                f,
                "  changes:        none (everything was already in place)"
            )?;
        } else {
            writeln!(f, "  changes:")?;
            for change in &self.changes {
                writeln!(f, "    - {change}")?;
            }
        }
        match &self.verification {
            Some(report) => write!(f, "{report}"),
            None => write!(f, "Verification skipped (--no-verify)."),
        }
    }
}

/// The result of `status`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub service_name: String,
    pub vpc_id: String,
    pub connected: bool,
    pub endpoint_id: Option<String>,
    pub state: Option<EndpointState>,
    pub security_group_ids: Vec<String>,
    pub addresses: Vec<Address>,
    pub dns: DnsSummary,
    pub name_to_use: Option<String>,
    /// The last `verify`/`connect` outcome, read from the endpoint's tag.
    pub last_verification: Option<String>,
    /// Where the last verification is kept.
    pub last_verification_source: String,
}

impl fmt::Display for StatusReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(endpoint_id) = &self.endpoint_id else {
            return write!(
                f,
                "Not connected: no endpoint to {} made by consumer-cli in {}.",
                self.service_name, self.vpc_id
            );
        };
        writeln!(f, "{} → {}", self.vpc_id, self.service_name)?;
        let state = self
            .state
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        writeln!(f, "  endpoint:       {endpoint_id} ({state})")?;
        writeln!(
            f,
            "  security group: {}",
            self.security_group_ids.join(", ")
        )?;
        write_addresses(f, &self.addresses)?;
        writeln!(f, "  dns:            {}", self.dns)?;
        if let Some(name) = &self.name_to_use {
            writeln!(f, "  use:            {name}")?;
        }
        write!(
            f,
            "  last verified:  {}\n                  (from {})",
            self.last_verification.as_deref().unwrap_or("never"),
            self.last_verification_source
        )
    }
}

/// The result of `disconnect`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DisconnectReport {
    pub service_name: String,
    pub vpc_id: String,
    /// What this run removed, in order.
    pub removed: Vec<String>,
    /// What was kept, and why.
    pub left: Vec<String>,
}

impl fmt::Display for DisconnectReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.removed.is_empty() && self.left.is_empty() {
            return write!(
                f,
                "Nothing to remove: no resources of consumer-cli for {} in {}.",
                self.service_name, self.vpc_id
            );
        }
        writeln!(f, "Disconnected {} from {}", self.vpc_id, self.service_name)?;
        for item in &self.removed {
            writeln!(f, "  removed {item}")?;
        }
        for item in &self.left {
            writeln!(f, "  KEPT    {item}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{Step, VerifyReport};

    #[test]
    fn connect_summary_for_people() {
        let report = ConnectReport {
            service_name: "com.amazonaws.vpce.us-east-1.vpce-svc-1".into(),
            vpc_id: "vpc-1".into(),
            endpoint_id: "vpce-1".into(),
            state: EndpointState::Available,
            security_group_id: "sg-1".into(),
            addresses: vec![Address {
                zone: "us-east-1a".into(),
                subnet_id: "subnet-1".into(),
                ip: "10.0.0.5".into(),
            }],
            dns: DnsSummary::HostedZone {
                name: "api.vendor.internal".into(),
                zone_id: "Z1".into(),
            },
            name_to_use: "api.vendor.internal".into(),
            changes: vec![],
            verification: Some(VerifyReport::new(
                "vpce-1",
                "api.vendor.internal",
                443,
                vec![Step::pass("tcp", "connected to 10.0.0.5:443")],
            )),
            timings: Timings::default(),
        };
        let text = report.to_string();
        for line in [
            "Connected vpc-1 to com.amazonaws.vpce.us-east-1.vpce-svc-1",
            "  endpoint:       vpce-1 (available)",
            "    us-east-1a     subnet-1                   10.0.0.5",
            "  dns:            api.vendor.internal (private hosted zone Z1)",
            "  use:            api.vendor.internal",
            "  changes:        none (everything was already in place)",
            "  PASS  tcp              connected to 10.0.0.5:443",
            "All checks passed.",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["dns"]["mode"], "hosted-zone");
        assert_eq!(json["state"], "available");
    }
}
