//! Amazon Bedrock's Converse API: OpenAI chat requests translated to it ([`request`]) and signed
//! with SigV4 ([`sigv4`]), answers and errors translated back ([`response`]), ConverseStream's
//! binary event stream decoded and translated message by message ([`stream`]).

pub mod request;
pub mod response;
pub(crate) mod sigv4;
pub mod stream;

pub use request::request;
pub use response::{error, response};
pub use stream::BedrockStream;

#[cfg(test)]
mod tests;
