//! Endpoint id → owner → tenant, against a counting stand-in for
//! DescribeVpcEndpointConnections and a changeable tenant source, on
//! tokio's paused clock (TTLs and intervals pass without waiting).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use privatelink_core::approval::TenantStatus;
use privatelink_gateway::identity::{registry_config, IdentityConfig, Refusal, Resolver};

fn config() -> IdentityConfig {
    IdentityConfig {
        ttl: Duration::from_secs(60),
        min_refresh_interval: Duration::from_secs(5),
        max_entries: 1000,
        tenant_ttl: Duration::from_secs(10),
        stale_grace: Duration::from_secs(300),
    }
}

fn resolver(
    connections: Vec<privatelink_core::approval::Connection>,
    tenants: MutableTenants,
) -> (Resolver<CountingLister, MutableTenants>, CountingLister) {
    let lister = CountingLister::new(connections);
    (Resolver::new(lister.clone(), tenants, config()), lister)
}

fn acme() -> MutableTenants {
    MutableTenants::with(vec![tenant(OWNER, "Acme", TenantStatus::Active, None)])
}

#[tokio::test(start_paused = true)]
async fn an_available_endpoint_of_an_active_tenant_is_accepted() {
    let (r, _) = resolver(vec![available(ENDPOINT, OWNER)], acme());
    let id = r.resolve(ENDPOINT).await.unwrap();
    assert_eq!(id.endpoint_id, ENDPOINT);
    assert_eq!(id.account_id, OWNER);
    assert_eq!(id.tenant, "Acme");
}

#[tokio::test(start_paused = true)]
async fn a_cache_hit_makes_no_second_aws_call() {
    let tenants = acme();
    let (r, lister) = resolver(vec![available(ENDPOINT, OWNER)], tenants.clone());
    for _ in 0..100 {
        r.resolve(ENDPOINT).await.unwrap();
        tokio::time::advance(Duration::from_millis(100)).await;
    }
    assert_eq!(lister.calls(), 1);
    // The tenant is cached too: one read per tenant_ttl (10 s over 10 s).
    assert!(tenants.reads() <= 2, "{}", tenants.reads());
}

