//! The headers HTTP mode sets, removes and checks on each request and
//! answer it forwards. Pure functions on a `HeaderMap`; [`crate::http`]
//! calls them.
//!
//! Two entry points, one per direction: [`for_upstream`] (a request) and
//! [`for_client`] (an answer). The steps and their order are here, not in
//! the caller, because the order is what keeps the identity safe:
//!
//! - **The body's framing** is each hop's own: what `Transfer-Encoding`
//!   said is checked before it goes (`Framing`), and the next hop is told
//!   how the body is framed (`frame_for_next_hop`).
//! - **Each hop's own headers** (RFC 9110 §7.6.1): `Connection`, the headers
//!   it names, `Keep-Alive`, `TE`, `Transfer-Encoding`, ... end at the
//!   gateway, both ways (`strip_hop_by_hop`).
//! - **The identity** (`X-PrivateLink-*`) and **where the request came
//!   from** (`X-Forwarded-For`, `X-Forwarded-Proto`): set by the gateway
//!   only, last; every copy a client sent is removed first
//!   ([`IdentityHeaders`]).

use std::net::SocketAddr;

use hyper::body::Body;
use hyper::header::{HeaderName, HeaderValue, CONTENT_LENGTH, TRANSFER_ENCODING};
use hyper::HeaderMap;

use crate::identity::Identity;

pub const ENDPOINT_ID_HEADER: HeaderName = HeaderName::from_static("x-privatelink-endpoint-id");
pub const ACCOUNT_ID_HEADER: HeaderName = HeaderName::from_static("x-privatelink-account-id");
pub const TENANT_HEADER: HeaderName = HeaderName::from_static("x-privatelink-tenant");
/// The client's address in its VPC, from the PROXY header.
pub const FORWARDED_FOR_HEADER: HeaderName = HeaderName::from_static("x-forwarded-for");
/// Always `https`: the client spoke TLS to the gateway.
pub const FORWARDED_PROTO_HEADER: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// RFC 7239's header; the gateway does not set it, so one a client sent
/// is removed rather than passed on as if the gateway had vouched for it.
pub const FORWARDED_HEADER: HeaderName = HeaderName::from_static("forwarded");
/// Headers some frameworks read the client's address from; the gateway
/// sets none of them.
const CLIENT_ADDRESS_HEADERS: [&str; 5] = [
    "x-real-ip",
    "client-ip",
    "true-client-ip",
    "x-client-ip",
    "x-cluster-client-ip",
];
/// Names the trailer fields that follow the body. Dropped from requests,
/// and with it (hyper's client sends only declared ones) the trailers: a
/// client could otherwise send an identity header as a trailer field.
const TRAILER_HEADER: HeaderName = HeaderName::from_static("trailer");

/// Why a message is not forwarded: a transfer coding other than `chunked`
/// alone, which hyper does not undo (see `Framing::Coded`).
#[derive(Debug, PartialEq, Eq)]
pub struct CodedBody;

/// A request's headers for the app, in this order: its framing checked,
/// its hop's headers and trailers removed, its body framed for the next
/// hop, then the gateway's identity and forwarding headers set. Setting
/// them last is what stops a client from having one dropped by naming it
/// in `Connection`.
pub fn for_upstream(
    headers: &mut HeaderMap,
    body: &impl Body,
    identity: &IdentityHeaders,
) -> Result<(), CodedBody> {
    if Framing::check(headers) == Framing::Coded {
        return Err(CodedBody);
    }
    strip_hop_by_hop(headers);
    headers.remove(TRAILER_HEADER);
    frame_for_next_hop(headers, body);
    identity.set(headers);
    Ok(())
}

/// An answer's headers for the client: its framing checked, its hop's
/// headers removed (the app's `Connection: close` is about the gateway's
/// connection to it). hyper's server frames it for the client from its
/// `Content-Length`, or its body. An answer without a body (to `HEAD`, a
/// `204` or a `304`) may name the coding its body would have had: nothing
/// to decode, so it is not refused.
pub fn for_client(headers: &mut HeaderMap, body: &impl Body) -> Result<(), CodedBody> {
    if Framing::check(headers) == Framing::Coded && !body.is_end_stream() {
        return Err(CodedBody);
    }
    strip_hop_by_hop(headers);
    Ok(())
}

/// An identity's three header values and the client's address, built once
/// per connection (every request of a connection carries the same ones;
/// cloning a value is a reference count, not a copy).
#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    endpoint_id: HeaderValue,
    account_id: HeaderValue,
    tenant: HeaderValue,
    /// The PROXY header's source address (the client in its VPC), when it
    /// has one.
    client: Option<HeaderValue>,
}

