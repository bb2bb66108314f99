//! From a byte offset in the TOML text to `line:column` and the dotted key
//! (`trunk[1].allow[0]`) at that place.

use std::collections::HashMap;
use std::ops::Range;
use toml_edit::{ImDocument, Item, Table, Value};

/// What to call a place that is in no table and at no key.
pub(crate) const TOP_LEVEL: &str = "(top level)";

/// 1-based line and column (in characters) of byte `offset`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    for (i, c) in text.char_indices() {
        if i >= offset {
            break;
        }
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

/// The innermost key of a parsed document whose key, value or table
/// covers all of `range` (an error's span).
pub(crate) fn key_in_document(doc: &ImDocument<&str>, range: Range<usize>) -> Option<String> {
    in_table(doc.as_table(), "", &range)
}

fn covers(span: Option<Range<usize>>, range: &Range<usize>) -> bool {
    span.is_some_and(|s| s.start <= range.start && range.end <= s.end)
}

/// `path.name`, quoting a name that is not a bare TOML key.
fn join(path: &str, name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let name = if bare {
        name.to_owned()
    } else {
        format!("{name:?}")
    };
    if path.is_empty() {
        name
    } else {
        format!("{path}.{name}")
    }
}

fn in_table(table: &Table, path: &str, range: &Range<usize>) -> Option<String> {
    table.iter().find_map(|(name, item)| {
        let child = join(path, name);
        in_item(item, &child, range).or_else(|| {
            let (key, _) = table.get_key_value(name)?;
            covers(key.span(), range).then_some(child)
        })
    })
}

fn in_item(item: &Item, path: &str, range: &Range<usize>) -> Option<String> {
    match item {
        Item::None => None,
        Item::Value(value) => in_value(value, path, range),
        Item::Table(table) => in_table(table, path, range)
            .or_else(|| covers(table.span(), range).then(|| path.to_owned())),
        Item::ArrayOfTables(array) => array.iter().enumerate().find_map(|(i, table)| {
            let element = format!("{path}[{i}]");
            in_table(table, &element, range)
                .or_else(|| covers(table.span(), range).then_some(element))
        }),
    }
}

fn in_value(value: &Value, path: &str, range: &Range<usize>) -> Option<String> {
    let inner = match value {
        Value::Array(array) => array
            .iter()
            .enumerate()
            .find_map(|(i, v)| in_value(v, &format!("{path}[{i}]"), range)),
        Value::InlineTable(table) => table.iter().find_map(|(name, v)| {
            let child = join(path, name);
            in_value(v, &child, range).or_else(|| {
                let (key, _) = table.get_key_value(name)?;
                covers(key.span(), range).then_some(child)
            })
        }),
        _ => None,
    };
    inner.or_else(|| covers(value.span(), range).then(|| path.to_owned()))
}

/// For text that does not parse: the table whose header last precedes
/// `offset`'s line (`[[trunk]]` counted into `trunk[n]`), and the key
/// written at the start of that line if there is one. On a header line,
/// the header as written.
pub(crate) fn key_near(text: &str, offset: usize) -> String {
    let line_start = text
        .char_indices()
        .take_while(|&(i, _)| i < offset)
        .filter(|&(_, c)| c == '\n')
        .last()
        .map_or(0, |(i, _)| i + 1);
    let mut table = String::new();
    // Array-of-tables seen so far, by their indexed path: how many elements.
    let mut arrays: HashMap<String, usize> = HashMap::new();
    for line in text[..line_start].lines() {
        let line = line.trim_start();
        if let Some(rest) = line.strip_prefix("[[") {
            let name = rest.split("]]").next().unwrap_or_default();
            table = header_path(name, true, &mut arrays);
        } else if let Some(rest) = line.strip_prefix('[') {
            let name = rest.split(']').next().unwrap_or_default();
            table = header_path(name, false, &mut arrays);
        }
    }
    let line = text[line_start..].lines().next().unwrap_or_default();
    // A broken header names its own table.
    if let Some(header) = line.trim_start().strip_prefix('[') {
        let name = header.trim_start_matches('[');
        let name = name.split(']').next().unwrap_or_default().trim();
        if !name.is_empty() {
            return name.to_owned();
        }
    }
    let key = line.split_once('=').map(|(k, _)| k.trim()).filter(|k| {
        !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.\"' ".contains(&b))
    });
    match (table.is_empty(), key) {
        (true, None) => TOP_LEVEL.to_owned(),
        (true, Some(key)) => key.to_owned(),
        (false, None) => table,
        (false, Some(key)) => format!("{table}.{key}"),
    }
}

/// The indexed path of a `[a.b]` or `[[a.b]]` header.
fn header_path(name: &str, is_array: bool, arrays: &mut HashMap<String, usize>) -> String {
    let parts: Vec<&str> = name.split('.').map(str::trim).collect();
    let mut path = String::new();
    for (i, part) in parts.iter().enumerate() {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(part);
        if is_array && i + 1 == parts.len() {
            let n = arrays.entry(path.clone()).or_insert(0);
            *n += 1;
            path = format!("{path}[{}]", *n - 1);
        } else if let Some(n) = arrays.get(&path) {
            path = format!("{path}[{}]", n - 1);
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        // After `b` and the two-byte `é`: the third character of line 2.
        assert_eq!(line_column(text, 9), (2, 3));
        assert_eq!(line_column(text, 1000), (3, 1));
    }

    #[test]
    fn document_keys() {
        let text = "[sip]\nx = [1, 2]\n[[t]]\nn = 1\n[[t]]\nn = { a = 'b' }\n";
        let doc = ImDocument::parse(text).unwrap();
        let at = |needle: &str| {
            let start = text.find(needle).unwrap();
            key_in_document(&doc, start..start + 1)
        };
        assert_eq!(at("2]").as_deref(), Some("sip.x[1]"));
        assert_eq!(at("x =").as_deref(), Some("sip.x"));
        assert_eq!(at("'b'").as_deref(), Some("t[1].n.a"));
        assert_eq!(at("n = 1").as_deref(), Some("t[0].n"));
    }

    #[test]
    fn keys_near_broken_text() {
        let text = "top = 1\n[[trunk]]\nname = 'a'\n[[trunk]]\n[trunk.auth]\nrealm = \n";
        assert_eq!(
            key_near(text, text.find("= \n").unwrap()),
            "trunk[1].auth.realm"
        );
        assert_eq!(key_near(text, 2), "top");
        assert_eq!(key_near("= 1", 0), TOP_LEVEL);
        assert_eq!(key_near("a = 1\n[sip\n", 9), "sip");
    }
}
