//! Building blocks of a PrivateLink set-up made with plain SDK calls: a
//! provider's NLB, endpoint service, notification topic (with an SQS queue
//! subscribed, to observe deliveries), tenant registry table, and a
//! consumer's VPC. The lifecycle test and the lifecycle demo share them;
//! the product's own provisioning (`endpoint-service up`) is tested
//! separately through its binary.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_ec2::types::{
    ConnectionNotification, Filter, ResourceType, Tag, TagSpecification, VpcEndpointConnection,
};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, ProtocolEnum,
    TargetDescription, TargetTypeEnum,
};
use privatelink_core::approval::{AccountId, Tenant, TenantStatus};
use privatelink_core::naming::StackName;
use privatelink_core::state::EndpointState;
use privatelink_registry::Registry;
use serde_json::{json, Value};

use crate::Account;

/// Tag that marks everything these fixtures create.
const FIXTURE_TAG: &str = "privatelink-tests";

/// The stack name the fixtures' resources are named after (its tenant
/// registry is `privatelink-tests-tenants`, as `endpoint-service up` would
/// name it).
pub const FIXTURE_STACK: &str = "privatelink-tests";

/// Who the fixtures' registry writes are recorded as (`updated_by`).
const WRITER: &str = "privatelink-tests";

/// One Availability Zone as an account sees it.
#[derive(Debug, Clone)]
pub struct Zone {
    pub name: String,
    pub id: String,
}

/// A provider's endpoint service with everything behind and around it.
#[derive(Debug, Clone)]
pub struct Provider {
    pub account: Account,
    pub vpc_id: String,
    pub zones: Vec<Zone>,
    pub load_balancer_arn: String,
    pub service_id: String,
    pub service_name: String,
    pub topic_arn: String,
    pub queue_url: String,
    pub notification_id: String,
    /// The tenant registry's DynamoDB table (empty when created; see
    /// [`Provider::add_tenants`]).
    pub table: String,
}

/// The Availability Zones of the account's region.
pub async fn zones(account: &Account) -> Result<Vec<Zone>> {
    let out = account.ec2().describe_availability_zones().send().await?;
    Ok(out
        .availability_zones()
        .iter()
        .map(|z| Zone {
            name: z.zone_name().unwrap_or_default().to_string(),
            id: z.zone_id().unwrap_or_default().to_string(),
        })
        .collect())
}

fn tags(resource: ResourceType, name: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource)
        .tags(Tag::builder().key(FIXTURE_TAG).value(name).build())
        .build()
}

/// A VPC with DNS support and hostnames on, and one /24 subnet in each of
/// the given zones (by AZ ID). Returns the VPC id and the subnet ids.
pub async fn vpc_with_subnets(
    account: &Account,
    name: &str,
    zone_ids: &[&str],
) -> Result<(String, Vec<String>)> {
    let ec2 = account.ec2();
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .tag_specifications(tags(ResourceType::Vpc, name))
        .send()
        .await
        .context("CreateVpc")?;
    let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).context("no VPC id")?;
    for attribute in ["support", "hostnames"] {
        let value = aws_sdk_ec2::types::AttributeBooleanValue::builder()
            .value(true)
            .build();
        let call = ec2.modify_vpc_attribute().vpc_id(vpc_id);
        let call = if attribute == "support" {
            call.enable_dns_support(value)
        } else {
            call.enable_dns_hostnames(value)
        };
        call.send().await.context("ModifyVpcAttribute")?;
    }
    let mut subnet_ids = Vec::new();
    for (i, zone_id) in zone_ids.iter().enumerate() {
        let subnet = ec2
            .create_subnet()
            .vpc_id(vpc_id)
            .availability_zone_id(*zone_id)
            .cidr_block(format!("10.0.{i}.0/24"))
            .tag_specifications(tags(ResourceType::Subnet, name))
            .send()
            .await
            .with_context(|| format!("CreateSubnet in {zone_id}"))?;
        subnet_ids.push(
            subnet
                .subnet()
                .and_then(|s| s.subnet_id())
                .context("no subnet id")?
                .to_string(),
        );
    }
    Ok((vpc_id.to_string(), subnet_ids))
}