impl IdentityHeaders {
    /// `client`: the source address of the connection's PROXY header.
    pub fn new(identity: &Identity, client: Option<SocketAddr>) -> IdentityHeaders {
        // Endpoint and account ids are checked ASCII. A tenant name with
        // non-ASCII letters goes as its UTF-8 bytes (HTTP's obs-text); one
        // with control characters cannot be a header value and goes as
        // `invalid`.
        let value = |s: &str| {
            HeaderValue::from_str(s).unwrap_or_else(|_| {
                HeaderValue::from_bytes(s.as_bytes())
                    .unwrap_or_else(|_| HeaderValue::from_static("invalid"))
            })
        };
        IdentityHeaders {
            endpoint_id: value(&identity.endpoint_id),
            account_id: value(&identity.account_id),
            tenant: value(&identity.tenant),
            client: client.map(|addr| {
                HeaderValue::from_str(&addr.ip().to_string()).expect("an IP address is ASCII")
            }),
        }
    }

    /// Removes every identity and forwarding header a client sent (header
    /// names are matched case-insensitively: `HeaderMap` keys are
    /// normalized) and sets the gateway's: `insert` drops every earlier
    /// value of its name. A client's `X-Forwarded-For` is replaced, not
    /// appended to: nothing before the gateway is trusted to say who the
    /// client is. Every other `X-PrivateLink-*` and `X-Forwarded-*`,
    /// `Forwarded` and the other client-address headers go too: an app told
    /// to trust the gateway's forwarding headers often reads those as well.
    /// So does every header whose name has an `_`: CGI, WSGI and Rack read
    /// `X_Forwarded_Host` as `X-Forwarded-Host` (nginx drops such names by
    /// default for the same reason).
    fn set(&self, headers: &mut HeaderMap) {
        let claims = |name: &HeaderName| {
            let name = name.as_str();
            name.starts_with("x-forwarded-")
                || name.starts_with("x-privatelink-")
                || name == FORWARDED_HEADER
                || CLIENT_ADDRESS_HEADERS.contains(&name)
                || name.contains('_')
        };
        // Usually none: no copy of the names unless there is one to remove.
        if headers.keys().any(claims) {
            let sent: Vec<HeaderName> = headers.keys().filter(|n| claims(n)).cloned().collect();
            for name in sent {
                headers.remove(name);
            }
        }
        headers.insert(ENDPOINT_ID_HEADER, self.endpoint_id.clone());
        headers.insert(ACCOUNT_ID_HEADER, self.account_id.clone());
        headers.insert(TENANT_HEADER, self.tenant.clone());
        if let Some(client) = &self.client {
            headers.insert(FORWARDED_FOR_HEADER, client.clone());
        }
        headers.insert(FORWARDED_PROTO_HEADER, HeaderValue::from_static("https"));
    }
}

