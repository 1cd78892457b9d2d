//! The worker: answers `brain.assign` in queue group `brain`, starts one [`CallActor`] per call
//! (fresh, or continued from KV `convo`), and stops them on shutdown.

use crate::call::{CallActor, CallStopped, Kill, Shared};
use crate::config::{Config, PolicyKind};
use crate::conversation::ConversationState;
use crate::policy::{LlmPolicy, LlmSettings, Policy, ScriptedPolicy};
use actix::prelude::*;
use bytes::Bytes;
use futures_util::StreamExt;
use playbook::PlaybookSet;
use protocol::brain::{BrainAssignReply, BrainAssignRequest};
use protocol::ids::CallId;
use protocol::subjects;
use protocol::version::{decode_json, encode_json};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The worker actor.
pub struct BrainWorker {
    pub(crate) config: Config,
    pub(crate) shared: Arc<Shared>,
    pub(crate) playbooks: Arc<PlaybookSet>,
    /// Used when a request names an unknown playbook.
    pub(crate) default_playbook: playbook::Playbook,
    pub(crate) assign: Option<bus::Subscription>,
    calls: HashMap<CallId, Addr<CallActor>>,
    /// Calls being set up (subscribing, loading state) and not yet in `calls`.
    starting: usize,
    accepting: bool,
}

impl BrainWorker {
    pub(crate) fn new(
        config: Config,
        shared: Arc<Shared>,
        playbooks: Arc<PlaybookSet>,
        default_playbook: playbook::Playbook,
        assign: bus::Subscription,
    ) -> Self {
        BrainWorker {
            config,
            shared,
            playbooks,
            default_playbook,
            assign: Some(assign),
            calls: HashMap::new(),
            starting: 0,
            accepting: true,
        }
    }

    fn on_assign(&mut self, ctx: &mut Context<Self>, message: bus::Message) {
        let request: BrainAssignRequest = match decode_json(&message.payload) {
            Ok(request) => request,
            Err(error) => {
                self.shared.stats.malformed_messages.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, "malformed brain.assign request");
                return;
            }
        };
        if self.calls.contains_key(&request.call_id) {
            // a retried request for a call we already run: answer again
            self.reply(&message);
            return;
        }
        if !self.accepting || self.calls.len() + self.starting >= self.config.max_calls {
            tracing::info!(call_id = %request.call_id, active = self.calls.len(), "full, not answering brain.assign");
            return;
        }
        let (heard_subject, ping_subject) =
            match (subjects::brain_heard(&request.call_id), subjects::brain_ping(&request.call_id)) {
                (Ok(heard), Ok(ping)) => (heard, ping),
                _ => {
                    self.shared.stats.malformed_messages.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("brain.assign with a call id unusable in a subject");
                    return;
                }
            };
        self.starting += 1;
        let shared = self.shared.clone();
        let work = async move {
            let mut request = request;
            fill_context_from_call_record(&shared, &mut request).await;
            let saved = match shared.convo.get(request.call_id.as_str()).await {
                Ok(Some(entry)) => match decode_json::<ConversationState>(&entry.value) {
                    Ok(state) => Some(state),
                    Err(error) => {
                        tracing::warn!(call_id = %request.call_id, %error, "saved conversation unreadable, starting fresh");
                        None
                    }
                },
                Ok(None) => None,
                Err(error) => {
                    tracing::warn!(call_id = %request.call_id, %error, "cannot read kv convo");
                    None
                }
            };
            let heard = shared.bus.subscribe(heard_subject).await?;
            let ping = shared.bus.subscribe(ping_subject).await?;
            // the subscriptions must be live before the media worker hears our answer
            shared.bus.flush().await?;
            Ok::<_, bus::BusError>((request, saved, heard, ping))
        };
        ctx.spawn(work.into_actor(self).map(move |outcome, worker, ctx| {
            worker.starting -= 1;
            let (request, saved, heard, ping) = match outcome {
                Ok(parts) => parts,
                Err(error) => {
                    tracing::warn!(%error, "could not take the call");
                    return;
                }
            };
            let call_id = request.call_id.clone();
            if worker.calls.contains_key(&call_id) {
                worker.reply(&message);
                return;
            }
            let resumed = saved.is_some();
            let policy = worker.policy_for(request, saved);
            match CallActor::new(
                call_id.clone(),
                policy,
                worker.shared.clone(),
                heard,
                ping,
                resumed,
                ctx.address().recipient(),
            ) {
                Ok(actor) => {
                    worker.calls.insert(call_id, actor.start());
                    worker.reply(&message);
                }
                Err(error) => tracing::warn!(%error, "call id unusable"),
            }
        }));
    }

    fn policy_for(&self, request: BrainAssignRequest, saved: Option<ConversationState>) -> Box<dyn Policy> {
        let playbook_id = saved.as_ref().map(|s| s.playbook.clone()).unwrap_or_else(|| request.playbook.clone());
        let playbook = match self.playbooks.get(&playbook_id) {
            Ok(playbook) => playbook.clone(),
            Err(error) => {
                tracing::warn!(call_id = %request.call_id, %error, "unknown playbook, using the default");
                self.default_playbook.clone()
            }
        };
        let mut state = saved.unwrap_or_else(|| {
            let policy = match self.config.policy {
                PolicyKind::Scripted => "scripted",
                PolicyKind::Llm => "llm",
            };
            ConversationState::new(
                request.call_id.clone(),
                Some(request.call_sid.clone()),
                &playbook,
                request.direction,
                request.context.clone(),
                policy,
            )
        });
        if state.call_sid.is_none() {
            state.call_sid = Some(request.call_sid.clone());
        }
        match (&self.config.policy, &self.config.llm) {
            (PolicyKind::Llm, Some(llm)) => {
                let settings = LlmSettings { model: llm.model.clone(), timeout: llm.timeout };
                Box::new(LlmPolicy::new(playbook, state, settings))
            }
            _ => Box::new(ScriptedPolicy::new(playbook, state)),
        }
    }

    fn reply(&self, message: &bus::Message) {
        let Some(reply) = message.reply.clone() else { return };
        let payload = Bytes::from(encode_json(&BrainAssignReply {
            v: protocol::BUS_VERSION,
            worker_id: self.shared.worker_id.clone(),
        }));
        let bus = self.shared.bus.clone();
        actix::spawn(async move {
            if let Err(error) = bus.publish(reply, payload).await {
                tracing::warn!(%error, "could not answer brain.assign");
            }
        });
    }
}