/// The topic policy AWS documents for endpoint-service notifications: only
/// `vpce.amazonaws.com` may publish, and only for this service of this
/// account (the confused-deputy conditions).
pub fn topic_policy(topic_arn: &str, region: &str, account: &str, service_id: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "vpce-notifications",
            "Effect": "Allow",
            "Principal": {"Service": "vpce.amazonaws.com"},
            "Action": "SNS:Publish",
            "Resource": topic_arn,
            "Condition": {
                "ArnLike": {"aws:SourceArn": format!("arn:aws:ec2:{region}:{account}:vpc-endpoint-service/{service_id}")},
                "StringEquals": {"aws:SourceAccount": account}
            }
        }]
    })
}

/// Creates a tenant registry table as `endpoint-service up` does (on
/// demand, keyed by `account_id`), tagged at creation. moto creates it
/// `ACTIVE`; the wait is for real DynamoDB's sake.
pub async fn create_tenants_table(account: &Account, table: &str) -> Result<()> {
    let dynamodb = account.dynamodb();
    dynamodb
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(privatelink_registry::item::KEY)
                .key_type(KeyType::Hash)
                .build()
                .context("a key schema element")?,
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(privatelink_registry::item::KEY)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .context("an attribute definition")?,
        )
        .tags(
            aws_sdk_dynamodb::types::Tag::builder()
                .key(FIXTURE_TAG)
                .value(table)
                .build()
                .context("a tag")?,
        )
        .send()
        .await
        .with_context(|| format!("CreateTable {table}"))?;
    dynamodb
        .wait_until_table_exists()
        .table_name(table)
        .wait(Duration::from_secs(60))
        .await
        .with_context(|| format!("waiting for table {table} to exist"))?;
    Ok(())
}

impl Provider {
    /// A provider stack in `account`, in every AZ of the region, whose
    /// service requires acceptance and allows the `allowed` accounts, with
    /// an empty tenant registry (the principals decide who may connect, the
    /// registry who is accepted).
    pub async fn create(account: &Account, allowed: &[&str]) -> Result<Provider> {
        let zones = zones(account).await?;
        let zone_ids: Vec<&str> = zones.iter().map(|z| z.id.as_str()).collect();
        let (vpc_id, subnet_ids) = vpc_with_subnets(account, "provider", &zone_ids).await?;

        let elb = account.elbv2();
        let lb = elb
            .create_load_balancer()
            .name("privatelink-tests")
            .r#type(LoadBalancerTypeEnum::Network)
            .scheme(LoadBalancerSchemeEnum::Internal)
            .set_subnets(Some(subnet_ids.clone()))
            .send()
            .await
            .context("CreateLoadBalancer")?;
        let load_balancer_arn = lb
            .load_balancers()
            .first()
            .and_then(|l| l.load_balancer_arn())
            .context("no load balancer ARN")?
            .to_string();
        let tg = elb
            .create_target_group()
            .name("privatelink-tests")
            .protocol(ProtocolEnum::Tcp)
            .port(443)
            .vpc_id(&vpc_id)
            .target_type(TargetTypeEnum::Ip)
            .send()
            .await
            .context("CreateTargetGroup")?;
        let target_group_arn = tg
            .target_groups()
            .first()
            .and_then(|t| t.target_group_arn())
            .context("no target group ARN")?
            .to_string();
        elb.register_targets()
            .target_group_arn(&target_group_arn)
            .targets(
                TargetDescription::builder()
                    .id("10.0.0.10")
                    .port(443)
                    .build(),
            )
            .send()
            .await
            .context("RegisterTargets")?;
        elb.create_listener()
            .load_balancer_arn(&load_balancer_arn)
            .protocol(ProtocolEnum::Tcp)
            .port(443)
            .default_actions(
                Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .target_group_arn(&target_group_arn)
                    .build(),
            )
            .send()
            .await
            .context("CreateListener")?;

        let ec2 = account.ec2();
        let service = ec2
            .create_vpc_endpoint_service_configuration()
            .acceptance_required(true)
            .network_load_balancer_arns(&load_balancer_arn)
            .tag_specifications(tags(ResourceType::VpcEndpointService, "provider"))
            .send()
            .await
            .context("CreateVpcEndpointServiceConfiguration")?;
        let config = service
            .service_configuration()
            .context("no service configuration")?;
        let service_id = config.service_id().context("no service id")?.to_string();
        let service_name = config
            .service_name()
            .context("no service name")?
            .to_string();
        if !allowed.is_empty() {
            ec2.modify_vpc_endpoint_service_permissions()
                .service_id(&service_id)
                .set_add_allowed_principals(Some(
                    allowed
                        .iter()
                        .map(|a| format!("arn:aws:iam::{a}:root"))
                        .collect(),
                ))
                .send()
                .await
                .context("ModifyVpcEndpointServicePermissions")?;
        }

        let sns = account.sns();
        let topic_arn = sns
            .create_topic()
            .name("privatelink-tests")
            .send()
            .await
            .context("CreateTopic")?
            .topic_arn()
            .context("no topic ARN")?
            .to_string();
        let policy = topic_policy(
            &topic_arn,
            crate::accounts::REGION,
            &account.id,
            &service_id,
        );
        sns.set_topic_attributes()
            .topic_arn(&topic_arn)
            .attribute_name("Policy")
            .attribute_value(policy.to_string())
            .send()
            .await
            .context("SetTopicAttributes Policy")?;

        let sqs = account.sqs();
        let queue_url = sqs
            .create_queue()
            .queue_name("privatelink-tests")
            .send()
            .await
            .context("CreateQueue")?
            .queue_url()
            .context("no queue URL")?
            .to_string();
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .context("GetQueueAttributes")?
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .context("no queue ARN")?
            .to_string();
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await
            .context("Subscribe")?;

        let notification = ec2
            .create_vpc_endpoint_connection_notification()
            .service_id(&service_id)
            .connection_notification_arn(&topic_arn)
            .set_connection_events(Some(
                ["Connect", "Accept", "Reject", "Delete"]
                    .map(String::from)
                    .to_vec(),
            ))
            .send()
            .await
            .context("CreateVpcEndpointConnectionNotification")?;
        let notification_id = notification
            .connection_notification()
            .and_then(ConnectionNotification::connection_notification_id)
            .context("no notification id")?
            .to_string();

        let table = StackName::parse(FIXTURE_STACK)?.tenants_table();
        create_tenants_table(account, &table).await?;

        Ok(Provider {
            account: account.clone(),
            vpc_id,
            zones,
            load_balancer_arn,
            service_id,
            service_name,
            topic_arn,
            queue_url,
            notification_id,
            table,
        })
    }

