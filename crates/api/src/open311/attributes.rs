//! Open311 service definitions (a category's extra questions) and the answers to them:
//! `attribute[code]=value` and `attribute[code][]=value` form fields.

use std::collections::BTreeMap;

use chrono::DateTime;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The answer types GeoReport v2 defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Datatype {
    String,
    Number,
    Datetime,
    Text,
    Singlevaluelist,
    Multivaluelist,
}

impl Datatype {
    fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Datetime => "datetime",
            Self::Text => "text",
            Self::Singlevaluelist => "singlevaluelist",
            Self::Multivaluelist => "multivaluelist",
        }
    }
}

/// One choice of a list attribute.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeValue {
    pub key: String,
    pub name: String,
}

/// One question of a service definition, as stored in `categories.attributes`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeDefinition {
    pub code: String,
    /// False for information shown to the resident, not a question.
    #[serde(default = "yes")]
    pub variable: bool,
    pub datatype: Datatype,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub datatype_description: String,
    #[serde(default)]
    pub order: i64,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub values: Vec<AttributeValue>,
}

fn yes() -> bool {
    true
}

/// The longest `string` answer, and the longest `text` answer.
pub const MAX_STRING_CHARS: usize = 100;
pub const MAX_TEXT_CHARS: usize = 2000;
/// The most attributes one request may send.
const MAX_ANSWERS: usize = 50;

impl AttributeDefinition {
    /// The definition as GeoReport v2 spells it.
    pub fn to_json(&self) -> Value {
        let mut fields = json!({
            "variable": self.variable,
            "code": self.code,
            "datatype": self.datatype.as_str(),
            "required": self.required,
            "datatype_description": self.datatype_description,
            "order": self.order,
            "description": self.description,
        });
        if matches!(
            self.datatype,
            Datatype::Singlevaluelist | Datatype::Multivaluelist
        ) && let Some(map) = fields.as_object_mut()
        {
            map.insert(
                "values".into(),
                self.values
                    .iter()
                    .map(|v| json!({"key": v.key, "name": v.name}))
                    .collect(),
            );
        }
        fields
    }
}

/// The definitions stored for a category, in their `order`.
pub fn definitions(stored: &Value) -> Result<Vec<AttributeDefinition>, serde_json::Error> {
    let mut definitions: Vec<AttributeDefinition> = match stored {
        Value::Null => Vec::new(),
        value => serde_json::from_value(value.clone())?,
    };
    for (index, definition) in definitions.iter_mut().enumerate() {
        if definition.order == 0 {
            definition.order = index as i64 + 1;
        }
    }
    definitions.sort_by_key(|d| d.order);
    Ok(definitions)
}

/// The values sent for each attribute code, from `attribute[code]` and `attribute[code][]`.
pub fn answers(pairs: &[(String, String)]) -> BTreeMap<String, Vec<String>> {
    let mut answers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in pairs {
        let Some(rest) = name.strip_prefix("attribute[") else {
            continue;
        };
        let code = rest
            .strip_suffix("][]")
            .or_else(|| rest.strip_suffix(']'))
            .unwrap_or(rest);
        if value.trim().is_empty() {
            continue;
        }
        answers
            .entry(code.to_owned())
            .or_default()
            .push(value.trim().to_owned());
    }
    answers
}

fn one<'a>(code: &str, values: &'a [String], problems: &mut Vec<String>) -> Option<&'a str> {
    match values {
        [value] => Some(value),
        _ => {
            problems.push(format!("attribute[{code}] takes one value"));
            None
        }
    }
}

