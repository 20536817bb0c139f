//! Building AWS SDK configuration, the same way for every binary of the kit.
//!
//! Everything goes through `aws-config`'s standard loader, so the standard
//! credential chain, shared config files, `AWS_PROFILE`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL` (and the per-service `AWS_ENDPOINT_URL_<SERVICE>`) and
//! `AWS_MAX_ATTEMPTS` all work as they do for the AWS CLI. Explicit options
//! (command-line flags) win over the environment. Pointing the endpoint at
//! the local emulator is therefore just `--endpoint-url http://127.0.0.1:PORT`
//! or the environment variable; nothing in the code knows about emulators.
//!
//! Each binary names itself ([`AwsOptions::for_app`], one of [`app`]): the
//! SDK sends it in the User-Agent as `app/NAME`, so CloudTrail's `userAgent`
//! field says which part of the kit made a call (and the test emulator's
//! call log can check each binary against its own IAM policy).

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{AppName, BehaviorVersion, ConfigLoader, Region, SdkConfig};

/// The app names the kit's binaries send (`app/NAME` in the User-Agent).
pub mod app {
    /// The vendor's CLI.
    pub const ENDPOINT_SERVICE: &str = "endpoint-service";
    /// The customer's CLI.
    pub const CONSUMER_CLI: &str = "consumer-cli";
    /// The approver function.
    pub const APPROVER_LAMBDA: &str = "approver-lambda";
}

/// Explicit choices that override what the environment and shared config
/// files say. `Default` means "use the standard chain for everything".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsOptions {
    /// Named profile from the shared config/credentials files.
    pub profile: Option<String>,
    /// Region, e.g. `us-east-1`.
    pub region: Option<String>,
    /// Endpoint URL for every service (e.g. a local emulator).
    pub endpoint_url: Option<String>,
    /// Total attempts per request, including the first (1 = no retries).
    pub max_attempts: Option<u32>,
    /// Give up on one attempt after this long (connect + response).
    pub attempt_timeout: Option<Duration>,
    /// Who is calling, sent as `app/NAME` in the User-Agent (one of [`app`]).
    pub app_name: Option<&'static str>,
}

/// Errors in the options themselves, reported before any AWS call.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OptionsError {
    #[error(
        "--endpoint-url {0:?} is not a URL: write it with its scheme, e.g. http://127.0.0.1:5055"
    )]
    EndpointUrl(String),
    #[error("--max-attempts must be at least 1 (1 means no retries), got {0}")]
    MaxAttempts(u32),
    #[error("--region {0:?} does not look like an AWS region: write it like us-east-1")]
    Region(String),
    #[error("app name {0:?} is not a User-Agent token: letters, digits and !#$%&'*+-.^_`|~ only")]
    AppName(String),
}

impl AwsOptions {
    /// The same options, calling as `name` (one of [`app`]).
    pub fn for_app(self, name: &'static str) -> AwsOptions {
        AwsOptions {
            app_name: Some(name),
            ..self
        }
    }

    /// Checks the options so that a typo is reported before any network call.
    pub fn validate(&self) -> Result<(), OptionsError> {
        self.checked_app_name().map(drop)
    }

    /// [`AwsOptions::validate`], returning the app name it checked (the one
    /// place it is turned into the SDK's type).
    fn checked_app_name(&self) -> Result<Option<AppName>, OptionsError> {
        if let Some(url) = &self.endpoint_url {
            let ok = (url.starts_with("http://") || url.starts_with("https://"))
                && url.split("://").nth(1).is_some_and(|rest| !rest.is_empty());
            if !ok {
                return Err(OptionsError::EndpointUrl(url.clone()));
            }
        }
        if let Some(0) = self.max_attempts {
            return Err(OptionsError::MaxAttempts(0));
        }
        if let Some(region) = &self.region {
            let ok = !region.is_empty()
                && region
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && region.contains('-');
            if !ok {
                return Err(OptionsError::Region(region.clone()));
            }
        }
        self.app_name
            .map(|name| AppName::new(name).map_err(|_| OptionsError::AppName(name.into())))
            .transpose()
    }

