//! What the model is sent: the system prompt (persona, goal, rules, the fields and their status)
//! and the streaming chat-completion request body with its tools.

use crate::conversation::Conversation;
use protocol::results::Speaker;
use serde_json::{json, Value};

/// The system prompt: persona, goal, rules, and every field with its status and value so far.
pub(super) fn system_prompt(conversation: &Conversation) -> String {
    let playbook = &conversation.playbook;
    let mut prompt = format!(
        "You are {agent}, a voice agent on a phone call. You are an automated assistant calling on behalf of {org}. \
         Style: {style}.\nGoal: {goal}\n\
         Rules: speak in short, natural sentences; ask one question at a time; never invent facts; \
         call record_field as soon as the callee gives (or refuses, or rules out) a field, with the callee's exact words as evidence; \
         if a menu asks you to press a key, call send_digits; \
         when every required field is known, refused or not applicable, say this closing line and call end_call: \"{closing}\"\n\
         The disclosure has been said already: \"{disclosure}\"\nFields (name, type, required, status, value, what it is, question):\n",
        agent = playbook.persona.agent_name,
        org = conversation.render(&playbook.persona.caller_org),
        style = playbook.persona.style,
        goal = conversation.render(&playbook.goal),
        closing = conversation.render(&playbook.closing),
        disclosure = playbook.disclosure_for(&conversation.state.context),
    );
    if let Some(language) = conversation.state.context.get("preferred_language") {
        // the gateway accepts only the languages the deployment lists in SUPPORTED_LANGUAGES
        if !language.to_ascii_lowercase().starts_with("en") {
            prompt.insert_str(
                0,
                &format!(
                    "Speak the language with the BCP 47 tag {language:?} for the whole call (the callee prefers it); \
                     translate the lines below into it.\n"
                ),
            );
        }
    }
    for field in &playbook.fields {
        let result = conversation.state.fields.get(&field.name).cloned().unwrap_or_default();
        prompt.push_str(&format!(
            "- {name} ({kind}{required}): {status:?} {value} - {description} Question: {question}\n",
            name = field.name,
            kind = field.kind,
            required = if field.required { ", required" } else { "" },
            status = result.status,
            value = if result.value.is_null() { String::new() } else { result.value.to_string() },
            description = field.description,
            question = field.question.as_deref().map(|q| conversation.render(q)).unwrap_or_default(),
        ));
    }
    prompt.push_str(
        "Value formats: money {\"amount\": number, \"currency\": \"USD\"} (0 when free); yes_no true/false; \
         schedule [{\"day\": \"monday\", \"start\": \"18:00\", \"end\": \"19:30\", \"class_type\": \"gi\"}]; \
         list [names]; scale and number: a number.",
    );
    prompt
}

/// The streaming chat-completion request: the system prompt, the transcript so far, `extra_messages`
/// (earlier tool rounds of this turn) and the `record_field` / `end_call` / `send_digits` tools.
pub(super) fn request_body(conversation: &Conversation, model: &str, extra_messages: &[Value]) -> Value {
    let mut messages = vec![json!({ "role": "system", "content": system_prompt(conversation) })];
    for turn in &conversation.state.transcript {
        let role = match turn.speaker {
            Speaker::Agent => "assistant",
            Speaker::Callee => "user",
        };
        messages.push(json!({ "role": role, "content": turn.text }));
    }
    messages.extend(extra_messages.iter().cloned());
    let field_names: Vec<&str> = conversation.playbook.fields.iter().map(|f| f.name.as_str()).collect();
    json!({
        "model": model,
        "stream": true,
        "temperature": 0.3,
        "messages": messages,
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "record_field",
                    "description": "Record what the callee said about one field.",
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "name": { "type": "string", "enum": field_names },
                            "status": { "type": "string", "enum": ["known", "refused", "not_applicable", "unknown"] },
                            "value": { "description": "The value, in the field's format." },
                            "evidence": { "type": "string", "description": "The callee's words." },
                            "confidence": { "type": "number" }
                        },
                        "required": ["name", "status"]
                    }
                }
            },
            {
                "type": "function",
                "function": {
                    "name": "end_call",
                    "description": "End the call after the closing line.",
                    "parameters": {
                        "type": "object",
                        "properties": { "reason": { "type": "string" } },
                        "required": ["reason"]
                    }
                }
            },
            {
                "type": "function",
                "function": {
                    "name": "send_digits",
                    "description": "Press keys on the phone keypad (IVR menus).",
                    "parameters": {
                        "type": "object",
                        "properties": { "digits": { "type": "string", "description": "0-9, * and #" } },
                        "required": ["digits"]
                    }
                }
            }
        ],
        "tool_choice": "auto"
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::ConversationState;
    use protocol::media::Direction;
    use protocol::CallId;
    use std::collections::BTreeMap;

    fn prompt_with(context: &[(&str, &str)]) -> String {
        let playbook = playbook::PlaybookSet::built_in().unwrap().get("gym-dropin").unwrap().clone();
        let context: BTreeMap<String, String> = context.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let state = ConversationState::new(CallId::from("c_1"), None, &playbook, Direction::Outbound, context, "llm");
        system_prompt(&Conversation::new(playbook, state))
    }

    #[test]
    fn the_callees_preferred_language_reaches_the_model() {
        let spanish = prompt_with(&[("gym_name", "Atos"), ("preferred_language", "es-MX")]);
        assert!(spanish.starts_with("Speak the language with the BCP 47 tag \"es-MX\""), "{spanish}");
        for context in [&[("gym_name", "Atos")][..], &[("gym_name", "Atos"), ("preferred_language", "en-GB")][..]] {
            assert!(!prompt_with(context).contains("BCP 47"));
        }
    }
}
