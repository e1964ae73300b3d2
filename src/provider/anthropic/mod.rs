//! Anthropic's Messages API: OpenAI chat requests translated to it ([`request`]), its answers and
//! errors translated back ([`response`]) and its stream events translated event by event
//! ([`stream`]). The same response and stream readers give native-format requests their usage.

pub mod request;
pub mod response;
pub mod stream;

pub use request::request;
pub use response::{error, response};
pub use stream::AnthropicStream;

#[cfg(test)]
mod tests;