/// Removes the hop-by-hop headers (RFC 9110 §7.6.1): every header that
/// `Connection` names, `Connection` itself, and `Keep-Alive`,
/// `Proxy-Connection`, `TE`, `Transfer-Encoding` and `Upgrade`. So an
/// `Upgrade` (a WebSocket) is not passed on: the app answers the request
/// as a plain one.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Usually none: an HTTP/1.1 client keeps its connection alive unasked.
    if headers.contains_key(hyper::header::CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(hyper::header::CONNECTION)
            .iter()
            .flat_map(|list| list.as_bytes().split(|&b| b == b','))
            .filter_map(|name| HeaderName::from_bytes(name.trim_ascii()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for name in [
        hyper::header::CONNECTION,
        hyper::header::TE,
        TRANSFER_ENCODING,
        hyper::header::UPGRADE,
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
    ] {
        headers.remove(name);
    }
}

/// What a message's `Transfer-Encoding` says about its body, read before
/// the header is removed.
#[derive(Debug, PartialEq, Eq)]
enum Framing {
    /// No `Transfer-Encoding`: `Content-Length`, or no body.
    Plain,
    /// Only `chunked`, which hyper has already undone: the body is the
    /// content. A `Content-Length` beside it is wrong (RFC 9112 §6.3) and
    /// is removed.
    Chunked,
    /// Another coding (`gzip, chunked`, ...): hyper undoes only `chunked`,
    /// so the body is still coded, and once the header is gone nothing
    /// would say so. Not forwarded.
    Coded,
}

impl Framing {
    /// Reads `headers`' `Transfer-Encoding` and, when it is
    /// [`Framing::Chunked`], removes a `Content-Length` beside it.
    fn check(headers: &mut HeaderMap) -> Framing {
        if !headers.contains_key(TRANSFER_ENCODING) {
            return Framing::Plain;
        }
        // Every item, empty ones too: hyper reads `chunked,` as not chunked
        // (its last item is empty), so must the gateway.
        let mut codings = headers
            .get_all(TRANSFER_ENCODING)
            .iter()
            .flat_map(|list| list.as_bytes().split(|&b| b == b','))
            .map(<[u8]>::trim_ascii);
        let chunked_only = codings
            .next()
            .is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"))
            && codings.next().is_none();
        if chunked_only {
            headers.remove(CONTENT_LENGTH);
            Framing::Chunked
        } else {
            Framing::Coded
        }
    }
}

/// After [`strip_hop_by_hop`]: a body of unknown length that is not over
/// goes chunked to the next hop. Without it hyper's client would send a
/// `GET`'s body as empty (it adds `chunked` itself only for methods that
/// usually have a body).
fn frame_for_next_hop(headers: &mut HeaderMap, body: &impl Body) {
    if !body.is_end_stream()
        && body.size_hint().exact().is_none()
        && !headers.contains_key(CONTENT_LENGTH)
    {
        headers.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use http_body_util::{Empty, Full};
    use hyper::body::Bytes;

    /// A header map of these pairs, in order (also for
    /// [`crate::websocket`]'s tests).
    pub(crate) fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (k, v) in pairs {
            headers.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        headers
    }

    fn names(headers: &HeaderMap) -> Vec<&str> {
        let mut names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        names.sort();
        names
    }

    fn identity() -> Identity {
        Identity {
            endpoint_id: "vpce-0123".into(),
            account_id: "111111111111".into(),
            tenant: "Acmé".into(),
        }
    }

    #[test]
    fn client_identity_and_forwarding_headers_are_replaced_whatever_their_case() {
        let mut headers = headers(&[
            ("X-PrivateLink-Tenant", "Evil"),
            ("x-privatelink-tenant", "Evil 2"),
            ("X-PRIVATELINK-ACCOUNT-ID", "999999999999"),
            ("x-privatelink-endpoint-id", "vpce-0fake"),
            ("X-Forwarded-For", "203.0.113.66"),
            ("x-forwarded-for", "198.51.100.7"),
            ("X-Forwarded-Proto", "http"),
            ("X-Forwarded-Host", "evil.example"),
            ("X-Forwarded-Port", "80"),
            ("X-Real-IP", "203.0.113.66"),
            ("True-Client-IP", "203.0.113.66"),
            ("Forwarded", "for=203.0.113.66"),
            ("X-PrivateLink-Plan", "enterprise"),
            ("X_Forwarded_Host", "evil.example"),
            ("X_PrivateLink_Tenant", "Evil"),
            ("x-other", "kept"),
        ]);
        IdentityHeaders::new(&identity(), Some("10.1.0.5:40000".parse().unwrap()))
            .set(&mut headers);
        let all = |n: &str| {
            headers
                .get_all(n)
                .iter()
                .map(|v| v.as_bytes().to_vec())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            all("x-privatelink-tenant"),
            vec!["Acmé".as_bytes().to_vec()]
        );
        assert_eq!(
            all("x-privatelink-account-id"),
            vec![b"111111111111".to_vec()]
        );
        assert_eq!(
            all("x-privatelink-endpoint-id"),
            vec![b"vpce-0123".to_vec()]
        );
        assert_eq!(all("x-forwarded-for"), vec![b"10.1.0.5".to_vec()]);
        assert_eq!(all("x-forwarded-proto"), vec![b"https".to_vec()]);
        assert_eq!(
            names(&headers),
            [
                "x-forwarded-for",
                "x-forwarded-proto",
                "x-other",
                "x-privatelink-account-id",
                "x-privatelink-endpoint-id",
                "x-privatelink-tenant"
            ]
        );

        // No source address (a PROXY header without one): the client's
        // claim is still removed.
        let mut headers = self::headers(&[("x-forwarded-for", "203.0.113.66")]);
        IdentityHeaders::new(&identity(), None).set(&mut headers);
        assert!(!headers.contains_key(FORWARDED_FOR_HEADER));
    }

    #[test]
    fn hop_by_hop_headers_and_the_ones_connection_names_are_removed() {
        let mut h = headers(&[
            ("Connection", "keep-alive, X-Secret"),
            ("connection", " x-privatelink-tenant ,Upgrade"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Connection", "keep-alive"),
            ("TE", "trailers"),
            ("Transfer-Encoding", "chunked"),
            ("Upgrade", "websocket"),
            ("X-Secret", "for the next hop only"),
            ("X-PrivateLink-Tenant", "Evil"),
            ("Content-Length", "0"),
            ("X-Other", "kept"),
        ]);
        strip_hop_by_hop(&mut h);
        assert_eq!(names(&h), ["content-length", "x-other"]);
    }

    #[test]
    fn a_connection_header_with_names_that_are_no_header_names_removes_the_rest() {
        let mut h = headers(&[
            ("Connection", "close, , bad name, x{y"),
            ("X-Other", "kept"),
        ]);
        // Not UTF-8: still read, as bytes.
        h.append(
            hyper::header::CONNECTION,
            HeaderValue::from_bytes(b"\xff\xfe, x-secret").unwrap(),
        );
        h.insert("x-secret", HeaderValue::from_static("s"));
        strip_hop_by_hop(&mut h);
        assert_eq!(names(&h), ["x-other"]);
    }

    #[test]
    fn framing_tells_chunked_from_other_codings() {
        // The headers; what they say; whether a `Content-Length` is kept.
        type Case<'a> = (&'a [(&'a str, &'a str)], Framing, bool);
        let cases: &[Case] = &[
            (&[("content-length", "3")], Framing::Plain, true),
            (&[], Framing::Plain, false),
            (&[("transfer-encoding", "chunked")], Framing::Chunked, false),
            (
                &[("Transfer-Encoding", " Chunked ")],
                Framing::Chunked,
                false,
            ),
            // RFC 9112 §6.3: with both, the length is wrong; it goes.
            (
                &[("transfer-encoding", "chunked"), ("content-length", "3")],
                Framing::Chunked,
                false,
            ),
            (
                &[("transfer-encoding", "gzip, chunked")],
                Framing::Coded,
                false,
            ),
            (
                &[
                    ("transfer-encoding", "gzip"),
                    ("transfer-encoding", "chunked"),
                ],
                Framing::Coded,
                false,
            ),
            (
                &[("transfer-encoding", "chunked, chunked")],
                Framing::Coded,
                false,
            ),
            (&[("transfer-encoding", "")], Framing::Coded, false),
            (&[("transfer-encoding", "chunked,")], Framing::Coded, false),
            (
                &[("transfer-encoding", "chunked"), ("transfer-encoding", "")],
                Framing::Coded,
                false,
            ),
        ];
        for (pairs, framing, length_kept) in cases {
            let mut h = headers(pairs);
            assert_eq!(&Framing::check(&mut h), framing, "{pairs:?}");
            assert_eq!(h.contains_key(CONTENT_LENGTH), *length_kept, "{pairs:?}");
        }
    }

    /// A body of unknown length that is not over (what hyper gives for a
    /// chunked message).
    struct Unknown;

    impl Body for Unknown {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
            std::task::Poll::Ready(None)
        }
    }

    /// The `Transfer-Encoding` that `frame_for_next_hop` leaves.
    fn framed(mut h: HeaderMap, body: &impl Body) -> Option<String> {
        frame_for_next_hop(&mut h, body);
        h.get(TRANSFER_ENCODING)
            .map(|v| v.to_str().unwrap().to_string())
    }

    #[test]
    fn only_a_body_of_unknown_length_goes_chunked() {
        assert_eq!(framed(HeaderMap::new(), &Unknown), Some("chunked".into()));
        // Its length is given: as it is.
        assert_eq!(framed(headers(&[("content-length", "3")]), &Unknown), None);
        // A known size, or no body at all: nothing to add.
        let full = Full::new(Bytes::from_static(b"abc"));
        assert_eq!(framed(HeaderMap::new(), &full), None);
        assert_eq!(framed(HeaderMap::new(), &Empty::<Bytes>::new()), None);
    }

    #[test]
    fn for_upstream_sets_the_identity_after_the_hop_headers_are_gone() {
        // A client names the identity and forwarding headers in
        // `Connection`, hoping a proxy behind the gateway drops them.
        let mut h = headers(&[
            (
                "Connection",
                "x-privatelink-tenant, x-privatelink-account-id, x-forwarded-for",
            ),
            ("Trailer", "x-privatelink-tenant"),
        ]);
        let identity = IdentityHeaders::new(&identity(), Some("10.1.0.5:40000".parse().unwrap()));
        assert_eq!(
            for_upstream(&mut h, &Empty::<Bytes>::new(), &identity),
            Ok(())
        );
        assert_eq!(
            names(&h),
            [
                "x-forwarded-for",
                "x-forwarded-proto",
                "x-privatelink-account-id",
                "x-privatelink-endpoint-id",
                "x-privatelink-tenant"
            ]
        );
        let mut coded = headers(&[("transfer-encoding", "gzip, chunked")]);
        assert_eq!(
            for_upstream(&mut coded, &Unknown, &identity),
            Err(CodedBody)
        );
    }

    #[test]
    fn for_client_refuses_a_coded_body_but_not_a_bodiless_answer() {
        let coded = || headers(&[("transfer-encoding", "gzip, chunked"), ("x-app", "1")]);
        assert_eq!(for_client(&mut coded(), &Unknown), Err(CodedBody));
        // To HEAD, a 204 or a 304: no body, nothing to decode.
        let mut bodiless = coded();
        assert_eq!(for_client(&mut bodiless, &Empty::<Bytes>::new()), Ok(()));
        assert_eq!(names(&bodiless), ["x-app"]);
    }
}
