//! The tenant registry's item adapter (`privatelink_registry::Registry`)
//! against the emulator's DynamoDB: conditional writes that never lose an
//! edit, batched strongly consistent reads, transactional import.

use anyhow::Result;
use privatelink_core::approval::{AccountId, Tenant, TenantStatus};
use privatelink_registry::{Registry, RegistryError, Write};
use privatelink_tests::fixtures::create_tenants_table;
use privatelink_tests::{Account, Emulator};

/// A registry table in a fresh account (what `up` creates: on demand, the
/// account id as the only key).
async fn registry() -> Result<(Account, Registry)> {
    let account = Account::fresh(Emulator::shared()).await?;
    create_tenants_table(&account, "t-tenants").await?;
    Ok((
        account.clone(),
        Registry::new(account.dynamodb(), "t-tenants"),
    ))
}

fn tenant(n: usize) -> Tenant {
    let id = format!("{:012}", 100_000_000_000 + n);
    Tenant::active(
        AccountId::parse(&id).expect("12 digits"),
        format!("tenant {n}"),
    )
}

#[tokio::test]
async fn two_operators_never_lose_each_others_edit() -> Result<()> {
    let (_account, registry) = registry().await?;
    let stored = registry.create(&tenant(1), "arn:aws:iam::1:user/a").await?;
    assert_eq!(stored.version, 1);
    assert_eq!(stored.updated_by.as_deref(), Some("arn:aws:iam::1:user/a"));

    // Adding it again is refused, and says so.
    let again = registry.create(&tenant(1), "b").await.unwrap_err();
    assert!(
        matches!(&again, RegistryError::Conflict { detail, .. } if detail.contains("already")),
        "{again}"
    );

    // A and B read version 1; A suspends; B's rename from the stale read is
    // refused, and A's suspension is still there.
    let a_read = registry
        .get(stored.account_id.as_str())
        .await?
        .expect("stored");
    let b_read = a_read.clone();
    registry
        .replace(
            &Tenant {
                status: TenantStatus::Suspended,
                ..a_read
            },
            "a",
        )
        .await?;
    let lost = registry
        .replace(
            &Tenant {
                name: "renamed".into(),
                ..b_read.clone()
            },
            "b",
        )
        .await
        .unwrap_err();
    assert!(matches!(lost, RegistryError::Conflict { .. }), "{lost}");
    assert!(lost.to_string().contains("run the command again"), "{lost}");
    let now = registry
        .get(stored.account_id.as_str())
        .await?
        .expect("kept");
    assert_eq!(
        (now.status, now.name.as_str(), now.version),
        (TenantStatus::Suspended, "tenant 1", 2)
    );

    // Removing from the stale read is refused too; from a fresh one it works.
    assert!(matches!(
        registry.remove(&b_read).await,
        Err(RegistryError::Conflict { .. })
    ));
    registry.remove(&now).await?;
    assert_eq!(registry.get(now.account_id.as_str()).await?, None);
    Ok(())
}

#[tokio::test]
async fn reads_are_batched_by_100_and_writes_by_100_in_transactions() -> Result<()> {
    let (_account, registry) = registry().await?;
    let tenants: Vec<Tenant> = (0..250).map(tenant).collect();
    let writes: Vec<Write> = tenants.iter().cloned().map(Write::Create).collect();
    assert_eq!(registry.write_all(&writes, "import").await?, 3);

    // 250 distinct accounts (plus duplicates and strangers) take 3 calls.
    let mut asked: Vec<String> = tenants.iter().map(|t| t.account_id.to_string()).collect();
    asked.extend(asked.clone().into_iter().take(10));
    asked.push("999999999999".into());
    let (found, calls) = registry.get_many(&asked).await?;
    assert_eq!((found.len(), calls), (250, 3));
    assert!(found.iter().all(|t| t.version == 1));

    // Every tenant lists, in account order.
    let listed = registry.list().await?;
    assert_eq!(listed.len(), 250);
    assert!(listed.windows(2).all(|w| w[0].account_id < w[1].account_id));

    // A second import of a new chunk plus one existing account: the chunk
    // with the conflict writes nothing and names the account.
    let mixed: Vec<Write> = (250..260)
        .map(tenant)
        .chain([tenant(7)])
        .map(Write::Create)
        .collect();
    match registry.write_all(&mixed, "import").await {
        Err(RegistryError::Conflict { account, .. }) => {
            assert_eq!(account, tenant(7).account_id.to_string())
        }
        other => panic!("expected a conflict on tenant 7, got {other:?}"),
    }
    assert_eq!(registry.get(tenant(250).account_id.as_str()).await?, None);
    Ok(())
}

#[tokio::test]
async fn a_missing_table_is_an_error_that_says_what_to_do() -> Result<()> {
    let emulator = Emulator::shared();
    let account = Account::fresh(emulator).await?;
    let registry = Registry::new(account.dynamodb(), "nope-tenants");
    let error = registry
        .get_many(&["111111111111".to_string()])
        .await
        .unwrap_err();
    assert!(!error.is_transient());
    assert!(error.to_string().contains("endpoint-service up"), "{error}");
    Ok(())
}
