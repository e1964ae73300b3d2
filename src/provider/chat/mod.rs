//! OpenAI's chat completions API as the translating drivers read and write it: the request
//! model ([`ChatRequest`], parsed from the client's bytes), the writers of `chat.completion`,
//! `chat.completion.chunk` and error objects ([`out`]), and the splitters that cut a provider's
//! stream into events ([`frames`]).
//!
//! The request model borrows from the client's body and keeps every value a translation only
//! moves as [`RawValue`]: a message's text, a tool's JSON schema, a number. Those go out as
//! the exact bytes the client sent (JSON string escaping is the same in every provider's API), so
//! translation neither unescapes nor re-escapes the bulk of a request, and never reformats a
//! number or reorders a schema. Only what must change shape is decoded (roles, tool-call
//! arguments, data URLs).

pub mod frames;
pub mod json;
pub mod out;
mod request_ctx;
pub mod turns;

pub use request_ctx::{RequestCtx, SamplingKeys, OPENAI_SEED_AND_PENALTIES};

use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// Why a client's request cannot be expressed for a provider: a 400 naming what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslateError(pub String);

impl fmt::Display for TranslateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TranslateError {}

pub(crate) fn bad(message: impl Into<String>) -> TranslateError {
    TranslateError(message.into())
}

/// The parts of an OpenAI chat request that translation reads. Unknown members are ignored (the
/// provider would not understand them anyway); duplicate known members are an error, as serde
/// reports them.
#[derive(Deserialize)]
pub struct ChatRequest<'a> {
    #[serde(borrow)]
    pub model: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub messages: Vec<Message<'a>>,
    #[serde(borrow, default)]
    pub max_tokens: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub max_completion_tokens: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub temperature: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub top_p: Option<&'a RawValue>,
    /// Not OpenAI's, but sent by clients of providers that have it.
    #[serde(borrow, default)]
    pub top_k: Option<&'a RawValue>,
    /// A string or an array of strings.
    #[serde(borrow, default)]
    pub stop: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub tools: Option<Vec<Tool<'a>>>,
    /// `"auto"`, `"none"`, `"required"` or `{"type":"function","function":{"name":...}}`.
    #[serde(borrow, default)]
    pub tool_choice: Option<&'a RawValue>,
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default)]
    pub n: Option<u64>,
    #[serde(borrow, default)]
    pub user: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub seed: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub presence_penalty: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub frequency_penalty: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub response_format: Option<ResponseFormat<'a>>,
    /// Bedrock's `guardrailConfig`, which OpenAI-format clients of Bedrock send beside the
    /// OpenAI members (Kong's gateway passes it on too).
    #[serde(borrow, default, rename = "guardrailConfig")]
    pub guardrail_config: Option<&'a RawValue>,
}

#[derive(Deserialize)]
pub struct Message<'a> {
    #[serde(borrow)]
    pub role: Cow<'a, str>,
    /// A string, an array of content parts, or `null`.
    #[serde(borrow, default)]
    pub content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub tool_calls: Option<Vec<ToolCall<'a>>>,
    #[serde(borrow, default)]
    pub tool_call_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub struct ToolCall<'a> {
    #[serde(borrow, default)]
    pub id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub function: FunctionCall<'a>,
}

#[derive(Deserialize)]
pub struct FunctionCall<'a> {
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    /// JSON text, as a string.
    #[serde(borrow, default)]
    pub arguments: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub struct Tool<'a> {
    #[serde(borrow, rename = "type", default)]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub function: FunctionDef<'a>,
}

#[derive(Deserialize)]
pub struct FunctionDef<'a> {
    /// Kept raw: it is copied into the provider's request as a JSON string token.
    #[serde(borrow)]
    pub name: &'a RawValue,
    #[serde(borrow, default)]
    pub description: Option<&'a RawValue>,
    /// A JSON schema, copied verbatim.
    #[serde(borrow, default)]
    pub parameters: Option<&'a RawValue>,
}

#[derive(Deserialize)]
pub struct ResponseFormat<'a> {
    #[serde(borrow, rename = "type")]
    pub kind: Cow<'a, str>,
    #[serde(borrow, default)]
    pub json_schema: Option<JsonSchemaFormat<'a>>,
}

#[derive(Deserialize)]
pub struct JsonSchemaFormat<'a> {
    #[serde(borrow, default)]
    pub schema: Option<&'a RawValue>,
}

