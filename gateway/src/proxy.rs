//! The PROXY protocol header the NLB prepends to every connection, read with
//! bounds and parsed by the `ppp` crate (never by hand).
//!
//! Version 2 (binary) and version 1 (text) are accepted. For PrivateLink
//! traffic the NLB's v2 header carries the VPC endpoint id in an AWS TLV:
//! type `0xEA` (`PP2_TYPE_AWS`), whose value is a one-byte subtype
//! (`0x01`, `PP2_SUBTYPE_AWS_VPCE_ID`) followed by the endpoint id as ASCII
//! (ELB user guide, Network Load Balancers, "Proxy protocol").
//!
//! Reading is bounded twice: at most [`ProxyLimits::max_header_bytes`] are
//! buffered (a v2 header that announces more is refused before its payload
//! is read), and the whole header must arrive within
//! [`ProxyLimits::read_timeout`] (one deadline for the header, not per read,
//! so a client that drips a byte at a time is closed too). Bytes that came
//! in the same reads as the header but after it are handed back, never lost.

use std::net::SocketAddr;
use std::time::Duration;

use ppp::{v1, v2, HeaderResult, PartialResult};
use tokio::io::{AsyncRead, AsyncReadExt};

/// `PP2_TYPE_AWS`: the TLV type of AWS's own TLVs in a v2 header.
pub const PP2_TYPE_AWS: u8 = 0xEA;
/// `PP2_SUBTYPE_AWS_VPCE_ID`: the first byte of an AWS TLV's value that
/// says the rest is the VPC endpoint id.
pub const PP2_SUBTYPE_AWS_VPCE_ID: u8 = 0x01;

/// The length of the v2 fixed part: 12-byte signature, version/command,
/// family/protocol, 2-byte length.
const V2_FIXED_LEN: usize = 16;

/// Bounds on reading the header.
#[derive(Debug, Clone)]
pub struct ProxyLimits {
    /// The most bytes a header may take (a v1 header is at most 107 by the
    /// protocol). The NLB's v2 header with the endpoint TLV is well under
    /// 200 bytes; the default leaves room for other TLVs.
    pub max_header_bytes: usize,
    /// How long the whole header may take to arrive.
    pub read_timeout: Duration,
    /// Refuse a header without the AWS endpoint-id TLV (the gateway's
    /// normal setting: without it there is no identity).
    pub require_endpoint_tlv: bool,
}

impl Default for ProxyLimits {
    fn default() -> Self {
        ProxyLimits {
            max_header_bytes: 1024,
            read_timeout: Duration::from_secs(5),
            require_endpoint_tlv: true,
        }
    }
}

/// Which version of the protocol the header was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyVersion {
    V1,
    V2,
}

/// What the header said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyHeader {
    pub version: ProxyVersion,
    /// The client's address as the NLB saw it; `None` for `UNKNOWN` (v1),
    /// `LOCAL` or unspecified/Unix families (v2).
    pub source: Option<SocketAddr>,
    /// The address the client connected to.
    pub destination: Option<SocketAddr>,
    /// The VPC endpoint id from the AWS TLV, when present.
    pub endpoint_id: Option<String>,
    /// How many bytes the header took on the wire.
    pub header_len: usize,
}

/// A header read from a stream, and whatever followed it in the same reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadHeader {
    pub header: ProxyHeader,
    /// Bytes after the header: the start of the client's own data.
    pub rest: Vec<u8>,
}

/// Why a connection's header was refused. Nothing is forwarded for any of
/// these.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("missing PROXY header: the connection closed before sending any byte")]
    Missing,
    #[error("truncated PROXY header: the connection closed after {got} bytes of it")]
    Truncated { got: usize },
    #[error("PROXY header not complete within {timeout:?} ({got} bytes received)")]
    Timeout { timeout: Duration, got: usize },
    #[error("PROXY header larger than the limit of {limit} bytes (announced or received: {size})")]
    Oversized { limit: usize, size: usize },
    #[error("malformed PROXY header: {0}")]
    Malformed(String),
    #[error("PROXY header has no AWS VPC endpoint id TLV (type 0xEA, subtype 0x01)")]
    MissingEndpointTlv,
    #[error("malformed AWS VPC endpoint id TLV: {0}")]
    BadEndpointTlv(String),
    #[error("reading the PROXY header failed: {0}")]
    Io(#[from] std::io::Error),
}

