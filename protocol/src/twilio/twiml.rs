//! TwiML: a builder for the responses we return (REFERENCE.md §2) and a small reader for the
//! `<Connect><Stream>` part, which the simulator uses to play Twilio.
//!
//! Every attribute value and text node goes through [`escape_xml`].

use std::collections::BTreeMap;
use std::fmt::Write;

/// Escapes `&`, `<`, `>`, `"` and `'` for use in XML text or attribute values.
pub fn escape_xml(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Reverses [`escape_xml`] (and numeric character references).
pub fn unescape_xml(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let Some(end) = after.find(';') else {
            out.push_str(after);
            return out;
        };
        let entity = &after[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// One verb of a TwiML response.
#[derive(Clone, Debug, PartialEq)]
enum Verb {
    ConnectStream { url: String, parameters: Vec<(String, String)> },
    Say { text: String, voice: Option<String>, language: Option<String> },
    Pause { length_s: u32 },
    Hangup,
    PlayDigits { digits: String },
    Redirect { url: String },
}

/// A TwiML `<Response>` under construction.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Twiml {
    verbs: Vec<Verb>,
}

impl Twiml {
    pub fn new() -> Self {
        Self::default()
    }

    /// `<Connect><Stream url=...>` with one `<Parameter>` per pair: a bidirectional stream.
    pub fn connect_stream(mut self, url: &str, parameters: &[(&str, &str)]) -> Self {
        self.verbs.push(Verb::ConnectStream {
            url: url.to_owned(),
            parameters: parameters.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        });
        self
    }

    /// `<Say>text</Say>`.
    pub fn say(mut self, text: &str) -> Self {
        self.verbs.push(Verb::Say { text: text.to_owned(), voice: None, language: None });
        self
    }

    /// `<Say voice=.. language=..>text</Say>`.
    pub fn say_with(mut self, text: &str, voice: Option<&str>, language: Option<&str>) -> Self {
        self.verbs.push(Verb::Say {
            text: text.to_owned(),
            voice: voice.map(str::to_owned),
            language: language.map(str::to_owned),
        });
        self
    }

    /// `<Pause length=.../>`.
    pub fn pause(mut self, length_s: u32) -> Self {
        self.verbs.push(Verb::Pause { length_s });
        self
    }

    /// `<Hangup/>`.
    pub fn hangup(mut self) -> Self {
        self.verbs.push(Verb::Hangup);
        self
    }

    /// `<Play digits=.../>`: DTMF tones (`w` = half a second's pause).
    pub fn play_digits(mut self, digits: &str) -> Self {
        self.verbs.push(Verb::PlayDigits { digits: digits.to_owned() });
        self
    }

    /// `<Redirect>url</Redirect>`.
    pub fn redirect(mut self, url: &str) -> Self {
        self.verbs.push(Verb::Redirect { url: url.to_owned() });
        self
    }

    /// The XML document.
    pub fn to_xml(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>");
        for verb in &self.verbs {
            match verb {
                Verb::ConnectStream { url, parameters } => {
                    let _ = write!(out, "<Connect><Stream url=\"{}\">", escape_xml(url));
                    for (name, value) in parameters {
                        let _ =
                            write!(out, "<Parameter name=\"{}\" value=\"{}\"/>", escape_xml(name), escape_xml(value));
                    }
                    out.push_str("</Stream></Connect>");
                }
                Verb::Say { text, voice, language } => {
                    out.push_str("<Say");
                    if let Some(voice) = voice {
                        let _ = write!(out, " voice=\"{}\"", escape_xml(voice));
                    }
                    if let Some(language) = language {
                        let _ = write!(out, " language=\"{}\"", escape_xml(language));
                    }
                    let _ = write!(out, ">{}</Say>", escape_xml(text));
                }
                Verb::Pause { length_s } => {
                    let _ = write!(out, "<Pause length=\"{length_s}\"/>");
                }
                Verb::Hangup => out.push_str("<Hangup/>"),
                Verb::PlayDigits { digits } => {
                    let _ = write!(out, "<Play digits=\"{}\"/>", escape_xml(digits));
                }
                Verb::Redirect { url } => {
                    let _ = write!(out, "<Redirect>{}</Redirect>", escape_xml(url));
                }
            }
        }
        out.push_str("</Response>");
        out
    }
}

/// What a `<Connect><Stream>` asks for: where to connect, and the `<Parameter>` pairs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamInstruction {
    pub url: String,
    pub parameters: BTreeMap<String, String>,
    /// The text of the `<Say>` verbs after `</Connect>` (spoken once the stream closes).
    pub say_after: Vec<String>,
    /// The URL of a `<Redirect>` after `</Connect>` (fetched once the stream closes).
    pub redirect_after: Option<String>,
}

/// Why a TwiML document holds no usable `<Connect><Stream>`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TwimlReadError {
    #[error("no <Response> root element")]
    NoResponse,
    #[error("no <Connect><Stream> element")]
    NoConnectStream,
    #[error("<Stream> has no url attribute")]
    NoUrl,
    #[error("malformed tag: {0}")]
    MalformedTag(String),
}