/// One element of an array `content`.
#[derive(Deserialize)]
pub struct Part<'a> {
    #[serde(borrow, rename = "type")]
    pub kind: Cow<'a, str>,
    /// `text` parts: the text, raw.
    #[serde(borrow, default)]
    pub text: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub image_url: Option<ImageUrl<'a>>,
    /// `file` parts: a document, as a `data:` URL in `file_data`.
    #[serde(borrow, default)]
    pub file: Option<FilePart<'a>>,
}

#[derive(Deserialize)]
pub struct FilePart<'a> {
    #[serde(borrow, default)]
    pub file_data: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub struct ImageUrl<'a> {
    #[serde(borrow)]
    pub url: Cow<'a, str>,
}

impl<'a> ChatRequest<'a> {
    /// Parses the client's body. The body scanner has already checked it is a JSON object.
    pub fn parse(body: &'a [u8]) -> Result<ChatRequest<'a>, TranslateError> {
        serde_json::from_slice(body).map_err(|e| bad(format!("invalid chat request: {e}")))
    }

    /// `max_completion_tokens` (OpenAI's current name) or `max_tokens`.
    pub fn max_tokens(&self) -> Option<&'a RawValue> {
        self.max_completion_tokens.or(self.max_tokens)
    }

    /// Refuses what no translated provider can do: several choices.
    pub fn check_single_choice(&self, provider: &str) -> Result<(), TranslateError> {
        match self.n {
            Some(n) if n > 1 => Err(bad(format!(
                "n > 1 is not supported by llmux for provider {provider}"
            ))),
            _ => Ok(()),
        }
    }
}

/// One block of a message's content (see [`Content::each_block`]).
pub enum Block<'c, 'a> {
    /// A string content, as its JSON string token.
    Text(&'a RawValue),
    Part(&'c Part<'a>),
}

/// A message's `content`, decoded as far as a translation needs it.
pub enum Content<'a> {
    /// No content (`null` or absent).
    None,
    /// A JSON string token, quotes and escapes included.
    Text(&'a RawValue),
    Parts(Vec<Part<'a>>),
}

impl<'a> Content<'a> {
    pub fn of(raw: Option<&'a RawValue>) -> Result<Content<'a>, TranslateError> {
        let Some(raw) = raw else {
            return Ok(Content::None);
        };
        match raw.get().as_bytes().first() {
            Some(b'"') => Ok(Content::Text(raw)),
            Some(b'[') => {
                let parts: Vec<Part<'a>> = serde_json::from_str(raw.get())
                    .map_err(|e| bad(format!("invalid message content: {e}")))?;
                // A text part without its text is malformed (OpenAI refuses it too); dropping
                // it silently could leave the provider an empty turn.
                if parts
                    .iter()
                    .any(|p| p.kind == "text" && !p.text.is_some_and(|t| t.get().starts_with('"')))
                {
                    return Err(bad("a content part of type `text` needs a string `text`"));
                }
                Ok(Content::Parts(parts))
            }
            Some(b'n') => Ok(Content::None),
            _ => Err(bad("message content must be a string, an array or null")),
        }
    }

    /// The blocks a translated request carries for this content, in order: the text, or each
    /// part. Empty texts are left out: Anthropic, Gemini and Bedrock refuse empty text blocks.
    pub fn each_block<'c>(
        &'c self,
        mut write: impl FnMut(Block<'c, 'a>) -> Result<(), TranslateError>,
    ) -> Result<(), TranslateError> {
        let empty = |t: &RawValue| t.get() == "\"\"";
        match self {
            Content::None => Ok(()),
            Content::Text(t) if empty(t) => Ok(()),
            Content::Text(t) => write(Block::Text(t)),
            Content::Parts(parts) => {
                for p in parts {
                    if p.kind == "text" && p.text.is_none_or(empty) {
                        continue;
                    }
                    write(Block::Part(p))?;
                }
                Ok(())
            }
        }
    }

    /// The text of a string content or of every text part, unescaped and joined (for APIs
    /// that take one string, and for templates).
    pub fn joined_text(&self) -> Result<String, TranslateError> {
        match self {
            Content::None => Ok(String::new()),
            Content::Text(raw) => unquote(raw).map(Cow::into_owned),
            Content::Parts(parts) => {
                let mut s = String::new();
                for p in parts {
                    if let Some(t) = p.text {
                        s.push_str(&unquote(t)?);
                    }
                }
                Ok(s)
            }
        }
    }
}

/// A JSON string token's value.
pub fn unquote(raw: &RawValue) -> Result<Cow<'_, str>, TranslateError> {
    serde_json::from_str(raw.get()).map_err(|_| bad("expected a string"))
}

/// A `data:` URL's media type and base64 payload.
pub struct DataUrl<'a> {
    pub media_type: &'a str,
    pub data: &'a str,
}

