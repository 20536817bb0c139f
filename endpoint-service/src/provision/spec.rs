//! The stack's TOML configuration and its validation into a [`StackSpec`].
//!
//! Everything here is pure and runs before any AWS call: a typo, a bad
//! account id, CIDR or port, a missing package file or an unknown key is
//! reported with the file, the line, the key and what to write instead. All
//! problems are reported at once, not only the first.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::approval::{Allowlist, AllowlistError, NonAllowlistedPolicy};
use crate::naming::{StackName, MANAGED_BY_TAG, STACK_TAG};

/// The default schedule of the approver's sweep.
pub const DEFAULT_SWEEP_SCHEDULE: &str = "rate(15 minutes)";

/// A validated stack configuration: what `up` converges the account to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StackSpec {
    pub name: StackName,
    /// From the file; `--region` and the environment win when absent.
    pub region: Option<String>,
    pub network: NetworkSpec,
    /// Accept subnets that leave some AZs of the region uncovered.
    pub allow_partial_az_coverage: bool,
    /// The service's TCP ports (one listener and target group each).
    pub ports: Vec<u16>,
    /// The port on the targets, when it differs from the listener port.
    pub target_port: Option<u16>,
    pub targets: TargetsSpec,
    pub health_check: HealthCheckSpec,
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
    network: RawNetwork,
    service: RawService,
    health_check: Option<RawHealthCheck>,
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
    targets: Spanned<Vec<String>>,
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
struct RawAccess {
    allowlist: Spanned<Vec<String>>,
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

fn is_hex_id(raw: &str, prefix: &str) -> bool {
    raw.strip_prefix(prefix).is_some_and(|rest| {
        (rest.len() == 8 || rest.len() == 17) && rest.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

fn port(p: &mut Problems, raw: &Spanned<i64>, key: &str) -> Option<u16> {
    match u16::try_from(*raw.get_ref()) {
        Ok(port) if port > 0 => Some(port),
        _ => {
            p.at(
                raw,
                key,
                format!(
                    "{} is not a TCP port: write a number from 1 to 65535",
                    raw.get_ref()
                ),
            );
            None
        }
    }
}

fn ranged(
    p: &mut Problems,
    raw: &Option<Spanned<i64>>,
    key: &str,
    range: (i64, i64),
    default: i64,
) -> i64 {
    match raw {
        None => default,
        Some(value) if (range.0..=range.1).contains(value.get_ref()) => *value.get_ref(),
        Some(value) => {
            p.at(
                value,
                key,
                format!(
                    "{} is out of range: write a number from {} to {}",
                    value.get_ref(),
                    range.0,
                    range.1
                ),
            );
            default
        }
    }
}

fn valid_region(region: &str) -> bool {
    !region.is_empty()
        && region.contains('-')
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn valid_dns_name(name: &str) -> bool {
    let body = name.strip_prefix("*.").unwrap_or(name);
    name.len() <= 253
        && body.contains('.')
        && body.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

fn validate(p: &mut Problems, raw: RawConfig, overrides: &Overrides) -> Option<StackSpec> {
    let name = match &overrides.name {
        Some(name) => StackName::parse(name).map_err(|e| p.push(None, "--name", e.to_string())),
        None => {
            StackName::parse(raw.name.get_ref()).map_err(|e| p.at(&raw.name, "name", e.to_string()))
        }
    }
    .ok();

    let region = match (&overrides.region, &raw.region) {
        (Some(region), _) => Some(region.clone()),
        (None, Some(region)) => {
            if !valid_region(region.get_ref()) {
                p.at(
                    region,
                    "region",
                    format!(
                        "{:?} is not an AWS region: write it like us-east-1",
                        region.get_ref()
                    ),
                );
            }
            Some(region.get_ref().clone())
        }
        (None, None) => None,
    };

    let network = validate_network(p, &raw.network);
    let (ports, target_port, targets, private_dns_name) =
        validate_service(p, &raw.service, network.as_ref());
    let health_check = validate_health(p, raw.health_check.as_ref());

    let joined = raw.access.allowlist.get_ref().join(",");
    let allowlist = match Allowlist::parse(&joined) {
        Ok(list) => Some(list),
        Err(errors) => {
            for error in errors {
                let message = match &error {
                    AllowlistError::Empty => "the allowlist is empty: list at least one 12-digit account id, e.g. allowlist = [\"123456789012\"]".to_string(),
                    other => other.to_string(),
                };
                p.at(&raw.access.allowlist, "access.allowlist", message);
            }
            None
        }
    };
    let non_allowlisted = match &raw.access.non_allowlisted {
        None => NonAllowlistedPolicy::default(),
        Some(value) => NonAllowlistedPolicy::parse(value.get_ref()).unwrap_or_else(|| {
            p.at(
                value,
                "access.non_allowlisted",
                format!(
                    "{:?} is not a policy: write \"reject\" or \"leave-pending\"",
                    value.get_ref()
                ),
            );
            NonAllowlistedPolicy::default()
        }),
    };

    let approver = validate_approver(p, &raw.approver, overrides.check_package);

    let mut tags = BTreeMap::new();
    for (key, value) in &raw.tags {
        let reserved = key.starts_with("aws:") || key == STACK_TAG || key == MANAGED_BY_TAG;
        if reserved {
            p.at(value, &format!("tags.{key}"), "this tag key is reserved (aws: prefix or the kit's ownership tags): choose another key");
        } else if key.is_empty() || key.len() > 128 || value.get_ref().len() > 256 {
            p.at(
                value,
                &format!("tags.{key}"),
                "tag keys have 1-128 characters and values at most 256: shorten it",
            );
        } else {
            tags.insert(key.clone(), value.get_ref().clone());
        }
    }
    if raw.tags.len() > 40 {
        p.push(
            None,
            "tags",
            format!(
                "{} tags: AWS allows 50 per resource and the kit adds 2; keep at most 40",
                raw.tags.len()
            ),
        );
    }

    Some(StackSpec {
        name: name?,
        region,
        network: network?,
        allow_partial_az_coverage: raw.network.allow_partial_az_coverage
            || overrides.allow_partial_az_coverage,
        ports: ports?,
        target_port,
        targets: targets?,
        health_check: health_check?,
        allowlist: allowlist?,
        non_allowlisted,
        revoke: raw.access.revoke,
        allow_any_principal: raw.access.allow_any_principal,
        private_dns_name,
        approver: approver?,
        tags,
    })
}

fn validate_network(p: &mut Problems, raw: &RawNetwork) -> Option<NetworkSpec> {
    match (&raw.vpc_id, &raw.vpc_cidr) {
        (Some(_), Some(cidr)) => {
            p.at(
                cidr,
                "network.vpc_cidr",
                "give either vpc_id (use an existing VPC) or vpc_cidr (create one), not both",
            );
            None
        }
        (None, None) => {
            p.push(None, "network", "say where the load balancer goes: vpc_cidr = \"10.40.0.0/16\" to create a VPC, or vpc_id and subnet_ids to use yours");
            None
        }
        (None, Some(cidr)) => {
            if let Some(subnets) = &raw.subnet_ids {
                p.at(subnets, "network.subnet_ids", "subnet_ids go with vpc_id; with vpc_cidr the stack creates one subnet per Availability Zone: remove subnet_ids");
            }
            match Ipv4Cidr::parse(cidr.get_ref()) {
                Ok(block) if (16..=24).contains(&block.prefix) => {
                    Some(NetworkSpec::Create { cidr: block })
                }
                Ok(block) => {
                    p.at(cidr, "network.vpc_cidr", format!("/{} is outside the range the stack supports: write a /16 to /24 block such as 10.40.0.0/16 (it is split into 16 subnets)", block.prefix));
                    None
                }
                Err(message) => {
                    p.at(cidr, "network.vpc_cidr", message);
                    None
                }
            }
        }
        (Some(vpc), None) => {
            let mut ok = true;
            if !is_hex_id(vpc.get_ref(), "vpc-") {
                p.at(
                    vpc,
                    "network.vpc_id",
                    format!(
                        "{:?} is not a VPC id: write it like vpc-0123456789abcdef0",
                        vpc.get_ref()
                    ),
                );
                ok = false;
            }
            let subnet_ids = match &raw.subnet_ids {
                None => {
                    p.at(vpc, "network.subnet_ids", "with vpc_id, list the subnets for the load balancer (one per Availability Zone): subnet_ids = [\"subnet-...\", ...]");
                    return None;
                }
                Some(subnets) => subnets,
            };
            if subnet_ids.get_ref().is_empty() {
                p.at(
                    subnet_ids,
                    "network.subnet_ids",
                    "the list is empty: give one subnet per Availability Zone",
                );
                ok = false;
            }
            let mut seen = std::collections::BTreeSet::new();
            for id in subnet_ids.get_ref() {
                if !is_hex_id(id, "subnet-") {
                    p.at(
                        subnet_ids,
                        "network.subnet_ids",
                        format!(
                            "{id:?} is not a subnet id: write it like subnet-0123456789abcdef0"
                        ),
                    );
                    ok = false;
                } else if !seen.insert(id) {
                    p.at(
                        subnet_ids,
                        "network.subnet_ids",
                        format!("{id} is listed twice: remove one"),
                    );
                    ok = false;
                }
            }
            ok.then(|| NetworkSpec::Existing {
                vpc_id: vpc.get_ref().clone(),
                subnet_ids: subnet_ids.get_ref().clone(),
            })
        }
    }
}

type ServiceParts = (
    Option<Vec<u16>>,
    Option<u16>,
    Option<TargetsSpec>,
    Option<String>,
);

fn validate_service(
    p: &mut Problems,
    raw: &RawService,
    network: Option<&NetworkSpec>,
) -> ServiceParts {
    let mut ports = Vec::new();
    let mut ports_ok = true;
    if raw.ports.get_ref().is_empty() {
        p.at(
            &raw.ports,
            "service.ports",
            "list at least one TCP port, e.g. ports = [443]",
        );
        ports_ok = false;
    }
    for value in raw.ports.get_ref() {
        match u16::try_from(*value) {
            Ok(port) if port > 0 && !ports.contains(&port) => ports.push(port),
            Ok(port) if port > 0 => {
                p.at(
                    &raw.ports,
                    "service.ports",
                    format!("port {port} is listed twice: remove one"),
                );
                ports_ok = false;
            }
            _ => {
                p.at(
                    &raw.ports,
                    "service.ports",
                    format!("{value} is not a TCP port: write a number from 1 to 65535"),
                );
                ports_ok = false;
            }
        }
    }
    let target_port = raw
        .target_port
        .as_ref()
        .and_then(|t| port(p, t, "service.target_port"));
    if let (Some(t), true) = (&raw.target_port, ports.len() > 1) {
        p.at(t, "service.target_port", "target_port needs a single service port; with several ports each target group forwards to the same port as its listener: remove target_port");
    }

    let ids = raw.targets.get_ref();
    let mut targets = None;
    if ids.is_empty() {
        p.at(&raw.targets, "service.targets", "list at least one target: IPv4 addresses (\"10.40.1.10\") or instance ids (\"i-0123456789abcdef0\")");
    } else {
        let ips: Vec<Option<Ipv4Addr>> = ids.iter().map(|id| id.parse().ok()).collect();
        let all_ip = ips.iter().all(Option::is_some);
        let all_instances = ids.iter().all(|id| is_hex_id(id, "i-"));
        if all_ip {
            if let Some(NetworkSpec::Create { cidr }) = network {
                for (id, ip) in ids.iter().zip(&ips) {
                    if ip.is_some_and(|ip| !cidr.contains(ip)) {
                        p.at(&raw.targets, "service.targets", format!("{id} is outside network.vpc_cidr {cidr}: IP targets must be addresses in the stack's VPC"));
                    }
                }
            }
            targets = Some(TargetsSpec {
                kind: TargetKind::Ip,
                ids: ids.clone(),
            });
        } else if all_instances {
            targets = Some(TargetsSpec {
                kind: TargetKind::Instance,
                ids: ids.clone(),
            });
        } else {
            let bad: Vec<&str> = ids
                .iter()
                .filter(|id| id.parse::<Ipv4Addr>().is_err() && !is_hex_id(id, "i-"))
                .map(String::as_str)
                .collect();
            let message = if bad.is_empty() {
                "mixes IP addresses and instance ids: a target group holds one kind; list only one kind".to_string()
            } else {
                format!("{bad:?} are neither IPv4 addresses nor instance ids: write \"10.40.1.10\" or \"i-0123456789abcdef0\"")
            };
            p.at(&raw.targets, "service.targets", message);
        }
    }

    let private_dns_name = raw.private_dns_name.as_ref().and_then(|name| {
        if valid_dns_name(name.get_ref()) {
            Some(name.get_ref().clone())
        } else {
            p.at(name, "service.private_dns_name", format!("{:?} is not a lowercase DNS name: write it like api.example.com (a leading *. is allowed)", name.get_ref()));
            None
        }
    });
    (
        ports_ok.then_some(ports),
        target_port,
        targets,
        private_dns_name,
    )
}

fn validate_health(p: &mut Problems, raw: Option<&RawHealthCheck>) -> Option<HealthCheckSpec> {
    let Some(raw) = raw else {
        return Some(HealthCheckSpec::default());
    };
    let defaults = HealthCheckSpec::default();
    let protocol = match &raw.protocol {
        None => HealthProtocol::Tcp,
        Some(value) => {
            match value.get_ref().to_ascii_lowercase().as_str() {
                "tcp" => HealthProtocol::Tcp,
                "http" => HealthProtocol::Http,
                "https" => HealthProtocol::Https,
                _ => {
                    p.at(value, "health_check.protocol", format!("{:?} is not a health check protocol: write \"tcp\", \"http\" or \"https\"", value.get_ref()));
                    HealthProtocol::Tcp
                }
            }
        }
    };
    let port = raw
        .port
        .as_ref()
        .and_then(|v| port(p, v, "health_check.port"));
    let path = match (&raw.path, protocol) {
        (Some(path), HealthProtocol::Tcp) => {
            p.at(path, "health_check.path", "a path needs protocol = \"http\" or \"https\": set the protocol or remove the path");
            None
        }
        (Some(path), _) if !path.get_ref().starts_with('/') => {
            p.at(
                path,
                "health_check.path",
                format!(
                    "{:?} must start with '/': write it like /healthz",
                    path.get_ref()
                ),
            );
            None
        }
        (Some(path), _) => Some(path.get_ref().clone()),
        (None, HealthProtocol::Tcp) => None,
        (None, _) => Some("/".to_string()),
    };
    let interval = ranged(
        p,
        &raw.interval_seconds,
        "health_check.interval_seconds",
        (5, 300),
        i64::from(defaults.interval_seconds),
    );
    let healthy = ranged(
        p,
        &raw.healthy_threshold,
        "health_check.healthy_threshold",
        (2, 10),
        i64::from(defaults.healthy_threshold),
    );
    let unhealthy = ranged(
        p,
        &raw.unhealthy_threshold,
        "health_check.unhealthy_threshold",
        (2, 10),
        i64::from(defaults.unhealthy_threshold),
    );
    Some(HealthCheckSpec {
        protocol,
        port,
        path,
        interval_seconds: u16::try_from(interval).unwrap_or(defaults.interval_seconds),
        healthy_threshold: u8::try_from(healthy).unwrap_or(defaults.healthy_threshold),
        unhealthy_threshold: u8::try_from(unhealthy).unwrap_or(defaults.unhealthy_threshold),
    })
}

fn validate_approver(
    p: &mut Problems,
    raw: &RawApprover,
    check_package: bool,
) -> Option<ApproverSpec> {
    let dir = p.file.parent().unwrap_or(Path::new("."));
    let package = dir.join(raw.package.get_ref());
    let mut ok = true;
    if check_package {
        match std::fs::read(&package) {
            // A zip starts with a local file header, or (empty) with the
            // end-of-central-directory record.
            Ok(bytes) if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") => {}
            Ok(_) => {
                p.at(&raw.package, "approver.package", format!("{} is not a zip file: build it with `cargo lambda build --release --output-format zip -p approver-lambda`", package.display()));
                ok = false;
            }
            Err(e) => {
                p.at(&raw.package, "approver.package", format!("cannot read {} ({e}): build it with `cargo lambda build --release --output-format zip -p approver-lambda`, or fix the path (relative to this file)", package.display()));
                ok = false;
            }
        }
    }
    let architecture = match &raw.architecture {
        None => Architecture::X86_64,
        Some(value) => match value.get_ref().as_str() {
            "x86_64" => Architecture::X86_64,
            "arm64" => Architecture::Arm64,
            other => {
                p.at(value, "approver.architecture", format!("{other:?} is not a Lambda architecture: write \"x86_64\" or \"arm64\" (as built by cargo lambda)"));
                ok = false;
                Architecture::X86_64
            }
        },
    };
    let sweep_schedule = match &raw.sweep_schedule {
        None => DEFAULT_SWEEP_SCHEDULE.to_string(),
        Some(value) => {
            let s = value.get_ref();
            if !((s.starts_with("rate(") || s.starts_with("cron(")) && s.ends_with(')')) {
                p.at(value, "approver.sweep_schedule", format!("{s:?} is not an EventBridge schedule: write rate(15 minutes) or cron(0/15 * * * ? *)"));
                ok = false;
            }
            s.clone()
        }
    };
    ok.then_some(ApproverSpec {
        package,
        architecture,
        sweep_schedule,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "acme-api"
region = "us-east-1"

[network]
vpc_cidr = "10.40.0.0/16"

[service]
ports = [443]
target_port = 8443
targets = ["10.40.1.10", "10.40.2.10"]

[access]
allowlist = ["111111111111", "222222222222"]

[approver]
package = "bootstrap.zip"

[tags]
team = "platform"
"#;

    fn parse(text: &str) -> Result<StackSpec, SpecError> {
        StackSpec::parse(Path::new("stack.toml"), text, &Overrides::default())
    }

    #[test]
    fn a_good_file_gives_a_full_spec_with_defaults() {
        let spec = parse(GOOD).expect("valid");
        assert_eq!(spec.name.as_str(), "acme-api");
        assert_eq!(spec.ports, [443]);
        assert_eq!(spec.target_port, Some(8443));
        assert_eq!(spec.targets.kind, TargetKind::Ip);
        assert_eq!(spec.allowlist.len(), 2);
        assert_eq!(spec.non_allowlisted, NonAllowlistedPolicy::Reject);
        assert!(!spec.allow_any_principal);
        assert_eq!(spec.health_check, HealthCheckSpec::default());
        assert_eq!(spec.approver.package, Path::new("bootstrap.zip"));
        assert_eq!(spec.approver.sweep_schedule, DEFAULT_SWEEP_SCHEDULE);
        assert_eq!(spec.tags.get("team").map(String::as_str), Some("platform"));
        match spec.network {
            NetworkSpec::Create { cidr } => assert_eq!(cidr.to_string(), "10.40.0.0/16"),
            other => panic!("{other:?}"),
        }
    }

    /// (replace this, with that, key expected, message fragment expected)
    #[test]
    fn each_mistake_names_the_key_line_and_fix() {
        let cases: &[(&str, &str, &str, &str)] = &[
            (
                "\"111111111111\", \"222222222222\"",
                "\"11111111111\"",
                "access.allowlist",
                "12 digits",
            ),
            (
                "10.40.0.0/16",
                "10.40.0.0/33",
                "network.vpc_cidr",
                "prefix length",
            ),
            (
                "10.40.0.0/16",
                "10.40.0.1/16",
                "network.vpc_cidr",
                "write 10.40.0.0/16",
            ),
            (
                "10.40.0.0/16",
                "10.0.0.0/8",
                "network.vpc_cidr",
                "/16 to /24",
            ),
            (
                "ports = [443]",
                "ports = [70000]",
                "service.ports",
                "1 to 65535",
            ),
            (
                "ports = [443]",
                "ports = []",
                "service.ports",
                "at least one",
            ),
            (
                "target_port = 8443",
                "target_port = 0",
                "service.target_port",
                "1 to 65535",
            ),
            (
                "name = \"acme-api\"",
                "name = \"Acme\"",
                "name",
                "lowercase",
            ),
            (
                "region = \"us-east-1\"",
                "region = \"US East\"",
                "region",
                "us-east-1",
            ),
            (
                "\"10.40.1.10\", \"10.40.2.10\"",
                "\"10.40.1.10\", \"i-0123456789abcdef0\"",
                "service.targets",
                "one kind",
            ),
            (
                "\"10.40.1.10\", \"10.40.2.10\"",
                "\"10.99.1.10\"",
                "service.targets",
                "outside",
            ),
            (
                "\"10.40.1.10\", \"10.40.2.10\"",
                "\"web-1\"",
                "service.targets",
                "neither",
            ),
            (
                "team = \"platform\"",
                "\"privatelink-kit:stack\" = \"x\"",
                "tags.privatelink-kit:stack",
                "reserved",
            ),
            (
                "vpc_cidr = \"10.40.0.0/16\"",
                "vpc_cidr = \"10.40.0.0/16\"\nvpc_id = \"vpc-0123456789abcdef0\"",
                "network.vpc_cidr",
                "not both",
            ),
            (
                "vpc_cidr = \"10.40.0.0/16\"",
                "vpc_id = \"vpc-12\"\nsubnet_ids = [\"subnet-0123456789abcdef0\"]",
                "network.vpc_id",
                "vpc-0123456789abcdef0",
            ),
            (
                "vpc_cidr = \"10.40.0.0/16\"",
                "vpc_id = \"vpc-0123456789abcdef0\"",
                "network.subnet_ids",
                "list the subnets",
            ),
            (
                "package = \"bootstrap.zip\"",
                "package = \"bootstrap.zip\"\narchitecture = \"aarch64\"",
                "approver.architecture",
                "arm64",
            ),
            (
                "package = \"bootstrap.zip\"",
                "package = \"bootstrap.zip\"\nsweep_schedule = \"every 5 minutes\"",
                "approver.sweep_schedule",
                "rate(15 minutes)",
            ),
            (
                "allowlist = [",
                "non_allowlisted = \"ignore\"\nallowlist = [",
                "access.non_allowlisted",
                "leave-pending",
            ),
            (
                "[tags]",
                "[health_check]\nprotocol = \"tcp\"\npath = \"/x\"\n[tags]",
                "health_check.path",
                "http",
            ),
            (
                "[tags]",
                "[health_check]\ninterval_seconds = 1\n[tags]",
                "health_check.interval_seconds",
                "5 to 300",
            ),
            (
                "[tags]",
                "[health_check]\nprotocol = \"udp\"\n[tags]",
                "health_check.protocol",
                "\"tcp\"",
            ),
            (
                "team = \"platform\"",
                "team = \"platform\"\n[service2]\nx = 1",
                "service2",
                "unknown field",
            ),
            (
                "ports = [443]",
                "ports = [443]\nport = 80",
                "port",
                "unknown field",
            ),
            (
                "[access]\nallowlist = [\"111111111111\", \"222222222222\"]\n",
                "",
                "",
                "missing field `access`",
            ),
        ];
        for (from, to, key, fragment) in cases {
            assert!(GOOD.contains(from), "{from}");
            let text = GOOD.replacen(from, to, 1);
            let error = parse(&text).expect_err(&text);
            let found = error.problems.iter().find(|p| p.key == *key);
            let problem = found.unwrap_or_else(|| panic!("no problem for {key:?} in {error}"));
            assert!(
                problem.message.contains(fragment),
                "{key}: {}",
                problem.message
            );
            assert_eq!(problem.file, Path::new("stack.toml"));
            if !key.is_empty() {
                assert!(problem.line.is_some(), "{problem}");
            }
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = GOOD
            .replace("ports = [443]", "ports = [0]")
            .replace("\"111111111111\", \"222222222222\"", "\"1\"");
        let error = parse(&text).expect_err("two problems");
        let keys: Vec<&str> = error.problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["service.ports", "access.allowlist"]);
        // The line is the one of the key's value.
        assert_eq!(error.problems[0].line, Some(9));
    }

    #[test]
    fn the_package_is_checked_only_when_asked_and_relative_to_the_file() {
        let dir = std::env::temp_dir().join(format!("spec-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("stack.toml");
        std::fs::write(&config, GOOD).unwrap();
        let check = Overrides {
            check_package: true,
            ..Default::default()
        };
        let error = StackSpec::load(&config, &check).expect_err("no package yet");
        assert_eq!(error.problems[0].key, "approver.package");
        assert!(error.problems[0].message.contains("cargo lambda build"));
        std::fs::write(dir.join("bootstrap.zip"), b"not a zip").unwrap();
        let error = StackSpec::load(&config, &check).expect_err("not a zip");
        assert!(error.problems[0].message.contains("not a zip"));
        std::fs::write(dir.join("bootstrap.zip"), b"PK\x03\x04rest").unwrap();
        let spec = StackSpec::load(&config, &check).expect("valid");
        assert_eq!(spec.approver.package, dir.join("bootstrap.zip"));
        assert!(StackSpec::load(&config, &Overrides::default()).is_ok());
        let missing = StackSpec::load(&dir.join("nope.toml"), &check).expect_err("missing");
        assert!(missing.to_string().contains("nope.toml"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn overrides_win() {
        let overrides = Overrides {
            name: Some("other".into()),
            region: Some("eu-west-1".into()),
            allow_partial_az_coverage: true,
            check_package: false,
        };
        let spec = StackSpec::parse(Path::new("s.toml"), GOOD, &overrides).unwrap();
        assert_eq!(spec.name.as_str(), "other");
        assert_eq!(spec.region.as_deref(), Some("eu-west-1"));
        assert!(spec.allow_partial_az_coverage);
        let bad = Overrides {
            name: Some("Bad Name".into()),
            ..Default::default()
        };
        let error = StackSpec::parse(Path::new("s.toml"), GOOD, &bad).unwrap_err();
        assert_eq!(error.problems[0].key, "--name");
    }

    #[test]
    fn cidr_arithmetic() {
        let vpc = Ipv4Cidr::parse("10.40.0.0/16").unwrap();
        assert_eq!(subnet_cidr(&vpc, 0).unwrap().to_string(), "10.40.0.0/20");
        assert_eq!(subnet_cidr(&vpc, 5).unwrap().to_string(), "10.40.80.0/20");
        assert_eq!(subnet_cidr(&vpc, 15).unwrap().to_string(), "10.40.240.0/20");
        assert!(subnet_cidr(&vpc, 16).is_none());
        assert!(vpc.contains("10.40.255.1".parse().unwrap()));
        assert!(!vpc.contains("10.41.0.1".parse().unwrap()));
    }
}
