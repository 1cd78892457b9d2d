//! `gymcall transcribe FILE.wav...`: each WAV (any rate, mono, PCM16 or mu-law) through the
//! telephone band a call uses (resampled to 8 kHz mu-law, then back up inside the recogniser),
//! transcribed by the recogniser a call would use, printed as `FILE<TAB>transcript` a line.
//! A file that cannot be read or transcribed is reported on stderr; the others still print.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail};
use speech::Vocabulary;
use whisper_stt::offline::{read_wav, telephone_band, transcribe_mulaw};

/// Engines `--engine` accepts.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Whisper,
    Pocketsphinx,
}

#[derive(clap::Args, Clone, Debug)]
pub struct TranscribeArgs {
    /// WAV files: mono, any sample rate, PCM16 or G.711 mu-law.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Recogniser (default: as a call picks it: STT_PROVIDER, else Whisper when installed).
    #[arg(long, value_enum)]
    pub engine: Option<Engine>,
    /// Playbook whose recognition hints bias the recogniser (default: the default playbook).
    #[arg(long)]
    pub playbook: Option<PathBuf>,
}

pub async fn run(args: TranscribeArgs) -> anyhow::Result<()> {
    let mut env: HashMap<String, String> = std::env::vars().collect();
    match args.engine {
        Some(Engine::Whisper) => env.insert("STT_PROVIDER".into(), "whisper".into()),
        Some(Engine::Pocketsphinx) => env.insert("STT_PROVIDER".into(), "pocketsphinx".into()),
        None => None,
    };
    let providers = crate::stack::speech_from_env(&env)?;
    let playbook = match &args.playbook {
        Some(path) => playbook::Playbook::load(path).map_err(|e| anyhow!("{e}"))?,
        None => playbook::PlaybookSet::built_in()
            .and_then(|set| set.get(playbook::DEFAULT_PLAYBOOK).cloned())
            .map_err(|e| anyhow!("{e}"))?,
    };
    let vocabulary = Arc::new(Vocabulary::from_hints(&playbook.recognition_hints()));
    tracing::info!(engine = providers.stt.name(), playbook = %playbook.id, "transcribing");
    let mut failed = 0usize;
    for path in &args.files {
        let outcome = async {
            let audio = read_wav(path)?;
            let mulaw = telephone_band(&audio);
            // Bounded: a minute plus the audio's own length.
            let timeout = Duration::from_secs(60 + mulaw.len() as u64 / 8_000);
            transcribe_mulaw(providers.stt.as_ref(), &mulaw, Some(vocabulary.clone()), timeout).await
        }
        .await;
        match outcome {
            Ok(text) => println!("{}\t{}", path.display(), text.replace(['\t', '\n'], " ")),
            Err(error @ whisper_stt::offline::OfflineError::Wav { .. }) => {
                failed += 1;
                eprintln!("{error}");
            }
            Err(error) => {
                failed += 1;
                eprintln!("{}: {error}", path.display());
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} files could not be transcribed", args.files.len());
    }
    Ok(())
}
