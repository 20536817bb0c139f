//! The stack's TOML configuration and its validation into a [`StackSpec`].
//!
//! Everything here is pure and runs before any AWS call: a typo, a bad
//! account id, CIDR or port, a missing package file or an unknown key is
//! reported with the file, the line, the key and what to write instead. All
//! problems are reported at once, not only the first.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::approval::{Allowlist, AllowlistError, NonAllowlistedPolicy};
use crate::naming::{StackName, MANAGED_BY_TAG, STACK_TAG};

#[cfg(test)]
mod tests;
mod validate;

use validate::validate;

/// The default schedule of the approver's sweep.
pub const DEFAULT_SWEEP_SCHEDULE: &str = "rate(15 minutes)";

/// A validated stack configuration: what `up` converges the account to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StackSpec {
    pub name: StackName,
    /// From the file; `--region` and the environment win when absent. In a
    /// spec of [`StackSpec::per_region`], the one region it acts on.
    pub region: Option<String>,
    /// `regions = [...]`: every region the stack is built in, the home
    /// region first (empty: the one region above). The home region holds
    /// the tenant registry and the `supported_regions`.
    pub regions: Vec<String>,
    /// `--region` picked [`StackSpec::region`] out of `regions` (or this is
    /// already one region's spec): act on it alone.
    #[serde(skip)]
    pub region_chosen: bool,
    /// Where the tenant registry lives when it is not this region's own:
    /// the home region, in a spec of [`StackSpec::per_region`] for another
    /// region (`None`: this region's stack owns the registry).
    pub registry_region: Option<String>,
    /// Other regions whose consumers may connect to the service (AWS's
    /// cross-region PrivateLink, the service's `SupportedRegions`); the
    /// home region is implied and never listed.
    pub supported_regions: BTreeSet<String>,
    pub network: NetworkSpec,
    /// Accept subnets that leave some AZs of the region uncovered.
    pub allow_partial_az_coverage: bool,
    /// The service's TCP ports (one listener and target group each).
    pub ports: Vec<u16>,
    /// The port on the targets, when it differs from the listener port.
    pub target_port: Option<u16>,
    /// What the target groups forward to: `service.targets`, or with a
    /// `[gateway]` the gateway's hosts.
    pub targets: TargetsSpec,
    pub health_check: HealthCheckSpec,
    /// `[gateway]`: the target groups target the kit's gateway (`targets`,
    /// `target_port` and `health_check` above are then the gateway's) with
    /// PROXY protocol v2 on, so the gateway learns each connection's VPC
    /// endpoint. `None`: the app is the target and gets no PROXY header.
    pub gateway: Option<GatewaySpec>,
    /// Seeds the tenant registry: `up` creates each account that is not a
    /// tenant yet as an active tenant, and never changes an existing one.
    pub allowlist: Allowlist,
    pub non_allowlisted: NonAllowlistedPolicy,
    pub revoke: bool,
    /// Allow every AWS principal (`*`) to see and request the service.
    pub allow_any_principal: bool,
    pub private_dns_name: Option<String>,
    pub approver: ApproverSpec,
    /// Extra tags on every resource (the ownership tags are always added).
    pub tags: BTreeMap<String, String>,
}

/// Where the load balancer lives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum NetworkSpec {
    /// Create a VPC with this CIDR and one subnet per Availability Zone.
    Create { cidr: Ipv4Cidr },
    /// Use an existing VPC and these subnets (at most one per AZ).
    Existing {
        vpc_id: String,
        subnet_ids: Vec<String>,
    },
}

/// What the target groups forward to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TargetsSpec {
    pub kind: TargetKind,
    pub ids: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Ip,
    Instance,
}

impl TargetKind {
    /// The ELBv2 target type.
    pub fn as_str(&self) -> &'static str {
        match self {
            TargetKind::Ip => "ip",
            TargetKind::Instance => "instance",
        }
    }
}

/// The gateway in front of the app (`gateway/`, the NLB's target): where
/// it listens. Its hosts are [`StackSpec::targets`]; the app is the
/// gateway's `--upstream`, never a target of the load balancer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GatewaySpec {
    /// The gateway's `--listen` port: the port on every target.
    pub port: u16,
    /// The gateway's `--health-listen` port: the target groups check
    /// `GET /` there over HTTP (`200` while serving, `503` while draining).
    /// `None`: a TCP check on `port`.
    pub health_port: Option<u16>,
}

impl StackSpec {
    /// The target groups' `proxy_protocol_v2.enabled`: on exactly when a
    /// gateway is the target (the app itself would not expect the header).
    pub fn proxy_protocol_v2(&self) -> bool {
        self.gateway.is_some()
    }
}

