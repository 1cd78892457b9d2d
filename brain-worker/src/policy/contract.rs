//! The [`Policy`] trait the call actor drives, and [`ScriptedPolicy`], its plain implementation
//! over [`crate::scripted`].

use crate::conversation::{Action, Conversation, ConversationState, Input};
use crate::scripted;
use playbook::Playbook;
use std::time::Instant;

/// A conversation policy.
pub trait Policy: Send {
    /// Feeds one input at time `now`; returns what to do.
    fn handle(&mut self, now: Instant, input: Input) -> Vec<Action>;
    /// When the driver should call `handle(now, Input::Tick)` next.
    fn poll_timeout(&self) -> Option<Instant>;
    /// The state to save to KV `convo` and to build the result from.
    fn state(&self) -> &ConversationState;
    /// The playbook the conversation follows.
    fn playbook(&self) -> &Playbook;
}

/// Slot filling driven by the playbook, with rule-based extraction.
#[derive(Debug)]
pub struct ScriptedPolicy {
    conversation: Conversation,
}

impl ScriptedPolicy {
    pub fn new(playbook: Playbook, mut state: ConversationState) -> Self {
        state.policy = "scripted".into();
        ScriptedPolicy { conversation: Conversation::new(playbook, state) }
    }
}

impl Policy for ScriptedPolicy {
    fn handle(&mut self, now: Instant, input: Input) -> Vec<Action> {
        scripted::handle(&mut self.conversation, now, input)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.conversation.poll_timeout()
    }

    fn state(&self) -> &ConversationState {
        &self.conversation.state
    }

    fn playbook(&self) -> &Playbook {
        &self.conversation.playbook
    }
}
