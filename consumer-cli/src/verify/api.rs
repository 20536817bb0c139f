//! What the AWS API says about the connection, as verify steps: the
//! endpoint is `available`, a security group of the endpoint lets the port
//! in, and the name is served either by private DNS or by our private
//! hosted zone (associated with the VPC) whose record points at this
//! endpoint.

use privatelink_core::state::EndpointState;

use super::Step;
use crate::connection_key::Target;
use crate::dns::{self, Alias, ZoneInfo};
use crate::endpoint::EndpointInfo;
use crate::error::SdkResultExt;
use crate::security_group::GroupInfo;
use crate::ConsumerError;

/// How the name is served, as found.
#[derive(Debug, Clone)]
pub enum DnsSetup {
    /// The vendor's verified private DNS name, via the endpoint.
    PrivateDns(String),
    /// Our private hosted zone.
    Zone(ZoneInfo),
    /// No name: clients use the endpoint's own DNS name.
    None,
}

/// Checks from the API. `port` is the service port.
pub async fn checks(
    ec2: &aws_sdk_ec2::Client,
    r53: &aws_sdk_route53::Client,
    target: &Target,
    endpoint: &EndpointInfo,
    port: u16,
    dns: &DnsSetup,
) -> Result<Vec<Step>, ConsumerError> {
    let mut steps = vec![state_step(target, endpoint)];

    let groups = if endpoint.security_group_ids.is_empty() {
        Vec::new()
    } else {
        let out = ec2
            .describe_security_groups()
            .set_group_ids(Some(endpoint.security_group_ids.clone()))
            .send()
            .await
            .aws("DescribeSecurityGroups")?;
        out.security_groups()
            .iter()
            .map(GroupInfo::from_sdk)
            .collect()
    };
    steps.push(security_group_step(&groups, port));

    match dns {
        DnsSetup::PrivateDns(name) => steps.push(if endpoint.private_dns_enabled {
            Step::pass("private-dns", format!("private DNS on for {name}"))
        } else {
            Step::fail(
                "private-dns",
                format!("private DNS is off on {}", endpoint.endpoint_id),
                "re-run connect: it turns private DNS on once the vendor has accepted",
            )
        }),
        DnsSetup::Zone(zone) => {
            steps.push(if zone.vpc_ids.contains(&target.vpc_id) {
                Step::pass(
                    "zone",
                    format!(
                        "hosted zone {} ({}) is associated with {}",
                        zone.name, zone.zone_id, target.vpc_id
                    ),
                )
            } else {
                Step::fail(
                    "zone",
                    format!(
                        "hosted zone {} ({}) is not associated with {}",
                        zone.name, zone.zone_id, target.vpc_id
                    ),
                    "re-run connect: it associates the zone with the VPC",
                )
            });
            let record = dns::alias_record(r53, &zone.zone_id, &zone.name).await?;
            steps.push(record_step(endpoint, &zone.name, record.as_ref()));
        }
        DnsSetup::None => steps.push(Step::skip(
            "zone",
            "no DNS name chosen: clients use the endpoint's own DNS name",
        )),
    }
    Ok(steps)
}

fn state_step(target: &Target, endpoint: &EndpointInfo) -> Step {
    let id = &endpoint.endpoint_id;
    match &endpoint.state {
        EndpointState::Available => Step::pass("endpoint", format!("{id} is available")),
        EndpointState::PendingAcceptance => Step::fail(
            "endpoint",
            format!("{id} is waiting for the vendor to accept it"),
            "ask the vendor to accept the connection, then re-run connect",
        ),
        EndpointState::Pending => Step::fail(
            "endpoint",
            format!("{id} is accepted and still being set up"),
            "wait a minute and verify again",
        ),
        state => Step::fail(
            "endpoint",
            format!("{id} is {state}"),
            format!(
                "the connection cannot carry traffic; clean up and connect again: {}",
                target.cleanup_command()
            ),
        ),
    }
}

