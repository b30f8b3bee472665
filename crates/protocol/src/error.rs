//! The typed error for a frame that could not be parsed or validated.

use crate::{ErrorCode, RequestId};

/// A frame that failed to parse or validate. Carries the `requestId` when it could be
/// recovered, so the `error` reply can name the request that failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
#[non_exhaustive]
pub struct FrameError {
    /// Always [`ErrorCode::InvalidArgs`] for parse failures.
    pub code: ErrorCode,
    /// Human-readable reason, safe to show and to log (never contains frame contents).
    pub message: String,
    /// The request id of the failed frame, if it could be read.
    pub request_id: Option<RequestId>,
    /// True when the frame was well-formed but of an unknown `type`.
    pub unknown_type: bool,
}

impl FrameError {
    pub(crate) fn invalid(message: impl Into<String>, request_id: Option<RequestId>) -> Self {
        FrameError { code: ErrorCode::InvalidArgs, message: message.into(), request_id, unknown_type: false }
    }
}
