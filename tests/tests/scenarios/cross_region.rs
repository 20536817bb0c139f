//! `consumer-cli connect --service-region`: AWS cross-Region PrivateLink
//! (the emulator's README §17). A vendor in us-east-1 whose service supports
//! us-west-2, a customer whose VPC is in us-west-2: the endpoint is made in
//! us-west-2 with `ServiceRegion=us-east-1`, the vendor sees and accepts it
//! from us-east-1. And the refusal, explained, when the vendor does not
//! support the customer's Region.

use std::time::Duration;

use anyhow::{Context, Result};
use aws_sdk_ec2::types::Filter;
use privatelink_core::state::EndpointState;
use privatelink_tests::bins::{command, Run};
use privatelink_tests::fixtures::{self, vpc_with_subnets, Provider};
use privatelink_tests::{Account, Emulator};

const HOME: &str = "us-east-1";
const REMOTE: &str = "us-west-2";

async fn cli(account: &Account, args: &[&str]) -> Result<Run> {
    let mut command = command("consumer-cli", Some(account))?;
    command.args(args).args(["--output", "json"]);
    Run::capture_async(command).await
}

/// A vendor in HOME allowing `consumer`; its service supports `regions` too.
async fn vendor_supporting(consumer: &Account, regions: &[&str]) -> Result<Provider> {
    let account = Account::fresh(Emulator::shared()).await?;
    let provider = Provider::create(&account, &[&consumer.id]).await?;
    if !regions.is_empty() {
        provider
            .account
            .ec2()
            .modify_vpc_endpoint_service_configuration()
            .service_id(&provider.service_id)
            .set_add_supported_regions(Some(regions.iter().map(|r| r.to_string()).collect()))
            .send()
            .await
            .context("ModifyVpcEndpointServiceConfiguration")?;
    }
    Ok(provider)
}

/// A customer account acting in REMOTE, with a VPC in two of its AZs.
async fn remote_customer() -> Result<(Account, String)> {
    let consumer = Account::fresh(Emulator::shared()).await?.in_region(REMOTE);
    let zones = fixtures::zones(&consumer).await?;
    assert!(
        zones.iter().all(|z| z.name.starts_with(REMOTE)),
        "{zones:?}"
    );
    let (vpc_id, _) =
        vpc_with_subnets(&consumer, "consumer", &[&zones[0].id, &zones[1].id]).await?;
    Ok((consumer, vpc_id))
}