    /// A provider in a fresh account whose service allows one consumer (in
    /// a fresh account too) who is an active tenant: the set-up most
    /// approver tests start from.
    pub async fn with_tenant(emulator: &crate::Emulator) -> Result<(Provider, Account)> {
        let (provider_account, consumer) =
            tokio::try_join!(Account::fresh(emulator), Account::fresh(emulator))?;
        let provider = Provider::create(&provider_account, &[&consumer.id]).await?;
        provider.add_tenants(&[&consumer.id]).await?;
        Ok((provider, consumer))
    }

    /// The tenant registry, read and written as the provider.
    pub fn registry(&self) -> Registry {
        Registry::new(self.account.dynamodb(), self.table.clone())
    }

    /// Adds each account as an active tenant (no expiry, no quota).
    pub async fn add_tenants(&self, accounts: &[&str]) -> Result<()> {
        for account in accounts {
            let id = AccountId::parse(account)
                .map_err(|e| anyhow::anyhow!("{account} is not an account id: {e}"))?;
            self.put_tenant(&Tenant::active(id, format!("tenant {account}")))
                .await?;
        }
        Ok(())
    }

    /// Adds `tenant` as given (status, expiry, quota); returns what was
    /// stored.
    pub async fn put_tenant(&self, tenant: &Tenant) -> Result<Tenant> {
        self.registry()
            .create(tenant, WRITER)
            .await
            .with_context(|| format!("adding tenant {}", tenant.account_id))
    }

    /// Sets `account`'s status, as `endpoint-service tenants suspend |
    /// resume` writes it (a read, then a write conditional on its version).
    pub async fn set_tenant_status(&self, account: &str, status: TenantStatus) -> Result<Tenant> {
        let registry = self.registry();
        let tenant = registry
            .get(account)
            .await
            .with_context(|| format!("reading tenant {account}"))?
            .with_context(|| format!("{account} is not a tenant"))?;
        registry
            .replace(&Tenant { status, ..tenant }, WRITER)
            .await
            .with_context(|| format!("setting tenant {account} {status}"))
    }

    /// Every connection of the service (all pages).
    pub async fn connections(&self) -> Result<Vec<VpcEndpointConnection>> {
        let pages = self
            .account
            .ec2()
            .describe_vpc_endpoint_connections()
            .filters(
                Filter::builder()
                    .name("service-id")
                    .values(&self.service_id)
                    .build(),
            )
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .context("DescribeVpcEndpointConnections")?;
        Ok(pages)
    }

