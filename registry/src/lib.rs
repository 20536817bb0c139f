//! The tenant registry: one DynamoDB item per customer account the vendor
//! has entitled ([`item`] has the schema). The approver reads it
//! ([`Registry::get_many`], through [`TenantSource`]) for just the owners it
//! must decide on; the operator's `tenants` commands write it, every write
//! conditional on the version that was read, so two operators never lose
//! each other's edit. [`transfer`] reads and writes CSV and JSON for import
//! and export.
//!
//! The table itself (creation, point-in-time recovery, tags, deletion) is
//! a resource of the stack, provisioned by `endpoint-service`; this crate
//! only reads and writes items.

pub mod item;
pub mod transfer;

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use privatelink_core::approval::tenant::now_epoch;
use privatelink_core::approval::{Tenant, TenantSource};
use privatelink_core::errors::{AwsError, ErrorKind};

pub use item::ItemError;

/// The most keys one `BatchGetItem` takes (API reference, BatchGetItem).
pub const BATCH_GET_LIMIT: usize = 100;
/// The most actions one `TransactWriteItems` takes (API reference).
pub const TRANSACT_LIMIT: usize = 100;
/// How often unprocessed keys of a `BatchGetItem` are asked for again. The
/// SDK retries failed calls, not the keys a successful call left out; the
/// API reference asks callers to retry those with backoff.
const UNPROCESSED_ATTEMPTS: u32 = 5;

/// Why a registry call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// A conditional write lost: the tenant exists already, or was changed
    /// or removed since it was read.
    #[error(
        "tenant {account} {detail}: read it again (run the command again) and redo the change"
    )]
    Conflict { account: String, detail: String },
    /// An item that is not a tenant.
    #[error("{0}: fix or remove the item")]
    Item(#[from] ItemError),
    #[error("tenant registry {table}: {error}{}", hint(error))]
    Aws { table: String, error: AwsError },
}

fn hint(error: &AwsError) -> &'static str {
    match error.kind {
        ErrorKind::NotFound => " (the table does not exist: run `endpoint-service up` for the stack)",
        ErrorKind::AccessDenied => {
            " (the credentials may not use the table: `endpoint-service iam-policy` prints the policy)"
        }
        kind if kind.is_transient() => " (transient: run again later)",
        _ => "",
    }
}

impl RegistryError {
    pub fn is_transient(&self) -> bool {
        matches!(self, RegistryError::Aws { error, .. } if error.kind.is_transient())
    }

    /// The AWS error, as the approver reports registry failures.
    pub fn into_aws(self) -> AwsError {
        match self {
            RegistryError::Aws { error, .. } => error,
            other => AwsError {
                operation: "BatchGetItem",
                kind: ErrorKind::Other,
                code: Some(match other {
                    RegistryError::Conflict { .. } => "ConditionalCheckFailedException".into(),
                    _ => "InvalidTenantItem".into(),
                }),
                message: Some(other.to_string()),
                http_status: None,
                detail: other.to_string(),
            },
        }
    }
}

/// One write of [`Registry::write_all`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// A new tenant: fails if the account is in the registry already.
    Create(Tenant),
    /// A changed tenant, with the version it had when it was read.
    Replace(Tenant),
}

impl Write {
    fn tenant(&self) -> &Tenant {
        match self {
            Write::Create(t) | Write::Replace(t) => t,
        }
    }
}

/// The items of one registry table.
#[derive(Debug, Clone)]
pub struct Registry {
    client: Client,
    table: String,
}

/// The condition and values that make a write of `tenant` conditional:
/// absent for a create, at the version read for a replace or a removal
/// (an item written by hand without a version counts as version 0).
fn condition(create: bool, tenant: &Tenant) -> (String, Option<AttributeValue>) {
    if create {
        (format!("attribute_not_exists({})", item::KEY), None)
    } else if tenant.version == 0 {
        (
            format!(
                "attribute_exists({}) AND attribute_not_exists(#v)",
                item::KEY
            ),
            None,
        )
    } else {
        (
            "#v = :v".to_string(),
            Some(AttributeValue::N(tenant.version.to_string())),
        )
    }
}

/// `tenant` as it is stored by a write made by `by` now.
fn stamped(tenant: &Tenant, create: bool, by: &str) -> Tenant {
    Tenant {
        version: if create { 1 } else { tenant.version + 1 },
        updated_by: Some(by.to_string()),
        updated_at: Some(now_epoch()),
        ..tenant.clone()
    }
}