impl ProxyError {
    /// A short stable name for logs and counters.
    pub fn kind(&self) -> &'static str {
        match self {
            ProxyError::Missing => "missing",
            ProxyError::Truncated { .. } => "truncated",
            ProxyError::Timeout { .. } => "timeout",
            ProxyError::Oversized { .. } => "oversized",
            ProxyError::Malformed(_) => "malformed",
            ProxyError::MissingEndpointTlv => "no_endpoint_tlv",
            ProxyError::BadEndpointTlv(_) => "bad_endpoint_tlv",
            ProxyError::Io(_) => "io",
        }
    }
}

/// Parses a header at the start of `buf`. `Ok(None)`: not complete yet,
/// read more. The TLV requirement of `limits` is applied; the size bound is
/// too (a v2 header that announces more than the limit is refused at once).
pub fn parse(buf: &[u8], limits: &ProxyLimits) -> Result<Option<ProxyHeader>, ProxyError> {
    // The v2 signature decides the version: input that is (or may become)
    // the 12-byte signature is v2 only, anything else is v1 only, so each
    // refusal names the version the client was speaking.
    let result: HeaderResult<'_> = match v2::Header::try_from(buf) {
        Err(v2::ParseError::Prefix) => v1::Header::try_from(buf).into(),
        v2 => v2.into(),
    };
    let header = match result {
        HeaderResult::V2(Ok(h)) => from_v2(&h)?,
        HeaderResult::V1(Ok(h)) => from_v1(&h),
        result if result.is_incomplete() => {
            if let HeaderResult::V2(Err(v2::ParseError::Partial(_, payload))) = &result {
                let size = V2_FIXED_LEN + payload;
                if size > limits.max_header_bytes {
                    return Err(ProxyError::Oversized {
                        limit: limits.max_header_bytes,
                        size,
                    });
                }
            }
            if buf.len() >= limits.max_header_bytes {
                return Err(ProxyError::Oversized {
                    limit: limits.max_header_bytes,
                    size: buf.len(),
                });
            }
            return Ok(None);
        }
        HeaderResult::V2(Err(e)) => return Err(ProxyError::Malformed(format!("v2: {e}"))),
        HeaderResult::V1(Err(_)) if !buf.starts_with(b"PROXY") => {
            return Err(ProxyError::Malformed(
                "not a PROXY header (neither the v1 \"PROXY\" nor the v2 signature)".into(),
            ))
        }
        HeaderResult::V1(Err(v1::BinaryParseError::Parse(v1::ParseError::HeaderTooLong))) => {
            return Err(ProxyError::Oversized {
                limit: limits.max_header_bytes.min(107),
                size: buf.len(),
            })
        }
        HeaderResult::V1(Err(e)) => return Err(ProxyError::Malformed(format!("v1: {e}"))),
    };
    if header.header_len > limits.max_header_bytes {
        return Err(ProxyError::Oversized {
            limit: limits.max_header_bytes,
            size: header.header_len,
        });
    }
    if limits.require_endpoint_tlv && header.endpoint_id.is_none() {
        return Err(ProxyError::MissingEndpointTlv);
    }
    Ok(Some(header))
}

fn from_v1(h: &v1::Header<'_>) -> ProxyHeader {
    let (source, destination) = match h.addresses {
        v1::Addresses::Tcp4(a) => (
            Some(SocketAddr::from((a.source_address, a.source_port))),
            Some(SocketAddr::from((
                a.destination_address,
                a.destination_port,
            ))),
        ),
        v1::Addresses::Tcp6(a) => (
            Some(SocketAddr::from((a.source_address, a.source_port))),
            Some(SocketAddr::from((
                a.destination_address,
                a.destination_port,
            ))),
        ),
        v1::Addresses::Unknown => (None, None),
    };
    ProxyHeader {
        version: ProxyVersion::V1,
        source,
        destination,
        endpoint_id: None,
        header_len: h.header.len(),
    }
}

