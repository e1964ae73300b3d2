//! Gemini's `generateContent` (Google AI Studio and Vertex AI): OpenAI chat requests translated
//! to it ([`request`]), answers, stream events and errors translated back ([`response`]). The
//! same readers give native-format requests their usage.

pub mod request;
pub mod response;

pub use request::request;
pub use response::{error, response, GeminiStream};

#[cfg(test)]
mod tests;
