//! Validation of the raw TOML into a [`StackSpec`]: every problem is
//! collected with its key and position, with what to write instead.

use super::*;

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

pub(super) fn validate(
    p: &mut Problems,
    raw: RawConfig,
    overrides: &Overrides,
) -> Option<StackSpec> {
    let name = match &overrides.name {
        Some(name) => StackName::parse(name).map_err(|e| p.push(None, "--name", e.to_string())),
        None => {
            StackName::parse(raw.name.get_ref()).map_err(|e| p.at(&raw.name, "name", e.to_string()))
        }
    }
    .ok();

    let regions = validate_regions(p, &raw);
    let region_chosen = overrides.region.is_some();
    let region = match (&overrides.region, &raw.region) {
        (Some(region), _) => {
            if let (Some(listed), false) = (&raw.regions, regions.is_empty()) {
                if !regions.contains(region) {
                    p.at(
                        listed,
                        "--region",
                        format!(
                            "{region} is not one of the stack's regions ({}): pass one of them \
                             to act on it alone, or add it to regions",
                            regions.join(", ")
                        ),
                    );
                }
            }
            Some(region.clone())
        }
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
        (None, None) => regions.first().cloned(),
    };

    let home = regions.first().cloned().or_else(|| region.clone());
    let supported_regions =
        validate_supported_regions(p, raw.supported_regions.as_ref(), home.as_deref());
    if let Some(raw_list) = &raw.supported_regions {
        for listed in supported_regions.iter().filter(|r| regions.contains(r)) {
            p.at(raw_list, "supported_regions", format!("{listed} has its own stack in regions: consumers there connect to it; list only regions without a stack"));
        }
    }
    let network = validate_network(p, &raw.network);
    if regions.len() > 1 {
        if let Some(vpc) = &raw.network.vpc_id {
            p.at(vpc, "network.vpc_id", "a VPC lives in one region, and regions names several: write network.vpc_cidr instead (a VPC with that block is created in each region), or keep one region per file");
        }
    }
    let (ports, target_port, targets, private_dns_name) =
        validate_service(p, &raw.service, network.as_ref());
    // With a gateway, only the check's timing is the file's (see
    // with_gateway): its protocol, port and path are refused there, not
    // judged here as well.
    let timing_only = match (&raw.gateway, &raw.health_check) {
        (Some(_), Some(hc)) => Some(RawHealthCheck {
            protocol: None,
            port: None,
            path: None,
            interval_seconds: hc.interval_seconds.clone(),
            healthy_threshold: hc.healthy_threshold.clone(),
            unhealthy_threshold: hc.unhealthy_threshold.clone(),
        }),
        _ => None,
    };
    let health_check = validate_health(p, timing_only.as_ref().or(raw.health_check.as_ref()));
    let (targets, target_port, health_check, gateway) = with_gateway(
        p,
        &raw,
        network.as_ref(),
        targets,
        target_port,
        health_check,
    );
    // The targets' own line and key: the service's, or the gateway's.
    let targets_at = match (&raw.gateway, &raw.service.targets) {
        (Some(g), _) => Some((&g.targets, "gateway.targets")),
        (None, Some(t)) => Some((t, "service.targets")),
        (None, None) => None,
    };
    if let (true, Some((at, key))) = (
        regions.len() > 1
            && targets
                .as_ref()
                .is_some_and(|t| t.kind == TargetKind::Instance),
        targets_at,
    ) {
        p.at(at, key, "instance ids name instances of one region, and regions names several: target IPv4 addresses in network.vpc_cidr (the same in each region's VPC), or keep one region per file");
    }

    // The allowlist only seeds the registry: empty or absent is fine.
    let allowlist = match &raw.access.allowlist {
        None => Some(Allowlist::default()),
        Some(list) if list.get_ref().is_empty() => Some(Allowlist::default()),
        Some(list) => match Allowlist::parse(&list.get_ref().join(",")) {
            Ok(parsed) => Some(parsed),
            Err(errors) => {
                for error in errors {
                    let message = match &error {
                        AllowlistError::Empty => "the allowlist holds only empty entries: write \
                            12-digit account ids, e.g. allowlist = [\"123456789012\"], or \
                            allowlist = [] to seed no tenant"
                            .to_string(),
                        other => other.to_string(),
                    };
                    p.at(list, "access.allowlist", message);
                }
                None
            }
        },
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
        regions,
        region_chosen,
        registry_region: None,
        supported_regions,
        network: network?,
        allow_partial_az_coverage: raw.network.allow_partial_az_coverage
            || overrides.allow_partial_az_coverage,
        ports: ports?,
        target_port,
        targets: targets?,
        health_check: health_check?,
        gateway,
        allowlist: allowlist?,
        non_allowlisted,
        revoke: raw.access.revoke,
        allow_any_principal: raw.access.allow_any_principal,
        private_dns_name,
        approver: approver?,
        tags,
    })
}

