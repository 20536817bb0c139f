//! `consumer-cli` end to end: the real binary, run as a fresh consumer
//! account against a provider stack in another account of the local
//! emulator. The test plays the vendor (accepting or rejecting with the
//! provider's own credentials); the CLI only ever has the consumer's.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType, Vpc, VpcRegion,
};
use privatelink_core::state::EndpointState;
use privatelink_tests::bins::{command, Run};
use privatelink_tests::fixtures::{self, vpc_with_subnets, Provider};
use privatelink_tests::tls_server::{serve, Behaviour, TestCa, TlsServer};
use privatelink_tests::{Account, Emulator, Fault};
use serde_json::Value;

const NAME: &str = "api.vendor.internal";
const SERVICE_TAG: &str = "privatelink-kit:consumer-service";

/// Runs `consumer-cli ARGS --output json` as `account`.
async fn cli(account: &Account, args: &[&str]) -> Result<Run> {
    let mut command = command("consumer-cli", Some(account))?;
    command.args(args).args(["--output", "json"]);
    Run::capture_async(command).await
}

/// The vendor's side, played by the test with the provider's credentials:
/// decides every pending connection of the service as it appears.
fn vendor(provider: &Provider, accept: bool) -> tokio::task::JoinHandle<()> {
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
                    let ec2 = provider.account.ec2();
                    // Errors are retried on the next round.
                    if accept {
                        let _ = ec2
                            .accept_vpc_endpoint_connections()
                            .service_id(&provider.service_id)
                            .set_vpc_endpoint_ids(Some(pending))
                            .send()
                            .await;
                    } else {
                        let _ = ec2
                            .reject_vpc_endpoint_connections()
                            .service_id(&provider.service_id)
                            .set_vpc_endpoint_ids(Some(pending))
                            .send()
                            .await;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

/// A provider and a consumer with a VPC in the provider's first two zones.
struct Setup {
    provider: Provider,
    consumer: Account,
    vpc_id: String,
}

async fn setup() -> Result<Setup> {
    let emulator = Emulator::shared();
    let (provider_account, consumer) =
        tokio::try_join!(Account::fresh(emulator), Account::fresh(emulator))?;
    let provider = Provider::create(&provider_account, &[&consumer.id]).await?;
    let zones = [provider.zones[0].id.as_str(), provider.zones[1].id.as_str()];
    let (vpc_id, _) = vpc_with_subnets(&consumer, "consumer", &zones).await?;
    Ok(Setup {
        provider,
        consumer,
        vpc_id,
    })
}

/// A vendor HTTPS service on 127.0.0.1 with a certificate for NAME.
struct Service {
    server: TlsServer,
    ca_file: PathBuf,
    _dir: TempDir,
}

async fn https_service() -> Service {
    let ca = TestCa::new("vendor CA");
    let dir = TempDir::new();
    let ca_file = ca.write_pem(&dir.0);
    let server = serve(
        &ca,
        &[NAME],
        Behaviour::Respond {
            status: 200,
            body: "API OK".into(),
        },
    )
    .await;
    Service {
        server,
        ca_file,
        _dir: dir,
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "consumer-test-{}",
            privatelink_tests::accounts::fresh_account_id()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Setup {
    fn target(&self) -> Vec<String> {
        vec![
            "--service-name".into(),
            self.provider.service_name.clone(),
            "--vpc".into(),
            self.vpc_id.clone(),
        ]
    }

    /// `connect` with the HTTPS check pointed at `service`.
    fn connect_args(&self, service: &Service) -> Vec<String> {
        let mut args = vec!["connect".to_string()];
        args.extend(self.target());
        args.extend(
            [
                "--dns-name",
                NAME,
                "--port",
                &service.server.addr.port().to_string(),
                "--resolve",
                &format!("{NAME}:127.0.0.1"),
                "--ca-file",
                service.ca_file.to_str().expect("utf-8 path"),
                "--expect-body",
                "API OK",
                "--wait",
                "60s",
            ]
            .map(String::from),
        );
        args
    }

    async fn run(&self, args: &[String]) -> Result<Run> {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&self.consumer, &args).await
    }

    async fn command(&self, command: &str) -> Result<Run> {
        let mut args = vec![command.to_string()];
        args.extend(self.target());
        self.run(&args).await
    }

    /// What exists in the consumer account that carries our tags or name.
    async fn inventory(&self) -> Result<Inventory> {
        let ec2 = self.consumer.ec2();
        let ours = Filter::builder()
            .name(format!("tag:{SERVICE_TAG}"))
            .values(&self.provider.service_name)
            .build();
        let groups = ec2
            .describe_security_groups()
            .filters(ours.clone())
            .send()
            .await?
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect();
        let endpoints = ec2
            .describe_vpc_endpoints()
            .filters(
                Filter::builder()
                    .name("vpc-id")
                    .values(&self.vpc_id)
                    .build(),
            )
            .send()
            .await?
            .vpc_endpoints()
            .iter()
            // Going or gone: `deleting` ends in `deleted`, which EC2 lists a while.
            .filter(|e| {
                !matches!(
                    e.state().map(EndpointState::from_sdk),
                    Some(EndpointState::Deleting | EndpointState::Deleted)
                )
            })
            .filter_map(|e| e.vpc_endpoint_id().map(str::to_string))
            .collect();
        let zones = self
            .consumer
            .route53()
            .list_hosted_zones_by_name()
            .dns_name(NAME)
            .send()
            .await?
            .hosted_zones()
            .iter()
            .filter(|z| z.name().trim_end_matches('.') == NAME)
            .map(|z| z.id().rsplit('/').next().unwrap_or_default().to_string())
            .collect();
        Ok(Inventory {
            groups,
            endpoints,
            zones,
        })
    }

    /// The A records at NAME in a zone: (alias DNS name or value).
    async fn a_records(&self, zone_id: &str) -> Result<Vec<String>> {
        let out = self
            .consumer
            .route53()
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .send()
            .await?;
        Ok(out
            .resource_record_sets()
            .iter()
            .filter(|r| *r.r#type() == RrType::A)
            .map(|r| match r.alias_target() {
                Some(alias) => alias.dns_name().trim_end_matches('.').to_string(),
                None => r
                    .resource_records()
                    .iter()
                    .map(|v| v.value().to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            })
            .collect())
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Inventory {
    groups: Vec<String>,
    endpoints: Vec<String>,
    zones: Vec<String>,
}

impl Inventory {
    fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.endpoints.is_empty() && self.zones.is_empty()
    }
}

fn changes(report: &Value) -> Vec<String> {
    report["changes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_verify_status_rerun_and_disconnect() -> Result<()> {
    let setup = setup().await?;
    let service = https_service().await;
    let _vendor = vendor(&setup.provider, true);

    let first = setup.run(&setup.connect_args(&service)).await?;
    assert_eq!(first.code, 0, "{first:#?}");
    let report = first.json()?;
    let endpoint_id = report["endpoint_id"]
        .as_str()
        .context("endpoint id")?
        .to_string();
    assert_eq!(report["state"], "available");
    assert_eq!(report["name_to_use"], NAME);
    assert_eq!(report["dns"]["mode"], "hosted-zone");
    assert_eq!(report["verification"]["passed"], true, "{report:#}");
    let made = changes(&report);
    assert!(
        made.iter().any(|c| c.starts_with("created security group")),
        "{made:?}"
    );
    assert!(
        made.contains(&format!("created endpoint {endpoint_id}")),
        "{made:?}"
    );
    assert!(made
        .iter()
        .any(|c| c.starts_with("created private hosted zone api.vendor.internal")));
    // One subnet per provider zone the VPC has, each with its ENI address.
    let addresses = report["addresses"].as_array().context("addresses")?;
    assert_eq!(addresses.len(), 2, "{report:#}");
    let mut zones_seen: Vec<&str> = addresses
        .iter()
        .filter_map(|a| a["zone"].as_str())
        .collect();
    zones_seen.dedup();
    assert_eq!(zones_seen.len(), 2, "one address per AZ: {report:#}");
    assert!(addresses.iter().all(|a| a["ip"]
        .as_str()
        .is_some_and(|ip| ip.parse::<std::net::Ipv4Addr>().is_ok())));
    // Waiting was shown as plain lines (stderr is not a terminal).
    assert!(
        first
            .stderr
            .contains(&format!("endpoint {endpoint_id}: pendingAcceptance")),
        "{}",
        first.stderr
    );
    assert!(first
        .stderr
        .contains(&format!("endpoint {endpoint_id}: available")));

    let inventory = setup.inventory().await?;
    assert_eq!(inventory.groups.len(), 1);
    assert_eq!(inventory.endpoints, [endpoint_id.as_str()]);
    assert_eq!(inventory.zones.len(), 1);
    let regional = report["verification"]["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == "record"))
        .and_then(|s| s["detail"].as_str())
        .context("record step")?
        .to_string();
    let records = setup.a_records(&inventory.zones[0]).await?;
    assert_eq!(records.len(), 1);
    assert!(records[0].starts_with(&endpoint_id), "{records:?}");
    assert!(regional.contains(&records[0]), "{regional}");

    // Re-running changes nothing and finds the same resources.
    let again = setup.run(&setup.connect_args(&service)).await?;
    assert_eq!(again.code, 0, "{again:#?}");
    let again = again.json()?;
    assert_eq!(changes(&again), Vec::<String>::new());
    assert_eq!(again["endpoint_id"], endpoint_id.as_str());
    assert_eq!(again["security_group_id"], report["security_group_id"]);
    assert_eq!(setup.inventory().await?, inventory);

    // verify on its own (the check flags again; name and port come from
    // what connect recorded), then status shows the last verification.
    let mut verify = vec!["verify".to_string()];
    verify.extend(setup.target());
    verify.extend(
        [
            "--resolve",
            &format!("{NAME}:127.0.0.1"),
            "--ca-file",
            service.ca_file.to_str().expect("utf-8"),
        ]
        .map(String::from),
    );
    let verified = setup.run(&verify).await?;
    assert_eq!(verified.code, 0, "{verified:#?}");
    let verified = verified.json()?;
    assert_eq!(verified["name"], NAME);
    assert_eq!(verified["port"], service.server.addr.port());
    let status = setup.command("status").await?;
    assert_eq!(status.code, 0, "{status:#?}");
    let status = status.json()?;
    assert_eq!(status["connected"], true);
    assert_eq!(status["endpoint_id"], endpoint_id.as_str());
    assert_eq!(status["dns"]["name"], NAME);
    let last = status["last_verification"]
        .as_str()
        .context("last verification")?;
    assert!(
        last.starts_with(verified["checked_at"].as_str().unwrap_or("?")),
        "{last}"
    );
    assert!(last.contains("passed"), "{last}");

    // The same result for people.
    let mut human = command("consumer-cli", Some(&setup.consumer))?;
    human.arg("status").args(setup.target());
    let human = Run::capture_async(human).await?;
    let text = &human.stdout;
    assert!(
        text.contains(&format!("  endpoint:       {endpoint_id} (available)")),
        "{text}"
    );
    assert!(
        text.contains(&format!("  last verified:  {last}")),
        "{text}"
    );

    // A broken service is reported by verify with exit 1.
    drop(service.server);
    let broken = setup.run(&verify).await?;
    assert_eq!(broken.code, 1, "{broken:#?}");
    assert!(
        broken.stderr.contains("verification failed at tcp"),
        "{}",
        broken.stderr
    );

    // disconnect leaves nothing, and a second one has nothing to do.
    let gone = setup.command("disconnect").await?;
    assert_eq!(gone.code, 0, "{gone:#?}");
    let removed = gone.json()?["removed"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    assert_eq!(removed, 4, "record, zone, endpoint, group: {}", gone.stdout);
    assert!(
        setup.inventory().await?.is_empty(),
        "{:?}",
        setup.inventory().await?
    );
    let connection = setup.provider.connections().await?;
    assert_eq!(
        connection[0]
            .vpc_endpoint_state()
            .map(EndpointState::from_sdk),
        Some(EndpointState::Deleted)
    );
    let twice = setup.command("disconnect").await?;
    assert_eq!(twice.code, 0, "{twice:#?}");
    assert_eq!(twice.json()?["removed"], serde_json::json!([]));
    let status = setup.command("status").await?;
    assert_eq!(status.json()?["connected"], false);
    Ok(())
}

/// The vendor gives its service the private DNS name `name` and proves the
/// domain as AWS asks: the TXT record in a public hosted zone the vendor
/// owns, then StartVpcEndpointServicePrivateDnsVerification (verified).
async fn verified_private_dns_name(provider: &Provider, name: &str) -> Result<()> {
    let ec2 = provider.account.ec2();
    ec2.modify_vpc_endpoint_service_configuration()
        .service_id(&provider.service_id)
        .private_dns_name(name)
        .send()
        .await?;
    let described = ec2
        .describe_vpc_endpoint_service_configurations()
        .service_ids(&provider.service_id)
        .send()
        .await?;
    let dns = described
        .service_configurations()
        .first()
        .and_then(|s| s.private_dns_name_configuration())
        .context("no PrivateDnsNameConfiguration")?;
    let (record, value) = (
        dns.name().context("no verification name")?,
        dns.value().context("no verification value")?,
    );
    let route53 = provider.account.route53();
    let domain = name.split_once('.').map(|(_, d)| d).unwrap_or(name);
    let zone = route53
        .create_hosted_zone()
        .name(domain)
        .caller_reference(format!("vendor-{}", provider.account.id))
        .send()
        .await?;
    let zone_id = zone.hosted_zone().context("zone")?.id().to_string();
    route53
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(ChangeAction::Upsert)
                        .resource_record_set(
                            ResourceRecordSet::builder()
                                .name(format!("{record}.{name}"))
                                .r#type(RrType::Txt)
                                .ttl(1800)
                                .resource_records(
                                    ResourceRecord::builder()
                                        .value(format!("\"{value}\""))
                                        .build()?,
                                )
                                .build()?,
                        )
                        .build()?,
                )
                .build()?,
        )
        .send()
        .await?;
    ec2.start_vpc_endpoint_service_private_dns_verification()
        .service_id(&provider.service_id)
        .send()
        .await?;
    let state = ec2
        .describe_vpc_endpoint_services()
        .service_names(&provider.service_name)
        .send()
        .await?
        .service_details()
        .first()
        .and_then(|d| d.private_dns_name_verification_state())
        .map(|s| s.as_str().to_string());
    if state.as_deref() != Some("verified") {
        bail!("private DNS name {name} is {state:?}, not verified");
    }
    Ok(())
}

/// The vendor has a verified private DNS name: `connect` (without
/// `--dns-name`) waits for acceptance, then turns private DNS on for the
/// endpoint (AWS refuses it before) and makes no hosted zone; the name
/// works, a re-run changes nothing, `disconnect` removes endpoint and group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vendor_private_dns_name_is_turned_on_after_acceptance() -> Result<()> {
    let setup = setup().await?;
    verified_private_dns_name(&setup.provider, NAME).await?;
    let service = https_service().await;
    let _vendor = vendor(&setup.provider, true);

    let mut args = vec!["connect".to_string()];
    args.extend(setup.target());
    args.extend(
        [
            "--port",
            &service.server.addr.port().to_string(),
            "--resolve",
            &format!("{NAME}:127.0.0.1"),
            "--ca-file",
            service.ca_file.to_str().expect("utf-8 path"),
            "--expect-body",
            "API OK",
            "--wait",
            "60s",
        ]
        .map(String::from),
    );
    let first = setup.run(&args).await?;
    assert_eq!(first.code, 0, "{first:#?}");
    let report = first.json()?;
    let endpoint_id = report["endpoint_id"]
        .as_str()
        .context("endpoint id")?
        .to_string();
    assert_eq!(report["state"], "available");
    assert_eq!(report["dns"]["mode"], "private-dns", "{report:#}");
    assert_eq!(report["dns"]["name"], NAME);
    assert_eq!(report["name_to_use"], NAME);
    assert_eq!(report["verification"]["passed"], true, "{report:#}");
    let made = changes(&report);
    assert!(
        made.contains(&format!("turned on private DNS ({NAME}) for {endpoint_id}")),
        "{made:?}"
    );
    assert!(
        !made.iter().any(|c| c.contains("hosted zone")),
        "no private hosted zone for a vendor name: {made:?}"
    );

    // EC2 agrees: private DNS on, the name in DnsEntries; no zone of ours.
    let described = setup
        .consumer
        .ec2()
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(&endpoint_id)
        .send()
        .await?;
    let endpoint = described.vpc_endpoints().first().context("endpoint")?;
    assert_eq!(endpoint.private_dns_enabled(), Some(true));
    assert!(
        endpoint
            .dns_entries()
            .iter()
            .any(|e| e.dns_name() == Some(NAME)),
        "{:?}",
        endpoint.dns_entries()
    );
    let inventory = setup.inventory().await?;
    assert!(inventory.zones.is_empty(), "{inventory:?}");
    assert_eq!(inventory.endpoints, [endpoint_id.as_str()]);

    // Re-running changes nothing.
    let again = setup.run(&args).await?;
    assert_eq!(again.code, 0, "{again:#?}");
    assert_eq!(changes(&again.json()?), Vec::<String>::new());
    let status = setup.command("status").await?;
    assert_eq!(status.json()?["dns"]["mode"], "private-dns", "{status:#?}");

    let gone = setup.command("disconnect").await?;
    assert_eq!(gone.code, 0, "{gone:#?}");
    let removed = gone.json()?["removed"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    assert_eq!(removed, 2, "endpoint, group: {}", gone.stdout);
    assert!(
        setup.inventory().await?.is_empty(),
        "{:?}",
        setup.inventory().await?
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_connection_says_so_and_cleans_up() -> Result<()> {
    let setup = setup().await?;
    let rejecting = vendor(&setup.provider, false);
    let mut args = vec!["connect".to_string()];
    args.extend(setup.target());
    args.extend(["--dns-name", NAME, "--wait", "60s", "--no-verify"].map(String::from));
    let run = setup.run(&args).await?;
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr
            .contains("the vendor rejected the connection of endpoint vpce-"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!(
            "consumer-cli disconnect --service-name {} --vpc {}",
            setup.provider.service_name, setup.vpc_id
        )),
        "{}",
        run.stderr
    );
    // No DNS was set up for a rejected endpoint.
    let inventory = setup.inventory().await?;
    assert!(inventory.zones.is_empty());

    // The customer deletes the endpoint by hand (the group stays), the
    // vendor changes its mind: connecting again makes a new endpoint rather
    // than getting the deleted one back for the same client token.
    rejecting.abort();
    setup
        .consumer
        .ec2()
        .delete_vpc_endpoints()
        .vpc_endpoint_ids(&inventory.endpoints[0])
        .send()
        .await?;
    let _accepting = vendor(&setup.provider, true);
    let again = setup.run(&args).await?;
    assert_eq!(again.code, 0, "{again:#?}");
    let again = again.json()?;
    assert_ne!(again["endpoint_id"], inventory.endpoints[0].as_str());
    assert_eq!(again["state"], "available");
    assert!(
        !changes(&again)
            .iter()
            .any(|c| c.starts_with("created security group")),
        "the group is reused"
    );
    let gone = setup.command("disconnect").await?;
    assert_eq!(gone.code, 0, "{gone:#?}");
    assert!(setup.inventory().await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_subnet_in_a_service_zone() -> Result<()> {
    let emulator = Emulator::shared();
    let (provider_account, consumer) =
        tokio::try_join!(Account::fresh(emulator), Account::fresh(emulator))?;
    let zones = fixtures::zones(&provider_account).await?;
    // A provider in the first two zones only; the consumer in the third.
    let service_name = narrow_service(
        &provider_account,
        &consumer.id,
        &[&zones[0].id, &zones[1].id],
    )
    .await?;
    let (vpc_id, _) = vpc_with_subnets(&consumer, "consumer", &[&zones[2].id]).await?;
    let run = cli(
        &consumer,
        &["connect", "--service-name", &service_name, "--vpc", &vpc_id],
    )
    .await?;
    assert_eq!(run.code, 1, "{run:#?}");
    let mut service_zones = [zones[0].id.clone(), zones[1].id.clone()];
    service_zones.sort();
    assert!(
        run.stderr.contains(&format!(
            "the service is in AZ IDs [{}], the VPC has subnets in [{}]",
            service_zones.join(", "),
            zones[2].id
        )),
        "{}",
        run.stderr
    );
    // An account the vendor has not allowed is told what to ask for.
    let outsider = Account::fresh(emulator).await?;
    let (outsider_vpc, _) = vpc_with_subnets(&outsider, "outsider", &[&zones[0].id]).await?;
    let run = cli(
        &outsider,
        &[
            "connect",
            "--service-name",
            &service_name,
            "--vpc",
            &outsider_vpc,
        ],
    )
    .await?;
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr.contains(&format!(
            "is not visible to account {0}: check the name, the region, and ask the vendor to \
             allow the principal arn:aws:iam::{0}:root",
            outsider.id
        )),
        "{}",
        run.stderr
    );

    // Nothing was created.
    let groups = consumer
        .ec2()
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name(format!("tag:{SERVICE_TAG}"))
                .values(&service_name)
                .build(),
        )
        .send()
        .await?;
    assert!(groups.security_groups().is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vpc_without_dns_attributes_is_refused_then_fixed_on_request() -> Result<()> {
    let setup = setup().await?;
    let ec2 = setup.consumer.ec2();
    // A VPC as the console makes it: DNS hostnames off.
    let vpc = ec2.create_vpc().cidr_block("10.1.0.0/16").send().await?;
    let vpc_id = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .context("vpc id")?
        .to_string();
    ec2.create_subnet()
        .vpc_id(&vpc_id)
        .availability_zone_id(&setup.provider.zones[0].id)
        .cidr_block("10.1.0.0/24")
        .send()
        .await?;
    let base = [
        "connect",
        "--service-name",
        &setup.provider.service_name,
        "--vpc",
        &vpc_id,
        "--dns-name",
        NAME,
        "--wait",
        "2s",
    ];
    let refused = cli(&setup.consumer, &base).await?;
    assert_eq!(refused.code, 4, "{refused:#?}");
    assert!(
        refused
            .stderr
            .contains(&format!("VPC {vpc_id} has enableDnsHostnames turned off")),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains(&format!(
        "aws ec2 modify-vpc-attribute --vpc-id {vpc_id} --enable-dns-hostnames '{{\"Value\":true}}'"
    )));
    let none = ec2
        .describe_vpc_endpoints()
        .filters(Filter::builder().name("vpc-id").values(&vpc_id).build())
        .send()
        .await?;
    assert!(
        none.vpc_endpoints().is_empty(),
        "nothing is created before preflight passes"
    );

    // With --fix-vpc-dns it goes ahead; nobody accepts, so the wait times out
    // with the way forward...
    let mut fix = base.to_vec();
    fix.push("--fix-vpc-dns");
    let waited = cli(&setup.consumer, &fix).await?;
    assert_eq!(waited.code, 1, "{waited:#?}");
    assert!(
        waited.stderr.contains("waiting for endpoint vpce-"),
        "{}",
        waited.stderr
    );
    assert!(
        waited.stderr.contains("(last seen: pendingAcceptance)"),
        "{}",
        waited.stderr
    );
    assert!(
        waited.stderr.contains("re-run the same command"),
        "{}",
        waited.stderr
    );
    let hostnames = ec2
        .describe_vpc_attribute()
        .vpc_id(&vpc_id)
        .attribute(aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames)
        .send()
        .await?;
    assert_eq!(
        hostnames.enable_dns_hostnames().and_then(|v| v.value()),
        Some(true)
    );

    // ...and after the vendor accepts, the same command finishes the job
    // with the endpoint it made before.
    let _vendor = vendor(&setup.provider, true);
    let mut finish = fix.clone();
    let wait_at = finish.len() - 2;
    finish[wait_at] = "60s";
    finish.push("--no-verify");
    let done = cli(&setup.consumer, &finish).await?;
    assert_eq!(done.code, 0, "{done:#?}");
    let made = changes(&done.json()?);
    assert!(
        !made.iter().any(|c| c.starts_with("created endpoint")),
        "{made:?}"
    );
    assert!(
        !made.iter().any(|c| c.starts_with("created security group")),
        "{made:?}"
    );
    assert!(
        made.iter()
            .any(|c| c.starts_with("created private hosted zone")),
        "{made:?}"
    );
    let gone = cli(
        &setup.consumer,
        &[
            "disconnect",
            "--service-name",
            &setup.provider.service_name,
            "--vpc",
            &vpc_id,
        ],
    )
    .await?;
    assert_eq!(gone.code, 0, "{gone:#?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zone_that_is_not_ours_is_never_touched() -> Result<()> {
    let setup = setup().await?;
    let r53 = setup.consumer.route53();
    // The customer's own zone for the same name, on the same VPC (made the
    // way `aws route53 create-hosted-zone --vpc ...` makes it).
    let zone = r53
        .create_hosted_zone()
        .name(NAME)
        .caller_reference(format!("someone-else-{}", setup.vpc_id))
        .vpc(
            Vpc::builder()
                .vpc_id(&setup.vpc_id)
                .vpc_region(VpcRegion::UsEast1)
                .build(),
        )
        .send()
        .await?;
    let zone_id = zone
        .hosted_zone()
        .map(|z| z.id().rsplit('/').next().unwrap_or_default().to_string())
        .context("zone id")?;
    r53.change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(ChangeAction::Create)
                        .resource_record_set(
                            ResourceRecordSet::builder()
                                .name(NAME)
                                .r#type(RrType::A)
                                .ttl(60)
                                .resource_records(
                                    ResourceRecord::builder().value("10.9.9.9").build()?,
                                )
                                .build()?,
                        )
                        .build()?,
                )
                .build()?,
        )
        .send()
        .await?;

    let _vendor = vendor(&setup.provider, true);
    let mut args = vec!["connect".to_string()];
    args.extend(setup.target());
    args.extend(["--dns-name", NAME, "--wait", "60s"].map(String::from));
    let run = setup.run(&args).await?;
    assert_eq!(run.code, 4, "{run:#?}");
    assert!(
        run.stderr.contains(&format!(
            "a private hosted zone {NAME} ({zone_id}) associated with VPC {} already exists and was not created by consumer-cli; it is left untouched",
            setup.vpc_id
        )),
        "{}",
        run.stderr
    );
    assert_eq!(setup.a_records(&zone_id).await?, ["10.9.9.9"]);

    // disconnect removes our endpoint and group, and not their zone.
    let gone = setup.command("disconnect").await?;
    assert_eq!(gone.code, 0, "{gone:#?}");
    let left = setup.inventory().await?;
    assert_eq!(left.zones, [zone_id.as_str()]);
    assert!(
        left.endpoints.is_empty() && left.groups.is_empty(),
        "{left:?}"
    );
    assert_eq!(setup.a_records(&zone_id).await?, ["10.9.9.9"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_step_converges_on_rerun() -> Result<()> {
    let emulator = Emulator::shared();
    let setup = setup().await?;
    let service = https_service().await;
    let _vendor = vendor(&setup.provider, true);
    let args = setup.connect_args(&service);
    // Every mutating call, in the order connect makes them. The harness
    // gives the binary 2 attempts per call, so 2 faults make the call fail.
    let steps = [
        ("CreateSecurityGroup", Fault::ServerError),
        ("AuthorizeSecurityGroupIngress", Fault::Throttle),
        ("CreateVpcEndpoint", Fault::ServerError),
        ("CreateHostedZone", Fault::Throttle),
        ("ChangeResourceRecordSets", Fault::ServerError),
        ("CreateTags", Fault::ServerError),
    ];
    for (action, fault) in steps {
        emulator
            .inject_fault(action, 2, fault, &setup.consumer.id)
            .await?;
        let run = setup.run(&args).await?;
        assert_eq!(run.code, 1, "{action}: {run:#?}");
        assert!(
            run.stderr.contains(&format!("{action} failed")),
            "{action}: {}",
            run.stderr
        );
        let pending = emulator.pending_faults().await?;
        let left = pending["faults"]
            .as_array()
            .map(|f| f.iter().any(|f| f["account"] == setup.consumer.id.as_str()))
            .unwrap_or(false);
        assert!(
            !left,
            "{action}: the step was reached and its fault used up: {pending}"
        );
        // Never more than one of anything, whatever step failed.
        let inventory = setup.inventory().await?;
        assert!(
            inventory.groups.len() <= 1
                && inventory.endpoints.len() <= 1
                && inventory.zones.len() <= 1,
            "{action}: {inventory:?}"
        );
    }
    let done = setup.run(&args).await?;
    assert_eq!(done.code, 0, "{done:#?}");
    let report = done.json()?;
    assert_eq!(
        changes(&report),
        Vec::<String>::new(),
        "the crashed runs had done it all"
    );
    let inventory = setup.inventory().await?;
    assert_eq!(
        (
            inventory.groups.len(),
            inventory.endpoints.len(),
            inventory.zones.len()
        ),
        (1, 1, 1)
    );
    assert_eq!(setup.a_records(&inventory.zones[0]).await?.len(), 1);
    let status = setup.command("status").await?.json()?;
    assert!(
        status["last_verification"]
            .as_str()
            .is_some_and(|v| v.contains("passed")),
        "{status:#}"
    );
    let gone = setup.command("disconnect").await?;
    assert_eq!(gone.code, 0, "{gone:#?}");
    assert!(setup.inventory().await?.is_empty());
    Ok(())
}

/// An endpoint service whose NLB is only in `zone_ids`.
async fn narrow_service(account: &Account, consumer: &str, zone_ids: &[&str]) -> Result<String> {
    use aws_sdk_elasticloadbalancingv2::types::{LoadBalancerSchemeEnum, LoadBalancerTypeEnum};
    let (_, subnets) = vpc_with_subnets(account, "narrow-provider", zone_ids).await?;
    let lb = account
        .elbv2()
        .create_load_balancer()
        .name("narrow")
        .r#type(LoadBalancerTypeEnum::Network)
        .scheme(LoadBalancerSchemeEnum::Internal)
        .set_subnets(Some(subnets))
        .send()
        .await?;
    let arn = lb
        .load_balancers()
        .first()
        .and_then(|l| l.load_balancer_arn())
        .context("no NLB")?;
    let ec2 = account.ec2();
    let service = ec2
        .create_vpc_endpoint_service_configuration()
        .acceptance_required(true)
        .network_load_balancer_arns(arn)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::VpcEndpointService)
                .tags(
                    Tag::builder()
                        .key("privatelink-tests")
                        .value("narrow")
                        .build(),
                )
                .build(),
        )
        .send()
        .await?;
    let config = service.service_configuration().context("no service")?;
    ec2.modify_vpc_endpoint_service_permissions()
        .service_id(config.service_id().context("no id")?)
        .add_allowed_principals(format!("arn:aws:iam::{consumer}:root"))
        .send()
        .await?;
    match config.service_name() {
        Some(name) => Ok(name.to_string()),
        None => bail!("no service name"),
    }
}

/// Slow transitions, as on AWS where `pending` and `deleting` take a while:
/// `connect` must wait through `pending` (not report success early) and give
/// up with the timeout message when the wait is too short; `disconnect` must
/// wait through `deleting` before it deletes the security group. The
/// timings are server-wide, so this test has an emulator of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_cover_slow_pending_and_deleting_and_time_out_clearly() -> Result<()> {
    let emulator = Emulator::start()?;
    emulator
        .configure(serde_json::json!({"pending_seconds": 4.0, "deleting_seconds": 3.0}))
        .await?;
    let (provider_account, consumer) =
        tokio::try_join!(Account::fresh(&emulator), Account::fresh(&emulator))?;
    let provider = Provider::create(&provider_account, &[&consumer.id]).await?;
    let zones = [provider.zones[0].id.as_str(), provider.zones[1].id.as_str()];
    let (vpc_id, _) = vpc_with_subnets(&consumer, "consumer", &zones).await?;
    let setup = Setup {
        provider,
        consumer,
        vpc_id,
    };
    let mut args = vec!["connect".to_string()];
    args.extend(setup.target());
    args.extend(["--dns-name", NAME, "--no-verify"].map(String::from));

    // Nobody accepts: a short wait ends with the timeout message, exit 1,
    // and what was made stays for the re-run.
    let mut short = args.clone();
    short.extend(["--wait", "2s"].map(String::from));
    let timed_out = setup.run(&short).await?;
    assert_eq!(timed_out.code, 1, "{timed_out:#?}");
    assert!(
        timed_out.stderr.contains("timed out after")
            && timed_out.stderr.contains("to become available"),
        "{}",
        timed_out.stderr
    );
    assert_eq!(setup.inventory().await?.endpoints.len(), 1);

    // Accepted, then `pending` for 4 s: the re-run returns only once the
    // endpoint is available.
    let _accepting = vendor(&setup.provider, true);
    let mut long = args.clone();
    long.extend(["--wait", "60s"].map(String::from));
    let connected = setup.run(&long).await?;
    assert_eq!(connected.code, 0, "{connected:#?}");
    let connected = connected.json()?;
    assert_eq!(connected["state"], "available");
    let endpoint = connected["endpoint_id"].as_str().context("endpoint id")?;
    assert_eq!(
        fixtures::endpoint_state(&setup.consumer, endpoint).await?,
        EndpointState::Available
    );

    // `deleting` for 3 s: disconnect returns with the endpoint past it and
    // the group gone.
    let gone = setup.command("disconnect").await?;
    assert_eq!(gone.code, 0, "{gone:#?}");
    // Deleted endpoints stay listed as `deleted` for a while (60 s here).
    let state = fixtures::endpoint_state(&setup.consumer, endpoint).await?;
    assert_eq!(
        state,
        EndpointState::Deleted,
        "disconnect returned while the endpoint was {state:?}"
    );
    assert!(setup.inventory().await?.is_empty());
    Ok(())
}
