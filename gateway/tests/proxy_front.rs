//! The PROXY front over real sockets: a test client on 127.0.0.1 writes
//! headers (v1 text, v2 binary, IPv4 and IPv6, with and without the AWS
//! TLV, truncated, garbage, oversized, slow) and the gateway's
//! `read_header` reads them from the accepted stream.

mod common;

use std::time::{Duration, Instant};

use common::*;
use privatelink_gateway::proxy::{read_header, ProxyError, ProxyLimits, ProxyVersion, ReadHeader};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// What the client does after writing its bytes.
#[derive(Clone, Copy)]
enum Then {
    Close,
    StayOpen,
}

async fn read_over_tcp(
    bytes: Vec<u8>,
    then: Then,
    limits: ProxyLimits,
) -> Result<ReadHeader, ProxyError> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(&bytes).await.unwrap();
        match then {
            Then::Close => s.shutdown().await.unwrap(),
            Then::StayOpen => tokio::time::sleep(Duration::from_secs(30)).await,
        }
        s
    });
    let (mut server, _) = listener.accept().await.unwrap();
    let result = read_header(&mut server, &limits).await;
    client.abort();
    result
}

fn lenient() -> ProxyLimits {
    ProxyLimits {
        require_endpoint_tlv: false,
        ..ProxyLimits::default()
    }
}

#[tokio::test]
async fn v1_tcp4_and_the_bytes_after_it() {
    let mut bytes = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n".to_vec();
    bytes.extend_from_slice(b"GET / HTTP/1.1\r\n");
    let read = read_over_tcp(bytes, Then::Close, lenient()).await.unwrap();
    assert_eq!(read.header.version, ProxyVersion::V1);
    assert_eq!(read.header.source, Some("192.0.2.1:56324".parse().unwrap()));
    assert_eq!(
        read.header.destination,
        Some("198.51.100.2:443".parse().unwrap())
    );
    assert_eq!(read.header.endpoint_id, None);
    assert_eq!(read.rest, b"GET / HTTP/1.1\r\n");
}

#[tokio::test]
async fn v1_tcp6() {
    let bytes = b"PROXY TCP6 2001:db8::1 2001:db8::2 1234 443\r\n".to_vec();
    let read = read_over_tcp(bytes, Then::Close, lenient()).await.unwrap();
    assert_eq!(
        read.header.source,
        Some("[2001:db8::1]:1234".parse().unwrap())
    );
    assert!(read.rest.is_empty());
}

#[tokio::test]
async fn v1_has_no_endpoint_tlv_so_it_is_refused_when_one_is_required() {
    let bytes = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nhello".to_vec();
    let err = read_over_tcp(bytes, Then::Close, ProxyLimits::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ProxyError::MissingEndpointTlv), "{err}");
    assert!(err.to_string().contains("0xEA"), "{err}");
}

#[tokio::test]
async fn v2_ipv4_with_the_aws_tlv_as_the_nlb_writes_it() {
    let mut bytes = nlb_v2_ipv4(ENDPOINT);
    let header_len = bytes.len();
    bytes.extend_from_slice(b"\x16\x03\x01 client hello");
    let read = read_over_tcp(bytes, Then::Close, ProxyLimits::default())
        .await
        .unwrap();
    assert_eq!(read.header.version, ProxyVersion::V2);
    assert_eq!(read.header.endpoint_id.as_deref(), Some(ENDPOINT));
    assert_eq!(
        read.header.source,
        Some("192.0.2.10:40000".parse().unwrap())
    );
    assert_eq!(
        read.header.destination,
        Some("10.0.0.5:443".parse().unwrap())
    );
    assert_eq!(read.header.header_len, header_len);
    assert_eq!(read.rest, b"\x16\x03\x01 client hello");
}

#[tokio::test]
async fn v2_ipv6_with_the_aws_tlv_among_others() {
    let bytes = v2_header(
        "[2001:db8::10]:40000",
        "[2001:db8::5]:443",
        &[
            (0x04, vec![0; 7]),
            aws_tlv(ENDPOINT),
            (0xEA, vec![0x02, 1, 2]),
        ],
    );
    let read = read_over_tcp(bytes, Then::StayOpen, ProxyLimits::default())
        .await
        .unwrap();
    assert_eq!(read.header.endpoint_id.as_deref(), Some(ENDPOINT));
    assert_eq!(
        read.header.source,
        Some("[2001:db8::10]:40000".parse().unwrap())
    );
    assert_eq!(
        read.header.destination,
        Some("[2001:db8::5]:443".parse().unwrap())
    );
}