fn from_v2(h: &v2::Header<'_>) -> Result<ProxyHeader, ProxyError> {
    let (source, destination) = match (h.command, h.addresses) {
        (v2::Command::Local, _) => (None, None),
        (v2::Command::Proxy, v2::Addresses::IPv4(a)) => (
            Some(SocketAddr::from((a.source_address, a.source_port))),
            Some(SocketAddr::from((
                a.destination_address,
                a.destination_port,
            ))),
        ),
        (v2::Command::Proxy, v2::Addresses::IPv6(a)) => (
            Some(SocketAddr::from((a.source_address, a.source_port))),
            Some(SocketAddr::from((
                a.destination_address,
                a.destination_port,
            ))),
        ),
        (v2::Command::Proxy, _) => (None, None),
    };
    let mut endpoint_id: Option<String> = None;
    for tlv in h.tlvs() {
        let tlv = tlv.map_err(|e| ProxyError::Malformed(format!("v2 TLV: {e}")))?;
        if tlv.kind != PP2_TYPE_AWS {
            continue;
        }
        let Some((&subtype, value)) = tlv.value.split_first() else {
            return Err(ProxyError::BadEndpointTlv("empty AWS TLV".into()));
        };
        if subtype != PP2_SUBTYPE_AWS_VPCE_ID {
            // Another AWS subtype: not ours to interpret.
            continue;
        }
        let id = endpoint_id_from(value)?;
        if endpoint_id.as_ref().is_some_and(|seen| *seen != id) {
            return Err(ProxyError::BadEndpointTlv(
                "two different endpoint ids in one header".into(),
            ));
        }
        endpoint_id = Some(id);
    }
    Ok(ProxyHeader {
        version: ProxyVersion::V2,
        source,
        destination,
        endpoint_id,
        header_len: h.len(),
    })
}

/// Checks the TLV's value is shaped like an endpoint id: `vpce-` and 1 to
/// 64 lowercase letters and digits (AWS uses 17 hex digits today; the
/// bound only keeps junk out of logs and lookups).
fn endpoint_id_from(value: &[u8]) -> Result<String, ProxyError> {
    let text = std::str::from_utf8(value)
        .map_err(|_| ProxyError::BadEndpointTlv("endpoint id is not UTF-8".into()))?;
    let ok = text.strip_prefix("vpce-").is_some_and(|rest| {
        (1..=64).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    });
    if !ok {
        return Err(ProxyError::BadEndpointTlv(format!(
            "not an endpoint id: {:?}",
            text.chars().take(80).collect::<String>()
        )));
    }
    Ok(text.to_string())
}

/// Reads and parses the header at the start of `stream`, within
/// `limits`. On success, returns the header and the bytes read past it.
pub async fn read_header<R>(stream: &mut R, limits: &ProxyLimits) -> Result<ReadHeader, ProxyError>
where
    R: AsyncRead + Unpin,
{
    let mut buf: Vec<u8> = Vec::with_capacity(limits.max_header_bytes.clamp(1, 512));
    match tokio::time::timeout(limits.read_timeout, read_loop(stream, &mut buf, limits)).await {
        Ok(result) => result,
        Err(_) => Err(ProxyError::Timeout {
            timeout: limits.read_timeout,
            got: buf.len(),
        }),
    }
}

async fn read_loop<R>(
    stream: &mut R,
    buf: &mut Vec<u8>,
    limits: &ProxyLimits,
) -> Result<ReadHeader, ProxyError>
where
    R: AsyncRead + Unpin,
{
    let mut chunk = vec![0u8; limits.max_header_bytes.clamp(1, 4096)];
    loop {
        if let Some(header) = parse(buf, limits)? {
            let rest = buf[header.header_len..].to_vec();
            return Ok(ReadHeader { header, rest });
        }
        // Never buffer beyond the limit: `parse` refuses a buffer that is
        // full and still incomplete, so there is always room here.
        let room = limits.max_header_bytes.saturating_sub(buf.len()).max(1);
        let want = room.min(chunk.len());
        let n = stream.read(&mut chunk[..want]).await?;
        if n == 0 {
            return Err(if buf.is_empty() {
                ProxyError::Missing
            } else {
                ProxyError::Truncated { got: buf.len() }
            });
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Builds a v2 header for the upstream: the client's addresses as the NLB
/// reported them (or `LOCAL` with none when unknown) and `tlvs`.
pub fn build_v2(
    source: Option<SocketAddr>,
    destination: Option<SocketAddr>,
    tlvs: &[(u8, &[u8])],
) -> std::io::Result<Vec<u8>> {
    let mut builder = match (source, destination) {
        (Some(s), Some(d)) if s.is_ipv4() == d.is_ipv4() => v2::Builder::with_addresses(
            v2::Version::Two | v2::Command::Proxy,
            v2::Protocol::Stream,
            (s, d),
        ),
        _ => v2::Builder::new(
            v2::Version::Two | v2::Command::Local,
            v2::AddressFamily::Unspecified | v2::Protocol::Unspecified,
        ),
    };
    for (kind, value) in tlvs {
        builder = builder.write_tlv(*kind, value)?;
    }
    builder.build()
}