/// A start or empty tag: name and attributes.
struct Tag {
    name: String,
    closing: bool,
    attributes: BTreeMap<String, String>,
}

fn parse_tags(xml: &str) -> Result<Vec<(Tag, usize)>, TwimlReadError> {
    let mut tags = Vec::new();
    let mut rest_at = 0;
    while let Some(open) = xml[rest_at..].find('<') {
        let start = rest_at + open;
        let Some(close) = xml[start..].find('>') else {
            return Err(TwimlReadError::MalformedTag(xml[start..].chars().take(40).collect()));
        };
        let end = start + close;
        let inner = &xml[start + 1..end];
        rest_at = end + 1;
        if inner.starts_with('?') || inner.starts_with('!') {
            continue;
        }
        let closing = inner.starts_with('/');
        let inner = inner.trim_start_matches('/').trim_end_matches('/').trim();
        let name_end = inner.find(char::is_whitespace).unwrap_or(inner.len());
        let name = inner[..name_end].to_owned();
        let attributes = parse_attributes(&inner[name_end..])?;
        tags.push((Tag { name, closing, attributes }, rest_at));
    }
    Ok(tags)
}

fn parse_attributes(mut text: &str) -> Result<BTreeMap<String, String>, TwimlReadError> {
    let mut attributes = BTreeMap::new();
    loop {
        text = text.trim_start();
        if text.is_empty() {
            return Ok(attributes);
        }
        let Some(eq) = text.find('=') else {
            return Err(TwimlReadError::MalformedTag(text.chars().take(40).collect()));
        };
        let name = text[..eq].trim().to_owned();
        let after = text[eq + 1..].trim_start();
        let Some(quote) = after.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            return Err(TwimlReadError::MalformedTag(after.chars().take(40).collect()));
        };
        let Some(value_len) = after[1..].find(quote) else {
            return Err(TwimlReadError::MalformedTag(after.chars().take(40).collect()));
        };
        attributes.insert(name, unescape_xml(&after[1..1 + value_len]));
        text = &after[1 + value_len + 1..];
    }
}

/// The unescaped text between tag `index` and the next tag.
fn element_text(xml: &str, tags: &[(Tag, usize)], index: usize) -> String {
    let Some((_, start)) = tags.get(index) else { return String::new() };
    let end = match tags.get(index + 1) {
        Some((_, next_end)) => xml[..*next_end].rfind('<').unwrap_or(*start),
        None => xml.len(),
    };
    if *start <= end {
        unescape_xml(xml[*start..end].trim())
    } else {
        String::new()
    }
}

/// The text of every `<Say>` in a TwiML response, in order, and whether it ends in `<Hangup>`.
pub fn read_says(xml: &str) -> Result<(Vec<String>, bool), TwimlReadError> {
    let tags = parse_tags(xml)?;
    if !tags.iter().any(|(tag, _)| tag.name == "Response") {
        return Err(TwimlReadError::NoResponse);
    }
    let says = tags
        .iter()
        .enumerate()
        .filter(|(_, (tag, _))| tag.name == "Say" && !tag.closing)
        .map(|(index, _)| element_text(xml, &tags, index))
        .collect();
    let hangup = tags.iter().any(|(tag, _)| tag.name == "Hangup");
    Ok((says, hangup))
}