#[tokio::test]
async fn v2_without_the_aws_tlv() {
    let bytes = v2_header("192.0.2.1:1", "10.0.0.1:443", &[(0xEA, vec![0x02, b'x'])]);
    let err = read_over_tcp(bytes.clone(), Then::StayOpen, ProxyLimits::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ProxyError::MissingEndpointTlv), "{err}");
    // Without the requirement the header itself is fine.
    let read = read_over_tcp(bytes, Then::StayOpen, lenient())
        .await
        .unwrap();
    assert_eq!(read.header.endpoint_id, None);
}

#[tokio::test]
async fn v2_with_a_malformed_endpoint_tlv() {
    for (value, why) in [
        (b"\x01".to_vec(), "empty id"),
        (b"\x01not-an-endpoint".to_vec(), "wrong prefix"),
        (b"\x01vpce-ABC".to_vec(), "upper case"),
        (b"\x01vpce-\xff\xfe".to_vec(), "not UTF-8"),
        (Vec::new(), "no subtype"),
    ] {
        let bytes = v2_header("192.0.2.1:1", "10.0.0.1:443", &[(0xEA, value)]);
        let err = read_over_tcp(bytes, Then::StayOpen, ProxyLimits::default())
            .await
            .unwrap_err();
        assert!(matches!(err, ProxyError::BadEndpointTlv(_)), "{why}: {err}");
    }
    // Two different ids in one header.
    let bytes = v2_header(
        "192.0.2.1:1",
        "10.0.0.1:443",
        &[aws_tlv(ENDPOINT), aws_tlv("vpce-0fffffffffffffff0")],
    );
    let err = read_over_tcp(bytes, Then::StayOpen, ProxyLimits::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("two different"), "{err}");
}

#[tokio::test]
async fn v2_whose_tlv_runs_past_the_header_is_malformed() {
    let mut bytes = nlb_v2_ipv4(ENDPOINT);
    // The TLV's own length says one byte more than the header holds.
    let tlv_len_at = 16 + 12 + 1;
    let len = u16::from_be_bytes([bytes[tlv_len_at], bytes[tlv_len_at + 1]]) + 1;
    bytes[tlv_len_at..tlv_len_at + 2].copy_from_slice(&len.to_be_bytes());
    let err = read_over_tcp(bytes, Then::StayOpen, ProxyLimits::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ProxyError::Malformed(_)), "{err}");
}

#[tokio::test]
async fn v2_with_a_bad_version_or_command_is_malformed_v2() {
    let mut bytes = nlb_v2_ipv4(ENDPOINT);
    bytes[12] = 0x31;
    let err = read_over_tcp(bytes, Then::StayOpen, ProxyLimits::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("v2"), "{err}");
    let mut bytes = nlb_v2_ipv4(ENDPOINT);
    bytes[12] = 0x2F;
    let err = read_over_tcp(bytes, Then::StayOpen, ProxyLimits::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ProxyError::Malformed(_)), "{err}");
}

#[tokio::test]
async fn truncated_headers_are_refused_when_the_client_closes() {
    let full = nlb_v2_ipv4(ENDPOINT);
    for cut in [1, 11, 12, 15, 16, 27, full.len() - 1] {
        let err = read_over_tcp(full[..cut].to_vec(), Then::Close, ProxyLimits::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, ProxyError::Truncated { got } if got == cut),
            "cut {cut}: {err}"
        );
    }
    let err = read_over_tcp(
        b"PROXY TCP4 192.0.2.1 198.51".to_vec(),
        Then::Close,
        lenient(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ProxyError::Truncated { .. }), "{err}");
}

#[tokio::test]
async fn no_header_at_all() {
    let err = read_over_tcp(Vec::new(), Then::Close, ProxyLimits::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ProxyError::Missing), "{err}");
}