impl Registry {
    pub fn new(client: Client, table: impl Into<String>) -> Registry {
        Registry {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn aws<E>(
        &self,
        operation: &'static str,
        error: &aws_sdk_dynamodb::error::SdkError<
            E,
            aws_smithy_runtime_api::client::orchestrator::HttpResponse,
        >,
    ) -> RegistryError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        RegistryError::Aws {
            table: self.table.clone(),
            error: AwsError::from_sdk(operation, error),
        }
    }

    /// One tenant, strongly consistent.
    pub async fn get(&self, account: &str) -> Result<Option<Tenant>, RegistryError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item::key(account)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.aws("GetItem", &e))?;
        out.item()
            .map(item::from_item)
            .transpose()
            .map_err(Into::into)
    }

    /// The tenants among `accounts` (each asked once), strongly consistent,
    /// at most [`BATCH_GET_LIMIT`] keys a call; keys DynamoDB leaves
    /// unprocessed are asked for again with backoff. Returns the tenants
    /// found and the number of calls.
    pub async fn get_many(&self, accounts: &[String]) -> Result<(Vec<Tenant>, u32), RegistryError> {
        let unique: BTreeSet<&str> = accounts.iter().map(String::as_str).collect();
        let unique: Vec<&str> = unique.into_iter().collect();
        let mut found = Vec::new();
        let mut calls = 0;
        for chunk in unique.chunks(BATCH_GET_LIMIT) {
            let mut keys: Vec<_> = chunk.iter().map(|a| item::key(a)).collect();
            let mut attempt = 0;
            while !keys.is_empty() {
                if attempt >= UNPROCESSED_ATTEMPTS {
                    return Err(RegistryError::Aws {
                        table: self.table.clone(),
                        error: AwsError {
                            operation: "BatchGetItem",
                            kind: ErrorKind::Throttling,
                            code: Some("UnprocessedKeys".into()),
                            message: Some(format!(
                                "{} key(s) still unprocessed after {UNPROCESSED_ATTEMPTS} attempts",
                                keys.len()
                            )),
                            http_status: None,
                            detail: "BatchGetItem left keys unprocessed".into(),
                        },
                    });
                }
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(50 << attempt.min(5))).await;
                }
                attempt += 1;
                calls += 1;
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(keys.clone()))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| RegistryError::Aws {
                        table: self.table.clone(),
                        error: AwsError {
                            operation: "BatchGetItem",
                            kind: ErrorKind::Other,
                            code: None,
                            message: Some(e.to_string()),
                            http_status: None,
                            detail: e.to_string(),
                        },
                    })?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| self.aws("BatchGetItem", &e))?;
                for raw in out
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                {
                    found.push(item::from_item(raw)?);
                }
                keys = out
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .map(|k| k.keys().to_vec())
                    .unwrap_or_default();
            }
        }
        found.sort_by(|a, b| a.account_id.cmp(&b.account_id));
        Ok((found, calls))
    }

    /// Every tenant, strongly consistent, sorted by account id.
    pub async fn list(&self) -> Result<Vec<Tenant>, RegistryError> {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut tenants = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.aws("Scan", &e))?;
            for raw in page.items() {
                tenants.push(item::from_item(raw)?);
            }
        }
        tenants.sort_by(|a, b| a.account_id.cmp(&b.account_id));
        Ok(tenants)
    }

    async fn put(&self, tenant: &Tenant, create: bool, by: &str) -> Result<Tenant, RegistryError> {
        let stored = stamped(tenant, create, by);
        let (expression, value) = condition(create, tenant);
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item::to_item(&stored)))
            .condition_expression(expression);
        if !create {
            request = request.expression_attribute_names("#v", item::VERSION);
        }
        if let Some(value) = value {
            request = request.expression_attribute_values(":v", value);
        }
        match request.send().await {
            Ok(_) => Ok(stored),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                Err(RegistryError::Conflict {
                    account: tenant.account_id.to_string(),
                    detail: if create {
                        "is in the registry already".into()
                    } else {
                        format!(
                            "was changed or removed by someone else since it was read (at version {})",
                            tenant.version
                        )
                    },
                })
            }
            Err(e) => Err(self.aws("PutItem", &e)),
        }
    }

    /// Adds a tenant; [`RegistryError::Conflict`] if the account is in the
    /// registry already. Returns what was stored (version 1).
    pub async fn create(&self, tenant: &Tenant, by: &str) -> Result<Tenant, RegistryError> {
        self.put(tenant, true, by).await
    }

    /// Stores a changed tenant, if it still has the version it was read
    /// with; otherwise [`RegistryError::Conflict`] and nothing is written.
    pub async fn replace(&self, tenant: &Tenant, by: &str) -> Result<Tenant, RegistryError> {
        self.put(tenant, false, by).await
    }

    /// Removes a tenant, if it still has the version it was read with.
    pub async fn remove(&self, tenant: &Tenant) -> Result<(), RegistryError> {
        let (expression, value) = condition(false, tenant);
        let mut request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(item::key(tenant.account_id.as_str())))
            .condition_expression(expression)
            .expression_attribute_names("#v", item::VERSION);
        if let Some(value) = value {
            request = request.expression_attribute_values(":v", value);
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                Err(RegistryError::Conflict {
                    account: tenant.account_id.to_string(),
                    detail: "was changed or removed by someone else since it was read".into(),
                })
            }
            Err(e) => Err(self.aws("DeleteItem", &e)),
        }
    }

    /// Writes many tenants, [`TRANSACT_LIMIT`] per `TransactWriteItems`
    /// call, each conditional like [`Registry::create`] /
    /// [`Registry::replace`]. A call is all or nothing: a conflict stops
    /// the run with the conflicting account, and the chunks written before
    /// stay written (running the same import again converges). Returns the
    /// number of calls.
    pub async fn write_all(&self, writes: &[Write], by: &str) -> Result<u32, RegistryError> {
        let mut calls = 0;
        for chunk in writes.chunks(TRANSACT_LIMIT) {
            let mut items = Vec::with_capacity(chunk.len());
            for write in chunk {
                let create = matches!(write, Write::Create(_));
                let tenant = write.tenant();
                let (expression, value) = condition(create, tenant);
                let mut put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item::to_item(&stamped(tenant, create, by))))
                    .condition_expression(expression);
                if !create {
                    put = put.expression_attribute_names("#v", item::VERSION);
                }
                if let Some(value) = value {
                    put = put.expression_attribute_values(":v", value);
                }
                let put = put.build().map_err(|e| RegistryError::Aws {
                    table: self.table.clone(),
                    error: AwsError {
                        operation: "TransactWriteItems",
                        kind: ErrorKind::Other,
                        code: None,
                        message: Some(e.to_string()),
                        http_status: None,
                        detail: e.to_string(),
                    },
                })?;
                items.push(TransactWriteItem::builder().put(put).build());
            }
            calls += 1;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            if let Err(e) = result {
                if let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) =
                    e.as_service_error()
                {
                    let lost = cancel
                        .cancellation_reasons()
                        .iter()
                        .position(|r| r.code() == Some("ConditionalCheckFailed"));
                    if let Some(index) = lost {
                        let write = &chunk[index];
                        return Err(RegistryError::Conflict {
                            account: write.tenant().account_id.to_string(),
                            detail: match write {
                                Write::Create(_) => {
                                    "was added by someone else since the registry was read".into()
                                }
                                Write::Replace(_) => {
                                    "was changed or removed by someone else since the registry was read"
                                        .into()
                                }
                            },
                        });
                    }
                }
                return Err(self.aws("TransactWriteItems", &e));
            }
        }
        Ok(calls)
    }
}

impl TenantSource for Registry {
    async fn tenants(&self, accounts: &[String]) -> Result<(Vec<Tenant>, u32), AwsError> {
        self.get_many(accounts)
            .await
            .map_err(RegistryError::into_aws)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use privatelink_core::approval::AccountId;

    #[test]
    fn writes_are_conditional_on_what_was_read() {
        let mut t = Tenant::active(AccountId::parse("111111111111").unwrap(), "A");
        assert_eq!(condition(true, &t).0, "attribute_not_exists(account_id)");
        assert_eq!(
            condition(false, &t),
            (
                "attribute_exists(account_id) AND attribute_not_exists(#v)".to_string(),
                None
            )
        );
        t.version = 4;
        assert_eq!(
            condition(false, &t),
            ("#v = :v".to_string(), Some(AttributeValue::N("4".into())))
        );
        let stored = stamped(&t, false, "arn:aws:iam::1:user/a");
        assert_eq!(stored.version, 5);
        assert_eq!(stored.updated_by.as_deref(), Some("arn:aws:iam::1:user/a"));
        assert_eq!(stamped(&t, true, "x").version, 1);
    }
}
