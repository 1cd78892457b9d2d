//! The sentences waiting for a synthesis process: a bounded queue in two lanes. A turn's first
//! sentence goes ahead of the sentences that follow other turns' first ones: the caller hears
//! nothing until that first sentence is ready, while a following sentence has the time its
//! predecessor takes to play (seconds, against a fraction of a second to synthesize). With one
//! queue in arrival order, a call starting while three others speak waited behind all of their
//! sentences (an opening line heard 3.0-3.3 s after the callee's greeting on the tuning runs).

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};

/// Why an item was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `max` items wait already.
    Full,
    /// The queue was closed: nothing takes items any more.
    Closed,
}

/// Which lane an item waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// The first sentence of a turn: taken before any [`Lane::Following`] one.
    First,
    /// A sentence after the first of its turn.
    Following,
}

struct Lanes<T> {
    first: VecDeque<T>,
    following: VecDeque<T>,
    closed: bool,
}

/// A bounded two-lane queue shared by the threads that put and the threads that take.
pub struct TwoLaneQueue<T> {
    lanes: Mutex<Lanes<T>>,
    ready: Condvar,
    max: usize,
}

impl<T> TwoLaneQueue<T> {
    /// A queue holding at most `max` items (at least one) in both lanes together.
    pub fn new(max: usize) -> TwoLaneQueue<T> {
        TwoLaneQueue {
            lanes: Mutex::new(Lanes { first: VecDeque::new(), following: VecDeque::new(), closed: false }),
            ready: Condvar::new(),
            max: max.max(1),
        }
    }

    /// Queues `item` in `lane`, or gives it back with why not, at once.
    pub fn push(&self, item: T, lane: Lane) -> Result<(), (T, Refused)> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|poison| poison.into_inner());
        if lanes.closed {
            return Err((item, Refused::Closed));
        }
        if lanes.first.len() + lanes.following.len() >= self.max {
            return Err((item, Refused::Full));
        }
        match lane {
            Lane::First => lanes.first.push_back(item),
            Lane::Following => lanes.following.push_back(item),
        }
        drop(lanes);
        self.ready.notify_one();
        Ok(())
    }

    /// The next item, first lane first, oldest first; waits for one. `None` once the queue is
    /// closed and empty (what was queued before the close is still handed out).
    pub fn pop(&self) -> Option<T> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|poison| poison.into_inner());
        loop {
            if let Some(item) = lanes.first.pop_front().or_else(|| lanes.following.pop_front()) {
                return Some(item);
            }
            if lanes.closed {
                return None;
            }
            lanes = self.ready.wait(lanes).unwrap_or_else(|poison| poison.into_inner());
        }
    }

    /// No more items are taken; the takers get what waits, then `None`.
    pub fn close(&self) {
        self.lanes.lock().unwrap_or_else(|poison| poison.into_inner()).closed = true;
        self.ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_first_sentence_is_taken_before_following_ones_queued_earlier() {
        let queue = TwoLaneQueue::new(8);
        queue.push("a: second sentence", Lane::Following).unwrap();
        queue.push("b: third sentence", Lane::Following).unwrap();
        queue.push("c: opening", Lane::First).unwrap();
        queue.push("d: opening", Lane::First).unwrap();
        let taken: Vec<&str> = (0..4).filter_map(|_| queue.pop()).collect();
        assert_eq!(taken, ["c: opening", "d: opening", "a: second sentence", "b: third sentence"]);
    }

    #[test]
    fn both_lanes_share_one_bound_and_a_closed_queue_hands_out_what_waits() {
        let queue = TwoLaneQueue::new(2);
        queue.push(1, Lane::Following).unwrap();
        queue.push(2, Lane::First).unwrap();
        assert_eq!(queue.push(3, Lane::First), Err((3, Refused::Full)));
        queue.close();
        assert_eq!(queue.push(4, Lane::Following), Err((4, Refused::Closed)));
        assert_eq!((queue.pop(), queue.pop(), queue.pop()), (Some(2), Some(1), None));
    }

    #[test]
    fn a_waiting_taker_wakes_for_an_item_and_for_the_close() {
        let queue = Arc::new(TwoLaneQueue::new(4));
        let taker = {
            let queue = queue.clone();
            std::thread::spawn(move || (queue.pop(), queue.pop()))
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        queue.push(7, Lane::Following).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        queue.close();
        assert_eq!(taker.join().unwrap(), (Some(7), None));
    }
}
