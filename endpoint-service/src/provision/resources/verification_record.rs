//! The TXT record that proves the private DNS name's domain, in the
//! operator's public Route 53 hosted zone when there is one: found by the
//! longest zone name that the private DNS name ends with, written with
//! UPSERT (idempotent).

use aws_sdk_route53::client::Waiters;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use aws_sdk_route53::Client;

use crate::provision::observe::VerificationObs;
use crate::provision::{aws_err, built, ProvisionError};

/// The TTL AWS suggests for the verification record.
pub const TTL: i64 = 1800;

/// The record's full name: the service's verification name under the
/// private DNS name's domain (`*.` dropped), with a trailing dot.
pub fn record_name(verification_name: &str, private_dns_name: &str) -> String {
    let domain = private_dns_name
        .trim_start_matches("*.")
        .trim_end_matches('.');
    format!("{}.{domain}.", verification_name.trim_end_matches('.'))
}

/// The record value as Route 53 stores TXT data: quoted.
pub fn quoted(value: &str) -> String {
    format!("\"{value}\"")
}

/// The public hosted zone that holds `record`, if any: the longest zone
/// name `record` ends with.
async fn find_zone(
    route53: &Client,
    record: &str,
) -> Result<Option<(String, String)>, ProvisionError> {
    // Zones are listed by name; start from the record's registrable part
    // and read a page: enough for an operator's account.
    let labels: Vec<&str> = record.trim_end_matches('.').split('.').collect();
    let start = labels[labels.len().saturating_sub(2)..].join(".");
    let out = route53
        .list_hosted_zones_by_name()
        .dns_name(&start)
        .send()
        .await
        .map_err(aws_err("ListHostedZonesByName", start.clone()))?;
    let mut best: Option<(String, String)> = None;
    for zone in out.hosted_zones() {
        if zone.config().is_some_and(|c| c.private_zone()) {
            continue;
        }
        let name = zone.name().trim_end_matches('.');
        let fits = record.trim_end_matches('.') == name
            || record.trim_end_matches('.').ends_with(&format!(".{name}"));
        if fits && best.as_ref().is_none_or(|(_, b)| name.len() > b.len()) {
            best = Some((
                zone.id().trim_start_matches("/hostedzone/").to_string(),
                name.to_string(),
            ));
        }
    }
    Ok(best)
}

/// Where the verification record goes and whether it is there.
pub async fn find_record(
    route53: &Client,
    verification_name: &str,
    value: &str,
    private_dns_name: &str,
) -> Result<Option<VerificationObs>, ProvisionError> {
    let record = record_name(verification_name, private_dns_name);
    let Some((zone_id, zone_name)) = find_zone(route53, &record).await? else {
        return Ok(None);
    };
    let out = route53
        .list_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .start_record_name(&record)
        .start_record_type(RrType::Txt)
        .max_items(1)
        .send()
        .await
        .map_err(aws_err("ListResourceRecordSets", record.clone()))?;
    let present = out.resource_record_sets().iter().any(|set| {
        set.name()
            .trim_end_matches('.')
            .eq_ignore_ascii_case(record.trim_end_matches('.'))
            && set.r#type() == &RrType::Txt
            && set
                .resource_records()
                .iter()
                .any(|r| r.value() == quoted(value))
    });
    Ok(Some(VerificationObs {
        zone_id,
        zone_name,
        record_name: record,
        value: value.to_string(),
        present,
    }))
}

/// How long a record change may stay `PENDING` before `up` gives up (Route
/// 53 documents changes propagating within 60 seconds).
const INSYNC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// Creates or replaces the TXT record and waits (the SDK's
/// `resource_record_sets_changed` waiter) until the change is `INSYNC`, so
/// the verification that follows can find the record.
pub async fn upsert_record(
    route53: &Client,
    record: &VerificationObs,
) -> Result<(), ProvisionError> {
    let set = built(
        ResourceRecordSet::builder()
            .name(&record.record_name)
            .r#type(RrType::Txt)
            .ttl(TTL)
            .resource_records(built(
                ResourceRecord::builder()
                    .value(quoted(&record.value))
                    .build(),
            )?)
            .build(),
    )?;
    let batch = built(
        ChangeBatch::builder()
            .comment("PrivateLink private DNS name verification (endpoint-service up)")
            .changes(built(
                Change::builder()
                    .action(ChangeAction::Upsert)
                    .resource_record_set(set)
                    .build(),
            )?)
            .build(),
    )?;
    let out = route53
        .change_resource_record_sets()
        .hosted_zone_id(&record.zone_id)
        .change_batch(batch)
        .send()
        .await
        .map_err(aws_err(
            "ChangeResourceRecordSets",
            record.record_name.clone(),
        ))?;
    let Some(change) = out.change_info().map(|c| c.id().to_string()) else {
        return Ok(());
    };
    route53
        .wait_until_resource_record_sets_changed()
        .id(&change)
        .wait(INSYNC_TIMEOUT)
        .await
        .map(drop)
        .map_err(|e| ProvisionError::Timeout {
            what: format!(
                "the Route 53 change {change} writing {} to be INSYNC (re-run `endpoint-service \
                 up` to verify the private DNS name once it is)",
                record.record_name
            ),
            waited_seconds: INSYNC_TIMEOUT.as_secs(),
            last_seen: aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_sits_under_the_private_dns_name() {
        assert_eq!(
            record_name("_6e86v84t", "api.example.com"),
            "_6e86v84t.api.example.com."
        );
        assert_eq!(record_name("_x", "*.example.com"), "_x.example.com.");
        assert_eq!(quoted("vpce:abc"), "\"vpce:abc\"");
    }
}
