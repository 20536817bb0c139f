//! The PrivateLink connection lifecycle across accounts, end to end against
//! the local emulator: the behaviour every other part of the kit is tested
//! through, so it is proven here with plain SDK calls.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::VpcEndpointType;
use privatelink_core::state::EndpointState;
use privatelink_tests::fixtures::{endpoint_state, vpc_with_subnets, Provider};
use privatelink_tests::{Account, Emulator};

/// Creates an interface endpoint to `service_name` in a new VPC of
/// `consumer`, with one subnet in each given zone.
async fn connect(
    consumer: &Account,
    service_name: &str,
    zone_ids: &[&str],
) -> Result<aws_sdk_ec2::operation::create_vpc_endpoint::CreateVpcEndpointOutput, aws_sdk_ec2::Error>
{
    let (vpc_id, subnets) = vpc_with_subnets(consumer, "consumer", zone_ids)
        .await
        .expect("consumer VPC");
    consumer
        .ec2()
        .create_vpc_endpoint()
        .vpc_endpoint_type(VpcEndpointType::Interface)
        .vpc_id(vpc_id)
        .service_name(service_name)
        .set_subnet_ids(Some(subnets))
        .private_dns_enabled(false)
        .send()
        .await
        .map_err(Into::into)
}

#[tokio::test]
async fn connection_lifecycle_across_accounts() -> Result<()> {
    let emulator = Emulator::shared();
    let (provider_account, consumer, outsider) = tokio::try_join!(
        Account::fresh(emulator),
        Account::fresh(emulator),
        Account::fresh(emulator)
    )?;
    let provider = Provider::create(&provider_account, &[&consumer.id]).await?;

    // The consumer sees the service, with the provider's AZs as AZ IDs.
    let visible = consumer
        .ec2()
        .describe_vpc_endpoint_services()
        .service_names(&provider.service_name)
        .send()
        .await?;
    let detail = visible
        .service_details()
        .first()
        .context("service not visible")?;
    assert_eq!(detail.owner(), Some(provider_account.id.as_str()));
    let mut service_zone_ids: Vec<_> = detail.availability_zone_ids().to_vec();
    service_zone_ids.sort();
    let mut provider_zone_ids: Vec<_> = provider.zones.iter().map(|z| z.id.clone()).collect();
    provider_zone_ids.sort();
    assert_eq!(service_zone_ids, provider_zone_ids);

    // The consumer's endpoint waits for acceptance.
    let zone = provider.zones[0].id.clone();
    let created = connect(&consumer, &provider.service_name, &[&zone]).await?;
    let endpoint = created.vpc_endpoint().context("no endpoint")?;
    let endpoint_id = endpoint
        .vpc_endpoint_id()
        .context("no endpoint id")?
        .to_string();
    assert_eq!(
        EndpointState::from_sdk(endpoint.state().context("no state")?),
        EndpointState::PendingAcceptance
    );
    // AWS's casing on the wire, which the SDK enum does not match.
    assert_eq!(endpoint.state().unwrap().as_str(), "pendingAcceptance");
    let dns: Vec<_> = endpoint
        .dns_entries()
        .iter()
        .filter_map(|d| d.dns_name())
        .collect();
    assert_eq!(dns.len(), 2, "one regional and one zonal name: {dns:?}");
    assert!(dns.iter().all(|n| n.starts_with(&endpoint_id)
        && n.ends_with(&format!(
            "{}.us-east-1.vpce.amazonaws.com",
            provider.service_id
        ))));

    // The provider sees a pending connection owned by the consumer account.
    let connections = provider.connections().await?;
    assert_eq!(connections.len(), 1);
    let connection = &connections[0];
    assert_eq!(connection.vpc_endpoint_id(), Some(endpoint_id.as_str()));
    assert_eq!(connection.vpc_endpoint_owner(), Some(consumer.id.as_str()));
    assert_eq!(
        EndpointState::from_sdk(connection.vpc_endpoint_state().context("no state")?),
        EndpointState::PendingAcceptance
    );

    // The topic's subscriber received the Connect notification in a real
    // SNS envelope.
    let delivered = provider
        .drain_notifications(Duration::from_secs(10))
        .await?;
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    let (envelope, body) = &delivered[0];
    assert_eq!(envelope["Type"], "Notification");
    assert_eq!(envelope["TopicArn"], provider.topic_arn.as_str());
    assert_eq!(body["eventType"], "Connect");
    assert_eq!(body["vpcEndpointId"], endpoint_id.as_str());

    // Accept: pendingAcceptance → pending → available, seen by the consumer.
    let accepted = provider_account
        .ec2()
        .accept_vpc_endpoint_connections()
        .service_id(&provider.service_id)
        .vpc_endpoint_ids(&endpoint_id)
        .send()
        .await?;
    assert!(
        accepted.unsuccessful().is_empty(),
        "{:?}",
        accepted.unsuccessful()
    );
    let mut seen = vec![endpoint_state(&consumer, &endpoint_id).await?];
    let deadline = Instant::now() + Duration::from_secs(15);
    while seen.last() != Some(&EndpointState::Available) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let state = endpoint_state(&consumer, &endpoint_id).await?;
        if seen.last() != Some(&state) {
            seen.push(state);
        }
    }
    assert_eq!(seen, [EndpointState::Pending, EndpointState::Available]);
    let delivered = provider
        .drain_notifications(Duration::from_secs(10))
        .await?;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].1["eventType"], "Accept");

    // An account that is not an allowed principal cannot see or connect.
    let refused = connect(&outsider, &provider.service_name, &[&zone])
        .await
        .expect_err("a non-allowed consumer must be refused");
    assert_eq!(refused.code(), Some("InvalidServiceName"), "{refused:?}");
    assert!(provider.connections().await?.len() == 1);

    // The service cannot be deleted while the connection is live.
    let deleted = provider_account
        .ec2()
        .delete_vpc_endpoint_service_configurations()
        .service_ids(&provider.service_id)
        .send()
        .await?;
    let refusal = deleted
        .unsuccessful()
        .first()
        .context("delete was not refused")?;
    assert_eq!(refusal.resource_id(), Some(provider.service_id.as_str()));
    assert_eq!(
        refusal.error().and_then(|e| e.code()),
        Some("ExistingVpcEndpointConnections")
    );
    Ok(())
}

