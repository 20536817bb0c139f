"""PrivateLink connection lifecycle on top of moto 5.2.1 (server mode).

moto models endpoint services and endpoints, but not the connection between
them. This package adds it: cross-account service visibility, the connection
state machine (pendingAcceptance -> pending -> available, rejected, deleted),
the provider-side connection APIs, connection notifications published through
moto's own SNS, and a small control API for tests (fault injection, timing).

Entry points: `python -m privatelink_emulator` (see `__main__.py`) and
`ec2_patches.apply()` + `server.PrivateLinkMiddleware` for embedding. README.md explains the
behaviour and the AWS sources it follows.
"""