    /// Notifications delivered to the subscribed queue within `wait`, as
    /// (SNS envelope, parsed message body) pairs. Deletes what it reads.
    pub async fn drain_notifications(&self, wait: Duration) -> Result<Vec<(Value, Value)>> {
        let sqs = self.account.sqs();
        let deadline = std::time::Instant::now() + wait;
        let mut out = Vec::new();
        loop {
            let received = sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .context("ReceiveMessage")?;
            for message in received.messages() {
                let envelope: Value = serde_json::from_str(message.body().unwrap_or_default())
                    .context("an SQS message that is not an SNS envelope")?;
                let body = envelope
                    .get("Message")
                    .and_then(Value::as_str)
                    .and_then(|m| serde_json::from_str(m).ok())
                    .unwrap_or(Value::Null);
                out.push((envelope, body));
                if let Some(handle) = message.receipt_handle() {
                    sqs.delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .context("DeleteMessage")?;
                }
            }
            if (!out.is_empty() && received.messages().is_empty())
                || std::time::Instant::now() >= deadline
            {
                return Ok(out);
            }
        }
    }
}

/// The state of one endpoint as its owner sees it.
pub async fn endpoint_state(account: &Account, endpoint_id: &str) -> Result<EndpointState> {
    let out = account
        .ec2()
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(endpoint_id)
        .send()
        .await
        .context("DescribeVpcEndpoints")?;
    match out.vpc_endpoints().first().and_then(|e| e.state()) {
        Some(state) => Ok(EndpointState::from_sdk(state)),
        None => bail!("endpoint {endpoint_id} has no state"),
    }
}

/// A consumer's interface endpoint to `service_name` in these subnets
/// (private DNS off, as consumers create it before acceptance). Returns
/// the endpoint id.
pub async fn create_endpoint(
    consumer: &Account,
    service_name: &str,
    vpc_id: &str,
    subnet_ids: &[String],
) -> Result<String> {
    create_endpoint_in(consumer, service_name, vpc_id, subnet_ids, None).await
}

/// [`create_endpoint`] to a service in `service_region` (`ServiceRegion`:
/// a cross-region endpoint); `None` for the consumer's own region.
pub async fn create_endpoint_in(
    consumer: &Account,
    service_name: &str,
    vpc_id: &str,
    subnet_ids: &[String],
    service_region: Option<&str>,
) -> Result<String> {
    let created = consumer
        .ec2()
        .create_vpc_endpoint()
        .vpc_endpoint_type(aws_sdk_ec2::types::VpcEndpointType::Interface)
        .vpc_id(vpc_id)
        .service_name(service_name)
        .set_service_region(service_region.map(str::to_string))
        .set_subnet_ids(Some(subnet_ids.to_vec()))
        .private_dns_enabled(false)
        .send()
        .await
        .context("CreateVpcEndpoint")?;
    Ok(created
        .vpc_endpoint()
        .and_then(|e| e.vpc_endpoint_id())
        .context("CreateVpcEndpoint returned no endpoint id")?
        .to_string())
}

/// Waits (up to 20 s) until the owner sees its endpoint in state `want`.
pub async fn wait_for_endpoint_state(
    account: &Account,
    endpoint_id: &str,
    want: EndpointState,
) -> Result<()> {
    use privatelink_core::wait::{self, Backoff, Poll};
    wait::until(
        &format!("{endpoint_id} to be {want}"),
        Backoff::with_timeout(Duration::from_secs(20)),
        || async {
            let state = endpoint_state(account, endpoint_id).await?;
            Ok::<_, anyhow::Error>(if state == want {
                Poll::Ready(())
            } else {
                Poll::NotYet(state.to_string())
            })
        },
        |_| {},
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))
}

/// A consumer endpoint in a VPC of its own in the provider's first zone,
/// accepted by the provider and available.
pub async fn accepted_endpoint(consumer: &Account, provider: &Provider) -> Result<String> {
    let zone = provider.zones[0].id.clone();
    let (vpc_id, subnets) = vpc_with_subnets(consumer, "consumer", &[&zone]).await?;
    let endpoint = create_endpoint(consumer, &provider.service_name, &vpc_id, &subnets).await?;
    provider
        .account
        .ec2()
        .accept_vpc_endpoint_connections()
        .service_id(&provider.service_id)
        .vpc_endpoint_ids(&endpoint)
        .send()
        .await
        .context("AcceptVpcEndpointConnections")?;
    wait_for_endpoint_state(consumer, &endpoint, EndpointState::Available).await?;
    Ok(endpoint)
}
