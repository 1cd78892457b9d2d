//! The brain worker's configuration, read from an environment map (tests never touch the
//! process environment).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// Every environment variable [`Config::from_env`] reads.
pub const ENV_VARS: &[&str] = &[
    "NATS_URL",
    // and bus::settings::ENV_VARS (NATS credentials, TLS, replicas, ages), read by every service
    "WORKER_ID",
    "MAX_CALLS",
    "PLAYBOOKS_DIR",
    "BRAIN_POLICY",
    "LLM_BASE_URL",
    "LLM_MODEL",
    "LLM_API_KEY",
    "LLM_TIMEOUT_MS",
    "HOSTNAME",
    "METRICS_ADDR",
    "SHUTDOWN_GRACE_S",
];

/// Which policy runs the conversations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// Slot filling by the playbook with rule-based extraction (no model, no network).
    Scripted,
    /// An OpenAI-compatible model; the scripted policy takes over when it fails.
    Llm,
}

/// An OpenAI-compatible server.
#[derive(Clone, Debug, PartialEq)]
pub struct LlmConfig {
    /// `https://api.openai.com/v1`, `http://ollama:11434`, `http://vllm:8000`, `http://llama:8080`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<String>,
    /// A request with no streamed data for this long fails over to the scripted policy.
    pub timeout: Duration,
}

pub use probes::ConfigError;
use probes::Env;

/// Everything one brain worker process needs to know.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub nats_url: String,
    /// Credentials, TLS, replicas and ages for NATS (`NATS_*`, see [`bus::settings`]).
    pub nats: bus::NatsOptions,
    /// Name this worker answers `brain.assign` with (default `brain-<hostname>-<pid>`).
    pub worker_id: String,
    /// Calls this worker runs at once; above it, it does not answer `brain.assign`.
    pub max_calls: usize,
    /// Directory of playbook YAML files over the built-in ones (`playbooks/` by default).
    pub playbooks_dir: PathBuf,
    pub policy: PolicyKind,
    /// Set when `policy` is `Llm`.
    pub llm: Option<LlmConfig>,
    /// Where `/healthz`, `/readyz` and `/metrics` are served (`METRICS_ADDR`; unset: not served).
    pub metrics_addr: Option<String>,
    /// How long running calls may go on after SIGTERM (`SHUTDOWN_GRACE_S`, default 25 s).
    pub shutdown_grace: Duration,
}

impl Config {
    pub fn from_env(env: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let env = Env(env);
        let get = |name: &str| env.get(name);
        let hostname = get("HOSTNAME").map(str::to_owned).unwrap_or_else(|| "local".to_owned());
        let policy = match get("BRAIN_POLICY").map(str::to_lowercase).as_deref() {
            None | Some("scripted") => PolicyKind::Scripted,
            Some("llm") => PolicyKind::Llm,
            Some(other) => {
                return Err(ConfigError::invalid(
                    "BRAIN_POLICY",
                    format!("{other:?} is not a policy (scripted or llm)"),
                ))
            }
        };
        let llm = match policy {
            PolicyKind::Scripted => None,
            PolicyKind::Llm => Some(LlmConfig {
                base_url: env.required("LLM_BASE_URL")?,
                model: env.required("LLM_MODEL")?,
                api_key: get("LLM_API_KEY").map(str::to_owned),
                timeout: Duration::from_millis(env.parse("LLM_TIMEOUT_MS", 8000)?),
            }),
        };
        Ok(Config {
            nats_url: get("NATS_URL").unwrap_or("nats://127.0.0.1:4222").to_owned(),
            nats: bus::NatsOptions::from_env(env)?,
            worker_id: get("WORKER_ID")
                .map(str::to_owned)
                .unwrap_or_else(|| format!("brain-{hostname}-{}", std::process::id())),
            max_calls: env.parse("MAX_CALLS", 200)?,
            playbooks_dir: PathBuf::from(get("PLAYBOOKS_DIR").unwrap_or("playbooks")),
            policy,
            llm,
            metrics_addr: get("METRICS_ADDR").map(str::to_owned),
            shutdown_grace: env.shutdown_grace(Duration::from_secs(25))?,
        })
    }

    /// A scripted-policy configuration for tests and the embedded demo.
    pub fn scripted(nats_url: &str, worker_id: &str) -> Config {
        Config {
            nats_url: nats_url.to_owned(),
            nats: bus::NatsOptions::default(),
            worker_id: worker_id.to_owned(),
            max_calls: 200,
            playbooks_dir: PathBuf::from("playbooks"),
            policy: PolicyKind::Scripted,
            llm: None,
            metrics_addr: None,
            shutdown_grace: Duration::from_secs(25),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_to_the_scripted_policy() {
        let config = Config::from_env(&env(&[("WORKER_ID", "b1")])).unwrap();
        assert_eq!(config.policy, PolicyKind::Scripted);
        assert_eq!(config.worker_id, "b1");
        assert_eq!(config.llm, None);
    }

    #[test]
    fn llm_policy_needs_url_and_model() {
        let error = Config::from_env(&env(&[("BRAIN_POLICY", "llm"), ("LLM_MODEL", "m")])).unwrap_err();
        assert_eq!(error, ConfigError::Missing("LLM_BASE_URL"));
        let config = Config::from_env(&env(&[
            ("BRAIN_POLICY", "LLM"),
            ("LLM_BASE_URL", "http://ollama:11434"),
            ("LLM_MODEL", "llama3.1"),
            ("LLM_TIMEOUT_MS", "2500"),
        ]))
        .unwrap();
        let llm = config.llm.unwrap();
        assert_eq!(llm.timeout, Duration::from_millis(2500));
        assert_eq!(llm.api_key, None);
        assert!(matches!(
            Config::from_env(&env(&[("BRAIN_POLICY", "magic")])),
            Err(ConfigError::Invalid { name: "BRAIN_POLICY", .. })
        ));
        assert!(matches!(
            Config::from_env(&env(&[("MAX_CALLS", "lots")])),
            Err(ConfigError::Invalid { name: "MAX_CALLS", .. })
        ));
    }
}