    /// A loader with the standard chain and these overrides applied. Callers
    /// that need one more override (tests inject per-account credentials)
    /// add it before `.load()`.
    pub fn loader(&self) -> Result<ConfigLoader, OptionsError> {
        let app_name = self.checked_app_name()?;
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(name) = app_name {
            loader = loader.app_name(name);
        }
        if let Some(attempts) = self.max_attempts {
            loader = loader.retry_config(RetryConfig::standard().with_max_attempts(attempts));
        }
        if let Some(timeout) = self.attempt_timeout {
            loader = loader.timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(timeout)
                    .build(),
            );
        }
        Ok(loader)
    }

    /// Loads the SDK configuration. Fails only on invalid options; missing
    /// credentials surface on the first call, as with every AWS tool.
    pub async fn load(&self) -> Result<SdkConfig, OptionsError> {
        Ok(self.loader()?.load().await)
    }
}

/// Command-line flags for [`AwsOptions`], flattened into every CLI.
#[cfg(feature = "cli")]
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AwsArgs {
    /// Named profile from ~/.aws/config (default: the standard chain, AWS_PROFILE)
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// AWS region, e.g. us-east-1 (default: AWS_REGION or the profile's region)
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// Send every AWS call to this URL instead of AWS, e.g. a local emulator
    /// (default: AWS_ENDPOINT_URL)
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Attempts per AWS call including retries (default: AWS_MAX_ATTEMPTS or 3)
    #[arg(long, global = true, value_name = "N")]
    pub max_attempts: Option<u32>,
}

#[cfg(feature = "cli")]
impl From<&AwsArgs> for AwsOptions {
    fn from(args: &AwsArgs) -> Self {
        AwsOptions {
            profile: args.profile.clone(),
            region: args.region.clone(),
            endpoint_url: args.endpoint_url.clone(),
            max_attempts: args.max_attempts,
            attempt_timeout: None,
            app_name: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_bad_option() {
        let cases = [
            (
                AwsOptions {
                    endpoint_url: Some("127.0.0.1:5055".into()),
                    ..Default::default()
                },
                Some(OptionsError::EndpointUrl("127.0.0.1:5055".into())),
            ),
            (
                AwsOptions {
                    endpoint_url: Some("http://".into()),
                    ..Default::default()
                },
                Some(OptionsError::EndpointUrl("http://".into())),
            ),
            (
                AwsOptions {
                    max_attempts: Some(0),
                    ..Default::default()
                },
                Some(OptionsError::MaxAttempts(0)),
            ),
            (
                AwsOptions {
                    region: Some("US East".into()),
                    ..Default::default()
                },
                Some(OptionsError::Region("US East".into())),
            ),
            (
                AwsOptions::default().for_app("has space"),
                Some(OptionsError::AppName("has space".into())),
            ),
            (
                AwsOptions {
                    endpoint_url: Some("http://127.0.0.1:5055".into()),
                    region: Some("eu-west-1".into()),
                    max_attempts: Some(1),
                    ..Default::default()
                },
                None,
            ),
        ];
        for (options, expected) in cases {
            assert_eq!(options.validate().err(), expected, "{options:?}");
        }
    }

    #[tokio::test]
    async fn explicit_options_win_over_the_environment() {
        let options = AwsOptions {
            region: Some("eu-central-1".into()),
            endpoint_url: Some("http://127.0.0.1:1".into()),
            max_attempts: Some(1),
            ..Default::default()
        }
        .for_app(app::CONSUMER_CLI);
        let config = options.load().await.expect("valid options");
        assert_eq!(
            config.app_name().map(|n| n.as_ref()),
            Some(app::CONSUMER_CLI)
        );
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-central-1"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:1"));
        assert_eq!(config.retry_config().map(|r| r.max_attempts()), Some(1));
    }
}
