//! Per-number leases in KV `dial_numbers`: at most one live call per phone number across all
//! dialers. A lease is `"<callId> <taken at, unix ms>"` under the number's digits; one left by a
//! call that ended, or that never got past `queued` for [`STALE_LEASE_MS`], is taken over.

use crate::records::Records;
use bus::{BusError, BusErrorKind, Kv};
use chrono::Utc;
use protocol::calls::CallStatus;
use protocol::CallId;
use tracing::debug;

/// KV bucket of per-number leases.
pub const KV_NUMBER_LEASES: &str = "dial_numbers";
/// A lease whose call never got past `queued` for this long is taken over.
pub const STALE_LEASE_MS: i64 = 60_000;

/// The lease key of a number: its digits (E.164 without the `+`).
pub fn lease_key(phone_number: &str) -> String {
    let digits: String = phone_number.chars().filter(char::is_ascii_digit).collect();
    format!("n{digits}")
}

/// The lease value: who holds it, since when.
fn lease_value(call_id: &CallId, taken_ms: i64) -> String {
    format!("{call_id} {taken_ms}")
}

/// The holder and the time taken (0 when unreadable) of a lease value.
fn parse_lease(value: &[u8]) -> (CallId, i64) {
    let text = String::from_utf8_lossy(value).into_owned();
    let mut parts = text.split(' ');
    let holder = CallId::from(parts.next().unwrap_or_default());
    let taken_ms = parts.next().and_then(|t| t.parse().ok()).unwrap_or(0);
    (holder, taken_ms)
}

/// True when a lease taken at `taken_ms` by a call whose record says `holder_status` (`None`: no
/// record) may be taken over at `now_ms`: the record is gone, the call is over, or it never got in
/// flight in time.
pub fn is_stale(holder_status: Option<CallStatus>, taken_ms: i64, now_ms: i64) -> bool {
    let Some(status) = holder_status else { return true };
    let in_flight = matches!(status, CallStatus::Dialing | CallStatus::Ringing | CallStatus::InProgress);
    status.is_final() || (!in_flight && now_ms - taken_ms > STALE_LEASE_MS)
}

/// The `dial_numbers` bucket, with the call records that say whether a lease is stale.
pub struct NumberLeases {
    kv: Kv,
    records: Records,
}

impl NumberLeases {
    pub fn new(kv: Kv, records: Records) -> Self {
        Self { kv, records }
    }

    /// Takes the lease on `phone_number` for `call_id`; false when another live call holds it.
    pub async fn take(&self, phone_number: &str, call_id: &CallId) -> Result<bool, BusError> {
        let key = lease_key(phone_number);
        let value = lease_value(call_id, Utc::now().timestamp_millis());
        for _ in 0..5 {
            let error = match self.kv.create(&key, value.clone().into()).await {
                Ok(_) => return Ok(true),
                Err(error) => error,
            };
            if error.kind != BusErrorKind::AlreadyExists {
                return Err(error);
            }
            let Some(entry) = self.kv.get(&key).await? else { continue };
            let (holder, taken_ms) = parse_lease(&entry.value);
            if holder == *call_id {
                return Ok(true);
            }
            let stale = match self.records.get(&holder).await {
                Ok(record_opt) => {
                    let status_opt = record_opt.map(|(record, _)| record.status);
                    is_stale(status_opt, taken_ms, Utc::now().timestamp_millis())
                }
                Err(_) => false,
            };
            if !stale {
                return Ok(false);
            }
            match self.kv.update(&key, value.clone().into(), entry.revision).await {
                Ok(_) => return Ok(true),
                Err(error) if error.kind == BusErrorKind::WrongRevision => continue,
                Err(error) => return Err(error),
            }
        }
        Ok(false)
    }

    /// The calls holding a lease whose record says they are in flight (dialing, ringing, in
    /// progress): the live calls of every dialer, including one that stopped without handing its
    /// calls back. Bounded by the live calls (plus leases not yet found stale): at most `limit`.
    pub async fn live_holders(&self, limit: usize) -> Result<Vec<CallId>, BusError> {
        let mut holders = Vec::new();
        for key in self.kv.keys().await?.into_iter().take(limit) {
            let Some(entry) = self.kv.get(&key).await? else { continue };
            let (holder, _) = parse_lease(&entry.value);
            if let Ok(Some((record, _))) = self.records.get(&holder).await {
                if matches!(record.status, CallStatus::Dialing | CallStatus::Ringing | CallStatus::InProgress) {
                    holders.push(holder);
                }
            }
        }
        Ok(holders)
    }

    /// Gives the lease on `phone_number` back, if `call_id` holds it.
    pub async fn release(&self, phone_number: &str, call_id: &CallId) {
        let key = lease_key(phone_number);
        let Ok(Some(entry)) = self.kv.get(&key).await else { return };
        if parse_lease(&entry.value).0 == *call_id {
            if let Err(error) = self.kv.delete(&key).await {
                debug!(call_id = %call_id, %error, "releasing the number lease failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_the_digits_of_the_number() {
        assert_eq!(lease_key("+1 (512) 555-0100"), "n15125550100");
        assert_eq!(lease_key("+15125550100"), lease_key("15125550100"));
    }

    #[test]
    fn a_lease_value_reads_back_and_garbage_reads_as_untimed() {
        let call_id = CallId::from("c_1");
        assert_eq!(parse_lease(lease_value(&call_id, 1_700_000_000_000).as_bytes()), (call_id, 1_700_000_000_000));
        assert_eq!(parse_lease(b"c_2"), (CallId::from("c_2"), 0));
    }

    #[test]
    fn a_lease_is_stale_once_its_call_is_over_gone_or_never_started() {
        let taken_ms = 1_000_000;
        let soon = taken_ms + STALE_LEASE_MS;
        let late = taken_ms + STALE_LEASE_MS + 1;
        assert!(is_stale(None, taken_ms, taken_ms));
        assert!(is_stale(Some(CallStatus::Completed), taken_ms, taken_ms));
        assert!(!is_stale(Some(CallStatus::Queued), taken_ms, soon));
        assert!(is_stale(Some(CallStatus::Queued), taken_ms, late));
        for in_flight in [CallStatus::Dialing, CallStatus::Ringing, CallStatus::InProgress] {
            assert!(!is_stale(Some(in_flight), taken_ms, late + 3_600_000));
        }
    }
}
