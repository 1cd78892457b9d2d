//! `gymcall-fake-openai`: an OpenAI-compatible server that answers at once (transcriptions from
//! a list in turn, speech as streamed PCM, chat completions streamed or not), for measuring the
//! production path without provider keys. Prints `listening on http://ADDR`, stops on SIGTERM.

use anyhow::{bail, Context};
use clap::Parser;
use loadgen::fake_openai::{self, FakeConfig, MAX_ENTRY_CHARS, MAX_LIST_ENTRIES};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(about = "Fake OpenAI-compatible provider (STT, TTS, chat) that answers at once")]
struct Args {
    /// Address to listen on (port 0: any free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Transcripts served in turn (repeat the option); default: what the repository's callee WAVs say.
    #[arg(long = "transcript")]
    transcripts: Vec<String>,
    /// A file of transcripts, one per line.
    #[arg(long)]
    transcripts_file: Option<PathBuf>,
    /// Chat replies served in turn (repeat the option); default: four questions about drop-ins.
    #[arg(long = "reply")]
    replies: Vec<String>,
    /// A file of chat replies, one per line.
    #[arg(long)]
    replies_file: Option<PathBuf>,
    /// Milliseconds of speech per character of text.
    #[arg(long, default_value_t = 60)]
    speech_ms_per_char: u32,
    /// HTTP worker threads.
    #[arg(long, default_value_t = 1)]
    workers: usize,
}

/// Non-empty lines of a small text file.
fn read_lines(path: &Path) -> anyhow::Result<Vec<String>> {
    let limit = (MAX_LIST_ENTRIES * (MAX_ENTRY_CHARS + 1) * 4) as u64;
    let size = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?.len();
    if size > limit {
        bail!("{} is larger than {limit} bytes", path.display());
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text.lines().map(str::trim).filter(|line| !line.is_empty()).map(str::to_owned).collect())
}

fn list(given: Vec<String>, file: Option<&Path>, default: Vec<String>) -> anyhow::Result<Vec<String>> {
    let mut list = given;
    if let Some(file) = file {
        list.extend(read_lines(file)?);
    }
    Ok(if list.is_empty() { default } else { list })
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    probes::process::init_logging("warn");
    let args = Args::parse();
    let defaults = FakeConfig::default();
    let config = FakeConfig {
        listen_addr: args.listen,
        transcripts: list(args.transcripts, args.transcripts_file.as_deref(), defaults.transcripts)?,
        replies: list(args.replies, args.replies_file.as_deref(), defaults.replies)?,
        speech_ms_per_char: args.speech_ms_per_char.clamp(1, 1_000),
        workers: args.workers.clamp(1, 64),
    };
    let fake = fake_openai::start(config).await?;
    println!("gymcall-fake-openai: listening on {}", fake.base_url());
    std::io::stdout().flush()?;
    probes::process::shutdown_signal().await;
    fake.stop().await;
    Ok(())
}
