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

use crate::json::{Map, Value};

use crate::error::Error;
use crate::json::{
    bool_of, count, f64_of, invalid_type, optional, required_string, string_of, ObjectText,
};
#[cfg(test)]
use crate::json::{opt_bool, opt_f64, opt_string, opt_u64, string_or_null};
use crate::types::parse_error;
use crate::vecmap::VecMap;

/// The answer of `GET /v1/models`.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize))]
pub struct ModelList {
    #[cfg_attr(test, serde(default, deserialize_with = "string_or_null"))]
    pub object: String,
    #[cfg_attr(test, serde(default, deserialize_with = "vec_or_null"))]
    pub data: Vec<ModelCard>,
    #[cfg_attr(test, serde(flatten))]
    pub extra: Map<String, Value>,
}

/// One model the router serves.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize))]
pub struct ModelCard {
    pub id: String,
    #[cfg_attr(test, serde(default, deserialize_with = "string_or_null"))]
    pub object: String,
    #[cfg_attr(
        test,
        serde(
            default,
            deserialize_with = "opt_u64",
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub created: Option<u64>,
    #[cfg_attr(
        test,
        serde(
            default,
            deserialize_with = "opt_string",
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub owned_by: Option<String>,
    #[cfg_attr(test, serde(default, deserialize_with = "vec_or_null"))]
    pub providers: Vec<ModelProvider>,
    /// `architecture` (input/output modalities) and anything newer.
    #[cfg_attr(test, serde(flatten))]
    pub extra: Map<String, Value>,
}

/// One provider serving a model.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize))]
pub struct ModelProvider {
    pub provider: String,
    /// `"live"`, `"staging"`, …
    #[cfg_attr(
        test,
        serde(
            default,
            deserialize_with = "opt_string",
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub status: Option<String>,
    #[cfg_attr(
        test,
        serde(
            default,
            deserialize_with = "opt_u64",
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub context_length: Option<u64>,
    #[cfg_attr(test, serde(default, skip_serializing_if = "Option::is_none"))]
    pub pricing: Option<Pricing>,
    #[cfg_attr(
        test,
        serde(
            default,
            deserialize_with = "opt_bool",
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub supports_tools: Option<bool>,
    #[cfg_attr(
        test,
        serde(
            default,
            deserialize_with = "opt_bool",
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub supports_structured_output: Option<bool>,
    /// Time to first token, in seconds, when the router reports it.
    #[cfg_attr(
        test,
        serde(
            default,
            deserialize_with = "opt_f64",
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub latency: Option<f64>,
    /// Tokens per second, when the router reports it.
    #[cfg_attr(
        test,
        serde(
            default,
            deserialize_with = "opt_f64",
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub throughput: Option<f64>,
    /// `is_model_author` and anything newer.
    #[cfg_attr(test, serde(flatten))]
    pub extra: Map<String, Value>,
}

/// US dollars per million tokens.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(test, derive(serde::Serialize, serde::Deserialize))]
pub struct Pricing {
    #[cfg_attr(
        test,
        serde(
            default,
            deserialize_with = "opt_f64",
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub input: Option<f64>,
    #[cfg_attr(
        test,
        serde(
            default,
            deserialize_with = "opt_f64",
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub output: Option<f64>,
    #[cfg_attr(test, serde(flatten))]
    pub extra: Map<String, Value>,
}

/// The answer to `GET /v1/models` with its `status`: the list, or the error (an HTTP
/// error carries the body and `request_id`).
pub fn read_model_list(
    status: u16,
    body: &str,
    request_id: Option<String>,
) -> Result<ModelList, Error> {
    if (200..300).contains(&status) {
        parse_model_list(body)
    } else {
        Err(Error::http(status, body).with_request_id(request_id))
    }
}

/// Read the body of `GET /v1/models`. Not valid JSON, not an object, or no `data`
/// array: an [`ErrorKind::Parse`](crate::ErrorKind::Parse) error quoting the body. An
/// error report (`{"error": …}`) is an [`ErrorKind::Stream`](crate::ErrorKind::Stream)
/// error with the server's message.
pub fn parse_model_list(body: &str) -> Result<ModelList, Error> {
    let value: Value = crate::json::parse(body)
        .map_err(|e| parse_error(format!("the model list is not valid JSON: {e}"), body))?;
    let Value::Object(map) = &value else {
        return Err(parse_error(
            "the model list is not a JSON object".to_owned(),
            body,
        ));
    };
    if crate::types::is_error_payload(map) {
        return Err(crate::error::body_payload_error(body));
    }
    if !matches!(map.get("data"), Some(Value::Array(_))) {
        return Err(parse_error(
            "the model list has no `data` array: is `baseUrl` a router-compatible server?"
                .to_owned(),
            body,
        ));
    }
    ModelList::from_json(value).map_err(|e| {
        parse_error(
            "the model list has an unexpected shape: ".to_owned() + &e,
            body,
        )
    })
}

// Reading the types out of a parsed `Value` by hand, the way their derived
// `Deserialize` does (the same fields, leniency and error messages; the tests hold the
// two to each other). The derived impls stay for callers of the Rust API; the crate
// itself reads through these, which keeps serde's typed and flattening deserializers,
// and the float formatting their error messages use, out of the wasm. Fields that can
// fail are read in key order, the order serde meets them in, so the same error wins.

/// The object in `v`, or serde's error for a struct named `name`.
fn object_of(v: Value, name: &str) -> Result<Map<String, Value>, String> {
    match v {
        Value::Object(m) => Ok(m),
        other => Err(invalid_type(&other, name)),
    }
}

impl ModelList {
    fn from_json(v: Value) -> Result<Self, String> {
        let mut m = object_of(v, "struct ModelList")?;
        let data = crate::json::vec_or_null(m.remove("data"), ModelCard::from_json)?;
        Ok(ModelList {
            object: m.remove("object").and_then(string_of).unwrap_or_default(),
            data,
            extra: m,
        })
    }
}

impl ModelCard {
    fn from_json(v: Value) -> Result<Self, String> {
        let mut m = object_of(v, "struct ModelCard")?;
        let id = m.remove("id");
        if let Some(bad) = id.as_ref().filter(|v| !v.is_string()) {
            return Err(invalid_type(bad, "a string"));
        }
        let providers = crate::json::vec_or_null(m.remove("providers"), ModelProvider::from_json)?;
        Ok(ModelCard {
            id: required_string(id, "id")?,
            object: m.remove("object").and_then(string_of).unwrap_or_default(),
            created: m.remove("created").and_then(|v| count(&v)),
            owned_by: m.remove("owned_by").and_then(string_of),
            providers,
            extra: m,
        })
    }
}

impl ModelProvider {
    fn from_json(v: Value) -> Result<Self, String> {
        let mut m = object_of(v, "struct ModelProvider")?;
        let pricing = optional(m.remove("pricing"), Pricing::from_json)?;
        let provider = required_string(m.remove("provider"), "provider")?;
        let mut number = |k: &str| m.remove(k).and_then(f64_of);
        let latency = number("latency");
        let throughput = number("throughput");
        Ok(ModelProvider {
            provider,
            status: m.remove("status").and_then(string_of),
            context_length: m.remove("context_length").and_then(|v| count(&v)),
            pricing,
            supports_tools: m.remove("supports_tools").as_ref().and_then(bool_of),
            supports_structured_output: m
                .remove("supports_structured_output")
                .as_ref()
                .and_then(bool_of),
            latency,
            throughput,
            extra: m,
        })
    }
}

impl Pricing {
    fn from_json(v: Value) -> Result<Self, String> {
        let mut m = object_of(v, "struct Pricing")?;
        Ok(Pricing {
            input: m.remove("input").and_then(f64_of),
            output: m.remove("output").and_then(f64_of),
            extra: m,
        })
    }
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
    prices(list).iter().map(|(k, p)| (k.clone(), *p)).collect()
}

/// [`price_table`] in the crate's own small map, which the wasm compiles far less code
/// for than a `BTreeMap` of another key/value type (see [`crate::vecmap`]).
pub(crate) fn prices(list: &ModelList) -> VecMap<String, Price> {
    let mut out = VecMap::new();
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

#[cfg(test)]
fn vec_or_null<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    Ok(<Option<Vec<T>> as serde::Deserialize>::deserialize(d)?.unwrap_or_default())
}

// ---------------------------------------------------------------------------------
// Writing (as the derived `Serialize` did: named fields in order, then `extra`)
// ---------------------------------------------------------------------------------

fn opt_float(o: &mut ObjectText, key: &str, v: Option<f64>) {
    if let Some(f) = v {
        o.float(key, f);
    }
}

impl ModelList {
    /// The list's JSON text.
    pub fn to_json(&self) -> String {
        let data = crate::json::array_text(self.data.iter().map(ModelCard::to_json));
        ObjectText::new()
            .string("object", &self.object)
            .raw("data", &data)
            .members(&self.extra)
            .end()
    }
}

impl ModelCard {
    pub fn to_json(&self) -> String {
        let providers = crate::json::array_text(self.providers.iter().map(ModelProvider::to_json));
        ObjectText::new()
            .string("id", &self.id)
            .string("object", &self.object)
            .opt_number("created", self.created)
            .opt_string("owned_by", self.owned_by.as_deref())
            .raw("providers", &providers)
            .members(&self.extra)
            .end()
    }
}

impl ModelProvider {
    pub fn to_json(&self) -> String {
        let mut o = ObjectText::new();
        o.string("provider", &self.provider)
            .opt_string("status", self.status.as_deref())
            .opt_number("context_length", self.context_length)
            .opt_raw(
                "pricing",
                self.pricing.as_ref().map(Pricing::to_json).as_deref(),
            );
        if let Some(b) = self.supports_tools {
            o.boolean("supports_tools", b);
        }
        if let Some(b) = self.supports_structured_output {
            o.boolean("supports_structured_output", b);
        }
        opt_float(&mut o, "latency", self.latency);
        opt_float(&mut o, "throughput", self.throughput);
        o.members(&self.extra).end()
    }
}

impl Pricing {
    pub fn to_json(&self) -> String {
        let mut o = ObjectText::new();
        opt_float(&mut o, "input", self.input);
        opt_float(&mut o, "output", self.output);
        o.members(&self.extra).end()
    }
}

// `unwrap`/`expect` below are test assertions: a panic is how a test fails. This
// module is `#[cfg(test)]`, so none of it is compiled into the shipped wasm.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn a_model_list_is_read_with_its_status() {
        assert_eq!(
            read_model_list(200, BODY, None).unwrap(),
            parse_model_list(BODY).unwrap()
        );
        let e = read_model_list(503, "busy", Some("r-9".into())).unwrap_err();
        assert_eq!(
            (e.kind, e.status, e.request_id.as_deref()),
            (ErrorKind::Http, Some(503), Some("r-9"))
        );
        assert_eq!(
            read_model_list(204, "", None).unwrap_err().kind,
            ErrorKind::Parse
        );
    }

    pub(super) const BODY: &str = r#"{"object":"list","data":[
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

/// The hand-written readers against the derived `Deserialize` they stand in for: the
/// same value or the same error message, for any JSON.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod derive_parity {
    use super::*;
    use crate::json::from_serde;
    use proptest::prelude::*;
    use serde::Deserialize;
    use serde_json::Value;

    const KEYS: &[&str] = &[
        "object",
        "data",
        "id",
        "created",
        "owned_by",
        "providers",
        "provider",
        "status",
        "context_length",
        "pricing",
        "supports_tools",
        "supports_structured_output",
        "latency",
        "throughput",
        "input",
        "output",
    ];

    /// The hand writers against the derived `Serialize`, on what the readers made.
    fn writers_match(v: &Value) -> Result<(), TestCaseError> {
        crate::json::writers_match!(v; ModelList, ModelCard, ModelProvider, Pricing)
    }

    proptest! {
        #[test]
        fn writers_match_the_derived_serialize(v in crate::json::arb::value(KEYS)) {
            writers_match(&v)?;
        }
    }

    fn derived<T: for<'de> Deserialize<'de>>(v: &Value) -> Result<T, String> {
        serde_json::from_value(v.clone()).map_err(|e| e.to_string())
    }

    fn check(v: &Value) -> Result<(), TestCaseError> {
        prop_assert_eq!(ModelList::from_json(from_serde(v)), derived::<ModelList>(v));
        prop_assert_eq!(ModelCard::from_json(from_serde(v)), derived::<ModelCard>(v));
        prop_assert_eq!(
            ModelProvider::from_json(from_serde(v)),
            derived::<ModelProvider>(v)
        );
        prop_assert_eq!(Pricing::from_json(from_serde(v)), derived::<Pricing>(v));
        Ok(())
    }

    proptest! {
        #[test]
        fn readers_match_the_derived_impls(v in crate::json::arb::value(KEYS)) {
            check(&v)?;
        }

        /// Lists of cards of providers, where the deep errors are.
        #[test]
        fn readers_match_on_model_lists(
            providers in proptest::collection::vec(crate::json::arb::value(KEYS), 0..3),
            id in crate::json::arb::value(KEYS),
            pricing in crate::json::arb::value(KEYS),
            name in crate::json::arb::value(KEYS),
        ) {
            let mut providers = providers;
            providers.push(serde_json::json!({"provider": name, "pricing": pricing}));
            let card = serde_json::json!({"id": id, "providers": providers, "z": 1});
            check(&serde_json::json!({"object": "list", "data": [card.clone()]}))?;
            check(&serde_json::json!({"data": [{"id": "a"}, card]}))?;
        }
    }

    #[test]
    fn readers_match_on_a_real_list() {
        let v: Value = serde_json::from_str(tests::BODY).unwrap_or_default();
        assert!(check(&v).is_ok());
        assert!(ModelList::from_json(from_serde(&v)).is_ok());
    }
}
