//! Reading AWS SDK errors: which failures are worth retrying (throttling,
//! 5xx, timeouts, network) and which are not (unknown resource, access
//! denied, bad input). The Lambda returns an error only for the first kind,
//! so Lambda's own retry runs again; CLIs use the same split for their exit
//! codes and messages.

use std::fmt;

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::error::display::DisplayErrorContext;

/// Error codes AWS services use for throttling: the SDK's own list, the
/// one its standard retry strategy classifies by (`aws-runtime`), so the
/// two never disagree.
pub use aws_runtime::retries::classifiers::THROTTLING_ERRORS as THROTTLING_CODES;

/// Error codes for server-side failures that a later attempt can survive,
/// for codes that arrive without an HTTP status (EC2's per-item
/// `Unsuccessful` entries): EC2's documented server error codes
/// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html),
/// DynamoDB's `InternalServerError`; the SDK's transient codes are added in
/// [`ErrorKind::from_code`]. With a response, a 5xx status decides anyway.
pub const SERVER_ERROR_CODES: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "Unavailable",
    "RequestExpired",
];

/// Error codes that mean "the caller may not do this".
pub const ACCESS_DENIED_CODES: &[&str] = &[
    "UnauthorizedOperation",
    "AccessDenied",
    "AccessDeniedException",
    "AuthFailure",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "ExpiredToken",
    "OptInRequired",
];

/// What kind of failure an AWS error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Throttled; retry later.
    Throttling,
    /// 5xx or a server-side error code; retry later.
    ServerError,
    /// The attempt timed out; retry later.
    Timeout,
    /// The request could not be sent or the answer not read; retry later.
    Network,
    /// The named resource does not exist (`*.NotFound`).
    NotFound,
    /// The caller lacks permission or valid credentials.
    AccessDenied,
    /// Anything else: invalid input, a request that could not be built.
    Other,
}

impl ErrorKind {
    /// True when retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ErrorKind::Throttling
                | ErrorKind::ServerError
                | ErrorKind::Timeout
                | ErrorKind::Network
        )
    }

    /// The kind of a bare error code (e.g. from an `UnsuccessfulItem`).
    pub fn from_code(code: &str) -> ErrorKind {
        if THROTTLING_CODES.contains(&code) {
            ErrorKind::Throttling
        } else if SERVER_ERROR_CODES.contains(&code)
            || aws_runtime::retries::classifiers::TRANSIENT_ERRORS.contains(&code)
        {
            ErrorKind::ServerError
        } else if ACCESS_DENIED_CODES.contains(&code) {
            ErrorKind::AccessDenied
        } else if code.ends_with(".NotFound")
            || code.ends_with("NotFound")
            || code == "ResourceNotFoundException"
        {
            ErrorKind::NotFound
        } else {
            ErrorKind::Other
        }
    }
}

/// An AWS call that failed, reduced to what logs, retries and people need.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AwsError {
    /// The API action, e.g. `AcceptVpcEndpointConnections`.
    pub operation: &'static str,
    pub kind: ErrorKind,
    /// The service's error code, when the service answered.
    pub code: Option<String>,
    pub message: Option<String>,
    pub http_status: Option<u16>,
    /// The full error chain, for the log.
    pub detail: String,
}

impl AwsError {
    /// Classifies an SDK error: the error code first, then the HTTP status
    /// (429 and 5xx are transient), then the kind of SDK failure (timeouts,
    /// dispatch and response failures are transient; a request that could
    /// not even be built is not).
    pub fn from_sdk<E>(operation: &'static str, err: &SdkError<E, HttpResponse>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let code = err.code().map(str::to_string);
        let message = err.message().map(str::to_string);
        let http_status = err.raw_response().map(|r| r.status().as_u16());
        let kind = match err {
            SdkError::ServiceError(_) => {
                let by_code = code.as_deref().map(ErrorKind::from_code);
                match (by_code, http_status) {
                    (Some(kind), _) if kind != ErrorKind::Other => kind,
                    (_, Some(429)) => ErrorKind::Throttling,
                    (_, Some(status)) if status >= 500 => ErrorKind::ServerError,
                    (_, Some(401 | 403)) => ErrorKind::AccessDenied,
                    _ => ErrorKind::Other,
                }
            }
            SdkError::TimeoutError(_) => ErrorKind::Timeout,
            SdkError::DispatchFailure(failure) if failure.is_timeout() => ErrorKind::Timeout,
            SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => ErrorKind::Network,
            _ => ErrorKind::Other,
        };
        AwsError {
            operation,
            kind,
            code,
            message,
            http_status,
            detail: DisplayErrorContext(err).to_string(),
        }
    }

