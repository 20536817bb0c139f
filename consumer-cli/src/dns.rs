//! Route 53 for services without a verified private DNS name: a private
//! hosted zone for the chosen name, associated with the VPC, holding an
//! ALIAS A record to the endpoint's Regional DNS name.
//!
//! Ownership: Route 53 cannot tag a zone in the create call, but it keeps
//! the `CallerReference` of the create request for the zone's life. Ours
//! start with [`Target::zone_reference_prefix`], so a zone found by name is
//! ours or not without a second call, and a crash cannot leave a zone whose
//! ownership is unknown. A same-named private zone on the VPC that is not
//! ours is an error and is never modified.

use aws_sdk_route53::error::ProvideErrorMetadata;
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, HostedZone, HostedZoneConfig,
    ResourceRecordSet, RrType, Vpc, VpcRegion,
};
use aws_sdk_route53::Client;
use privatelink_core::errors::AwsError;
use serde::Serialize;

use crate::connection_key::Target;
use crate::error::SdkResultExt;
use crate::ConsumerError;

/// A private hosted zone as found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZoneInfo {
    /// The id without the `/hostedzone/` prefix.
    pub zone_id: String,
    /// The name without the trailing dot.
    pub name: String,
    pub ours: bool,
    pub private: bool,
    pub vpc_ids: Vec<String>,
}

/// The target of an ALIAS record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alias {
    pub dns_name: String,
    pub hosted_zone_id: String,
}

impl Alias {
    /// Same target, ignoring case and the trailing dot.
    pub fn same_as(&self, other: &Alias) -> bool {
        normal(&self.dns_name) == normal(&other.dns_name)
            && short_id(&self.hosted_zone_id) == short_id(&other.hosted_zone_id)
    }
}

