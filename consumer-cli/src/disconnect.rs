//! `disconnect`: removes what `connect` made, in dependency order — records
//! and our hosted zones (a zone only when nothing else is in it), then the
//! endpoints (waiting until they are deleted, which frees their network
//! interfaces), then the security group. Everything is found by the
//! connection's key, so it can be re-run after any interruption. The VPC's
//! DNS attributes are left as they are (other things may rely on them).

use std::time::Duration;

use crate::connection_key::Target;
use crate::dns;
use crate::endpoint;
use crate::report::DisconnectReport;
use crate::security_group;
use crate::{Clients, ConsumerError};
use privatelink_core::cli::progress::Progress;

pub async fn disconnect(
    clients: &Clients,
    target: &Target,
    timeout: Duration,
    progress: &mut Progress,
) -> Result<DisconnectReport, ConsumerError> {
    let mut report = DisconnectReport {
        service_name: target.service_name.clone(),
        vpc_id: target.vpc_id.clone(),
        ..Default::default()
    };
    for zone in dns::find_ours(&clients.r53, target).await? {
        let removed = dns::remove(&clients.r53, &zone).await?;
        for record in removed.records {
            report
                .removed
                .push(format!("record {record} in {}", zone.zone_id));
        }
        if removed.zone_deleted {
            report
                .removed
                .push(format!("hosted zone {} ({})", zone.name, zone.zone_id));
        } else {
            report.left.push(format!(
                "hosted zone {} ({}): it holds records consumer-cli did not make: {}",
                zone.name,
                zone.zone_id,
                removed.left.join(", ")
            ));
        }
    }
    for found in endpoint::find_all(&clients.ec2, target).await? {
        endpoint::delete(&clients.ec2, &found.endpoint_id, timeout, progress).await?;
        report.removed.push(format!(
            "endpoint {} (was {})",
            found.endpoint_id, found.state
        ));
    }
    for group_id in security_group::find_all(&clients.ec2, target).await? {
        security_group::delete(&clients.ec2, &group_id, timeout).await?;
        report.removed.push(format!("security group {group_id}"));
    }
    Ok(report)
}
