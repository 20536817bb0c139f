//! A fake EC2 for the handler tests: the real SDK client, answered by
//! aws-smithy-mocks rules that read and change one shared list of
//! connections, and that record every Accept/Reject call.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ec2::operation::accept_vpc_endpoint_connections::AcceptVpcEndpointConnectionsOutput;
use aws_sdk_ec2::operation::describe_vpc_endpoint_connections::DescribeVpcEndpointConnectionsOutput;
use aws_sdk_ec2::operation::reject_vpc_endpoint_connections::RejectVpcEndpointConnectionsOutput;
use aws_sdk_ec2::types::{State, VpcEndpointConnection};
use aws_sdk_ec2::Client;
use aws_smithy_mocks::{create_mock_http_client, mock, MockResponseInterceptor, Rule, RuleMode};
use endpoint_service::approval::{Allowlist, ApproverConfig, NonAllowlistedPolicy};

pub const SVC: &str = "vpce-svc-0a1b2c3d4e5f60718";
pub const ALLOWED: &str = "111111111111";
pub const OTHER: &str = "999999999999";

pub fn config(policy: NonAllowlistedPolicy, revoke: bool) -> ApproverConfig {
    ApproverConfig {
        service_id: SVC.into(),
        allowlist: Allowlist::parse(ALLOWED).expect("valid"),
        non_allowlisted: policy,
        revoke,
        dry_run: false,
    }
}

pub fn conn(id: &str, owner: &str, state: &str) -> VpcEndpointConnection {
    VpcEndpointConnection::builder()
        .service_id(SVC)
        .vpc_endpoint_id(id)
        .vpc_endpoint_owner(owner)
        .vpc_endpoint_state(State::from(state))
        .build()
}

/// A real EC2 client answered by `rules`, without the SDK's `test-util`
/// feature, and without retries.
pub fn client(rules: &[&Rule]) -> Client {
    let interceptor = rules.iter().fold(
        MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
        |i, r| i.with_rule(r),
    );
    Client::from_conf(
        aws_sdk_ec2::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
            .http_client(create_mock_http_client())
            .interceptor(interceptor)
            .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
            .build(),
    )
}

/// The fake account: its connections, the calls made, and the rules.
pub struct Fake {
    pub world: Arc<Mutex<Vec<VpcEndpointConnection>>>,
    pub accepts: Arc<Mutex<Vec<Vec<String>>>>,
    pub rejects: Arc<Mutex<Vec<Vec<String>>>>,
    pub describe: Rule,
    pub accept: Rule,
    pub reject: Rule,
}

fn set_state(world: &Mutex<Vec<VpcEndpointConnection>>, ids: &[String], state: &str) {
    if let Ok(mut world) = world.lock() {
        for c in world.iter_mut() {
            let id = c.vpc_endpoint_id().unwrap_or_default().to_string();
            if ids.contains(&id) {
                *c = conn(&id, c.vpc_endpoint_owner().unwrap_or_default(), state);
            }
        }
    }
}

impl Fake {
    pub fn new(connections: Vec<VpcEndpointConnection>) -> Fake {
        let world = Arc::new(Mutex::new(connections));
        let accepts = Arc::new(Mutex::new(Vec::new()));
        let rejects = Arc::new(Mutex::new(Vec::new()));
        let w = world.clone();
        let describe =
            mock!(Client::describe_vpc_endpoint_connections).then_compute_output(move |_| {
                DescribeVpcEndpointConnectionsOutput::builder()
                    .set_vpc_endpoint_connections(w.lock().ok().map(|w| w.clone()))
                    .build()
            });
        let (w, calls) = (world.clone(), accepts.clone());
        let accept =
            mock!(Client::accept_vpc_endpoint_connections).then_compute_output(move |input| {
                let ids = input.vpc_endpoint_ids().to_vec();
                set_state(&w, &ids, "pending");
                if let Ok(mut calls) = calls.lock() {
                    calls.push(ids);
                }
                AcceptVpcEndpointConnectionsOutput::builder().build()
            });
        let (w, calls) = (world.clone(), rejects.clone());
        let reject =
            mock!(Client::reject_vpc_endpoint_connections).then_compute_output(move |input| {
                let ids = input.vpc_endpoint_ids().to_vec();
                set_state(&w, &ids, "rejected");
                if let Ok(mut calls) = calls.lock() {
                    calls.push(ids);
                }
                RejectVpcEndpointConnectionsOutput::builder().build()
            });
        Fake {
            world,
            accepts,
            rejects,
            describe,
            accept,
            reject,
        }
    }

    pub fn client(&self) -> Client {
        client(&[&self.describe, &self.accept, &self.reject])
    }

    pub fn accepted(&self) -> Vec<Vec<String>> {
        self.accepts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    pub fn rejected(&self) -> Vec<Vec<String>> {
        self.rejects.lock().map(|c| c.clone()).unwrap_or_default()
    }
}