/// `api.example.com.` → `api.example.com`, lowercased.
pub fn normal(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// `/hostedzone/Z123` → `Z123`.
pub fn short_id(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

fn zone_info(zone: &HostedZone, prefix: &str, vpc_ids: Vec<String>) -> ZoneInfo {
    ZoneInfo {
        zone_id: short_id(zone.id()).to_string(),
        name: normal(zone.name()),
        ours: zone.caller_reference().starts_with(prefix),
        private: zone.config().is_some_and(|c| c.private_zone()),
        vpc_ids,
    }
}

async fn vpcs_of(r53: &Client, zone_id: &str) -> Result<Vec<String>, ConsumerError> {
    let out = r53
        .get_hosted_zone()
        .id(zone_id)
        .send()
        .await
        .aws("GetHostedZone")?;
    Ok(out
        .vpcs()
        .iter()
        .filter_map(|v| v.vpc_id().map(str::to_string))
        .collect())
}

/// The private zones (or zones with VPC associations) named exactly
/// `name`, with their VPCs.
pub async fn find_by_name(
    r53: &Client,
    target: &Target,
    name: &str,
) -> Result<Vec<ZoneInfo>, ConsumerError> {
    let prefix = target.zone_reference_prefix();
    let wanted = normal(name);
    let mut found = Vec::new();
    let mut next: Option<(String, Option<String>)> = None;
    loop {
        let mut call = r53.list_hosted_zones_by_name().max_items(100);
        call = match &next {
            Some((dns, id)) => call.dns_name(dns).set_hosted_zone_id(id.clone()),
            None => call.dns_name(&wanted),
        };
        let out = call.send().await.aws("ListHostedZonesByName")?;
        let mut past = false;
        for zone in out.hosted_zones() {
            if normal(zone.name()) != wanted {
                past = true;
                break;
            }
            // A zone created with a VPC is private whatever its config flag
            // says (some tools and emulators leave PrivateZone false), so
            // the VPC associations decide, not the flag.
            let vpcs = vpcs_of(r53, zone.id()).await?;
            if zone.config().is_some_and(|c| c.private_zone()) || !vpcs.is_empty() {
                found.push(zone_info(zone, &prefix, vpcs));
            }
        }
        if past || !out.is_truncated() {
            break;
        }
        match out.next_dns_name() {
            Some(dns) => {
                next = Some((
                    dns.to_string(),
                    out.next_hosted_zone_id().map(str::to_string),
                ))
            }
            None => break,
        }
    }
    Ok(found)
}

/// Every zone of ours for this connection (any name), for status and
/// disconnect.
pub async fn find_ours(r53: &Client, target: &Target) -> Result<Vec<ZoneInfo>, ConsumerError> {
    let prefix = target.zone_reference_prefix();
    let zones = r53
        .list_hosted_zones()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| ConsumerError::Aws(AwsError::from_sdk("ListHostedZones", &e)))?;
    let mut ours = Vec::new();
    for zone in zones
        .iter()
        .filter(|z| z.caller_reference().starts_with(&prefix))
    {
        let vpcs = vpcs_of(r53, zone.id()).await?;
        ours.push(zone_info(zone, &prefix, vpcs));
    }
    Ok(ours)
}

fn vpc(vpc_id: &str, region: &str) -> Vpc {
    Vpc::builder()
        .vpc_id(vpc_id)
        .vpc_region(VpcRegion::from(region))
        .build()
}

/// Finds or creates our private zone for `name` and associates it with the
/// VPC. `alias` is only used to tell the user what to do on a conflict.
pub async fn ensure_zone(
    r53: &Client,
    target: &Target,
    name: &str,
    region: &str,
    alias: &Alias,
    changes: &mut Vec<String>,
) -> Result<ZoneInfo, ConsumerError> {
    let zones = find_by_name(r53, target, name).await?;
    if let Some(foreign) = zones
        .iter()
        .find(|z| !z.ours && z.vpc_ids.contains(&target.vpc_id))
    {
        return Err(ConsumerError::ForeignZone {
            name: foreign.name.clone(),
            zone_id: foreign.zone_id.clone(),
            vpc_id: target.vpc_id.clone(),
            target: alias.dns_name.clone(),
            cleanup: target.cleanup_command(),
        });
    }
    if let Some(mut zone) = zones.into_iter().find(|z| z.ours) {
        if !zone.vpc_ids.contains(&target.vpc_id) {
            let out = r53
                .associate_vpc_with_hosted_zone()
                .hosted_zone_id(&zone.zone_id)
                .vpc(vpc(&target.vpc_id, region))
                .send()
                .await;
            match out {
                Err(e) if e.code() == Some("ConflictingDomainExists") => {}
                other => {
                    other.aws("AssociateVPCWithHostedZone")?;
                    changes.push(format!(
                        "associated hosted zone {} with {}",
                        zone.zone_id, target.vpc_id
                    ));
                }
            }
            zone.vpc_ids.push(target.vpc_id.clone());
        }
        return Ok(zone);
    }
    let out = r53
        .create_hosted_zone()
        .name(normal(name))
        .caller_reference(target.zone_caller_reference())
        .vpc(vpc(&target.vpc_id, region))
        .hosted_zone_config(
            HostedZoneConfig::builder()
                .private_zone(true)
                .comment(format!(
                    "consumer-cli: {} from {}",
                    target.service_name, target.vpc_id
                ))
                .build(),
        )
        .send()
        .await
        .aws("CreateHostedZone")?;
    let zone = out
        .hosted_zone()
        .ok_or_else(|| ConsumerError::missing("CreateHostedZone", "HostedZone"))?;
    let info = zone_info(
        zone,
        &target.zone_reference_prefix(),
        vec![target.vpc_id.clone()],
    );
    changes.push(format!(
        "created private hosted zone {} ({})",
        info.name, info.zone_id
    ));
    Ok(info)
}

/// The A record at `name` in the zone, if it is an alias.
pub async fn alias_record(
    r53: &Client,
    zone_id: &str,
    name: &str,
) -> Result<Option<Alias>, ConsumerError> {
    let record = a_record(r53, zone_id, name).await?;
    Ok(record.and_then(|r| {
        r.alias_target().map(|a| Alias {
            dns_name: normal(a.dns_name()),
            hosted_zone_id: a.hosted_zone_id().to_string(),
        })
    }))
}

async fn a_record(
    r53: &Client,
    zone_id: &str,
    name: &str,
) -> Result<Option<ResourceRecordSet>, ConsumerError> {
    let out = r53
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .start_record_name(normal(name))
        .start_record_type(RrType::A)
        .send()
        .await
        .aws("ListResourceRecordSets")?;
    Ok(out
        .resource_record_sets()
        .iter()
        .find(|r| normal(r.name()) == normal(name) && *r.r#type() == RrType::A)
        .cloned())
}

fn build_error(e: aws_sdk_route53::error::BuildError) -> ConsumerError {
    ConsumerError::Input(format!("building a Route 53 change: {e}"))
}

/// Makes `name` an ALIAS A record to `alias` (UPSERT); no call when it
/// already is.
pub async fn upsert_alias(
    r53: &Client,
    zone_id: &str,
    name: &str,
    alias: &Alias,
    changes: &mut Vec<String>,
) -> Result<(), ConsumerError> {
    if let Some(existing) = alias_record(r53, zone_id, name).await? {
        if existing.same_as(alias) {
            return Ok(());
        }
    }
    let record = ResourceRecordSet::builder()
        .name(normal(name))
        .r#type(RrType::A)
        .alias_target(
            AliasTarget::builder()
                .dns_name(&alias.dns_name)
                .hosted_zone_id(&alias.hosted_zone_id)
                .evaluate_target_health(false)
                .build()
                .map_err(build_error)?,
        )
        .build()
        .map_err(build_error)?;
    change(r53, zone_id, ChangeAction::Upsert, record).await?;
    changes.push(format!(
        "pointed {} (ALIAS A) at {}",
        normal(name),
        alias.dns_name
    ));
    Ok(())
}

async fn change(
    r53: &Client,
    zone_id: &str,
    action: ChangeAction,
    record: ResourceRecordSet,
) -> Result<(), ConsumerError> {
    let batch = ChangeBatch::builder()
        .changes(
            Change::builder()
                .action(action)
                .resource_record_set(record)
                .build()
                .map_err(build_error)?,
        )
        .build()
        .map_err(build_error)?;
    r53.change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(batch)
        .send()
        .await
        .aws("ChangeResourceRecordSets")?;
    Ok(())
}

/// What removing our records and zone did.
#[derive(Debug, Default)]
pub struct Removed {
    pub records: Vec<String>,
    pub zone_deleted: bool,
    /// Records someone else added, which keep the zone.
    pub left: Vec<String>,
}

/// Deletes our ALIAS records to VPC endpoints, then the zone if nothing
/// else is left in it (NS and SOA at the apex do not count). A zone that is
/// already gone is fine.
pub async fn remove(r53: &Client, zone: &ZoneInfo) -> Result<Removed, ConsumerError> {
    let mut removed = Removed::default();
    let out = r53
        .list_resource_record_sets()
        .hosted_zone_id(&zone.zone_id)
        .send()
        .await;
    let out = match out {
        Err(e) if e.code() == Some("NoSuchHostedZone") => return Ok(removed),
        other => other.aws("ListResourceRecordSets")?,
    };
    for record in out.resource_record_sets() {
        let at_apex = normal(record.name()) == zone.name;
        let is_ours = at_apex
            && *record.r#type() == RrType::A
            && record
                .alias_target()
                .is_some_and(|a| normal(a.dns_name()).ends_with(".vpce.amazonaws.com"));
        let is_zone_own = at_apex && matches!(record.r#type(), RrType::Ns | RrType::Soa);
        if is_ours {
            change(r53, &zone.zone_id, ChangeAction::Delete, record.clone()).await?;
            removed.records.push(format!("{} A (alias)", zone.name));
        } else if !is_zone_own {
            removed.left.push(format!(
                "{} {}",
                normal(record.name()),
                record.r#type().as_str()
            ));
        }
    }
    if removed.left.is_empty() {
        match r53.delete_hosted_zone().id(&zone.zone_id).send().await {
            Err(e) if e.code() == Some("NoSuchHostedZone") => {}
            other => {
                other.aws("DeleteHostedZone")?;
            }
        }
        removed.zone_deleted = true;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_comparison_ignores_case_dots_and_id_prefix() {
        let a = Alias {
            dns_name: "VPCE-1-abc.vpce-svc-1.us-east-1.vpce.amazonaws.com.".into(),
            hosted_zone_id: "/hostedzone/Z7HUB22UULQXV".into(),
        };
        let b = Alias {
            dns_name: "vpce-1-abc.vpce-svc-1.us-east-1.vpce.amazonaws.com".into(),
            hosted_zone_id: "Z7HUB22UULQXV".into(),
        };
        assert!(a.same_as(&b));
        let c = Alias {
            dns_name: "vpce-2-abc.vpce-svc-1.us-east-1.vpce.amazonaws.com".into(),
            ..b.clone()
        };
        assert!(!c.same_as(&b));
    }
}