#[tokio::test]
async fn rejected_and_deleted_connections_release_the_service() -> Result<()> {
    let emulator = Emulator::shared();
    let (provider_account, consumer) =
        tokio::try_join!(Account::fresh(emulator), Account::fresh(emulator))?;
    let provider = Provider::create(&provider_account, &[&consumer.id]).await?;
    let zone = provider.zones[1].id.clone();
    let first = connect(&consumer, &provider.service_name, &[&zone]).await?;
    let second = connect(&consumer, &provider.service_name, &[&zone]).await?;
    let first_id = first
        .vpc_endpoint()
        .and_then(|e| e.vpc_endpoint_id())
        .unwrap();
    let second_id = second
        .vpc_endpoint()
        .and_then(|e| e.vpc_endpoint_id())
        .unwrap();

    // One batch: a real pending connection and an id the service never saw.
    let rejected = provider_account
        .ec2()
        .reject_vpc_endpoint_connections()
        .service_id(&provider.service_id)
        .vpc_endpoint_ids(first_id)
        .vpc_endpoint_ids("vpce-0123456789abcdef0")
        .send()
        .await?;
    let failures: Vec<_> = rejected
        .unsuccessful()
        .iter()
        .map(|u| {
            (
                u.resource_id().unwrap_or_default(),
                u.error().and_then(|e| e.code()).unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        failures,
        [("vpce-0123456789abcdef0", "InvalidVpcEndpointId.NotFound")]
    );
    assert_eq!(
        endpoint_state(&consumer, first_id).await?,
        EndpointState::Rejected
    );

    // The consumer deletes the other endpoint; the provider sees it
    // `deleting`, then `deleted`.
    consumer
        .ec2()
        .delete_vpc_endpoints()
        .vpc_endpoint_ids(second_id)
        .send()
        .await?;
    let started = Instant::now();
    loop {
        let states: Vec<_> = provider
            .connections()
            .await?
            .iter()
            .map(|c| {
                (
                    c.vpc_endpoint_id().unwrap_or_default().to_string(),
                    EndpointState::from_sdk(c.vpc_endpoint_state().unwrap()),
                )
            })
            .collect();
        assert!(states.contains(&(first_id.to_string(), EndpointState::Rejected)));
        if states.contains(&(second_id.to_string(), EndpointState::Deleted)) {
            break;
        }
        assert!(
            states.contains(&(second_id.to_string(), EndpointState::Deleting)),
            "{states:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(10), "never deleted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let events: Vec<_> = provider
        .drain_notifications(Duration::from_secs(10))
        .await?
        .into_iter()
        .map(|(_, body)| body["eventType"].as_str().unwrap_or_default().to_string())
        .collect();
    let mut events = events;
    events.sort();
    // SQS standard queues do not promise order; the set of events is the point.
    assert_eq!(events, ["Connect", "Connect", "Delete", "Reject"]);

    // With nothing live left, the service can go.
    let deleted = provider_account
        .ec2()
        .delete_vpc_endpoint_service_configurations()
        .service_ids(&provider.service_id)
        .send()
        .await?;
    assert!(
        deleted.unsuccessful().is_empty(),
        "{:?}",
        deleted.unsuccessful()
    );
    Ok(())
}

#[tokio::test]
async fn a_subnet_outside_the_services_zones_is_refused() -> Result<()> {
    let emulator = Emulator::shared();
    let (provider_account, consumer) =
        tokio::try_join!(Account::fresh(emulator), Account::fresh(emulator))?;
    let provider = Provider::create(&provider_account, &[&consumer.id]).await?;
    // A service on an NLB in only some AZs: make one on a second NLB whose
    // subnets cover two zones, then connect from a third.
    let zones = &provider.zones;
    let (_, subnets) =
        vpc_with_subnets(&provider_account, "narrow", &[&zones[0].id, &zones[1].id]).await?;
    let lb = provider_account
        .elbv2()
        .create_load_balancer()
        .name("narrow")
        .r#type(aws_sdk_elasticloadbalancingv2::types::LoadBalancerTypeEnum::Network)
        .scheme(aws_sdk_elasticloadbalancingv2::types::LoadBalancerSchemeEnum::Internal)
        .set_subnets(Some(subnets))
        .send()
        .await?;
    let lb_arn = lb.load_balancers()[0].load_balancer_arn().unwrap();
    let service = provider_account
        .ec2()
        .create_vpc_endpoint_service_configuration()
        .network_load_balancer_arns(lb_arn)
        .acceptance_required(true)
        .send()
        .await?;
    let config = service.service_configuration().unwrap();
    provider_account
        .ec2()
        .modify_vpc_endpoint_service_permissions()
        .service_id(config.service_id().unwrap())
        .add_allowed_principals(format!("arn:aws:iam::{}:root", consumer.id))
        .send()
        .await?;
    let refused = connect(&consumer, config.service_name().unwrap(), &[&zones[2].id])
        .await
        .expect_err("a subnet in an AZ the service lacks must be refused");
    assert_eq!(refused.code(), Some("InvalidParameter"), "{refused:?}");
    assert!(
        refused
            .message()
            .unwrap_or_default()
            .contains("does not support the availability zone"),
        "{refused:?}"
    );
    Ok(())
}
