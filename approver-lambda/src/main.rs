//! `approver-lambda`: sets up (JSON logs to stdout, AWS configuration from
//! the standard chain, approver configuration from the environment, the
//! EC2 client and the tenant registry's DynamoDB client) and hands every
//! invocation to [`approver_lambda::handler::handle`].

use approver_lambda::handler::{handle, Approver};
use approver_lambda::help;
use lambda_runtime::{service_fn, LambdaEvent};
use privatelink_core::approval::ApproverConfig;
use privatelink_core::aws::AwsOptions;
use privatelink_registry::Registry;
use serde_json::Value;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    if matches!(std::env::args().nth(1).as_deref(), Some("--help" | "-h")) {
        print!("{}", help::text());
        return Ok(());
    }
    // lambda_runtime panics on a missing runtime environment; say it plainly.
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        eprintln!(
            "approver-lambda: not running inside AWS Lambda (AWS_LAMBDA_RUNTIME_API is not set); \
             deploy it as a function, or run it under `cargo lambda watch`. See --help."
        );
        std::process::exit(2);
    }

    // One JSON object per line, fields at the top level so CloudWatch Logs
    // Insights can query `reason`, `endpoint_id`, ... directly. CloudWatch
    // stamps each line, so no time of our own.
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .without_time()
        .with_ansi(false)
        .init();

    // Standard chain: the function's role, AWS_REGION, AWS_ENDPOINT_URL.
    let sdk_config = AwsOptions::default()
        .for_app(privatelink_core::aws::app::APPROVER_LAMBDA)
        .load()
        .await?;
    let config = ApproverConfig::from_env();
    match &config {
        Ok(config) => tracing::info!(
            service_id = %config.service_id,
            table = %config.table,
            table_region = config.table_region.as_deref().unwrap_or("(own)"),
            non_allowlisted = %config.non_allowlisted,
            revoke = config.revoke,
            dry_run = config.dry_run,
            "approver configured"
        ),
        // Not fatal: the runtime must still answer invocations, each of
        // which logs this error and accepts nothing (fail closed).
        Err(error) => tracing::error!(error = %error, "invalid configuration"),
    }
    // Both clients from the one SdkConfig: same role, region, endpoint,
    // retry policy and User-Agent app name.
    // A stack in several regions keeps its registry in the home region:
    // the table's region, when set, overrides the function's for DynamoDB
    // only.
    let table_region = config.as_ref().ok().and_then(|c| c.table_region.clone());
    let dynamodb = match table_region {
        Some(region) => aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk_config)
                .region(aws_sdk_dynamodb::config::Region::new(region))
                .build(),
        ),
        None => aws_sdk_dynamodb::Client::new(&sdk_config),
    };
    let approver = Approver::new(aws_sdk_ec2::Client::new(&sdk_config), config, |config| {
        Registry::new(dynamodb, config.table.clone())
    });
    let approver = &approver;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handle(approver, event.payload).await
    }))
    .await
}