/// Reads the `<Connect><Stream>` of a TwiML response (what Twilio does on receiving it).
pub fn read_connect_stream(xml: &str) -> Result<StreamInstruction, TwimlReadError> {
    let tags = parse_tags(xml)?;
    if !tags.iter().any(|(tag, _)| tag.name == "Response") {
        return Err(TwimlReadError::NoResponse);
    }
    let mut in_connect = false;
    let mut in_stream = false;
    let mut after_connect = false;
    let mut instruction: Option<StreamInstruction> = None;
    for (index, (tag, end)) in tags.iter().enumerate() {
        match (tag.name.as_str(), tag.closing) {
            ("Connect", false) => in_connect = true,
            ("Connect", true) => {
                in_connect = false;
                after_connect = instruction.is_some();
            }
            ("Stream", false) if in_connect && instruction.is_none() => {
                let url = tag.attributes.get("url").cloned().ok_or(TwimlReadError::NoUrl)?;
                instruction = Some(StreamInstruction {
                    url,
                    parameters: BTreeMap::new(),
                    say_after: Vec::new(),
                    redirect_after: None,
                });
                let self_closing = xml[..*end].trim_end_matches('>').ends_with('/');
                in_stream = !self_closing;
            }
            ("Stream", true) => in_stream = false,
            ("Parameter", false) if in_stream => {
                if let (Some(instruction), Some(name)) = (instruction.as_mut(), tag.attributes.get("name")) {
                    let value = tag.attributes.get("value").cloned().unwrap_or_default();
                    instruction.parameters.insert(name.clone(), value);
                }
            }
            ("Say", false) if after_connect => {
                if let Some(instruction) = instruction.as_mut() {
                    instruction.say_after.push(element_text(xml, &tags, index));
                }
            }
            ("Redirect", false) if after_connect => {
                if let Some(instruction) = instruction.as_mut() {
                    if instruction.redirect_after.is_none() {
                        instruction.redirect_after = Some(element_text(xml, &tags, index));
                    }
                }
            }
            _ => {}
        }
    }
    instruction.ok_or(TwimlReadError::NoConnectStream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_escapes_everything() {
        let xml = Twiml::new()
            .connect_stream(
                "wss://gw.example.com/v1/twilio/stream",
                &[("call_id", "c_1"), ("gym", "Tom & Jerry's <BJJ> \"gym\"")],
            )
            .say("Sorry & goodbye <now>")
            .pause(1)
            .play_digits("ww1#")
            .redirect("https://x.example/a?b=1&c=2")
            .hangup()
            .to_xml();
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Connect><Stream url=\"wss://gw.example.com/v1/twilio/stream\">\
<Parameter name=\"call_id\" value=\"c_1\"/><Parameter name=\"gym\" value=\"Tom &amp; Jerry&apos;s &lt;BJJ&gt; &quot;gym&quot;\"/>\
</Stream></Connect><Say>Sorry &amp; goodbye &lt;now&gt;</Say><Pause length=\"1\"/><Play digits=\"ww1#\"/>\
<Redirect>https://x.example/a?b=1&amp;c=2</Redirect><Hangup/></Response>"
        );
    }

    #[test]
    fn reader_finds_stream_parameters_and_apology() {
        let xml = Twiml::new()
            .connect_stream("wss://gw.example.com/v1/twilio/stream", &[("call_id", "c_1"), ("gym", "A & B's")])
            .say("Sorry, we hit a problem.")
            .to_xml();
        let read = read_connect_stream(&xml).unwrap();
        assert_eq!(read.url, "wss://gw.example.com/v1/twilio/stream");
        assert_eq!(read.parameters.get("gym").map(String::as_str), Some("A & B's"));
        assert_eq!(read.parameters.get("call_id").map(String::as_str), Some("c_1"));
        assert_eq!(read.say_after, vec!["Sorry, we hit a problem.".to_owned()]);
        assert_eq!(read.redirect_after, None);
        let redirected = Twiml::new()
            .connect_stream("wss://gw.example.com/s", &[])
            .redirect("https://gw.example.com/after?call_id=c_1&x=2")
            .to_xml();
        let read = read_connect_stream(&redirected).unwrap();
        assert_eq!(read.redirect_after.as_deref(), Some("https://gw.example.com/after?call_id=c_1&x=2"));
        assert_eq!(
            read_says(&Twiml::new().say("a &amp; b").say("c").hangup().to_xml()).unwrap(),
            (vec!["a &amp; b".to_owned(), "c".to_owned()], true)
        );
        assert_eq!(read_says(&Twiml::new().hangup().to_xml()).unwrap(), (vec![], true));
    }

    #[test]
    fn reader_accepts_twilio_docs_example_and_rejects_others() {
        let docs = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response>\n   <Connect>\n       <Stream url=\"wss://example.com/audiostream\" />\n   </Connect>\n   <Say>This TwiML instruction is unreachable unless the Stream is ended by your WebSocket server.</Say>\n</Response>";
        let read = read_connect_stream(docs).unwrap();
        assert_eq!(read.url, "wss://example.com/audiostream");
        assert!(read.parameters.is_empty());
        assert_eq!(read.say_after.len(), 1);
        assert_eq!(read_connect_stream("<Response><Say>hi</Say></Response>"), Err(TwimlReadError::NoConnectStream));
        assert_eq!(read_connect_stream("hello"), Err(TwimlReadError::NoResponse));
    }
}