    pub fn is_transient(&self) -> bool {
        self.kind.is_transient()
    }

    /// The error code, or a stand-in naming the kind of failure.
    pub fn code_or_kind(&self) -> String {
        match &self.code {
            Some(code) => code.clone(),
            None => match self.kind {
                ErrorKind::Timeout => "Timeout".into(),
                ErrorKind::Network => "NetworkError".into(),
                ErrorKind::ServerError => format!("HTTP{}", self.http_status.unwrap_or(500)),
                ErrorKind::Throttling => "Throttling".into(),
                _ => "Unknown".into(),
            },
        }
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.code, &self.message) {
            (Some(code), Some(message)) => {
                write!(f, "{} failed: {code}: {message}", self.operation)
            }
            (Some(code), None) => write!(f, "{} failed: {code}", self.operation),
            _ => write!(f, "{} failed: {}", self.operation, self.detail),
        }
    }
}

impl std::error::Error for AwsError {}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::operation::describe_vpc_endpoint_connections::DescribeVpcEndpointConnectionsError as DescribeError;
    use aws_smithy_runtime_api::client::result::{
        ConnectorError, DispatchFailure, ServiceError, TimeoutError,
    };
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn service_error(code: Option<&str>, status: u16) -> SdkError<DescribeError, HttpResponse> {
        let mut meta = ErrorMetadata::builder().message("msg");
        if let Some(code) = code {
            meta = meta.code(code);
        }
        let raw = HttpResponse::new(
            status.try_into().expect("valid status"),
            SdkBody::from("<Response/>"),
        );
        SdkError::ServiceError(
            ServiceError::builder()
                .source(DescribeError::generic(meta.build()))
                .raw(raw)
                .build(),
        )
    }

    #[test]
    fn service_errors_by_code_then_status() {
        let cases = [
            (Some("RequestLimitExceeded"), 503, ErrorKind::Throttling),
            (Some("Throttling"), 400, ErrorKind::Throttling),
            (Some("InternalError"), 500, ErrorKind::ServerError),
            (Some("Unavailable"), 503, ErrorKind::ServerError),
            (None, 503, ErrorKind::ServerError),
            (None, 429, ErrorKind::Throttling),
            (Some("SomethingNew"), 502, ErrorKind::ServerError),
            (
                Some("InvalidVpcEndpointServiceId.NotFound"),
                400,
                ErrorKind::NotFound,
            ),
            (Some("UnauthorizedOperation"), 403, ErrorKind::AccessDenied),
            (None, 403, ErrorKind::AccessDenied),
            (Some("InvalidParameterValue"), 400, ErrorKind::Other),
        ];
        for (code, status, kind) in cases {
            let err = AwsError::from_sdk(
                "DescribeVpcEndpointConnections",
                &service_error(code, status),
            );
            assert_eq!(err.kind, kind, "{code:?} {status}");
            assert_eq!(err.http_status, Some(status));
            assert_eq!(err.code.as_deref(), code);
        }
    }

    #[test]
    fn timeouts_and_dispatch_failures_are_transient() {
        let timeout: SdkError<DescribeError, HttpResponse> =
            SdkError::TimeoutError(TimeoutError::builder().source("slow").build());
        let dispatch: SdkError<DescribeError, HttpResponse> = SdkError::DispatchFailure(
            DispatchFailure::builder()
                .source(ConnectorError::io("connection refused".into()))
                .build(),
        );
        let timeout = AwsError::from_sdk("X", &timeout);
        let dispatch = AwsError::from_sdk("X", &dispatch);
        assert_eq!(timeout.kind, ErrorKind::Timeout);
        assert_eq!(dispatch.kind, ErrorKind::Network);
        assert!(timeout.is_transient() && dispatch.is_transient());
        assert_eq!(dispatch.code_or_kind(), "NetworkError");
        assert!(
            dispatch.to_string().contains("connection refused"),
            "{dispatch}"
        );
    }

    #[test]
    fn bare_codes() {
        assert!(ErrorKind::from_code("RequestLimitExceeded").is_transient());
        assert!(!ErrorKind::from_code("InvalidVpcEndpointId.NotFound").is_transient());
        assert_eq!(
            ErrorKind::from_code("InvalidVpcEndpoint.NotFound"),
            ErrorKind::NotFound
        );
        assert!(!ErrorKind::from_code("").is_transient());
    }
}
