//! The gateway: the NLB's target in front of the vendor's app. Every
//! connection must start with the PROXY protocol header the NLB prepends
//! ([`proxy`]); its AWS TLV names the VPC endpoint, which [`identity`]
//! maps to the owner account (DescribeVpcEndpointConnections, cached and
//! rate-limited) and to a tenant (the registry). An accepted connection is
//! forwarded, as bytes ([`tcp`]) or as HTTP/2 or HTTP/1.1 behind TLS
//! termination with identity headers ([`http`], the headers set, removed
//! and checked in [`headers`], certificates reloaded by
//! [`certs`], WebSockets carried by [`websocket`]); anything else is closed with a log
//! line (HTTP mode: answered `403` with the reason) and never reaches the
//! upstream.

pub mod certs;
pub mod headers;
pub mod http;
pub mod identity;
pub mod idle;
pub mod proxy;
pub mod tcp;
pub mod upstream;
pub mod websocket;