#[tokio::test(start_paused = true)]
async fn an_expired_cache_is_refreshed_and_sees_changes() {
    let (r, lister) = resolver(vec![available(ENDPOINT, OWNER)], acme());
    r.resolve(ENDPOINT).await.unwrap();
    // The provider rejects the endpoint; within the TTL the cache still
    // says available.
    lister.set(vec![connection(ENDPOINT, OWNER, "rejected")]);
    tokio::time::advance(Duration::from_secs(59)).await;
    r.resolve(ENDPOINT).await.unwrap();
    assert_eq!(lister.calls(), 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    let refused = r.resolve(ENDPOINT).await.unwrap_err();
    assert_eq!(lister.calls(), 2);
    assert!(
        matches!(&refused, Refusal::NotAvailable { state, .. } if state == "rejected"),
        "{refused}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_new_endpoint_is_found_by_refreshing_on_a_miss() {
    let (r, lister) = resolver(vec![available(ENDPOINT, OWNER)], acme());
    r.resolve(ENDPOINT).await.unwrap();
    let second = "vpce-0aaaaaaaaaaaaaaa1";
    lister.set(vec![available(ENDPOINT, OWNER), available(second, OWNER)]);
    tokio::time::advance(Duration::from_secs(6)).await;
    assert_eq!(r.resolve(second).await.unwrap().endpoint_id, second);
    assert_eq!(lister.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_flood_of_unknown_ids_costs_one_listing_per_interval() {
    let (r, lister) = resolver(vec![available(ENDPOINT, OWNER)], acme());
    let first = r.resolve("vpce-0000000000000000f").await.unwrap_err();
    assert!(matches!(first, Refusal::UnknownEndpoint { .. }), "{first}");
    for i in 0..10_000 {
        let refused = r.resolve(&format!("vpce-{i:017x}")).await.unwrap_err();
        assert!(
            matches!(refused, Refusal::UnknownRateLimited { .. }),
            "{refused}"
        );
    }
    assert_eq!(lister.calls(), 1);
    // Known ids are still served from the cache meanwhile.
    r.resolve(ENDPOINT).await.unwrap();
    assert_eq!(r.cached_endpoints(), 1, "made-up ids are never stored");
    tokio::time::advance(Duration::from_secs(5)).await;
    let _ = r.resolve("vpce-0000000000000000e").await.unwrap_err();
    assert_eq!(lister.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn concurrent_misses_share_one_listing() {
    let (r, lister) = resolver(vec![available(ENDPOINT, OWNER)], acme());
    let r = Arc::new(r);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let r = r.clone();
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                r.resolve(ENDPOINT).await.map(|_| ())
            } else {
                r.resolve(&format!("vpce-{i:017x}")).await.map(|_| ())
            }
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        if t.await.unwrap().is_ok() {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 25);
    assert_eq!(lister.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_failed_listing_is_refused_and_rate_limited_too() {
    let (r, lister) = resolver(vec![available(ENDPOINT, OWNER)], acme());
    *lister.fail.lock().unwrap() = true;
    let refused = r.resolve(ENDPOINT).await.unwrap_err();
    assert!(matches!(&refused, Refusal::LookupFailed(m) if m.contains("RequestLimitExceeded")));
    for _ in 0..100 {
        r.resolve(ENDPOINT).await.unwrap_err();
    }
    assert_eq!(lister.calls(), 1);
    *lister.fail.lock().unwrap() = false;
    tokio::time::advance(Duration::from_secs(5)).await;
    r.resolve(ENDPOINT).await.unwrap();
    assert_eq!(lister.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn endpoints_that_are_not_available_are_refused() {
    for state in [
        "pendingAcceptance",
        "pending",
        "rejected",
        "deleted",
        "failed",
        "somethingNew",
    ] {
        let (r, _) = resolver(vec![connection(ENDPOINT, OWNER, state)], acme());
        let refused = r.resolve(ENDPOINT).await.unwrap_err();
        assert!(
            matches!(&refused, Refusal::NotAvailable { state: s, .. } if s == state),
            "{state}: {refused}"
        );
    }
    // AWS's camelCase or the SDK's PascalCase: both are available.
    let (r, _) = resolver(vec![connection(ENDPOINT, OWNER, "Available")], acme());
    r.resolve(ENDPOINT).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn owners_that_are_not_entitled_tenants_are_refused() {
    let (r, _) = resolver(vec![available(ENDPOINT, "222222222222")], acme());
    let refused = r.resolve(ENDPOINT).await.unwrap_err();
    assert_eq!(
        refused,
        Refusal::NotATenant {
            account_id: "222222222222".into()
        }
    );

    let suspended =
        MutableTenants::with(vec![tenant(OWNER, "Acme", TenantStatus::Suspended, None)]);
    let (r, _) = resolver(vec![available(ENDPOINT, OWNER)], suspended);
    let refused = r.resolve(ENDPOINT).await.unwrap_err();
    assert_eq!(
        refused,
        Refusal::Suspended {
            account_id: OWNER.into()
        }
    );
    assert_eq!(refused.to_string(), format!("tenant {OWNER} is suspended"));

    let expired = MutableTenants::with(vec![tenant(OWNER, "Acme", TenantStatus::Active, Some(1))]);
    let (r, _) = resolver(vec![available(ENDPOINT, OWNER)], expired);
    let refused = r.resolve(ENDPOINT).await.unwrap_err();
    assert_eq!(
        refused,
        Refusal::Expired {
            account_id: OWNER.into()
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_suspension_takes_effect_within_the_tenant_ttl() {
    let tenants = acme();
    let (r, _) = resolver(vec![available(ENDPOINT, OWNER)], tenants.clone());
    r.resolve(ENDPOINT).await.unwrap();
    tenants.put(tenant(OWNER, "Acme", TenantStatus::Suspended, None));
    tokio::time::advance(Duration::from_secs(9)).await;
    r.resolve(ENDPOINT).await.unwrap();
    tokio::time::advance(Duration::from_secs(2)).await;
    let refused = r.resolve(ENDPOINT).await.unwrap_err();
    assert!(matches!(refused, Refusal::Suspended { .. }));
}

#[tokio::test(start_paused = true)]
async fn the_cache_is_bounded() {
    let connections: Vec<_> = (0..50)
        .map(|i| available(&format!("vpce-{i:017x}"), OWNER))
        .collect();
    let lister = CountingLister::new(connections);
    let r = Resolver::new(
        lister,
        acme(),
        IdentityConfig {
            max_entries: 10,
            ..config()
        },
    );
    let _ = r.resolve("vpce-00000000000000000").await;
    assert_eq!(r.cached_endpoints(), 10);
}

#[tokio::test(start_paused = true)]
async fn a_ttl_shorter_than_the_refresh_interval_is_raised_to_it() {
    let lister = CountingLister::new(vec![available(ENDPOINT, OWNER)]);
    let r = Resolver::new(
        lister.clone(),
        acme(),
        IdentityConfig {
            ttl: Duration::from_secs(1),
            ..config()
        },
    );
    r.resolve(ENDPOINT).await.unwrap();
    tokio::time::advance(Duration::from_secs(3)).await;
    // Stale under a 1 s TTL but not refused by the 5 s interval.
    r.resolve(ENDPOINT).await.unwrap();
    assert_eq!(lister.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn concurrent_lookups_for_one_uncached_owner_share_one_registry_read() {
    let tenants = acme();
    // Reads take time, so all the lookups miss while the first is running.
    tenants.set_delay(Duration::from_millis(50));
    let second = "vpce-0aaaaaaaaaaaaaaa1";
    let (r, _) = resolver(
        vec![available(ENDPOINT, OWNER), available(second, OWNER)],
        tenants.clone(),
    );
    let r = Arc::new(r);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let r = r.clone();
        let endpoint = if i % 2 == 0 { ENDPOINT } else { second };
        tasks.push(tokio::spawn(async move { r.resolve(endpoint).await }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().tenant, "Acme");
    }
    assert_eq!(tenants.reads(), 1);
    // After the TTL the next miss reads again (the finished read is not reused).
    tokio::time::advance(Duration::from_secs(11)).await;
    r.resolve(ENDPOINT).await.unwrap();
    assert_eq!(tenants.reads(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_failed_shared_registry_read_fails_every_waiting_lookup_once() {
    let tenants = acme();
    tenants.set_delay(Duration::from_millis(50));
    tenants.set_fail(true);
    let (r, _) = resolver(vec![available(ENDPOINT, OWNER)], tenants.clone());
    let r = Arc::new(r);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let r = r.clone();
            tokio::spawn(async move { r.resolve(ENDPOINT).await })
        })
        .collect();
    for t in tasks {
        let refused = t.await.unwrap().unwrap_err();
        assert!(
            matches!(&refused, Refusal::LookupFailed(m) if m.contains("ProvisionedThroughputExceeded")),
            "{refused}"
        );
    }
    assert_eq!(tenants.reads(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_failed_listing_serves_the_last_one_within_the_stale_grace() {
    let (r, lister) = resolver(vec![available(ENDPOINT, OWNER)], acme());
    r.resolve(ENDPOINT).await.unwrap();
    *lister.fail.lock().unwrap() = true;
    // Past the 60 s TTL: the refresh fails, the last listing is served.
    tokio::time::advance(Duration::from_secs(61)).await;
    assert_eq!(r.resolve(ENDPOINT).await.unwrap().account_id, OWNER);
    assert_eq!(lister.calls(), 2);
    // Inside the refresh interval: still served, no new call.
    r.resolve(ENDPOINT).await.unwrap();
    assert_eq!(lister.calls(), 2);
    // An id no successful listing named is never admitted.
    let refused = r.resolve("vpce-0ccccccccccccccc3").await.unwrap_err();
    assert!(matches!(refused, Refusal::LookupFailed(_)), "{refused}");
    // Just inside TTL + grace (360 s after the listing): served.
    tokio::time::advance(Duration::from_secs(297)).await;
    r.resolve(ENDPOINT).await.unwrap();
    // Past it: refused as a failed lookup, naming AWS's error.
    tokio::time::advance(Duration::from_secs(3)).await;
    let refused = r.resolve(ENDPOINT).await.unwrap_err();
    assert!(
        matches!(&refused, Refusal::LookupFailed(m) if m.contains("RequestLimitExceeded")),
        "{refused}"
    );
    assert!(refused.to_string().contains("lookup failed"), "{refused}");
    // AWS is back: a fresh listing, served again.
    *lister.fail.lock().unwrap() = false;
    tokio::time::advance(Duration::from_secs(5)).await;
    r.resolve(ENDPOINT).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_zero_grace_refuses_as_soon_as_a_refresh_fails() {
    let lister = CountingLister::new(vec![available(ENDPOINT, OWNER)]);
    let r = Resolver::new(
        lister.clone(),
        acme(),
        IdentityConfig {
            stale_grace: Duration::ZERO,
            ..config()
        },
    );
    r.resolve(ENDPOINT).await.unwrap();
    *lister.fail.lock().unwrap() = true;
    tokio::time::advance(Duration::from_secs(61)).await;
    let refused = r.resolve(ENDPOINT).await.unwrap_err();
    assert!(matches!(refused, Refusal::LookupFailed(_)), "{refused}");
}

#[tokio::test(start_paused = true)]
async fn a_failed_tenant_read_serves_the_last_one_within_the_stale_grace() {
    let tenants = acme();
    let (r, _) = resolver(vec![available(ENDPOINT, OWNER)], tenants.clone());
    r.resolve(ENDPOINT).await.unwrap();
    tenants.set_fail(true);
    // Past the 10 s tenant TTL: the read fails, the last tenant is served.
    tokio::time::advance(Duration::from_secs(11)).await;
    assert_eq!(r.resolve(ENDPOINT).await.unwrap().tenant, "Acme");
    assert_eq!(tenants.reads(), 2);
    // Still a standing check on the stale tenant's data: not a blank pass.
    tokio::time::advance(Duration::from_secs(298)).await;
    r.resolve(ENDPOINT).await.unwrap();
    // Past tenant TTL + grace (310 s after the read): lookup failed.
    tokio::time::advance(Duration::from_secs(2)).await;
    let refused = r.resolve(ENDPOINT).await.unwrap_err();
    assert!(
        matches!(&refused, Refusal::LookupFailed(m) if m.contains("tenant registry")),
        "{refused}"
    );
    // A tenant never read is never served stale.
    let other = MutableTenants::with(vec![]);
    other.set_fail(true);
    let (r, _) = resolver(vec![available(ENDPOINT, OWNER)], other);
    let refused = r.resolve(ENDPOINT).await.unwrap_err();
    assert!(matches!(refused, Refusal::LookupFailed(_)), "{refused}");
}

#[test]
fn the_registry_region_overrides_the_gateways_own() {
    use aws_sdk_dynamodb::config::{BehaviorVersion, Builder, Region};
    let gateway = || {
        Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
    };
    let home = registry_config(gateway(), Some("us-east-1"));
    assert_eq!(home.region().map(|r| r.as_ref()), Some("us-east-1"));
    let same = registry_config(gateway(), None);
    assert_eq!(same.region().map(|r| r.as_ref()), Some("eu-west-1"));
}
