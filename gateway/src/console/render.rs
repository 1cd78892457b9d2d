//! How a call's parts are drawn: the transcript, the result's fields (status, value, confidence,
//! evidence quote), the per-reply latency breakdown as an inline SVG chart with the same figures
//! in a table, and the recording player.

use super::html::escape;
use protocol::calls::CallRecord;
use protocol::results::{CallResult, FieldResult, FieldStatus, ReplyStages, Speaker, TranscriptTurn};
use std::fmt::Write;

/// One transcript turn as a list item (the live page appends the same markup from JavaScript).
pub fn turn(turn: &TranscriptTurn) -> String {
    let (class, who) = match turn.speaker {
        Speaker::Agent => ("agent", "Agent"),
        Speaker::Callee => ("callee", "Gym"),
    };
    let cut = if turn.interrupted { r#" <span class="note">(interrupted)</span>"# } else { "" };
    format!(r#"<li class="{class}"><span class="who">{who}</span> {}{cut}</li>"#, escape(&turn.text))
}

/// The transcript list; `live_url` makes the page follow the call's events.
pub fn transcript(turns: &[TranscriptTurn], live_url_opt: Option<&str>) -> String {
    let items: String = turns.iter().map(turn).collect();
    let live = live_url_opt.map(|url| format!(r#" data-events="{}""#, escape(url))).unwrap_or_default();
    format!(r#"<ol id="transcript" class="transcript" aria-live="polite" aria-label="Transcript"{live}>{items}</ol>"#)
}

fn status_text(status: FieldStatus) -> &'static str {
    match status {
        FieldStatus::Known => "known",
        FieldStatus::Unknown => "unknown",
        FieldStatus::Refused => "refused",
        FieldStatus::NotApplicable => "not applicable",
    }
}

/// A field's value as text (strings as they are, anything else as compact JSON).
pub fn value_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A field's value as HTML: a list one item per line, an object as its non-empty `key value`
/// pairs, anything else as text.
pub fn value_html(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Array(items) if !items.is_empty() => {
            let items: String = items.iter().map(|item| format!("<li>{}</li>", value_html(item))).collect();
            format!(r#"<ul class="value-list">{items}</ul>"#)
        }
        serde_json::Value::Object(pairs) => pairs
            .iter()
            .filter(|(_, v)| !v.is_null() && v.as_str() != Some(""))
            .map(|(k, v)| format!("{} {}", escape(&k.replace('_', " ")), value_html(v)))
            .collect::<Vec<_>>()
            .join(", "),
        other => escape(&value_text(other)),
    }
}

/// An RFC 3339 time shown to the second (`2026-12-04 22:46:16 UTC` for a UTC time).
pub fn short_time(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(time) => time.with_timezone(&chrono::Utc).format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        Err(_) => rfc3339.to_owned(),
    }
}

fn field_row(name: &str, field: &FieldResult) -> String {
    let evidence: String = field
        .evidence
        .iter()
        .map(|e| format!(r#"<q>{}</q> <span class="note">(turn {})</span>"#, escape(&e.text), e.turn + 1))
        .collect::<Vec<_>>()
        .join("<br>");
    format!(
        r#"<tr data-field="{name}"><th scope="row">{name}</th><td class="field-status status-{status_class}">{status}</td><td class="field-value">{value}</td><td class="field-confidence">{confidence:.0}%</td><td class="field-evidence">{evidence}</td></tr>"#,
        name = escape(name),
        status_class = status_text(field.status).replace(' ', "-"),
        status = status_text(field.status),
        value = value_html(&field.value),
        confidence = f64::from(field.confidence.clamp(0.0, 1.0)) * 100.0,
    )
}

/// The result fields as a table.
pub fn fields_table(result: &CallResult) -> String {
    if result.fields.is_empty() {
        return "<p>No fields in this result.</p>".to_owned();
    }
    let rows: String = result.fields.iter().map(|(name, field)| field_row(name, field)).collect();
    format!(
        r#"<table id="fields" class="fields"><caption>Result fields</caption>
<thead><tr><th scope="col">Field</th><th scope="col">Status</th><th scope="col">Value</th><th scope="col">Confidence</th><th scope="col">Evidence</th></tr></thead>
<tbody>{rows}</tbody></table>"#
    )
}

const STAGES: [(&str, &str); 5] = [
    ("endpoint", "end of speech to end of turn"),
    ("stt", "speech to text"),
    ("brain", "the reply's text"),
    ("tts", "text to speech"),
    ("play", "until it plays"),
];

fn stage_values(reply: &ReplyStages) -> [u64; 5] {
    [reply.endpoint_ms, reply.stt_ms, reply.brain_ms, reply.tts_ms, reply.play_ms]
}

/// The per-reply latency breakdown: a stacked bar per reply (inline SVG) and the same figures in
/// a table for screen readers and copying.
pub fn latency_chart(replies: &[ReplyStages]) -> String {
    if replies.is_empty() {
        return r#"<p id="latency-none">No reply latency was recorded for this call.</p>"#.to_owned();
    }
    const WIDTH: u64 = 640;
    const LABEL: u64 = 70;
    const TOTAL_LABEL: u64 = 70;
    const BAR: u64 = 18;
    const GAP: u64 = 8;
    let longest = replies.iter().map(ReplyStages::total_ms).max().unwrap_or(0).max(1);
    let plot = WIDTH - LABEL - TOTAL_LABEL;
    let height = replies.len() as u64 * (BAR + GAP) + GAP;
    let mut svg = format!(
        r#"<svg id="latency-chart" class="latency" role="img" aria-labelledby="latency-title" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title id="latency-title">Reply latency by stage, in milliseconds, for {} replies (longest {longest} ms)</title>"#,
        replies.len()
    );
    for (index, reply) in replies.iter().enumerate() {
        let y = GAP + index as u64 * (BAR + GAP);
        let _ = write!(svg, r#"<text x="0" y="{}" class="label">Reply {}</text>"#, y + BAR - 4, index + 1);
        let mut x = LABEL as f64;
        for ((stage, meaning), ms) in STAGES.iter().zip(stage_values(reply)) {
            let width = ms as f64 * plot as f64 / longest as f64;
            if width > 0.0 {
                let _ = write!(
                    svg,
                    r#"<rect class="stage-{stage}" x="{x:.1}" y="{y}" width="{width:.1}" height="{BAR}"><title>{stage} ({meaning}): {ms} ms</title></rect>"#
                );
            }
            x += width;
        }
        let _ =
            write!(svg, r#"<text x="{:.1}" y="{}" class="label">{} ms</text>"#, x + 6.0, y + BAR - 4, reply.total_ms());
    }
    svg.push_str("</svg>");
    let legend: String = STAGES
        .iter()
        .map(|(stage, meaning)| {
            format!(r#"<li><span class="swatch stage-{stage}" aria-hidden="true"></span>{stage}: {meaning}</li>"#)
        })
        .collect();
    let rows: String = replies
        .iter()
        .enumerate()
        .map(|(index, reply)| {
            let cells: String = stage_values(reply).iter().map(|ms| format!("<td>{ms}</td>")).collect();
            format!(r#"<tr><th scope="row">{}</th>{cells}<td>{}</td></tr>"#, index + 1, reply.total_ms())
        })
        .collect();
    let header: String = STAGES.iter().map(|(stage, _)| format!(r#"<th scope="col">{stage}</th>"#)).collect();
    format!(
        r#"<figure class="chart">{svg}<figcaption><ul class="legend">{legend}</ul></figcaption></figure>
<details><summary>Latency figures (ms)</summary><table class="numbers"><thead><tr><th scope="col">Reply</th>{header}<th scope="col">total</th></tr></thead><tbody>{rows}</tbody></table></details>"#
    )
}

/// The recording player: the stereo WAV from `GET /v1/calls/{id}/recording`, which accepts the
/// console's session cookie for GET.
pub fn recording(call_id: &str) -> String {
    let url = format!("/v1/calls/{}/recording", escape(call_id));
    format!(
        r#"<audio id="recording" controls preload="auto" src="{url}" aria-describedby="recording-note"></audio>
<p id="recording-note" class="note">Stereo: the gym on the left, the agent on the right. <a href="{url}" download>Download the WAV</a>.</p>"#
    )
}

/// Everything the call's result adds to its page.
pub fn result_panel(record: &CallRecord, result: &CallResult) -> String {
    let notes: String = result.notes.iter().map(|n| format!("<li>{}</li>", escape(n))).collect();
    let notes = if notes.is_empty() { String::new() } else { format!("<h3>Notes</h3><ul>{notes}</ul>") };
    format!(
        r#"<section id="result" aria-labelledby="result-title"><h2 id="result-title">Result</h2>
<p>Outcome: <strong id="outcome">{outcome}</strong> · playbook {playbook} · {started} to {ended}</p>
{fields}{notes}
<h2>Reply latency</h2>{chart}
<h2>Recording</h2>{recording}</section>"#,
        outcome = escape(&serde_json::to_value(result.outcome).map(|v| value_text(&v)).unwrap_or_default()),
        playbook = escape(&result.playbook),
        started = escape(&short_time(&result.started_at)),
        ended = escape(&short_time(&result.ended_at)),
        fields = fields_table(result),
        chart = latency_chart(&result.latency.replies),
        recording = recording(record.call_id.as_str()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_draws_each_stage_in_proportion_and_lists_the_figures() {
        let replies = [
            ReplyStages {
                endpoint_ms: 400,
                stt_ms: 100,
                brain_ms: 20,
                tts_ms: 60,
                play_ms: 20,
                heard_ms: None,
                speech_end_at_ms: None,
            },
            ReplyStages {
                endpoint_ms: 200,
                stt_ms: 0,
                brain_ms: 0,
                tts_ms: 100,
                play_ms: 0,
                heard_ms: None,
                speech_end_at_ms: None,
            },
        ];
        let html = latency_chart(&replies);
        // the longest reply (600 ms) spans the plot (500 px): 400 ms of endpointing is 333.3 px
        assert!(html.contains(r#"<rect class="stage-endpoint" x="70.0" y="8" width="333.3""#), "{html}");
        assert!(!html.contains(r#"y="34" width="0.0""#), "stages that took no time are not drawn");
        assert!(html.contains("600 ms") && html.contains("300 ms"));
        assert!(html.contains("<td>400</td><td>100</td><td>20</td><td>60</td><td>20</td><td>600</td>"));
        assert!(latency_chart(&[]).contains("No reply latency"));
    }

    #[test]
    fn field_rows_show_status_value_confidence_and_the_quote_escaped() {
        let field = FieldResult {
            status: FieldStatus::Known,
            value: serde_json::json!("$25"),
            evidence: vec![protocol::results::Evidence { turn: 3, text: "it's <b>25</b> bucks".into() }],
            confidence: 0.87,
        };
        let row = field_row("drop_in_price", &field);
        assert!(row.contains(">known<") && row.contains(">$25<") && row.contains(">87%<"), "{row}");
        let schedule = serde_json::json!([{"day": "monday", "start": "18:00", "class_type": null}]);
        assert_eq!(value_html(&schedule), r#"<ul class="value-list"><li>day monday, start 18:00</li></ul>"#);
        assert_eq!(short_time("2026-12-04T22:46:16.199440354+00:00"), "2026-12-04 22:46:16 UTC");
        assert!(
            row.contains("<q>it&#39;s &lt;b&gt;25&lt;/b&gt; bucks</q> <span class=\"note\">(turn 4)</span>"),
            "{row}"
        );
    }
}