/// `regions = [...]`: region names, each once, the home region first; not
/// together with `region`.
fn validate_regions(p: &mut Problems, raw: &RawConfig) -> Vec<String> {
    let Some(listed) = &raw.regions else {
        return Vec::new();
    };
    if let Some(region) = &raw.region {
        p.at(
            region,
            "region",
            "give either region (one region) or regions (several, the home region first), not both",
        );
    }
    if listed.get_ref().is_empty() {
        p.at(listed, "regions", "list at least one region, the home region first, e.g. regions = [\"us-east-1\", \"eu-west-1\"]");
    }
    let mut regions: Vec<String> = Vec::new();
    for region in listed.get_ref() {
        if !valid_region(region) {
            p.at(
                listed,
                "regions",
                format!("{region:?} is not an AWS region: write it like eu-west-1"),
            );
        } else if regions.contains(region) {
            p.at(
                listed,
                "regions",
                format!("{region} is listed twice: remove one"),
            );
        } else {
            regions.push(region.clone());
        }
    }
    regions
}

/// The other regions the service accepts endpoints from: region names, each
/// once, never the home region (`home`, when the file or `--region` names
/// it; otherwise the plan checks it against the region in use).
fn validate_supported_regions(
    p: &mut Problems,
    raw: Option<&Spanned<Vec<String>>>,
    home: Option<&str>,
) -> BTreeSet<String> {
    let mut regions = BTreeSet::new();
    let Some(raw) = raw else {
        return regions;
    };
    let key = "supported_regions";
    for region in raw.get_ref() {
        if !valid_region(region) {
            p.at(
                raw,
                key,
                format!("{region:?} is not an AWS region: write it like eu-west-1"),
            );
        } else if home == Some(region.as_str()) {
            p.at(
                raw,
                key,
                format!(
                    "{region} is the stack's own region, which the service always supports: \
                     list only the other regions"
                ),
            );
        } else if !regions.insert(region.clone()) {
            p.at(raw, key, format!("{region} is listed twice: remove one"));
        }
    }
    regions
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

    let targets = raw
        .targets
        .as_ref()
        .and_then(|t| validate_targets(p, t, "service.targets", network));

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

type TargetParts = (
    Option<TargetsSpec>,
    Option<u16>,
    Option<HealthCheckSpec>,
    Option<GatewaySpec>,
);

/// `[gateway]` and how it relates to the rest. With a gateway, the load
/// balancer targets the gateway's hosts on its port, and the app is the
/// gateway's `--upstream`, never a target: `service.targets` and
/// `service.target_port` are refused (two sources of targets would leave it
/// unclear which one gets the PROXY header), and so are the health check's
/// protocol, port and path, which follow the gateway's health listener. The
/// check's interval and thresholds still apply. Without a gateway,
/// `service.targets` is required.
fn with_gateway(
    p: &mut Problems,
    raw: &RawConfig,
    network: Option<&NetworkSpec>,
    targets: Option<TargetsSpec>,
    target_port: Option<u16>,
    health_check: Option<HealthCheckSpec>,
) -> TargetParts {
    let Some(gateway) = &raw.gateway else {
        if raw.service.targets.is_none() {
            p.at(&raw.service.ports, "service.targets", "list the targets: targets = [\"10.40.1.10\"] (IPv4 addresses or instance ids), or add a [gateway] section to put the kit's gateway in front of the app (see docs/provider.md)");
        }
        return (targets, target_port, health_check, None);
    };
    let why = "with [gateway] the load balancer targets the gateway (gateway.targets on gateway.port) and the app is the gateway's --upstream";
    if let Some(t) = &raw.service.targets {
        p.at(
            t,
            "service.targets",
            format!(
                "{why}: remove service.targets (or remove [gateway] to target the app directly)"
            ),
        );
    }
    if let Some(t) = &raw.service.target_port {
        p.at(
            t,
            "service.target_port",
            format!("{why}: remove service.target_port"),
        );
    }
    if let Some(hc) = &raw.health_check {
        let decided = "with [gateway] the health check is the gateway's: HTTP GET / on gateway.health_port, or TCP on gateway.port without it";
        for (value, key) in [
            (
                hc.protocol.as_ref().map(|v| v.span()),
                "health_check.protocol",
            ),
            (hc.port.as_ref().map(|v| v.span()), "health_check.port"),
            (hc.path.as_ref().map(|v| v.span()), "health_check.path"),
        ] {
            if let Some(span) = value {
                let line = Some(p.line_of(span.start));
                p.push(
                    line,
                    key,
                    format!(
                        "{decided}: remove {key} (interval_seconds and the thresholds still apply)"
                    ),
                );
            }
        }
    }
    let health_port = gateway
        .health_port
        .as_ref()
        .and_then(|h| port(p, h, "gateway.health_port"));
    let port = port(p, &gateway.port, "gateway.port");
    if let (Some(h), Some(raw_health)) = (health_port, &gateway.health_port) {
        if Some(h) == port {
            p.at(raw_health, "gateway.health_port", "is gateway.port too: the gateway's health listener (--health-listen) needs a port of its own; write another port, or remove health_port for a TCP check on gateway.port");
        }
    }
    let targets = validate_targets(p, &gateway.targets, "gateway.targets", network);
    let health_check = health_check.map(|h| HealthCheckSpec {
        protocol: if health_port.is_some() {
            HealthProtocol::Http
        } else {
            HealthProtocol::Tcp
        },
        port: health_port,
        // The gateway's health listener answers every path.
        path: health_port.map(|_| "/".to_string()),
        ..h
    });
    let gateway = port.map(|port| GatewaySpec { port, health_port });
    (targets, port, health_check, gateway)
}

/// IPv4 addresses (inside a created VPC's block) or instance ids, one kind:
/// `service.targets` or `gateway.targets`.
fn validate_targets(
    p: &mut Problems,
    raw: &Spanned<Vec<String>>,
    key: &str,
    network: Option<&NetworkSpec>,
) -> Option<TargetsSpec> {
    let ids = raw.get_ref();
    let mut targets = None;
    if ids.is_empty() {
        p.at(raw, key, "list at least one target: IPv4 addresses (\"10.40.1.10\") or instance ids (\"i-0123456789abcdef0\")");
    } else {
        let ips: Vec<Option<Ipv4Addr>> = ids.iter().map(|id| id.parse().ok()).collect();
        let all_ip = ips.iter().all(Option::is_some);
        let all_instances = ids.iter().all(|id| is_hex_id(id, "i-"));
        if all_ip {
            if let Some(NetworkSpec::Create { cidr }) = network {
                for (id, ip) in ids.iter().zip(&ips) {
                    if ip.is_some_and(|ip| !cidr.contains(ip)) {
                        p.at(raw, key, format!("{id} is outside network.vpc_cidr {cidr}: IP targets must be addresses in the stack's VPC"));
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
            p.at(raw, key, message);
        }
    }
    targets
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