impl<'a> DataUrl<'a> {
    /// `data:<media type>;base64,<data>`; `None` for any other URL.
    pub fn parse(url: &'a str) -> Option<DataUrl<'a>> {
        let rest = url.strip_prefix("data:")?;
        let (meta, data) = rest.split_once(',')?;
        let media_type = meta.strip_suffix(";base64")?;
        Some(DataUrl { media_type, data })
    }
}

/// The image media type a URL's extension suggests (providers that fetch a URL want one).
pub fn media_type_of_url(url: &str) -> &'static str {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    if path.ends_with(".png") {
        "image/png"
    } else if path.ends_with(".gif") {
        "image/gif"
    } else if path.ends_with(".webp") {
        "image/webp"
    } else {
        "image/jpeg"
    }
}

/// Tool-call arguments as a JSON object text: OpenAI sends them as a string of JSON; providers
/// that take an object need it to be one. An empty string is `{}`.
pub fn arguments_object<'a>(call: &'a ToolCall<'_>) -> Result<&'a str, TranslateError> {
    let args = call.function.arguments.as_deref().unwrap_or("").trim();
    if args.is_empty() {
        return Ok("{}");
    }
    match serde_json::from_str::<&RawValue>(args) {
        Ok(v) if v.get().starts_with('{') => Ok(args),
        _ => Err(bad(format!(
            "tool call {} has arguments that are not a JSON object",
            call.function.name
        ))),
    }
}

/// The role names translation recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

impl Role {
    pub fn of(message: &Message<'_>) -> Result<Role, TranslateError> {
        match &*message.role {
            "system" | "developer" => Ok(Role::System),
            "user" => Ok(Role::User),
            "assistant" => Ok(Role::Assistant),
            "tool" | "function" => Ok(Role::Tool),
            other => Err(bad(format!("unknown message role `{other}`"))),
        }
    }
}

/// `tool_choice` in OpenAI's terms.
#[derive(Debug)]
pub enum ToolChoice<'a> {
    Auto,
    None,
    Required,
    /// One named function; the name as a raw JSON string token.
    Function(&'a RawValue),
}

impl<'a> ToolChoice<'a> {
    pub fn of(raw: Option<&'a RawValue>) -> Result<Option<ToolChoice<'a>>, TranslateError> {
        #[derive(Deserialize)]
        struct Named<'b> {
            #[serde(borrow)]
            function: NameOnly<'b>,
        }
        #[derive(Deserialize)]
        struct NameOnly<'b> {
            #[serde(borrow)]
            name: &'b RawValue,
        }
        let Some(raw) = raw else { return Ok(None) };
        Ok(Some(match raw.get() {
            "\"auto\"" => ToolChoice::Auto,
            "\"none\"" => ToolChoice::None,
            "\"required\"" => ToolChoice::Required,
            "null" => return Ok(None),
            s if s.starts_with('{') => {
                let named: Named<'a> = serde_json::from_str(raw.get())
                    .map_err(|_| bad("tool_choice must name a function"))?;
                ToolChoice::Function(named.function.name)
            }
            _ => {
                return Err(bad(
                    "tool_choice must be auto, none, required or a function",
                ))
            }
        }))
    }
}

/// `stop` as an array of strings: a single string is wrapped, an array copied.
pub fn write_stop_array(stop: &RawValue, out: &mut Vec<u8>) -> Result<(), TranslateError> {
    match stop.get().as_bytes().first() {
        Some(b'"') => {
            out.push(b'[');
            out.extend_from_slice(stop.get().as_bytes());
            out.push(b']');
            Ok(())
        }
        Some(b'[') => {
            out.extend_from_slice(stop.get().as_bytes());
            Ok(())
        }
        _ => Err(bad("stop must be a string or an array of strings")),
    }
}

/// The model a translated request names: the target's, else the client's.
pub fn model_name<'a>(target_model: Option<&'a str>, req: &'a ChatRequest<'_>) -> &'a str {
    target_model.or(req.model.as_deref()).unwrap_or("")
}

#[cfg(test)]
mod tests;
