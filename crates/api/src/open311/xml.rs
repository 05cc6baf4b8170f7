//! The XML face of Open311 documents, written from the same JSON values the JSON face sends:
//! objects become elements, arrays repeated children named in the singular, `null` an empty
//! element. Text is escaped, and characters XML 1.0 cannot carry are dropped.

use serde_json::Value;

/// The element name of one item of an array named `plural`.
fn singular(plural: &str) -> &str {
    match plural {
        "services" => "service",
        "service_requests" => "request",
        "attributes" => "attribute",
        "values" => "value",
        "endpoints" => "endpoint",
        "formats" => "format",
        "errors" => "error",
        _ => "item",
    }
}

fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
}

/// Element names come from our own field names; anything else is made safe.
fn element_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    match cleaned.chars().next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => cleaned,
        _ => format!("_{cleaned}"),
    }
}

fn element(name: &str, value: &Value, out: &mut String) {
    let name = element_name(name);
    out.push('<');
    out.push_str(&name);
    out.push('>');
    match value {
        Value::Null => {}
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => escape(s, out),
        Value::Array(items) => {
            let item_name = singular(&name).to_owned();
            for item in items {
                element(&item_name, item, out);
            }
        }
        Value::Object(fields) => {
            for (key, field) in fields {
                element(key, field, out);
            }
        }
    }
    out.push_str("</");
    out.push_str(&name);
    out.push('>');
}

/// A whole document with its declaration.
pub fn document(root: &str, value: &Value) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    element(root, value, &mut out);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn arrays_repeat_singular_children_and_text_is_escaped() {
        let doc = document(
            "service_requests",
            &json!([{"service_request_id": "7", "description": "a <b> & \u{1} c", "media_url": null}]),
        );
        assert!(doc.starts_with(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<service_requests><request>"
        ));
        assert!(doc.contains("<description>a &lt;b&gt; &amp;  c</description>"));
        assert!(doc.contains("<media_url></media_url>"));
    }
}
