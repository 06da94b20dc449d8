//! The router's model list: `GET {baseUrl}/v1/models`, typed.
//!
//! Owns: [`ModelList`] and its parts (each model's providers with their status, context
//! length, pricing, tool and structured-output support, latency and throughput), reading
//! the body ([`parse_model_list`]), and the price table cost tracking uses
//! ([`price_table`]). Must never: drop a field it does not know (unknown fields are kept
//! in `extra` and serialize back), fail on a field sent as `null` or as a numeric
//! string, or panic on any body.
//!
//! The shape is OpenAI's list (`{"object": "list", "data": [{"id", "object", "created",
//! "owned_by"}]}`) plus the router's `providers` array per model:
//! `{"provider", "status", "context_length", "pricing": {"input", "output"},
//! "supports_tools", "supports_structured_output", …}`, prices in US dollars per
//! million tokens.

use std::collections::BTreeMap;

use serde::de::Deserializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Error;
use crate::json::{opt_bool, opt_f64, opt_string, opt_u64, string_or_null};
use crate::types::parse_error;

/// The answer of `GET /v1/models`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelList {
    #[serde(default, deserialize_with = "string_or_null")]
    pub object: String,
    #[serde(default, deserialize_with = "vec_or_null")]
    pub data: Vec<ModelCard>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One model the router serves.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub id: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub object: String,
    #[serde(
        default,
        deserialize_with = "opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub created: Option<u64>,
    #[serde(
        default,
        deserialize_with = "opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub owned_by: Option<String>,
    #[serde(default, deserialize_with = "vec_or_null")]
    pub providers: Vec<ModelProvider>,
    /// `architecture` (input/output modalities) and anything newer.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One provider serving a model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelProvider {
    pub provider: String,
    /// `"live"`, `"staging"`, …
    #[serde(
        default,
        deserialize_with = "opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    #[serde(
        default,
        deserialize_with = "opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub context_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<Pricing>,
    #[serde(
        default,
        deserialize_with = "opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub supports_tools: Option<bool>,
    #[serde(
        default,
        deserialize_with = "opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub supports_structured_output: Option<bool>,
    /// Time to first token, in seconds, when the router reports it.
    #[serde(
        default,
        deserialize_with = "opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub latency: Option<f64>,
    /// Tokens per second, when the router reports it.
    #[serde(
        default,
        deserialize_with = "opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub throughput: Option<f64>,
    /// `is_model_author` and anything newer.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// US dollars per million tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pricing {
    #[serde(
        default,
        deserialize_with = "opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub input: Option<f64>,
    #[serde(
        default,
        deserialize_with = "opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub output: Option<f64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Read the body of `GET /v1/models`. Not valid JSON, not an object, or no `data`
