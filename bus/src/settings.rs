//! How a service reaches NATS and how the streams and buckets it creates are kept: credentials
//! (a `.creds` file or an nkey seed), TLS (a CA, a client certificate, TLS required), the number
//! of replicas of every JetStream stream and KV bucket, and how long each keeps its messages.
//!
//! Read from the environment, the same names in every service ([`NatsOptions::from_env`]):
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `NATS_USER`, `NATS_PASSWORD` | a user and password (both or neither; the Helm chart's NATS servers require them) | none |
//! | `NATS_CREDS_FILE` | a NATS `.creds` file (JWT + nkey seed) | none |
//! | `NATS_NKEY_FILE` | a file holding an nkey seed (`SU...`) | none |
//! | `NATS_TLS_CA_FILE` | PEM roots that sign the server's certificate | system roots |
//! | `NATS_TLS_CERT_FILE`, `NATS_TLS_KEY_FILE` | a client certificate and key (both or neither) | none |
//! | `NATS_TLS_REQUIRED` | refuse a connection without TLS | false |
//! | `NATS_REPLICAS` | replicas of every stream and bucket (1 to 5; 3 on a 3-server cluster) | 1 |
//! | `NATS_MAX_AGE_<NAME>` | how long stream or bucket `<NAME>` keeps a message, e.g. `30d`, `12h`, `0` = forever | [`DEFAULT_MAX_AGES`] |
//!
//! `<NAME>` is the stream or bucket name upper-cased with `-` and `.` as `_`: `NATS_MAX_AGE_CALLS`,
//! `NATS_MAX_AGE_CONVO`, `NATS_MAX_AGE_RESULTS`, `NATS_MAX_AGE_DIAL`, `NATS_MAX_AGE_CALL_IDEMPOTENCY`,
//! `NATS_MAX_AGE_DIAL_NUMBERS`. In a KV bucket the age counts from a key's last write, so a live
//! key written at every turn never expires under a call. A user and password may also go in
//! `NATS_URL` (`nats://user:pass@host:4222`); no log line shows them ([`probes::redact_url`]),
//! and `NATS_PASSWORD` never prints (its `Debug` is redacted).

use probes::{ConfigError, Env};

/// The variables [`NatsOptions::from_env`] reads that the Helm chart sets (every service reads
/// them; `NATS_MAX_AGE_<NAME>` is read for any store, these are the ones the services create).
pub const ENV_VARS: &[&str] = &[
    "NATS_USER",
    "NATS_PASSWORD",
    "NATS_CREDS_FILE",
    "NATS_NKEY_FILE",
    "NATS_TLS_CA_FILE",
    "NATS_TLS_CERT_FILE",
    "NATS_TLS_KEY_FILE",
    "NATS_TLS_REQUIRED",
    "NATS_REPLICAS",
    "NATS_MAX_AGE_CALLS",
    "NATS_MAX_AGE_CONVO",
    "NATS_MAX_AGE_RESULTS",
    "NATS_MAX_AGE_DIAL",
    "NATS_MAX_AGE_CALL_IDEMPOTENCY",
    "NATS_MAX_AGE_DIAL_NUMBERS",
];
use std::path::PathBuf;
use std::time::Duration;

/// How long each store keeps a message when its `NATS_MAX_AGE_<NAME>` is unset. Call records
/// (`calls`) are the product and stay until the operator sets an age; the conversation state a
/// brain needs only while a call lives (`convo`), idempotency keys, number leases and the results
/// replay stream are bounded, spent stream tokens are kept an hour; dial requests leave the work queue when a dialer takes them, and an
/// untaken one is dropped after a week.
pub const DEFAULT_MAX_AGES: [(&str, Duration); 6] = [
    ("convo", Duration::from_secs(24 * 3600)),
    ("call_idempotency", Duration::from_secs(24 * 3600)),
    ("dial_numbers", Duration::from_secs(24 * 3600)),
    ("stream_tokens", Duration::from_secs(3600)),
    ("RESULTS", Duration::from_secs(30 * 24 * 3600)),
    ("DIAL", Duration::from_secs(7 * 24 * 3600)),
];

/// The longest age accepted (ten years), so a typo cannot overflow a duration.
const MAX_AGE_LIMIT: Duration = Duration::from_secs(3650 * 24 * 3600);

/// Connection and storage options beyond the URL. `Default` is a plain connection, one replica and
/// [`DEFAULT_MAX_AGES`].
#[derive(Clone, Debug, PartialEq)]
pub struct NatsOptions {
    pub user_password: Option<UserPassword>,
    pub creds_file: Option<PathBuf>,
    pub nkey_file: Option<PathBuf>,
    pub tls_ca_file: Option<PathBuf>,
    pub tls_client: Option<(PathBuf, PathBuf)>,
    pub tls_required: bool,
    pub store: StoreSettings,
}

impl Default for NatsOptions {
    fn default() -> Self {
        NatsOptions {
            user_password: None,
            creds_file: None,
            nkey_file: None,
            tls_ca_file: None,
            tls_client: None,
            tls_required: false,
            store: StoreSettings::default(),
        }
    }
}

/// A NATS user and password (`NATS_USER`, `NATS_PASSWORD`). The password never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct UserPassword {
    pub user: String,
    password: String,
}

