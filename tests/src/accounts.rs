//! AWS accounts in the emulator, one set per test (and real accounts by
//! profile, for the live end-to-end test).
//!
//! moto keeps accounts apart by access key: keys from STS `AssumeRole` into
//! `arn:aws:iam::ACCOUNT:role/...` act in ACCOUNT. Each test asks for fresh
//! account ids, so tests sharing one emulator never see each other's
//! resources, and an injected fault hits only the test that asked for it.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use aws_config::SdkConfig;
use aws_types::region::Region;
use privatelink_core::aws::AwsOptions;

use crate::Emulator;

/// The region every test works in.
pub const REGION: &str = "us-east-1";

/// The app name the test harness's own SDK clients send (`app/NAME` in the
/// User-Agent), so the emulator's call log tells them from the kit's binaries.
pub const HARNESS_APP: &str = "privatelink-tests";

/// One AWS account (in the emulator, or a real one through a named profile
/// for the live end-to-end test), with SDK configuration acting in it.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub config: SdkConfig,
    region: String,
    child: ChildEnv,
}

/// How a child process (one of the kit's binaries) acts as this account.
#[derive(Debug, Clone)]
enum ChildEnv {
    /// Static credentials from the emulator's STS, and the emulator's URL.
    Emulator {
        access_key_id: String,
        secret_access_key: String,
        session_token: String,
        endpoint_url: String,
    },
    /// A named profile of the developer's AWS config, real AWS endpoints.
    Profile { profile: String },
}

/// A 12-digit account id not used before in this test run.
pub fn fresh_account_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    // pid and time keep parallel test binaries apart; the counter keeps the
    // ids of one binary apart. Leading 2 avoids moto's default 123456789012.
    let mixed = (u64::from(std::process::id()) << 20) ^ (nanos >> 10) ^ (n << 40) ^ n;
    format!("2{:011}", mixed % 100_000_000_000)
}

impl Account {
    /// Credentials for a fresh account in `emulator`.
    pub async fn fresh(emulator: &Emulator) -> Result<Account> {
        Account::assume(emulator, &fresh_account_id()).await
    }

    /// Credentials acting in account `id`, from STS AssumeRole.
    pub async fn assume(emulator: &Emulator, id: &str) -> Result<Account> {
        let base = options(emulator)
            .loader()?
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                "testing", "testing", None, None, "emulator",
            ))
            .load()
            .await;
        let sts = aws_sdk_sts::Client::new(&base);
        let out = sts
            .assume_role()
            .role_arn(format!("arn:aws:iam::{id}:role/privatelink-tests"))
            .role_session_name("tests")
            .send()
            .await
            .with_context(|| format!("assuming a role in account {id}"))?;
        let creds = out
            .credentials()
            .context("AssumeRole returned no credentials")?;
        let config = options(emulator)
            .loader()?
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                creds.access_key_id(),
                creds.secret_access_key(),
                Some(creds.session_token().to_string()),
                None,
                "emulator-assumed-role",
            ))
            .load()
            .await;
        Ok(Account {
            id: id.to_string(),
            config,
            region: REGION.to_string(),
            child: ChildEnv::Emulator {
                access_key_id: creds.access_key_id().to_string(),
                secret_access_key: creds.secret_access_key().to_string(),
                session_token: creds.session_token().to_string(),
                endpoint_url: emulator.url().to_string(),
            },
        })
    }

    /// A real AWS account through the named profile of the standard config
    /// files (SSO, credential_process, role chaining: whatever the profile
    /// says), in `region`. The account id comes from STS GetCallerIdentity,
    /// which also proves the credentials work before anything is created.
    pub async fn from_profile(profile: &str, region: &str) -> Result<Account> {
        let config = AwsOptions {
            profile: Some(profile.to_string()),
            region: Some(region.to_string()),
            ..Default::default()
        }
        .for_app(HARNESS_APP)
        .load()
        .await?;
        let identity = aws_sdk_sts::Client::new(&config)
            .get_caller_identity()
            .send()
            .await
            .with_context(|| format!("profile {profile}: STS GetCallerIdentity"))?;
        let id = identity
            .account()
            .with_context(|| format!("profile {profile}: GetCallerIdentity returned no account"))?
            .to_string();
        Ok(Account {
            id,
            config,
            region: region.to_string(),
            child: ChildEnv::Profile {
                profile: profile.to_string(),
            },
        })
    }

    /// Points a child process (one of the real binaries) at this account
    /// through the standard credential chain, and nothing else. Against the
    /// emulator a developer's own profile or config files never leak into a
    /// test; for a live account only the named profile is used (credentials
    /// and endpoint overrides in the environment are removed, since they
    /// would win over the profile).
    pub fn apply_env(&self, command: &mut std::process::Command) {
        match &self.child {
            ChildEnv::Emulator {
                access_key_id,
                secret_access_key,
                session_token,
                endpoint_url,
            } => {
                command
                    .env("AWS_ACCESS_KEY_ID", access_key_id)
                    .env("AWS_SECRET_ACCESS_KEY", secret_access_key)
                    .env("AWS_SESSION_TOKEN", session_token)
                    .env("AWS_REGION", &self.region)
                    .env("AWS_ENDPOINT_URL", endpoint_url)
                    .env("AWS_MAX_ATTEMPTS", "2")
                    .env("AWS_CONFIG_FILE", "/dev/null")
                    .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
                    .env_remove("AWS_PROFILE");
            }
            ChildEnv::Profile { profile } => {
                command
                    .env("AWS_PROFILE", profile)
                    .env("AWS_REGION", &self.region)
                    .env_remove("AWS_ACCESS_KEY_ID")
                    .env_remove("AWS_SECRET_ACCESS_KEY")
                    .env_remove("AWS_SESSION_TOKEN")
                    .env_remove("AWS_ENDPOINT_URL")
                    .env_remove("AWS_DEFAULT_PROFILE");
            }
        }
    }

    /// The same account and credentials acting in another `region` (its SDK
    /// clients, and the binaries it runs through [`Account::apply_env`]).
    pub fn in_region(&self, region: &str) -> Account {
        Account {
            config: self
                .config
                .to_builder()
                .region(Region::new(region.to_string()))
                .build(),
            region: region.to_string(),
            ..self.clone()
        }
    }

    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.config)
    }
    pub fn elbv2(&self) -> aws_sdk_elasticloadbalancingv2::Client {
        aws_sdk_elasticloadbalancingv2::Client::new(&self.config)
    }
    pub fn sns(&self) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::new(&self.config)
    }
    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.config)
    }
    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.config)
    }
    pub fn lambda(&self) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(&self.config)
    }
    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.config)
    }
    pub fn route53(&self) -> aws_sdk_route53::Client {
        aws_sdk_route53::Client::new(&self.config)
    }
    pub fn events(&self) -> aws_sdk_eventbridge::Client {
        aws_sdk_eventbridge::Client::new(&self.config)
    }
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.config)
    }
    pub fn region(&self) -> Region {
        Region::new(self.region.clone())
    }
    /// The region as a string (`us-east-1`).
    pub fn region_name(&self) -> &str {
        &self.region
    }
}

/// The options every test client uses: the emulator, our region, and few
/// attempts so an injected fault is seen quickly.
fn options(emulator: &Emulator) -> AwsOptions {
    AwsOptions {
        region: Some(REGION.into()),
        endpoint_url: Some(emulator.url().into()),
        max_attempts: Some(2),
        ..Default::default()
    }
    .for_app(HARNESS_APP)
}