/// The target groups' health check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HealthCheckSpec {
    pub protocol: HealthProtocol,
    /// `None`: the traffic port.
    pub port: Option<u16>,
    /// HTTP(S) only.
    pub path: Option<String>,
    pub interval_seconds: u16,
    pub healthy_threshold: u8,
    pub unhealthy_threshold: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HealthProtocol {
    Tcp,
    Http,
    Https,
}

impl HealthProtocol {
    pub fn as_str(&self) -> &'static str {
        match self {
            HealthProtocol::Tcp => "TCP",
            HealthProtocol::Http => "HTTP",
            HealthProtocol::Https => "HTTPS",
        }
    }
}

impl Default for HealthCheckSpec {
    fn default() -> Self {
        HealthCheckSpec {
            protocol: HealthProtocol::Tcp,
            port: None,
            path: None,
            interval_seconds: 10,
            healthy_threshold: 3,
            unhealthy_threshold: 3,
        }
    }
}

/// The approver Lambda.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApproverSpec {
    /// The zip built by `cargo lambda build --release --output-format zip`.
    pub package: PathBuf,
    pub architecture: Architecture,
    pub sweep_schedule: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    X86_64,
    Arm64,
}

impl Architecture {
    pub fn as_str(&self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

/// An IPv4 CIDR block with no host bits set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Cidr {
    pub base: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Cidr {
    /// Parses `a.b.c.d/n`, explaining what to write when it is not one.
    pub fn parse(raw: &str) -> Result<Ipv4Cidr, String> {
        let example = "write a block such as 10.40.0.0/16";
        let (addr, prefix) = raw
            .split_once('/')
            .ok_or_else(|| format!("{raw:?} has no prefix length: {example}"))?;
        let base: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("{addr:?} is not an IPv4 address: {example}"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("{prefix:?} is not a prefix length (0-32): {example}"))?;
        let bits = u32::from(base);
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        };
        if bits & !mask != 0 {
            let fixed = Ipv4Addr::from(bits & mask);
            return Err(format!("{raw:?} has host bits set: write {fixed}/{prefix}"));
        }
        Ok(Ipv4Cidr { base, prefix })
    }

    /// The `index`-th block of `prefix + bits`, or `None` past the end.
    pub fn subdivide(&self, bits: u8, index: u32) -> Option<Ipv4Cidr> {
        let prefix = self.prefix.checked_add(bits).filter(|p| *p <= 32)?;
        if bits < 32 && index >= (1u32 << bits) {
            return None;
        }
        let step = 1u64 << (32 - prefix);
        let base = u64::from(u32::from(self.base)) + step * u64::from(index);
        Some(Ipv4Cidr {
            base: Ipv4Addr::from(u32::try_from(base).ok()?),
            prefix,
        })
    }

    /// True when `addr` is inside the block.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        let mask = if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        };
        u32::from(addr) & mask == u32::from(self.base)
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

impl serde::Serialize for Ipv4Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// How many extra prefix bits each created subnet gets: 16 subnets, enough
/// for every AZ of any region.
pub const SUBNET_BITS: u8 = 4;

/// The CIDR of the subnet created in the `index`-th AZ of the region.
pub fn subnet_cidr(vpc: &Ipv4Cidr, index: usize) -> Option<Ipv4Cidr> {
    vpc.subdivide(SUBNET_BITS, u32::try_from(index).ok()?)
}

/// One problem in the configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecProblem {
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The key, e.g. `network.vpc_cidr` (empty for the whole file).
    pub key: String,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl fmt::Display for SpecProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SpecError {
    pub problems: Vec<SpecProblem>,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid stack configuration (nothing was sent to AWS)")?;
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

/// Choices given on the command line that win over the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub name: Option<String>,
    pub region: Option<String>,
    pub allow_partial_az_coverage: bool,
    /// Check that the approver package exists and is a zip (only `up` and
    /// `plan` need it; `status` and `down` do not).
    pub check_package: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    name: Spanned<String>,
    region: Option<Spanned<String>>,
    regions: Option<Spanned<Vec<String>>>,
    supported_regions: Option<Spanned<Vec<String>>>,
    network: RawNetwork,
    service: RawService,
    health_check: Option<RawHealthCheck>,
    gateway: Option<RawGateway>,
    access: RawAccess,
    approver: RawApprover,
    #[serde(default)]
    tags: BTreeMap<String, Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    vpc_id: Option<Spanned<String>>,
    vpc_cidr: Option<Spanned<String>>,
    subnet_ids: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    allow_partial_az_coverage: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    ports: Spanned<Vec<i64>>,
    target_port: Option<Spanned<i64>>,
    /// Absent with a `[gateway]`: its hosts are the targets then.
    targets: Option<Spanned<Vec<String>>>,
    private_dns_name: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHealthCheck {
    protocol: Option<Spanned<String>>,
    port: Option<Spanned<i64>>,
    path: Option<Spanned<String>>,
    interval_seconds: Option<Spanned<i64>>,
    healthy_threshold: Option<Spanned<i64>>,
    unhealthy_threshold: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGateway {
    targets: Spanned<Vec<String>>,
    port: Spanned<i64>,
    health_port: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccess {
    /// Seeds the tenant registry; may be empty or absent (tenants then come
    /// from `endpoint-service tenants add`/`import`).
    allowlist: Option<Spanned<Vec<String>>>,
    non_allowlisted: Option<Spanned<String>>,
    #[serde(default)]
    revoke: bool,
    #[serde(default)]
    allow_any_principal: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApprover {
    package: Spanned<String>,
    architecture: Option<Spanned<String>>,
    sweep_schedule: Option<Spanned<String>>,
}

/// Collects problems with their position in the file.
struct Problems<'a> {
    file: &'a Path,
    source: &'a str,
    list: Vec<SpecProblem>,
}

impl Problems<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.source[..offset.min(self.source.len())]
            .bytes()
            .filter(|b| *b == b'\n')
            .count()
            + 1
    }

    fn at<T>(&mut self, spanned: &Spanned<T>, key: &str, message: impl Into<String>) {
        let line = Some(self.line_of(spanned.span().start));
        self.push(line, key, message);
    }

    fn push(&mut self, line: Option<usize>, key: &str, message: impl Into<String>) {
        self.list.push(SpecProblem {
            file: self.file.to_path_buf(),
            line,
            key: key.to_string(),
            message: message.into(),
        });
    }
}

impl StackSpec {
    /// True when the file names several regions (`regions = [...]`).
    pub fn is_multi_region(&self) -> bool {
        self.regions.len() > 1
    }

    /// One spec per region the command acts on, the home region first:
    /// every region of `regions`, or the one of `--region` when given
    /// (checked at load to be one of them). A single-region file gives
    /// itself. Outside the home region the stack reads the home region's
    /// registry, leaves `supported_regions` to the home service, and its IAM
    /// names carry the region ([`StackName::in_region`]).
    pub fn per_region(&self) -> Vec<StackSpec> {
        let Some(home) = self.regions.first() else {
            return vec![self.clone()];
        };
        let chosen: Vec<&String> = match &self.region {
            Some(one) if self.regions.len() > 1 && self.region_chosen => {
                self.regions.iter().filter(|r| *r == one).collect()
            }
            _ => self.regions.iter().collect(),
        };
        chosen
            .into_iter()
            .map(|region| {
                let mut spec = self.clone();
                spec.region = Some(region.clone());
                spec.region_chosen = true;
                if region != home {
                    spec.name = self.name.in_region(region);
                    spec.registry_region = Some(home.clone());
                    spec.supported_regions = BTreeSet::new();
                }
                spec
            })
            .collect()
    }

    /// Reads and validates the configuration file at `path`.
    pub fn load(path: &Path, overrides: &Overrides) -> Result<StackSpec, SpecError> {
        let source = std::fs::read_to_string(path).map_err(|e| SpecError {
            problems: vec![SpecProblem {
                file: path.to_path_buf(),
                line: None,
                key: String::new(),
                message: format!(
                    "cannot read it ({e}): pass an existing stack file with --config \
                     (see endpoint-service/examples/)"
                ),
            }],
        })?;
        StackSpec::parse(path, &source, overrides)
    }

    /// Validates configuration text; `path` names the file in messages and
    /// anchors the relative package path.
    pub fn parse(path: &Path, source: &str, overrides: &Overrides) -> Result<StackSpec, SpecError> {
        let mut p = Problems {
            file: path,
            source,
            list: Vec::new(),
        };
        let raw: RawConfig = match toml::from_str(source) {
            Ok(raw) => raw,
            Err(e) => {
                let (line, key) = match e.span() {
                    Some(span) => (
                        Some(p.line_of(span.start)),
                        source
                            .get(span.clone())
                            .map(|s| s.trim().trim_matches('[').trim_matches(']').to_string())
                            .filter(|s| s.len() < 60 && !s.contains('\n'))
                            .unwrap_or_default(),
                    ),
                    None => (None, String::new()),
                };
                let message = e.message().trim().to_string();
                let hint = if message.starts_with("unknown field") {
                    "; remove it or fix its spelling"
                } else if message.starts_with("missing field") {
                    "; add it (see endpoint-service/examples/)"
                } else {
                    ""
                };
                p.push(line, &key, format!("{message}{hint}"));
                return Err(SpecError { problems: p.list });
            }
        };
        let spec = validate(&mut p, raw, overrides);
        match spec {
            Some(spec) if p.list.is_empty() => Ok(spec),
            _ => Err(SpecError { problems: p.list }),
        }
    }
}
