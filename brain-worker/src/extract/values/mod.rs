//! Typed values found in an utterance: money, yes/no, days, times and time ranges, class
//! schedules, scale ratings, list items, with negations taken into account.
//!
//! Submodules, re-exported here: `money` (prices and "free"), `time` (times of day and ranges),
//! `schedule` (days and class slots), `negation` (negation scope and yes/no), `scale` (ratings),
//! `lists` (list options and "nothing" answers).

mod lists;
mod money;
mod negation;
mod scale;
mod schedule;
mod time;

pub use lists::{framed_items, list_items, says_nothing, ListOption};
pub use money::{money_mentions, names_currency, Money, MoneyMention};
pub use negation::{
    has_negation, is_negated, is_not_needed, names_price, no_fee_said, regretful, says_no_price, without_negated_price,
    yes_no,
};
pub use scale::scale;
pub use schedule::{
    days_at, days_in, edit_distance, schedule, ClassSlot, ClassType, Doubt, Schedule, CORRECTIONS, DAYS,
};
pub use time::{hh_mm, time_spans, TimeOfDay, TimeSpan};
