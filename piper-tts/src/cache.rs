//! [`SentenceCache`]: the 8 kHz audio of sentences the voice has said, shared by every call of
//! the process. An agent says the same lines on every call (its introduction, its questions, its
//! closing): said once, each is played from memory after that, with no synthesis delay and no CPU.
//! A sentence asked for while it is being synthesized (prepared ahead, or said by another call at
//! the same moment) waits for that synthesis instead of starting a second one.
//!
//! Bounded by bytes: the sentence used longest ago goes first. Only the voice's own audio is kept
//! (a sentence said by the fallback voice after a failure is not).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// Longest sentence kept: 20 s of 8 kHz audio (a longer one is rare and would crowd others out).
pub const MAX_SENTENCE_SAMPLES: usize = 8_000 * 20;
/// Default bound of the whole cache: 8 MiB, about nine minutes of 8 kHz speech.
pub const DEFAULT_CACHE_BYTES: usize = 8 * 1024 * 1024;

/// Audio of one sentence at 8 kHz.
pub type Pcm = Arc<[i16]>;

enum Entry {
    Ready(Pcm),
    /// Being synthesized; the sender says `Some` when it is ready, or drops on a failure.
    Pending(watch::Receiver<Option<Pcm>>),
}

/// What the cache says about a sentence.
pub enum Lookup {
    Ready(Pcm),
    /// Another task is synthesizing it: wait on this (`None` after a failure: synthesize it).
    Pending(watch::Receiver<Option<Pcm>>),
    /// Not there: the caller synthesizes it and, when it holds the [`Claim`], stores it.
    Missing(Option<Claim>),
}

/// The right to synthesize a sentence for the cache: others wait on it meanwhile. Dropped without
/// [`SentenceCache::fulfil`] (the synthesis failed, or its task went away), its pending entry is
/// removed and the waiters are told to synthesize the sentence themselves.
pub struct Claim {
    text: String,
    /// `None` once fulfilled.
    ready: Option<watch::Sender<Option<Pcm>>>,
    cache: Arc<Mutex<Inner>>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.ready.is_some() {
            let mut inner = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if matches!(inner.entries.get(&self.text), Some(Entry::Pending(_))) {
                inner.entries.remove(&self.text);
            }
        }
    }
}

struct Inner {
    entries: HashMap<String, Entry>,
    /// Ready sentences, used longest ago first.
    order: VecDeque<String>,
    bytes: usize,
}

/// Cheap to clone; clones share the sentences.
#[derive(Clone)]
pub struct SentenceCache {
    inner: Arc<Mutex<Inner>>,
    max_bytes: usize,
}

impl SentenceCache {
    /// A cache of at most `max_bytes` of audio; 0 keeps nothing.
    pub fn new(max_bytes: usize) -> SentenceCache {
        let inner = Inner { entries: HashMap::new(), order: VecDeque::new(), bytes: 0 };
        SentenceCache { inner: Arc::new(Mutex::new(inner)), max_bytes }
    }

    pub fn enabled(&self) -> bool {
        self.max_bytes > 0
    }

    /// The sentence's audio, its pending synthesis, or a claim to synthesize it (`None` when the
    /// cache is off).
    pub fn lookup(&self, text: &str) -> Lookup {
        if !self.enabled() {
            return Lookup::Missing(None);
        }
        let mut inner = self.lock();
        match inner.entries.get(text) {
            Some(Entry::Ready(pcm)) => {
                let pcm = pcm.clone();
                if let Some(at) = inner.order.iter().position(|t| t == text) {
                    if let Some(used) = inner.order.remove(at) {
                        inner.order.push_back(used);
                    }
                }
                Lookup::Ready(pcm)
            }
            Some(Entry::Pending(ready)) => Lookup::Pending(ready.clone()),
            None => {
                let (ready, waiting) = watch::channel(None);
                inner.entries.insert(text.to_owned(), Entry::Pending(waiting));
                Lookup::Missing(Some(Claim { text: text.to_owned(), ready: Some(ready), cache: self.inner.clone() }))
            }
        }
    }

