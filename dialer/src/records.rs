//! Call records in KV `calls`: read, and revision-checked read-modify-write.

use bus::{BusErrorKind, Kv};
use protocol::calls::CallRecord;
use protocol::version::{decode_json, encode_json};
use protocol::CallId;

/// Why a record could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("kv: {0}")]
    Bus(#[from] bus::BusError),
    #[error("call record {call_id} is malformed: {reason}")]
    Malformed { call_id: String, reason: String },
    #[error("call record {0} kept changing under us")]
    Contended(String),
}

/// The `calls` bucket.
#[derive(Clone)]
pub struct Records {
    kv: Kv,
}

impl Records {
    pub fn new(kv: Kv) -> Self {
        Self { kv }
    }

    pub async fn get(&self, call_id: &CallId) -> Result<Option<(CallRecord, u64)>, RecordError> {
        let Some(entry) = self.kv.get(call_id.as_str()).await? else { return Ok(None) };
        let record = decode_json::<CallRecord>(&entry.value)
            .map_err(|e| RecordError::Malformed { call_id: call_id.to_string(), reason: e.to_string() })?;
        Ok(Some((record, entry.revision)))
    }

    /// Applies `change` to the current record and writes it back if the revision is still the
    /// one read; on a conflict, reads again and retries. `change` returns false to leave the
    /// record as it is. Returns the record as written (or as found, when unchanged).
    pub async fn update(
        &self,
        call_id: &CallId,
        mut change: impl FnMut(&mut CallRecord) -> bool,
    ) -> Result<Option<CallRecord>, RecordError> {
        for _ in 0..20 {
            let Some((mut record, revision)) = self.get(call_id).await? else { return Ok(None) };
            if !change(&mut record) {
                return Ok(Some(record));
            }
            record.updated_at = now_rfc3339();
            match self.kv.update(call_id.as_str(), encode_json(&record).into(), revision).await {
                Ok(_) => return Ok(Some(record)),
                Err(error) if error.kind == BusErrorKind::WrongRevision => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(RecordError::Contended(call_id.to_string()))
    }

    /// Closes attempt `attempt` with `outcome`, if it is the last one and still open.
    pub async fn end_attempt(&self, call_id: &CallId, attempt: u32, outcome: &str) -> Result<(), RecordError> {
        self.update(call_id, |record| match record.attempts.last_mut() {
            Some(last) if last.number == attempt && last.ended_at.is_none() => {
                last.ended_at = Some(now_rfc3339());
                last.outcome = Some(outcome.to_owned());
                true
            }
            _ => false,
        })
        .await
        .map(|_| ())
    }
}

pub use protocol::calls::now_rfc3339;
