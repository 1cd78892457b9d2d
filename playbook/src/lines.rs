//! Lines of the YAML source, for errors found after parsing: where a key or a list item is.

/// Finds the line of a key in the YAML text, for errors found after parsing.
pub(crate) struct LineFinder<'a> {
    lines: Vec<&'a str>,
}

impl<'a> LineFinder<'a> {
    pub(crate) fn new(source: &'a str) -> Self {
        LineFinder { lines: source.lines().collect() }
    }

    /// 1-based line of the first `key:` at or after line `from` (1-based; 0 = start).
    pub(crate) fn key(&self, key: &str, from: usize) -> Option<usize> {
        let start = from.saturating_sub(1);
        self.lines.iter().enumerate().skip(start).find_map(|(index, line)| {
            let trimmed = line.trim_start().trim_start_matches("- ");
            trimmed.strip_prefix(key).is_some_and(|rest| rest.starts_with(':')).then_some(index + 1)
        })
    }

    /// 1-based line of the top-level `key:`.
    pub(crate) fn top_key(&self, key: &str) -> Option<usize> {
        self.lines
            .iter()
            .position(|line| line.strip_prefix(key).is_some_and(|rest| rest.starts_with(':')))
            .map(|index| index + 1)
    }

    /// 1-based line where item `index` of the top-level `fields:` list starts.
    pub(crate) fn field_item(&self, index: usize) -> Option<usize> {
        self.list_item("fields", index)
    }

    /// 1-based line where item `index` of the top-level block list `key:` starts.
    pub(crate) fn list_item(&self, key: &str, index: usize) -> Option<usize> {
        let key_line = self.top_key(key)?;
        let mut item_indent = None;
        let mut count = 0;
        for (offset, line) in self.lines.iter().enumerate().skip(key_line) {
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            if !line.is_empty() && indent == 0 && !trimmed.starts_with('-') && !trimmed.starts_with('#') {
                break;
            }
            let is_item = trimmed.starts_with("- ") || trimmed == "-";
            if is_item && *item_indent.get_or_insert(indent) == indent {
                if count == index {
                    return Some(offset + 1);
                }
                count += 1;
            }
        }
        None
    }
}
