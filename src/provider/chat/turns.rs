//! The conversation as alternating turns, for the APIs that want it so (Anthropic's `messages`,
//! Gemini's `contents`, Bedrock Converse's `messages`): consecutive messages that map to one
//! role become one turn `{"role": R, "<items key>": [...]}`, and `tool` results join the user
//! turn around them. System messages are left out; each API has its own place for them.
//!
//! A turn's items are written into a side buffer until the role changes, because those APIs
//! refuse an empty turn and two turns of one role in a row: a message that writes nothing (an
//! assistant message with empty text, say) starts no turn.

use super::json::{Arr, Obj};
use super::{Message, Role, TranslateError};

/// How one API names its turns.
pub struct TurnShape {
    /// The member that holds a turn's items (`content`, `parts`).
    pub items_key: &'static str,
    /// The role of the model's own turns (`assistant`, `model`).
    pub assistant: &'static str,
}

/// The items of the turn being written, comma-separated as they come.
#[derive(Default)]
pub struct Items {
    out: Vec<u8>,
    count: usize,
}

impl Items {
    /// Starts the next item and hands back the output for it.
    pub fn item(&mut self) -> &mut Vec<u8> {
        if self.count > 0 {
            self.out.push(b',');
        }
        self.count += 1;
        &mut self.out
    }

    /// The next item, an object.
    pub fn obj(&mut self) -> Obj<'_> {
        Obj::new(self.item())
    }
}

/// Writes `messages` into `out` as a JSON array of turns; `write` writes one message's items.
pub fn write_turns<'m>(
    messages: &[Message<'m>],
    shape: TurnShape,
    out: &mut Vec<u8>,
    mut write: impl FnMut(&Message<'m>, &mut Items) -> Result<(), TranslateError>,
) -> Result<(), TranslateError> {
    let mut turns = Arr::new(out);
    let mut role = "";
    let mut current = Items::default();
    let mut next = Items::default();
    for m in messages {
        let this = match Role::of(m)? {
            Role::System => continue,
            Role::User | Role::Tool => "user",
            Role::Assistant => shape.assistant,
        };
        if this == role {
            write(m, &mut current)?;
            continue;
        }
        // A message that writes nothing changes no turn: the user turns around an empty
        // assistant message stay one turn.
        write(m, &mut next)?;
        if next.count > 0 {
            flush(&mut turns, role, shape.items_key, &mut current);
            std::mem::swap(&mut current, &mut next);
            role = this;
        }
    }
    flush(&mut turns, role, shape.items_key, &mut current);
    turns.end();
    Ok(())
}

fn flush(turns: &mut Arr<'_>, role: &str, items_key: &str, items: &mut Items) {
    if items.count == 0 {
        return;
    }
    let mut t = turns.obj();
    t.str("role", role);
    let list = t.key(items_key);
    list.push(b'[');
    list.extend_from_slice(&items.out);
    list.push(b']');
    t.end();
    items.out.clear();
    items.count = 0;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::chat::{ChatRequest, Content};

    fn turns(body: &[u8]) -> String {
        let req = ChatRequest::parse(body).unwrap();
        let shape = TurnShape {
            items_key: "parts",
            assistant: "model",
        };
        let mut out = Vec::new();
        write_turns(&req.messages, shape, &mut out, |m, items| {
            if let Content::Text(t) = Content::of(m.content)? {
                if t.get() != "\"\"" {
                    items.obj().token("text", t).end();
                }
            }
            Ok(())
        })
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn one_role_in_a_row_is_one_turn_and_an_empty_message_starts_none() {
        let body = br#"{"messages":[
            {"role":"system","content":"s"},
            {"role":"user","content":"a"},
            {"role":"tool","tool_call_id":"t","content":"b"},
            {"role":"assistant","content":""},
            {"role":"user","content":"c"},
            {"role":"assistant","content":"d"}]}"#;
        assert_eq!(
            turns(body),
            r#"[{"role":"user","parts":[{"text":"a"},{"text":"b"},{"text":"c"}]},{"role":"model","parts":[{"text":"d"}]}]"#
        );
    }

    #[test]
    fn an_unknown_role_is_an_error_naming_it() {
        let req =
            ChatRequest::parse(br#"{"messages":[{"role":"narrator","content":"x"}]}"#).unwrap();
        let shape = TurnShape {
            items_key: "content",
            assistant: "assistant",
        };
        let err = write_turns(&req.messages, shape, &mut Vec::new(), |_, _| Ok(())).unwrap_err();
        assert!(err.0.contains("narrator"), "{err}");
    }
}
