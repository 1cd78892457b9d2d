//! What the voice is given to read: a sentence with its prices, clock times and bare numbers in
//! words (through `protocol::spoken`, the one place numbers are said), the gym words the phonemizer
//! gets wrong respelled ([`LEXICON`]), and the sentence cut into clauses at its punctuation, which
//! Piper reads as pauses and intonation.

/// Respellings of words espeak-ng's English rules say wrong, as `(written, said)`; matched on
/// whole words and on the parts of hyphenated words, case-insensitively. The said forms are
/// checked against espeak-ng's phonemes in this module's tests.
pub const LEXICON: &[(&str, &str)] = &[
    // "gi" (the kimono) is a hard g, "ghee"; espeak-ng reads "gis" as "jis".
    ("gi", "ghee"),
    ("gis", "ghees"),
    ("nogi", "no-ghee"),
    // "jiu jitsu" starts "joo", not "jee-oo".
    ("jiu", "joo"),
    ("jiujitsu", "joo-jitsu"),
    // Said letter by letter, whatever its case.
    ("bjj", "B J J"),
    ("bjj's", "B J J's"),
    ("mma", "M M A"),
    // High-intensity interval training is said as the word "hit".
    ("hiit", "hit"),
    ("muay", "moo-eye"),
];

/// Punctuation that ends a clause when whitespace or the end of the text follows it.
const CLAUSE_MARKS: [char; 6] = [',', ';', ':', '.', '!', '?'];

/// A sentence as the voice should read it: numbers, prices and times in words (as
/// `protocol::spoken` says them; "25.50 dollars" as "twenty five dollars fifty"), "AM" / "PM" and
/// `protocol::spoken::time`'s "a m" / "p m" after a number as "a.m" / "p.m", [`LEXICON`] applied,
/// the punctuation kept.
pub fn spoken_form(sentence: &str) -> String {
    let tokens: Vec<(&str, &str, &str)> = sentence.split_whitespace().map(split_token).collect();
    let mut words: Vec<String> = Vec::with_capacity(tokens.len());
    let mut index = 0;
    while index < tokens.len() {
        let (lead, core, mut trail) = tokens[index];
        index += 1;
        let after_number = words.last().is_some_and(|word| protocol::spoken::ends_with_number(word));
        let said = if let Some((whole, cents)) = decimal(core) {
            let unit = tokens.get(index).map(|(_, next, _)| next.to_ascii_lowercase());
            match unit.as_deref() {
                Some(unit @ ("dollars" | "euros" | "pounds")) if trail.is_empty() => {
                    trail = tokens[index].2;
                    index += 1;
                    let cents = cents.parse::<u32>().unwrap_or(0);
                    let whole = protocol::spoken::number_to_words(whole);
                    if cents == 0 {
                        format!("{whole} {unit}")
                    } else {
                        format!("{whole} {unit} {}", protocol::spoken::number_to_words(cents))
                    }
                }
                _ => {
                    let digits: Vec<&str> = cents
                        .chars()
                        .filter_map(|d| d.to_digit(10))
                        .map(|d| protocol::spoken::ONES[d as usize])
                        .collect();
                    format!("{} point {}", protocol::spoken::number_to_words(whole), digits.join(" "))
                }
            }
        } else if is_number_like(core) {
            protocol::spoken::normalize(core).join(" ")
        } else if after_number && matches!(core.to_ascii_lowercase().as_str(), "am" | "pm" | "a.m" | "p.m") {
            format!("{}.m", &core[..1].to_ascii_lowercase())
        } else {
            join_compound(core)
        };
        words.push(format!("{lead}{said}{trail}"));
    }
    protocol::spoken::join_clock_suffixes(&words.join(" "))
}

/// A token as (leading punctuation, word, trailing punctuation); a price keeps its "$".
fn split_token(token: &str) -> (&str, &str, &str) {
    let start = token.find(|c: char| c.is_alphanumeric() || c == '$').unwrap_or(token.len());
    let end = token.char_indices().rfind(|(_, c)| c.is_alphanumeric()).map_or(0, |(i, c)| i + c.len_utf8());
    let end = end.max(start);
    (&token[..start], &token[start..end], &token[end..])
}