fn security_group_step(groups: &[GroupInfo], port: u16) -> Step {
    let p = i32::from(port);
    let allowing: Vec<String> = groups
        .iter()
        .flat_map(|g| {
            g.ingress
                .iter()
                .filter(|(from, to, _)| *from <= p && p <= *to)
                .map(move |(_, _, cidr)| format!("{} from {cidr}", g.group_id))
        })
        .collect();
    if allowing.is_empty() {
        let ids: Vec<&str> = groups.iter().map(|g| g.group_id.as_str()).collect();
        Step::fail(
            "security-group",
            format!("no rule of [{}] allows tcp/{port}", ids.join(", ")),
            format!(
                "add an inbound rule for tcp/{port} from your clients' CIDR (re-running connect \
                 with --allow-cidr does it)"
            ),
        )
    } else {
        Step::pass(
            "security-group",
            format!("tcp/{port} allowed: {}", allowing.join(", ")),
        )
    }
}

fn record_step(endpoint: &EndpointInfo, name: &str, record: Option<&Alias>) -> Step {
    let Some(regional) = endpoint.regional_dns() else {
        return Step::fail(
            "record",
            format!("{} has no Regional DNS name", endpoint.endpoint_id),
            "the endpoint is not ready: verify again once it is available",
        );
    };
    let expected = Alias {
        dns_name: regional.dns_name.clone(),
        hosted_zone_id: regional.hosted_zone_id.clone(),
    };
    match record {
        Some(alias) if alias.same_as(&expected) => Step::pass(
            "record",
            format!("{name} is an alias of {}", expected.dns_name),
        ),
        Some(alias) => Step::fail(
            "record",
            format!(
                "{name} points at {}, not at this endpoint ({})",
                alias.dns_name, expected.dns_name
            ),
            "re-run connect: it updates the record (UPSERT)",
        ),
        None => Step::fail(
            "record",
            format!("{name} has no ALIAS A record"),
            "re-run connect: it creates the record",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::DnsEntry;
    use crate::verify::Outcome;

    fn endpoint() -> EndpointInfo {
        EndpointInfo {
            endpoint_id: "vpce-1".into(),
            state: EndpointState::Available,
            subnet_ids: vec![],
            security_group_ids: vec!["sg-1".into()],
            network_interface_ids: vec![],
            dns_entries: vec![DnsEntry {
                dns_name: "vpce-1-ab.vpce-svc-1.us-east-1.vpce.amazonaws.com".into(),
                hosted_zone_id: "Z7HUB22UULQXV".into(),
            }],
            private_dns_enabled: false,
            tags: Default::default(),
            last_error: None,
        }
    }

    #[test]
    fn record_must_point_at_this_endpoint() {
        let e = endpoint();
        let good = Alias {
            dns_name: "vpce-1-ab.vpce-svc-1.us-east-1.vpce.amazonaws.com.".into(),
            hosted_zone_id: "Z7HUB22UULQXV".into(),
        };
        assert_eq!(record_step(&e, "a.b", Some(&good)).outcome, Outcome::Pass);
        let other = Alias {
            dns_name: "vpce-2-ab.vpce-svc-1.us-east-1.vpce.amazonaws.com".into(),
            ..good.clone()
        };
        let step = record_step(&e, "a.b", Some(&other));
        assert_eq!(step.outcome, Outcome::Fail);
        assert!(step.detail.contains("not at this endpoint"), "{step:?}");
        assert_eq!(record_step(&e, "a.b", None).outcome, Outcome::Fail);
    }

    #[test]
    fn security_group_rule_must_cover_the_port() {
        let groups = [GroupInfo {
            group_id: "sg-1".into(),
            ingress: vec![(80, 80, "10.0.0.0/16".into())],
        }];
        assert_eq!(security_group_step(&groups, 443).outcome, Outcome::Fail);
        assert_eq!(security_group_step(&groups, 80).outcome, Outcome::Pass);
    }

    #[test]
    fn endpoint_states_say_what_to_do() {
        let target = Target::parse("com.amazonaws.vpce.us-east-1.vpce-svc-1", "vpc-1").unwrap();
        let mut e = endpoint();
        e.state = EndpointState::Rejected;
        let step = state_step(&target, &e);
        assert_eq!(step.outcome, Outcome::Fail);
        assert!(step.hint.unwrap().contains("consumer-cli disconnect"));
    }
}