/// Accepts every pending connection of the vendor's service, as it appears.
fn accepting(provider: &Provider) -> tokio::task::JoinHandle<()> {
    let provider = provider.clone();
    tokio::spawn(async move {
        loop {
            if let Ok(connections) = provider.connections().await {
                let pending: Vec<String> = connections
                    .iter()
                    .filter(|c| {
                        c.vpc_endpoint_state().map(EndpointState::from_sdk)
                            == Some(EndpointState::PendingAcceptance)
                    })
                    .filter_map(|c| c.vpc_endpoint_id().map(str::to_string))
                    .collect();
                if !pending.is_empty() {
                    let _ = provider
                        .account
                        .ec2()
                        .accept_vpc_endpoint_connections()
                        .service_id(&provider.service_id)
                        .set_vpc_endpoint_ids(Some(pending))
                        .send()
                        .await;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

/// The consumer's endpoints in `vpc_id` that are not going or gone.
async fn live_endpoints(consumer: &Account, vpc_id: &str) -> Result<Vec<String>> {
    let out = consumer
        .ec2()
        .describe_vpc_endpoints()
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
        .send()
        .await?;
    Ok(out
        .vpc_endpoints()
        .iter()
        .filter(|e| {
            !matches!(
                e.state().map(EndpointState::from_sdk),
                Some(EndpointState::Deleting | EndpointState::Deleted)
            )
        })
        .filter_map(|e| e.vpc_endpoint_id().map(str::to_string))
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_across_regions_status_and_disconnect() -> Result<()> {
    let (consumer, vpc_id) = remote_customer().await?;
    let provider = vendor_supporting(&consumer, &[REMOTE]).await?;
    let _vendor = accepting(&provider);
    let target = [
        "--service-name",
        provider.service_name.as_str(),
        "--vpc",
        vpc_id.as_str(),
        "--service-region",
        HOME,
    ];

    let mut connect = vec!["connect"];
    connect.extend(target);
    connect.extend(["--no-verify", "--wait", "60s"]);
    let run = cli(&consumer, &connect).await?;
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stderr.contains(&format!("in {HOME} (cross-Region)")),
        "{}",
        run.stderr
    );
    let report = run.json()?;
    assert_eq!(report["state"], "available", "{report:#}");
    let endpoint_id = report["endpoint_id"]
        .as_str()
        .context("endpoint id")?
        .to_string();

    // The endpoint is in the customer's Region, to the service in HOME,
    // with one subnet per AZ of the VPC (AZs need not line up across Regions).
    let endpoint = consumer
        .ec2()
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(&endpoint_id)
        .send()
        .await?
        .vpc_endpoints()
        .first()
        .cloned()
        .context("the endpoint")?;
    assert_eq!(endpoint.service_region(), Some(HOME));
    assert_eq!(endpoint.subnet_ids().len(), 2, "{endpoint:?}");
    // The vendor sees it from HOME, as an endpoint of REMOTE.
    let connections = provider
        .account
        .ec2()
        .describe_vpc_endpoint_connections()
        .filters(
            Filter::builder()
                .name("vpc-endpoint-region")
                .values("cross-region")
                .build(),
        )
        .send()
        .await?;
    let connection = connections
        .vpc_endpoint_connections()
        .iter()
        .find(|c| c.vpc_endpoint_id() == Some(endpoint_id.as_str()))
        .context("the vendor's view of the connection")?;
    assert_eq!(connection.vpc_endpoint_region(), Some(REMOTE));
    assert_eq!(connection.vpc_endpoint_owner(), Some(consumer.id.as_str()));

    // A re-run changes nothing; status finds it.
    let again = cli(&consumer, &connect).await?;
    assert_eq!(again.code, 0, "{again:#?}");
    assert_eq!(again.json()?["endpoint_id"], endpoint_id.as_str());
    let mut status = vec!["status"];
    status.extend(target);
    let run = cli(&consumer, &status).await?;
    assert_eq!(run.code, 0, "{run:#?}");
    let report = run.json()?;
    assert_eq!(report["connected"], true, "{report:#}");
    assert_eq!(report["endpoint_id"], endpoint_id.as_str());

    let mut disconnect = vec!["disconnect"];
    disconnect.extend(target);
    let run = cli(&consumer, &disconnect).await?;
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(live_endpoints(&consumer, &vpc_id).await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_the_vendor_does_not_support_is_explained() -> Result<()> {
    let (consumer, vpc_id) = remote_customer().await?;
    // The vendor allows the account, but supports eu-west-1 only.
    let provider = vendor_supporting(&consumer, &["eu-west-1"]).await?;
    let service_id = provider.service_id.as_str();

    let run = cli(
        &consumer,
        &[
            "connect",
            "--service-name",
            &provider.service_name,
            "--vpc",
            &vpc_id,
            "--service-region",
            HOME,
        ],
    )
    .await?;
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr.contains(&format!(
            "Ask the vendor to add {REMOTE} to the service's supported Regions (aws ec2 \
             modify-vpc-endpoint-service-configuration --region {HOME} --service-id \
             {service_id} --add-supported-regions {REMOTE})"
        )),
        "{}",
        run.stderr
    );

    // Without --service-region: told that the service is in another Region.
    let run = cli(
        &consumer,
        &[
            "connect",
            "--service-name",
            &provider.service_name,
            "--vpc",
            &vpc_id,
        ],
    )
    .await?;
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr.contains(&format!("add --service-region {HOME}")),
        "{}",
        run.stderr
    );

    // A Region that is not the service name's is bad input (exit 2).
    let run = cli(
        &consumer,
        &[
            "connect",
            "--service-name",
            &provider.service_name,
            "--vpc",
            &vpc_id,
            "--service-region",
            "eu-west-1",
        ],
    )
    .await?;
    assert_eq!(run.code, 2, "{run:#?}");

    // Nothing was created, and the vendor saw nothing.
    assert!(live_endpoints(&consumer, &vpc_id).await?.is_empty());
    assert!(provider.connections().await?.is_empty());
    Ok(())
}