/// "25.50" -> (25, "50"): a decimal number without a currency sign.
fn decimal(core: &str) -> Option<(u32, &str)> {
    let (whole, fraction) = core.split_once('.')?;
    let all_digits = |part: &str| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit());
    if !all_digits(whole) || !all_digits(fraction) || fraction.len() > 2 {
        return None;
    }
    Some((whole.parse().ok()?, fraction))
}

/// The clauses of a sentence and the mark that ends each (`None` for a last clause with none).
pub fn clauses(sentence: &str) -> Vec<(String, Option<char>)> {
    let mut clauses = Vec::new();
    let mut current = String::new();
    let mut characters = sentence.chars().peekable();
    while let Some(character) = characters.next() {
        let ends_clause =
            CLAUSE_MARKS.contains(&character) && characters.peek().is_none_or(|next| next.is_whitespace());
        if ends_clause {
            // "Really?!": the first mark of a run is the clause's
            let text = current.trim_end_matches(CLAUSE_MARKS);
            let mark = current[text.len()..].chars().next().unwrap_or(character);
            push_clause(&mut clauses, text, Some(mark));
            current.clear();
        } else {
            current.push(character);
        }
    }
    push_clause(&mut clauses, &current, None);
    clauses
}

fn push_clause(clauses: &mut Vec<(String, Option<char>)>, text: &str, mark: Option<char>) {
    let text = text.trim();
    if text.chars().any(char::is_alphanumeric) {
        clauses.push((text.to_owned(), mark));
    } else if let (Some(mark), Some(last)) = (mark, clauses.last_mut()) {
        // "Really?!" or "wait ..." : the mark belongs to the clause before
        last.1 = last.1.or(Some(mark));
    }
}

/// A price, a clock time or a plain number: "$30", "$12.50", "6:30pm", "18:00", "7", "10am".
fn is_number_like(core: &str) -> bool {
    let body = core.strip_prefix('$').unwrap_or(core);
    let lower = body.to_ascii_lowercase();
    let body = lower.strip_suffix("am").or_else(|| lower.strip_suffix("pm")).unwrap_or(&lower);
    body.starts_with(|c: char| c.is_ascii_digit())
        && body.chars().all(|c| c.is_ascii_digit() || c == ':' || c == '.')
        && body.matches([':', '.']).count() <= 1
}

/// A hyphenated word with its parts respelled; a part that starts with a vowel after a part that
/// ends in a consonant is said as a word of its own ("drop-in" as "drop in", "check-in" as "check
/// in"): espeak-ng reads a compound as one word, the consonant runs into the vowel and "drop-in"
/// sounds like "dropping".
fn join_compound(core: &str) -> String {
    let vowel = |c: char| matches!(c.to_ascii_lowercase(), 'a' | 'e' | 'i' | 'o' | 'u');
    let mut out = String::with_capacity(core.len());
    let mut previous: Option<&str> = None;
    for part in core.split('-') {
        if let Some(previous) = previous {
            let consonant_before = previous.chars().last().is_some_and(|c| c.is_alphabetic() && !vowel(c));
            let vowel_after = part.chars().next().is_some_and(vowel);
            out.push(if consonant_before && vowel_after { ' ' } else { '-' });
        }
        out.push_str(&respell(part));
        previous = Some(part);
    }
    out
}