/// array: an [`ErrorKind::Parse`](crate::ErrorKind::Parse) error quoting the body. An
/// error report (`{"error": …}`) is an [`ErrorKind::Stream`](crate::ErrorKind::Stream)
/// error with the server's message.
pub fn parse_model_list(body: &str) -> Result<ModelList, Error> {
    let value: Value = serde_json::from_str(body)
        .map_err(|e| parse_error(format!("the model list is not valid JSON: {e}"), body))?;
    let Value::Object(map) = &value else {
        return Err(parse_error(
            "the model list is not a JSON object".to_owned(),
            body,
        ));
    };
    if crate::types::is_error_payload(map) {
        return Err(crate::types::error_from_payload(&value, body));
    }
    if !matches!(map.get("data"), Some(Value::Array(_))) {
        return Err(parse_error(
            "the model list has no `data` array: is `baseUrl` a router-compatible server?"
                .to_owned(),
            body,
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| parse_error(format!("the model list has an unexpected shape: {e}"), body))
}

/// A provider's price for a model, US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input_per_million: f64,
    pub output_per_million: f64,
}

/// `"model:provider"` → price, for every provider that reports both an input and an
/// output price (finite and not negative).
pub fn price_table(list: &ModelList) -> BTreeMap<String, Price> {
    let mut out = BTreeMap::new();
    for model in &list.data {
        for p in &model.providers {
            let Some(pricing) = &p.pricing else { continue };
            let ok = |x: Option<f64>| x.filter(|v| v.is_finite() && *v >= 0.0);
            if let (Some(input), Some(output)) = (ok(pricing.input), ok(pricing.output)) {
                out.insert(
                    format!("{}:{}", model.id, p.provider),
                    Price {
                        input_per_million: input,
                        output_per_million: output,
                    },
                );
            }
        }
    }
    out
}

impl ModelList {
    /// The card of `model` (its `:suffix`, if any, ignored).
    pub fn model(&self, model: &str) -> Option<&ModelCard> {
        let (id, _) = crate::providers::split_model(model);
        self.data.iter().find(|m| m.id == id)
    }
}

impl ModelCard {
    /// This model's entry for `provider`.
    pub fn provider(&self, provider: &str) -> Option<&ModelProvider> {
        self.providers.iter().find(|p| p.provider == provider)
    }
}

// ---------------------------------------------------------------------------------
// Lenient field readers
// ---------------------------------------------------------------------------------

fn vec_or_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    const BODY: &str = r#"{"object":"list","data":[
      {"id":"meta-llama/Llama-3.3-70B-Instruct","object":"model","created":1733000000,"owned_by":"meta-llama",
       "architecture":{"input_modalities":["text"],"output_modalities":["text"]},
       "providers":[
         {"provider":"groq","status":"live","context_length":131072,"pricing":{"input":0.59,"output":0.79},"supports_tools":true,"supports_structured_output":false,"is_model_author":false},
         {"provider":"together","status":"live","context_length":"131072","pricing":{"input":"0.88","output":0.88},"supports_tools":null,"latency":0.42,"throughput":98.5},
         {"provider":"novita","status":"staging","pricing":{"input":0.1}},
         {"provider":"nebius","pricing":null}
       ]},
      {"id":"org/no-providers","object":"model","created":null,"providers":null,"new_field":{"x":1}}
    ]}"#;

    fn list() -> ModelList {
        parse_model_list(BODY).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn providers_are_typed() {
        let l = list();
        assert_eq!(l.object, "list");
        let card = l
            .model("meta-llama/Llama-3.3-70B-Instruct:groq")
            .expect("card");
        let groq = card.provider("groq").expect("groq");
        assert_eq!(groq.context_length, Some(131_072));
        assert_eq!(groq.supports_tools, Some(true));
        assert_eq!(groq.supports_structured_output, Some(false));
        assert_eq!(groq.extra.get("is_model_author"), Some(&Value::Bool(false)));
        let together = card.provider("together").expect("together");
        assert_eq!(together.context_length, Some(131_072));
        assert_eq!(together.supports_tools, None);
        assert_eq!(together.latency, Some(0.42));
        assert_eq!(together.throughput, Some(98.5));
    }

    #[test]
    fn unknown_fields_are_kept_and_round_trip() {
        let l = list();
        assert!(l.data[0].extra.contains_key("architecture"));
        assert!(l.data[1].extra.contains_key("new_field"));
        assert!(l.data[1].providers.is_empty());
        let back = serde_json::to_value(&l).unwrap_or_default();
        assert_eq!(back["data"][1]["new_field"]["x"], 1);
        assert_eq!(
            back["data"][0]["architecture"]["input_modalities"][0],
            "text"
        );
    }

    #[test]
    fn price_table_keys_model_colon_provider() {
        let t = price_table(&list());
        assert_eq!(t.len(), 2, "{t:?}");
        assert_eq!(
            t.get("meta-llama/Llama-3.3-70B-Instruct:groq"),
            Some(&Price {
                input_per_million: 0.59,
                output_per_million: 0.79
            })
        );
        assert_eq!(
            t.get("meta-llama/Llama-3.3-70B-Instruct:together")
                .map(|p| p.input_per_million),
            Some(0.88)
        );
        // Novita reports only an input price: left out rather than guessed.
        assert!(!t.contains_key("meta-llama/Llama-3.3-70B-Instruct:novita"));
    }

    #[test]
    fn bad_bodies_are_errors() {
        for bad in ["nope", "[]", r#"{"object":"list"}"#, r#"{"data":{}}"#] {
            assert_eq!(
                parse_model_list(bad).map_err(|e| e.kind),
                Err(ErrorKind::Parse),
                "{bad}"
            );
        }
        let e = parse_model_list(r#"{"error":"Invalid credentials"}"#).expect_err("error");
        assert!(e.message.contains("Invalid credentials"));
        assert_eq!(
            parse_model_list(r#"{"data":[{"object":"model"}]}"#).map_err(|e| e.kind),
            Err(ErrorKind::Parse)
        );
    }
}