/// Checks `answers` against `definitions`; returns them as stored (`{code: value}`, numbers as
/// numbers, multiple values as arrays), or every problem.
pub fn validate(
    definitions: &[AttributeDefinition],
    answers: &BTreeMap<String, Vec<String>>,
) -> Result<Value, Vec<String>> {
    let mut problems = Vec::new();
    let mut stored = Map::new();
    if answers.len() > MAX_ANSWERS {
        problems.push(format!("at most {MAX_ANSWERS} attributes"));
    }
    for code in answers.keys() {
        if !definitions.iter().any(|d| d.variable && &d.code == code) {
            problems.push(format!(
                "attribute[{code}] is not a question of this service"
            ));
        }
    }
    for definition in definitions.iter().filter(|d| d.variable) {
        let code = &definition.code;
        let Some(values) = answers.get(code) else {
            if definition.required {
                problems.push(format!(
                    "attribute[{code}] is required: {}",
                    definition.description
                ));
            }
            continue;
        };
        let keys = || {
            definition
                .values
                .iter()
                .map(|v| v.key.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let is_key = |value: &str| definition.values.iter().any(|v| v.key == value);
        let value =
            match definition.datatype {
                Datatype::String | Datatype::Text => {
                    let max = if definition.datatype == Datatype::String {
                        MAX_STRING_CHARS
                    } else {
                        MAX_TEXT_CHARS
                    };
                    one(code, values, &mut problems).and_then(|value| {
                        if value.chars().count() > max {
                            problems.push(format!(
                                "attribute[{code}] must be at most {max} characters"
                            ));
                            None
                        } else {
                            Some(Value::from(value))
                        }
                    })
                }
                Datatype::Number => one(code, values, &mut problems).and_then(|value| match value
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                {
                    Some(number) => Some(Value::Number(number)),
                    None => {
                        problems.push(format!("attribute[{code}] must be a number"));
                        None
                    }
                }),
                Datatype::Datetime => one(code, values, &mut problems).and_then(|value| {
                    match DateTime::parse_from_rfc3339(value) {
                        Ok(at) => Some(Value::from(at.to_rfc3339())),
                        Err(_) => {
                            problems.push(format!(
                                "attribute[{code}] must be a W3C date and time with an offset"
                            ));
                            None
                        }
                    }
                }),
                Datatype::Singlevaluelist => one(code, values, &mut problems).and_then(|value| {
                    if is_key(value) {
                        Some(Value::from(value))
                    } else {
                        problems.push(format!("attribute[{code}] must be one of: {}", keys()));
                        None
                    }
                }),
                Datatype::Multivaluelist => {
                    let mut chosen: Vec<&str> = Vec::new();
                    for value in values {
                        if !is_key(value) {
                            problems.push(format!(
                                "attribute[{code}]: `{value}` is not one of: {}",
                                keys()
                            ));
                        } else if !chosen.contains(&value.as_str()) {
                            chosen.push(value);
                        }
                    }
                    Some(chosen.into_iter().map(Value::from).collect())
                }
            };
        if let Some(value) = value {
            stored.insert(code.clone(), value);
        }
    }
    if problems.is_empty() {
        Ok(Value::Object(stored))
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn list_answers_are_checked_against_their_keys() {
        let definitions = definitions(&json!([
            {"code": "surface", "datatype": "multivaluelist", "required": true,
             "values": [{"key": "wall", "name": "Wall"}, {"key": "pole", "name": "Pole"}]},
            {"code": "depth", "datatype": "number"},
        ]))
        .unwrap();
        let good = answers(&pairs(&[
            ("attribute[surface][]", "wall"),
            ("attribute[surface][]", "pole"),
            ("attribute[depth]", "7.5"),
        ]));
        assert_eq!(
            validate(&definitions, &good).unwrap(),
            json!({"surface": ["wall", "pole"], "depth": 7.5})
        );
        let bad = answers(&pairs(&[
            ("attribute[surface][]", "roof"),
            ("attribute[x]", "1"),
        ]));
        assert_eq!(validate(&definitions, &bad).unwrap_err().len(), 2);
        let missing = answers(&[]);
        assert_eq!(validate(&definitions, &missing).unwrap_err().len(), 1);
    }
}
