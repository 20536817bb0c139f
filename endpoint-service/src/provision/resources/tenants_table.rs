//! The tenant registry's DynamoDB table, `STACK-tenants`: on demand
//! (`PAY_PER_REQUEST`: no capacity to size, a few cents a month at 10
//! tenants), partition key `account_id` (S), point-in-time recovery on (a
//! bad import or a wrong `tenants remove` can be undone), tagged like every
//! other resource of the stack from its creation on. The table is found by
//! its deterministic name plus the stack tag. Its items belong to the
//! registry crate (`privatelink-registry`); this module owns only the table.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, PointInTimeRecoverySpecification,
    PointInTimeRecoveryStatus, ScalarAttributeType, Tag,
};
use aws_sdk_dynamodb::Client;
use aws_smithy_runtime_api::client::waiters::error::WaiterError;
use privatelink_registry::item::KEY;

use super::{not_ours, owned_by, wait_error, StackTags};
use crate::naming::StackName;
use crate::provision::observe::TenantsTableObs;
use crate::provision::{aws_err, built, gone_is_ok, missing_as_none, ProvisionError};
use crate::wait::{until, Backoff, Poll};
use privatelink_core::cli::progress::Progress;

/// How long a new table may take to become ACTIVE, and a deleted one to go.
const TABLE_WAIT: Duration = Duration::from_secs(300);

/// The stack's table, if it exists and carries the stack's tag, with its
/// point-in-time recovery state and tags.
pub async fn find_table(
    ddb: &Client,
    stack: &StackName,
) -> Result<Option<TenantsTableObs>, ProvisionError> {
    let name = stack.tenants_table();
    let out = missing_as_none(
        ddb.describe_table()
            .table_name(&name)
            .send()
            .await
            .map_err(aws_err("DescribeTable", name.clone())),
    )?;
    let Some(table) = out.as_ref().and_then(|o| o.table()) else {
        return Ok(None);
    };
    let arn = table
        .table_arn()
        .ok_or(ProvisionError::Missing {
            operation: "DescribeTable",
            field: "Table.TableArn",
        })?
        .to_string();
    let status = table
        .table_status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    let tags = tags(ddb, &arn).await?;
    if !owned_by(
        tags.iter()
            .map(|(k, v)| (Some(k.as_str()), Some(v.as_str()))),
        stack,
    ) {
        return Err(not_ours("DynamoDB table", &name, stack));
    }
    // A table being deleted answers DescribeContinuousBackups with an
    // error; the plan refuses to use it anyway.
    let pitr = status != "DELETING" && pitr_enabled(ddb, &name).await?;
    Ok(Some(TenantsTableObs {
        name,
        arn,
        status,
        pitr,
        tags,
    }))
}

/// Every tag of the table (ListTagsOfResource pages with `NextToken`; the
/// SDK has no paginator for it).
async fn tags(ddb: &Client, arn: &str) -> Result<BTreeMap<String, String>, ProvisionError> {
    let mut tags = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let out = ddb
            .list_tags_of_resource()
            .resource_arn(arn)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(aws_err("ListTagsOfResource", arn.to_string()))?;
        tags.extend(
            out.tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string())),
        );
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => return Ok(tags),
        }
    }
}

/// True when point-in-time recovery is `ENABLED`.
async fn pitr_enabled(ddb: &Client, name: &str) -> Result<bool, ProvisionError> {
    let out = ddb
        .describe_continuous_backups()
        .table_name(name)
        .send()
        .await
        .map_err(aws_err("DescribeContinuousBackups", name.to_string()))?;
    Ok(out
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        == Some(&PointInTimeRecoveryStatus::Enabled))
}

