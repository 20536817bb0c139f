//! `status`: what exists for a connection, read-only — the endpoint and its
//! state, addresses, DNS, and the last verification (kept in the endpoint's
//! [`LAST_VERIFICATION_TAG`] tag by `verify` and `connect`).

use crate::connection_key::{Target, LAST_VERIFICATION_TAG};
use crate::observe;
use crate::report::StatusReport;
use crate::security_group;
use crate::{Clients, ConsumerError};

pub async fn status(clients: &Clients, target: &Target) -> Result<StatusReport, ConsumerError> {
    let observed = observe::observe(clients, target, None).await?;
    let groups = security_group::find_all(&clients.ec2, target).await?;
    let (addresses, _) = match &observed.endpoint {
        Some(endpoint) => observe::addresses(clients, endpoint).await?,
        None => (Vec::new(), Vec::new()),
    };
    let endpoint = observed.endpoint.as_ref();
    Ok(StatusReport {
        service_name: target.service_name.clone(),
        vpc_id: target.vpc_id.clone(),
        connected: endpoint
            .is_some_and(|e| e.state == privatelink_core::state::EndpointState::Available),
        endpoint_id: endpoint.map(|e| e.endpoint_id.clone()),
        state: endpoint.map(|e| e.state.clone()),
        security_group_ids: groups,
        addresses,
        dns: observe::summary(&observed.dns),
        name_to_use: observed.name_to_use(),
        last_verification: endpoint
            .and_then(|e| e.tag(LAST_VERIFICATION_TAG))
            .map(str::to_string),
        last_verification_source: match endpoint {
            Some(e) => format!("tag {LAST_VERIFICATION_TAG} on {}", e.endpoint_id),
            None => format!("tag {LAST_VERIFICATION_TAG} on the endpoint"),
        },
    })
}