impl UserPassword {
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> UserPassword {
        UserPassword { user: user.into(), password: password.into() }
    }
}

impl std::fmt::Debug for UserPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserPassword").field("user", &self.user).field("password", &"<redacted>").finish()
    }
}

/// Replicas and ages of the streams and buckets a service creates.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreSettings {
    pub replicas: usize,
    /// `(name upper-cased as in its variable, age)`; zero keeps messages forever.
    max_ages: Vec<(String, Duration)>,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            replicas: 1,
            max_ages: DEFAULT_MAX_AGES.iter().map(|(name, age)| (store_key(name), *age)).collect(),
        }
    }
}

impl StoreSettings {
    /// How long stream or bucket `name` keeps a message (zero: forever).
    pub fn max_age(&self, name: &str) -> Duration {
        let key = store_key(name);
        self.max_ages.iter().find(|(known, _)| *known == key).map(|(_, age)| *age).unwrap_or(Duration::ZERO)
    }

    /// Sets the age of `name` (tests and embedders).
    pub fn with_max_age(mut self, name: &str, age: Duration) -> Self {
        let key = store_key(name);
        self.max_ages.retain(|(known, _)| *known != key);
        self.max_ages.push((key, age));
        self
    }

    /// Sets the replica count (tests and embedders).
    pub fn with_replicas(mut self, replicas: usize) -> Self {
        self.replicas = replicas;
        self
    }
}

/// `NATS_MAX_AGE_<NAME>` for a store name.
pub fn max_age_var(name: &str) -> String {
    format!("{MAX_AGE_PREFIX}{}", store_key(name))
}

const MAX_AGE_PREFIX: &str = "NATS_MAX_AGE_";

fn store_key(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect()
}

/// Reads an age: a whole number with a unit `s`, `m`, `h` or `d` (`30d`), or bare seconds; `0`
/// keeps forever. At most ten years.
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => (&text[..at], &text[at..]),
        None => (text, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 24 * 3600,
        other => return Err(format!("unknown unit {other:?} (use s, m, h or d, e.g. 30d)")),
    };
    let count: u64 = digits.parse().map_err(|_| format!("{text:?} is not a whole number with a unit, e.g. 30d"))?;
    let age = Duration::from_secs(count.saturating_mul(scale));
    if age > MAX_AGE_LIMIT {
        return Err(format!("{text:?} is longer than ten years"));
    }
    Ok(age)
}