/// Creates the table, on demand, keyed by account id and tagged in the
/// same call, then waits (SDK waiter) until it is ACTIVE: until then AWS
/// refuses item writes and backup settings.
pub async fn create_table(
    ddb: &Client,
    tags: &StackTags,
    progress: &Progress,
) -> Result<TenantsTableObs, ProvisionError> {
    let name = tags.stack.tenants_table();
    let mut call = ddb
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(built(
            AttributeDefinition::builder()
                .attribute_name(KEY)
                .attribute_type(ScalarAttributeType::S)
                .build(),
        )?)
        .key_schema(built(
            KeySchemaElement::builder()
                .attribute_name(KEY)
                .key_type(KeyType::Hash)
                .build(),
        )?);
    for (k, v) in tags.pairs() {
        call = call.tags(built(Tag::builder().key(k).value(v).build())?);
    }
    let created = match call.send().await {
        Ok(out) => out
            .table_description()
            .and_then(|t| t.table_arn())
            .map(str::to_string),
        // A create whose response was lost: the table is there. Whose it
        // is, find_table says below.
        Err(e) if e.code() == Some("ResourceInUseException") => None,
        Err(e) => return Err(aws_err("CreateTable", name.clone())(e)),
    };
    progress.waiting(&format!("table {name} to be active"), "creating");
    ddb.wait_until_table_exists()
        .table_name(&name)
        .wait(TABLE_WAIT)
        .await
        .map_err(|e| waiter_error(e, "DescribeTable", &format!("table {name} to be active")))?;
    match created {
        Some(arn) => Ok(TenantsTableObs {
            name,
            arn,
            status: "ACTIVE".into(),
            pitr: false,
            tags: tags.pairs().into_iter().collect(),
        }),
        None => find_table(ddb, &tags.stack)
            .await?
            .ok_or_else(|| ProvisionError::Refused(format!(
                "CreateTable said table {name} exists, but DescribeTable does not find it: run `up` again"
            ))),
    }
}

/// A waiter's error: the poll's own AWS error as such, anything else (time
/// out, a failure state) as a timeout naming what was waited for.
fn waiter_error<O, E>(
    error: WaiterError<O, E>,
    operation: &'static str,
    what: &str,
) -> ProvisionError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    O: std::fmt::Debug,
{
    match error {
        WaiterError::OperationFailed(failed) => {
            aws_err(operation, what.to_string())(failed.into_error())
        }
        other => ProvisionError::Timeout {
            what: what.to_string(),
            waited_seconds: TABLE_WAIT.as_secs(),
            last_seen: aws_smithy_types::error::display::DisplayErrorContext(&other).to_string(),
        },
    }
}

/// Turns point-in-time recovery on. Right after creation AWS may answer
/// `ContinuousBackupsUnavailableException` ("Backups are being enabled for
/// the table") for a while: that is waited out, any other error is not.
pub async fn enable_pitr(
    ddb: &Client,
    name: &str,
    progress: &Progress,
) -> Result<(), ProvisionError> {
    let what = format!("backups of table {name} to be available");
    until(
        &what,
        Backoff::with_timeout(Duration::from_secs(120)),
        || async {
            let result = ddb
                .update_continuous_backups()
                .table_name(name)
                .point_in_time_recovery_specification(built(
                    PointInTimeRecoverySpecification::builder()
                        .point_in_time_recovery_enabled(true)
                        .build(),
                )?)
                .send()
                .await;
            match result {
                Ok(_) => Ok(Poll::Ready(())),
                Err(e) if e.code() == Some("ContinuousBackupsUnavailableException") => {
                    Ok(Poll::NotYet("ContinuousBackupsUnavailableException".into()))
                }
                Err(e) => Err(aws_err("UpdateContinuousBackups", name.to_string())(e)),
            }
        },
        |seen| progress.waiting(&what, seen),
    )
    .await
    .map_err(wait_error)
}

/// Puts the stack's tags back (TagResource overwrites a key's value; tags
/// that are not the stack's are left alone).
pub async fn set_tags(ddb: &Client, arn: &str, tags: &StackTags) -> Result<(), ProvisionError> {
    let mut list = Vec::new();
    for (k, v) in tags.pairs() {
        list.push(built(Tag::builder().key(k).value(v).build())?);
    }
    ddb.tag_resource()
        .resource_arn(arn)
        .set_tags(Some(list))
        .send()
        .await
        .map(drop)
        .map_err(aws_err("TagResource", arn.to_string()))
}

/// True when the observed tags hold every tag of the stack with its value.
pub fn tags_match(observed: &BTreeMap<String, String>, tags: &StackTags) -> bool {
    tags.pairs().iter().all(|(k, v)| observed.get(k) == Some(v))
}

/// Deletes the table and its tenants (gone already is done), then waits
/// (SDK waiter) until it is gone, so that a following `up` creates a new
/// one rather than finding the old one in DELETING.
pub async fn delete_table(
    ddb: &Client,
    name: &str,
    progress: &Progress,
) -> Result<(), ProvisionError> {
    gone_is_ok(
        ddb.delete_table()
            .table_name(name)
            .send()
            .await
            .map(drop)
            .map_err(aws_err("DeleteTable", name.to_string())),
    )?;
    progress.waiting(&format!("table {name} to be deleted"), "deleting");
    ddb.wait_until_table_not_exists()
        .table_name(name)
        .wait(TABLE_WAIT)
        .await
        .map(drop)
        .map_err(|e| waiter_error(e, "DescribeTable", &format!("table {name} to be deleted")))
}
