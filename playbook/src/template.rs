//! `{name}` placeholders in playbook lines, filled from the call context.

use std::collections::BTreeMap;

/// Replaces every `{key}` whose key is in `values`; unknown placeholders stay as written so a
/// missing context value is visible rather than silently blank.
pub fn render(template: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if after[..close].chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                let key = &after[..close];
                match values.get(key) {
                    Some(value) => out.push_str(value),
                    None => {
                        out.push('{');
                        out.push_str(key);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_known_keys_and_keeps_unknown_ones() {
        let values = BTreeMap::from([("gym_name".to_owned(), "Atos".to_owned())]);
        assert_eq!(render("Is this {gym_name}? {other} {", &values), "Is this Atos? {other} {");
    }
}
