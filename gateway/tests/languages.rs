//! `preferred_language` (issue 16 item 8: it was accepted and changed nothing): a call request
//! may name only a language the deployment speaks (`SUPPORTED_LANGUAGES`, default `en`, what the
//! embedded engines speak); one it does not is refused with a clear error and nothing queued.
//! (An accepted one reaches the LLM brain's prompt: `brain-worker` `policy::prompt` tests.)

use serde_json::{json, Value};

const TOKEN: &str = "languages-test-token-0123456789";

async fn post(base: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/calls"))
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await
        .expect("request");
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

fn request(language: &str) -> Value {
    json!({"phone_number": "+14155550123", "gym_name": "Ten Point", "timezone": "America/Los_Angeles", "preferred_language": language})
}

#[actix_rt::test]
async fn only_languages_the_deployment_speaks_are_accepted() {
    let nats = testkit::NatsServer::start().await.expect("nats-server");
    for (supported, accepted, refused) in [
        (None, vec!["en", "en-GB", "EN-us"], vec!["es-MX", "fr"]),
        (Some("en, es"), vec!["es-MX", "en"], vec!["fr-CA"]),
    ] {
        let mut env: std::collections::HashMap<String, String> = [
            ("PUBLIC_BASE_URL", "https://calls.example.com"),
            ("TWILIO_AUTH_TOKEN", "twilio-token"),
            ("API_TOKEN", TOKEN),
            ("LISTEN_ADDR", "127.0.0.1:0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        env.insert("NATS_URL".into(), nats.url());
        if let Some(list) = supported {
            env.insert("SUPPORTED_LANGUAGES".into(), list.into());
        }
        let config = gateway::Config::from_env(&env).expect("config");
        let bus = bus::Bus::connect(&nats.url(), "languages-test").await.expect("connect");
        let running = gateway::start(config, bus.clone()).await.expect("gateway starts");
        let base = format!("http://{}", running.local_addr());
        for language in accepted {
            let (status, body) = post(&base, &request(language)).await;
            assert_eq!(status, 202, "{supported:?} {language}: {body}");
        }
        for language in refused {
            let (status, body) = post(&base, &request(language)).await;
            assert_eq!(status, 422, "{supported:?} {language}: {body}");
            assert_eq!(body["error"]["code"], "unsupported_language", "{body}");
            assert_eq!(body["error"]["field"], "preferred_language", "{body}");
        }
        running.stop().await;
    }
    for bad in ["", "english", "e", "en,,1"] {
        let env: std::collections::HashMap<String, String> = [
            ("PUBLIC_BASE_URL", "https://calls.example.com"),
            ("TWILIO_AUTH_TOKEN", "t"),
            ("SUPPORTED_LANGUAGES", bad),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        if bad.is_empty() {
            continue; // blank means unset: the default
        }
        let error = gateway::Config::from_env(&env).unwrap_err();
        assert!(error.to_string().contains("SUPPORTED_LANGUAGES"), "{bad:?}: {error}");
    }
}