    /// Stores the audio `claim` was taken for and wakes its waiters. Too long a sentence is given
    /// to the waiters but not kept.
    pub fn fulfil(&self, mut claim: Claim, pcm: Pcm) {
        let (text, ready) = (std::mem::take(&mut claim.text), claim.ready.take());
        {
            let mut inner = self.lock();
            inner.entries.remove(&text);
            let size = pcm.len() * 2;
            if pcm.len() <= MAX_SENTENCE_SAMPLES && size <= self.max_bytes {
                while inner.bytes + size > self.max_bytes {
                    let Some(oldest) = inner.order.pop_front() else { break };
                    if let Some(Entry::Ready(old)) = inner.entries.remove(&oldest) {
                        inner.bytes -= old.len() * 2;
                    }
                }
                inner.entries.insert(text.clone(), Entry::Ready(pcm.clone()));
                inner.order.push_back(text);
                inner.bytes += size;
            }
        }
        if let Some(ready) = ready {
            let _ = ready.send(Some(pcm));
        }
    }

    /// Sentences kept and their bytes of audio.
    pub fn size(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.order.len(), inner.bytes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // the cache holds no invariant a panic elsewhere could break half-way: go on with it
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Waits for a pending sentence: its audio, or `None` when the synthesis it waited on failed.
pub async fn wait(mut ready: watch::Receiver<Option<Pcm>>) -> Option<Pcm> {
    loop {
        if let Some(pcm) = ready.borrow_and_update().clone() {
            return Some(pcm);
        }
        if ready.changed().await.is_err() {
            return ready.borrow().clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcm(samples: usize) -> Pcm {
        vec![1i16; samples].into()
    }

    fn claim(cache: &SentenceCache, text: &str) -> Claim {
        match cache.lookup(text) {
            Lookup::Missing(Some(claim)) => claim,
            _ => panic!("{text:?} was expected missing"),
        }
    }

    #[test]
    fn a_sentence_said_once_is_ready_after() {
        let cache = SentenceCache::new(1_000);
        let first = claim(&cache, "Hi.");
        cache.fulfil(first, pcm(100));
        assert!(matches!(cache.lookup("Hi."), Lookup::Ready(audio) if audio.len() == 100));
        assert_eq!(cache.size(), (1, 200));
    }

    #[test]
    fn the_bound_drops_the_sentence_used_longest_ago() {
        let cache = SentenceCache::new(1_000);
        for text in ["a", "b"] {
            let claimed = claim(&cache, text);
            cache.fulfil(claimed, pcm(200));
        }
        assert!(matches!(cache.lookup("a"), Lookup::Ready(_))); // "a" used again: "b" is older
        let claimed = claim(&cache, "c");
        cache.fulfil(claimed, pcm(200));
        assert!(matches!(cache.lookup("a"), Lookup::Ready(_)));
        assert!(matches!(cache.lookup("b"), Lookup::Missing(_)));
        assert_eq!(cache.size().1, 800);
        // larger than the whole bound: handed over, not kept
        let claimed = claim(&cache, "long");
        cache.fulfil(claimed, pcm(600));
        assert!(matches!(cache.lookup("long"), Lookup::Missing(_)));
    }

    #[tokio::test]
    async fn a_waiter_gets_the_audio_or_learns_the_synthesis_failed() {
        let cache = SentenceCache::new(10_000);
        let claimed = claim(&cache, "Do you take drop-ins?");
        let Lookup::Pending(ready) = cache.lookup("Do you take drop-ins?") else { panic!("pending") };
        let waiter = tokio::spawn(wait(ready));
        cache.fulfil(claimed, pcm(50));
        assert_eq!(waiter.await.expect("joins").map(|p| p.len()), Some(50));

        let claimed = claim(&cache, "Bye.");
        let Lookup::Pending(ready) = cache.lookup("Bye.") else { panic!("pending") };
        drop(claimed); // the synthesis failed
        assert!(wait(ready).await.is_none());
        assert!(matches!(cache.lookup("Bye."), Lookup::Missing(Some(_))), "claimable again after a failure");
    }

    #[tokio::test]
    async fn a_claim_dropped_by_a_cancelled_task_frees_its_sentence() {
        let cache = SentenceCache::new(10_000);
        let claimed = claim(&cache, "Hello.");
        let Lookup::Pending(ready) = cache.lookup("Hello.") else { panic!("pending") };
        drop(claimed);
        assert!(wait(ready).await.is_none());
        assert!(matches!(cache.lookup("Hello."), Lookup::Missing(Some(_))));
    }

    #[test]
    fn a_cache_of_no_bytes_keeps_nothing() {
        let cache = SentenceCache::new(0);
        assert!(matches!(cache.lookup("a"), Lookup::Missing(None)));
    }
}