impl NatsOptions {
    /// Reads the variables in the table at the top of this file (every `NATS_MAX_AGE_<NAME>` set).
    pub fn from_env(env: Env<'_>) -> Result<NatsOptions, ConfigError> {
        let file = |name: &'static str| -> Result<Option<PathBuf>, ConfigError> {
            match env.get(name) {
                None => Ok(None),
                Some(path) if std::path::Path::new(path).is_file() => Ok(Some(PathBuf::from(path))),
                Some(path) => Err(ConfigError::invalid(name, format!("{path:?} is not a readable file"))),
            }
        };
        let creds_file = file("NATS_CREDS_FILE")?;
        let nkey_file = file("NATS_NKEY_FILE")?;
        if creds_file.is_some() && nkey_file.is_some() {
            return Err(ConfigError::invalid("NATS_NKEY_FILE", "set NATS_CREDS_FILE or NATS_NKEY_FILE, not both"));
        }
        let user_password = match (env.get("NATS_USER"), env.get("NATS_PASSWORD")) {
            (Some(user), Some(password)) => Some(UserPassword::new(user, password)),
            (None, None) => None,
            (Some(_), None) => return Err(ConfigError::Missing("NATS_PASSWORD")),
            (None, Some(_)) => return Err(ConfigError::Missing("NATS_USER")),
        };
        let tls_client = match (file("NATS_TLS_CERT_FILE")?, file("NATS_TLS_KEY_FILE")?) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            (Some(_), None) => return Err(ConfigError::Missing("NATS_TLS_KEY_FILE")),
            (None, Some(_)) => return Err(ConfigError::Missing("NATS_TLS_CERT_FILE")),
        };
        let replicas: usize = env.parse("NATS_REPLICAS", 1)?;
        if !(1..=5).contains(&replicas) {
            return Err(ConfigError::invalid("NATS_REPLICAS", format!("{replicas} is not 1 to 5")));
        }
        let mut store = StoreSettings { replicas, ..StoreSettings::default() };
        let mut variables: Vec<&String> = env.0.keys().filter(|name| name.starts_with(MAX_AGE_PREFIX)).collect();
        variables.sort();
        for variable in variables {
            let Some(text) = env.get(variable) else { continue };
            let age = parse_age(text)
                .map_err(|reason| ConfigError::invalid("NATS_MAX_AGE_<NAME>", format!("{variable}: {reason}")))?;
            store.max_ages.retain(|(known, _)| *known != variable[MAX_AGE_PREFIX.len()..]);
            store.max_ages.push((variable[MAX_AGE_PREFIX.len()..].to_owned(), age));
        }
        Ok(NatsOptions {
            user_password,
            creds_file,
            nkey_file,
            tls_ca_file: file("NATS_TLS_CA_FILE")?,
            tls_client,
            tls_required: env.boolean("NATS_TLS_REQUIRED", false)?,
            store,
        })
    }

    /// The async-nats connect options these settings ask for.
    pub(crate) async fn connect_options(&self) -> Result<async_nats::ConnectOptions, String> {
        let mut options = async_nats::ConnectOptions::new();
        if let Some(UserPassword { user, password }) = &self.user_password {
            options = options.user_and_password(user.clone(), password.clone());
        }
        if let Some(path) = &self.creds_file {
            options = options
                .credentials_file(path)
                .await
                .map_err(|error| format!("NATS_CREDS_FILE {}: {error}", path.display()))?;
        }
        if let Some(path) = &self.nkey_file {
            let seed =
                std::fs::read_to_string(path).map_err(|error| format!("NATS_NKEY_FILE {}: {error}", path.display()))?;
            let seed = seed.trim();
            if !seed.starts_with("SU") {
                return Err(format!("NATS_NKEY_FILE {}: not a user nkey seed (SU...)", path.display()));
            }
            options = options.nkey(seed.to_owned());
        }
        if let Some(path) = &self.tls_ca_file {
            options = options.add_root_certificates(path.clone());
        }
        if let Some((cert, key)) = &self.tls_client {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        if self.tls_required || self.tls_ca_file.is_some() || self.tls_client.is_some() {
            options = options.require_tls(true);
        }
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_are_one_replica_and_bounded_ages_for_working_state() {
        let options = NatsOptions::from_env(Env(&env(&[]))).unwrap();
        assert_eq!(options.store.replicas, 1);
        assert_eq!(options.store.max_age("convo"), Duration::from_secs(86400));
        assert_eq!(options.store.max_age("RESULTS"), Duration::from_secs(30 * 86400));
        assert_eq!(options.store.max_age("calls"), Duration::ZERO);
        assert!(!options.tls_required);
    }

    #[test]
    fn ages_and_replicas_are_read_per_store() {
        let vars = env(&[("NATS_REPLICAS", "3"), ("NATS_MAX_AGE_CALLS", "90d"), ("NATS_MAX_AGE_CONVO", "0")]);
        let options = NatsOptions::from_env(Env(&vars)).unwrap();
        assert_eq!(options.store.replicas, 3);
        assert_eq!(options.store.max_age("calls"), Duration::from_secs(90 * 86400));
        assert_eq!(options.store.max_age("convo"), Duration::ZERO);
        assert_eq!(max_age_var("call_idempotency"), "NATS_MAX_AGE_CALL_IDEMPOTENCY");
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("NATS_REPLICAS", "0"),
            ("NATS_REPLICAS", "7"),
            ("NATS_MAX_AGE_CONVO", "forever"),
            ("NATS_MAX_AGE_CONVO", "5y"),
            ("NATS_MAX_AGE_CONVO", "99999d"),
            ("NATS_CREDS_FILE", "/no/such/file.creds"),
            ("NATS_TLS_CERT_FILE", "/no/such/cert.pem"),
        ] {
            let error = NatsOptions::from_env(Env(&env(&[(name, value)]))).unwrap_err();
            assert!(error.to_string().contains(name), "{name}={value}: {error}");
        }
        let cert = tempfile::NamedTempFile::new().unwrap();
        let path = cert.path().to_str().unwrap();
        let error = NatsOptions::from_env(Env(&env(&[("NATS_TLS_CERT_FILE", path)]))).unwrap_err();
        assert_eq!(error, ConfigError::Missing("NATS_TLS_KEY_FILE"));
        let both = env(&[("NATS_CREDS_FILE", path), ("NATS_NKEY_FILE", path)]);
        assert!(NatsOptions::from_env(Env(&both)).is_err());
    }

    #[test]
    fn a_user_needs_a_password_and_the_password_never_prints() {
        let error = NatsOptions::from_env(Env(&env(&[("NATS_USER", "gca")]))).unwrap_err();
        assert_eq!(error, ConfigError::Missing("NATS_PASSWORD"));
        let error = NatsOptions::from_env(Env(&env(&[("NATS_PASSWORD", "pw")]))).unwrap_err();
        assert_eq!(error, ConfigError::Missing("NATS_USER"));
        let options =
            NatsOptions::from_env(Env(&env(&[("NATS_USER", "gca"), ("NATS_PASSWORD", "hunter2-secret")]))).unwrap();
        assert_eq!(options.user_password, Some(UserPassword::new("gca", "hunter2-secret")));
        let shown = format!("{options:?}");
        assert!(shown.contains("gca") && !shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn ages_parse_with_units() {
        assert_eq!(parse_age("45").unwrap(), Duration::from_secs(45));
        assert_eq!(parse_age("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_age("12h").unwrap(), Duration::from_secs(12 * 3600));
        assert_eq!(parse_age("0").unwrap(), Duration::ZERO);
        assert!(parse_age("").is_err());
        assert!(parse_age("-1d").is_err());
        assert!(parse_age("1.5d").is_err());
    }

    #[tokio::test]
    async fn an_nkey_file_must_hold_a_user_seed() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "not a seed\n").unwrap();
        let options = NatsOptions { nkey_file: Some(file.path().to_owned()), ..NatsOptions::default() };
        let error = options.connect_options().await.unwrap_err();
        assert!(error.contains("NATS_NKEY_FILE"), "{error}");
    }
}
