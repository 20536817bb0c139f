//! Generated inputs at the PROXY front (random bytes, bytes after a v2
//! signature, and valid NLB headers with bytes flipped, cut or appended):
//! `tcp::handle` never panics, and nothing is forwarded (no upstream
//! connection is even opened) unless the header was valid, carried an
//! endpoint id, and the identity was accepted.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use privatelink_gateway::identity::{Identify, Identity, Refusal};
use privatelink_gateway::proxy::ProxyLimits;
use privatelink_gateway::tcp::{handle, ConnError, Connect, TcpConfig};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

const CASES: u32 = 12_000;

/// Accepts only [`ENDPOINT`]; counts what it was asked and what it accepted.
#[derive(Default)]
struct OnlyOne {
    asked: AtomicUsize,
    accepted: AtomicUsize,
}

impl Identify for OnlyOne {
    async fn identify(&self, endpoint_id: &str) -> Result<Identity, Refusal> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        if endpoint_id == ENDPOINT {
            self.accepted.fetch_add(1, Ordering::SeqCst);
            Ok(Identity {
                endpoint_id: endpoint_id.into(),
                account_id: OWNER.into(),
                tenant: "Acme".into(),
            })
        } else {
            Err(Refusal::UnknownEndpoint {
                endpoint_id: endpoint_id.into(),
            })
        }
    }
}

/// An in-memory upstream that counts connections and the bytes it got.
#[derive(Default)]
struct CountingUpstream {
    connects: AtomicUsize,
    bytes: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Connect for CountingUpstream {
    type Stream = DuplexStream;
    async fn connect(&self) -> std::io::Result<DuplexStream> {
        self.connects.fetch_add(1, Ordering::SeqCst);
        let (near, mut far) = tokio::io::duplex(1 << 16);
        let bytes = self.bytes.clone();
        tokio::spawn(async move {
            let mut got = Vec::new();
            let _ = far.read_to_end(&mut got).await;
            bytes.lock().unwrap().push(got);
        });
        Ok(near)
    }
}

fn input() -> impl Strategy<Value = Vec<u8>> {
    let valid = prop_oneof![
        Just(nlb_v2_ipv4(ENDPOINT)),
        Just(nlb_v2_ipv4("vpce-0ddddddddddddddd4")),
        Just(v2_header(
            "[2001:db8::10]:40000",
            "[2001:db8::5]:443",
            &[aws_tlv(ENDPOINT)]
        )),
        Just(b"PROXY TCP4 192.0.2.1 10.0.0.1 40000 443\r\n".to_vec()),
    ];
    let mutated = (
        valid,
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
        prop::option::of(any::<prop::sample::Index>()),
        prop::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(mut bytes, flips, cut, tail)| {
            for (at, byte) in flips {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut.index(bytes.len() + 1));
            }
            bytes.extend_from_slice(&tail);
            bytes
        });
    let after_signature = prop::collection::vec(any::<u8>(), 0..120).prop_map(|tail| {
        let mut bytes = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
        bytes.extend_from_slice(&tail);
        bytes
    });
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..300),
        2 => after_signature,
        5 => mutated,
    ]
}

#[test]
fn nothing_is_forwarded_without_an_identity() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = TcpConfig {
        limits: ProxyLimits {
            read_timeout: Duration::from_secs(2),
            ..ProxyLimits::default()
        },
        ..TcpConfig::default()
    };
    let resolver = OnlyOne::default();
    let upstream = CountingUpstream::default();
    let counts: Mutex<[usize; 3]> = Mutex::new([0; 3]); // header refused, identity refused, forwarded
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&input(), |bytes| {
            let before = upstream.connects.load(Ordering::SeqCst);
            let result = rt.block_on(async {
                let (mut client, gateway_side) = tokio::io::duplex(1 << 16);
                client.write_all(&bytes).await.unwrap();
                client.shutdown().await.unwrap();
                let result = handle(gateway_side, &config, &resolver, &upstream).await;
                // Let the upstream's reader finish.
                tokio::task::yield_now().await;
                result
            });
            let opened = upstream.connects.load(Ordering::SeqCst) - before;
            let mut counts = counts.lock().unwrap();
            match result {
                Ok(forwarded) => {
                    prop_assert_eq!(opened, 1);
                    prop_assert_eq!(forwarded.identity.endpoint_id.as_str(), ENDPOINT);
                    prop_assert_eq!(forwarded.header.endpoint_id.as_deref(), Some(ENDPOINT));
                    counts[2] += 1;
                }
                Err(ConnError::Refused(_)) => {
                    prop_assert_eq!(opened, 0);
                    counts[1] += 1;
                }
                Err(ConnError::Header(_)) => {
                    prop_assert_eq!(opened, 0);
                    counts[0] += 1;
                }
                Err(e @ ConnError::Upstream(_)) => {
                    return Err(TestCaseError::fail(format!("upstream failed: {e}")));
                }
            }
            Ok(())
        })
        .unwrap();
    let [header_refused, identity_refused, forwarded] = *counts.lock().unwrap();
    let with_tlv = identity_refused + forwarded;
    println!(
        "{CASES} generated inputs: {with_tlv} reached a valid header with the endpoint TLV \
         ({forwarded} forwarded, {identity_refused} refused by identity); \
         {header_refused} refused at the header"
    );
    assert_eq!(header_refused + with_tlv, CASES as usize);
    assert_eq!(upstream.connects.load(Ordering::SeqCst), forwarded);
    assert_eq!(resolver.accepted.load(Ordering::SeqCst), forwarded);
    assert_eq!(resolver.asked.load(Ordering::SeqCst), with_tlv);
    // The generator must exercise both sides.
    assert!(
        forwarded > 500 && header_refused > 5000,
        "{forwarded} / {header_refused}"
    );
}