/// The stream's custom parameters may not carry the call request's details (gym name,
/// timezone ...): take them from the call record in KV `calls` when it is there.
async fn fill_context_from_call_record(shared: &Shared, request: &mut BrainAssignRequest) {
    if request.context.contains_key("gym_name") {
        return;
    }
    let record = match shared.calls.get(request.call_id.as_str()).await {
        Ok(Some(entry)) => decode_json::<protocol::calls::CallRecord>(&entry.value).ok(),
        Ok(None) => None,
        Err(error) => {
            tracing::debug!(call_id = %request.call_id, %error, "no call record for the context");
            None
        }
    };
    let Some(record) = record else { return };
    let call = &record.request;
    let pairs = [
        ("gym_name", Some(call.gym_name.clone())),
        ("timezone", call.timezone.clone()),
        ("country", call.country.clone()),
        ("preferred_language", call.preferred_language.clone()),
    ];
    for (key, value) in pairs {
        if let Some(value) = value.filter(|v| !v.trim().is_empty()) {
            request.context.entry(key.to_owned()).or_insert(value);
        }
    }
    // a call request names who is called in `gym_name` (a person, for a check-in call)
    if !call.gym_name.trim().is_empty() {
        request.context.entry("callee_name".to_owned()).or_insert_with(|| call.gym_name.clone());
    }
}

struct AssignMessage(bus::Message);

impl Actor for BrainWorker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(assign) = self.assign.take() {
            ctx.add_stream(assign.map(AssignMessage));
        }
        tracing::info!(worker_id = %self.shared.worker_id, "brain worker taking calls");
    }
}

impl StreamHandler<AssignMessage> for BrainWorker {
    fn handle(&mut self, AssignMessage(message): AssignMessage, ctx: &mut Context<Self>) {
        self.on_assign(ctx, message);
    }

    fn finished(&mut self, _ctx: &mut Context<Self>) {
        tracing::info!("brain.assign subscription closed");
    }
}

impl Handler<CallStopped> for BrainWorker {
    type Result = ();

    fn handle(&mut self, message: CallStopped, _ctx: &mut Context<Self>) {
        self.calls.remove(&message.call_id);
    }
}

/// Stop taking new calls (drops the `brain.assign` subscription).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopAccepting;

impl Handler<StopAccepting> for BrainWorker {
    type Result = ();

    fn handle(&mut self, _: StopAccepting, ctx: &mut Context<Self>) {
        // stopping the worker drops the assign subscription; running calls go on
        self.accepting = false;
        ctx.stop();
    }
}

/// Stops the worker and every call at once, publishing nothing (a crash).
#[derive(Message)]
#[rtype(result = "()")]
pub struct KillAll;

impl Handler<KillAll> for BrainWorker {
    type Result = ();

    fn handle(&mut self, _: KillAll, ctx: &mut Context<Self>) {
        self.accepting = false;
        for call in self.calls.values() {
            call.do_send(Kill);
        }
        self.calls.clear();
        ctx.stop();
    }
}