#[tokio::test]
async fn garbage_is_refused_at_once() {
    for garbage in [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
        b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n".to_vec(),
        b"PROXY TCP4 1.2.3.400 5.6.7.8 1 2\r\n".to_vec(),
        b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n".to_vec(),
        b"\r\n\r\n\0\r\nQUIT\x0a".to_vec(),
    ] {
        let started = Instant::now();
        let limits = ProxyLimits {
            read_timeout: Duration::from_millis(300),
            ..lenient()
        };
        let err = read_over_tcp(garbage.clone(), Then::StayOpen, limits).await;
        // The last one is a v2 signature with nothing after it: incomplete,
        // so it waits for the (short) timeout.
        let err = err.unwrap_err();
        if garbage != b"\r\n\r\n\0\r\nQUIT\x0a" {
            assert!(
                matches!(err, ProxyError::Malformed(_)),
                "{garbage:?}: {err}"
            );
            assert!(started.elapsed() < Duration::from_millis(250));
        } else {
            assert!(matches!(err, ProxyError::Timeout { .. }), "{err}");
        }
    }
    let err = read_over_tcp(b"HELLO\r\n".to_vec(), Then::StayOpen, lenient())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a PROXY header"), "{err}");
}

#[tokio::test]
async fn oversized_headers_are_refused_before_their_payload_arrives() {
    // A v2 header announcing 60,000 bytes: refused from its 16-byte fixed
    // part, the client need not send (and does not send) the rest.
    let mut bytes = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    bytes.extend_from_slice(&[0x21, 0x11]);
    bytes.extend_from_slice(&60_000u16.to_be_bytes());
    let started = Instant::now();
    let err = read_over_tcp(bytes, Then::StayOpen, ProxyLimits::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ProxyError::Oversized {
                limit: 1024,
                size: 60_016
            }
        ),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));

    // A real header with TLVs beyond a small limit.
    let bytes = v2_header(
        "192.0.2.1:1",
        "10.0.0.1:443",
        &[aws_tlv(ENDPOINT), (0x04, vec![0; 300])],
    );
    let limits = ProxyLimits {
        max_header_bytes: 256,
        ..ProxyLimits::default()
    };
    let err = read_over_tcp(bytes, Then::StayOpen, limits)
        .await
        .unwrap_err();
    assert!(matches!(err, ProxyError::Oversized { .. }), "{err}");

    // A v1 line that never ends within the protocol's 107 bytes.
    let mut line = b"PROXY TCP4 ".to_vec();
    line.extend(std::iter::repeat_n(b'1', 200));
    let err = read_over_tcp(line, Then::StayOpen, lenient())
        .await
        .unwrap_err();
    assert!(matches!(err, ProxyError::Oversized { .. }), "{err}");
}

#[tokio::test]
async fn a_client_that_stalls_mid_header_is_closed_within_the_timeout() {
    let limits = ProxyLimits {
        read_timeout: Duration::from_millis(300),
        ..ProxyLimits::default()
    };
    let started = Instant::now();
    let half = nlb_v2_ipv4(ENDPOINT)[..20].to_vec();
    let err = read_over_tcp(half, Then::StayOpen, limits.clone())
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, ProxyError::Timeout { got: 20, .. }), "{err}");
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_client_that_drips_bytes_is_closed_by_one_deadline_for_the_whole_header() {
    let limits = ProxyLimits {
        read_timeout: Duration::from_millis(400),
        ..ProxyLimits::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        for byte in b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443" {
            if s.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let (mut server, _) = listener.accept().await.unwrap();
    let started = Instant::now();
    let err = read_header(&mut server, &limits).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(err, ProxyError::Timeout { got, .. } if got > 0),
        "{err}"
    );
    assert!(took < Duration::from_millis(1500), "{took:?}");
    client.abort();
}

#[tokio::test]
async fn v2_local_command_has_no_addresses() {
    let bytes = ppp::v2::Builder::new(
        ppp::v2::Version::Two | ppp::v2::Command::Local,
        ppp::v2::AddressFamily::Unspecified | ppp::v2::Protocol::Unspecified,
    )
    .build()
    .unwrap();
    let read = read_over_tcp(bytes.clone(), Then::StayOpen, lenient())
        .await
        .unwrap();
    assert_eq!(read.header.source, None);
    let err = read_over_tcp(bytes, Then::StayOpen, ProxyLimits::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ProxyError::MissingEndpointTlv));
}
