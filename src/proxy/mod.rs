//! The request path: from a parsed client request to a relayed provider response.

pub mod accounting;
pub mod attempt;
pub mod error;
pub mod forward;
pub mod handler;
pub mod relay;
pub mod respond;
pub mod select;

pub use error::ErrorResponse;