fn respell(word: &str) -> String {
    let lower = word.to_lowercase();
    match LEXICON.iter().find(|(written, _)| *written == lower) {
        Some((_, said)) => (*said).to_owned(),
        None => word.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_times_and_numbers_are_said_in_words() {
        assert_eq!(spoken_form("A drop-in is $30."), "A drop in is thirty dollars.");
        assert_eq!(spoken_form("It's $12.50, cash only."), "It's twelve fifty, cash only.");
        assert_eq!(spoken_form("Class at 6:30pm on Monday?"), "Class at six thirty p.m on Monday?");
        assert_eq!(spoken_form("Doors open at 18:00."), "Doors open at eighteen o'clock.");
        assert_eq!(spoken_form("We have 3 classes."), "We have three classes.");
        assert_eq!(spoken_form("Open 10am to 2pm"), "Open ten a.m to two p.m");
        // as the brain says values back (brain-worker's extract::describe)
        assert_eq!(
            spoken_form("So a drop-in is 25 dollars, is that right?"),
            "So a drop in is twenty five dollars, is that right?"
        );
        assert_eq!(
            spoken_form("25.50 dollars for a drop-in, got it."),
            "twenty five dollars fifty for a drop in, got it."
        );
        assert_eq!(
            spoken_form("gi on monday and wednesday from 6:30 PM to 8 PM; open mat on saturday at noon."),
            "ghee on monday and wednesday from six thirty p.m to eight p.m; open mat on saturday at noon."
        );
        assert_eq!(spoken_form("It weighs 2.5 kilos, I am sure."), "It weighs two point five kilos, I am sure.");
    }

    #[test]
    fn times_written_by_protocol_spoken_get_clock_suffixes() {
        let schedule = format!("Mondays at {}, gi.", protocol::spoken::time("18:30"));
        assert_eq!(spoken_form(&schedule), "Mondays at six thirty p.m, ghee.");
        assert_eq!(spoken_form(&format!("Open at {}.", protocol::spoken::time("07:00"))), "Open at seven a.m.");
        // the article "a" stays an article
        assert_eq!(spoken_form("Bring a mat, a m sized gi."), "Bring a mat, a m sized ghee.");
    }

    #[test]
    fn gym_words_are_respelled_in_any_case_and_inside_hyphens() {
        assert_eq!(spoken_form("Do you train gi or no-gi?"), "Do you train ghee or no-ghee?");
        assert_eq!(spoken_form("Gi, NoGi and BJJ."), "ghee, no-ghee and B J J.");
        assert_eq!(spoken_form("Brazilian Jiu-Jitsu, jiu jitsu"), "Brazilian joo-Jitsu, joo jitsu");
        assert_eq!(spoken_form("Bring your gis (clean)."), "Bring your ghees (clean).");
        assert_eq!(spoken_form("HIIT and Muay Thai"), "hit and moo-eye Thai");
        assert_eq!(spoken_form("The gist is gin"), "The gist is gin", "only whole words");
    }

    #[test]
    fn a_compound_whose_second_part_starts_with_a_vowel_is_said_as_two_words() {
        // Piper joe's "drop-in" was heard as "dropping" by Whisper (piper-tts/README.md)
        assert_eq!(spoken_form("How much is a drop-in?"), "How much is a drop in?");
        assert_eq!(spoken_form("Your check-in, a walk-in, the warm-up."), "Your check in, a walk in, the warm up.");
        assert_eq!(spoken_form("Drop-In"), "Drop In");
        // a consonant after the hyphen, or a vowel before it, keeps the compound
        assert_eq!(spoken_form("no-gi, e-mail, re-enter, jiu-jitsu"), "no-ghee, e-mail, re-enter, joo-jitsu");
        assert_eq!(spoken_form("555-0100 - a-"), "555-0100 - a-");
    }

    #[test]
    fn odd_text_passes_through() {
        assert_eq!(spoken_form(""), "");
        assert_eq!(spoken_form("  ... 🙂 "), "... 🙂");
        assert_eq!(spoken_form("Call 555-0100 ext. 12"), "Call 555-0100 ext. twelve");
    }

    #[test]
    fn clauses_end_at_punctuation_followed_by_space() {
        let hi = "Hi, this is Sam, an automated assistant. How much is a drop-in?";
        assert_eq!(
            clauses(hi),
            vec![
                ("Hi".to_owned(), Some(',')),
                ("this is Sam".to_owned(), Some(',')),
                ("an automated assistant".to_owned(), Some('.')),
                ("How much is a drop-in".to_owned(), Some('?')),
            ]
        );
        assert_eq!(clauses("six thirty p.m on Monday"), vec![("six thirty p.m on Monday".to_owned(), None)]);
        assert_eq!(clauses("Really?!"), vec![("Really".to_owned(), Some('?'))]);
        assert_eq!(clauses(" ... "), vec![]);
    }
}
