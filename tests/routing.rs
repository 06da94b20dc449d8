//! The routing table, checked: every provider × {HF token, provider key, no key} →
//! exact URL, headers (the token only to the host it belongs to, `X-HF-Bill-To` only on
//! routed calls) and body model; `auto`; policies as option and suffix; conflicts; the
//! unknown-provider message; dedicated endpoints and `baseUrl`s; TGI's routes; the Hub
//! mappings recorded in `tests/fixtures/router-recordings.json` driving direct calls;
//! and property tests that no model string or mapping body can make routing panic.
// Native only: reads fixture files and uses proptest.
#![cfg(not(target_arch = "wasm32"))]
// The helpers return the crate's `Error` by value, as the library does.
#![allow(clippy::result_large_err)]

use hf_inference_wasm::hub::{mapping_request, parse_mapping, TASK_CHAT};
use hf_inference_wasm::providers::{
    direct_provider, parse_provider, provider_info, route_chat, Auth, Policy, Provider, Route,
    RouteRequest, PROVIDERS,
};
use hf_inference_wasm::tgi::{route_text_generation, TextGenerationRequest, TgiRouteRequest};
use hf_inference_wasm::{Error, ErrorKind};
use proptest::prelude::*;
use serde_json::Value;

const ROUTER: &str = "https://router.huggingface.co/v1/chat/completions";
const HF_TOKEN: &str = "hf_test_token_0123456789";
const KEY: &str = "provider_key_0123456789";
const BODY: &str = r#"{"model":"meta-llama/Llama-3.3-70B-Instruct","messages":[{"role":"user","content":"hi"}],"stream":true}"#;
const MODEL: &str = "meta-llama/Llama-3.3-70B-Instruct";

/// Every provider and its direct chat URL, written out here independently of the
/// table in `src/providers.rs`. `None`: no direct chat (images/video only, or
/// `hf-inference`, which takes only HF tokens).
const DIRECT: &[(&str, Option<&str>)] = &[
    (
        "baseten",
        Some("https://inference.baseten.co/v1/chat/completions"),
    ),
    ("black-forest-labs", None),
    (
        "cerebras",
        Some("https://api.cerebras.ai/v1/chat/completions"),
    ),
    (
        "clarifai",
        Some("https://api.clarifai.com/v2/ext/openai/v1/chat/completions"),
    ),
    (
        "cohere",
        Some("https://api.cohere.com/compatibility/v1/chat/completions"),
    ),
    (
        "deepinfra",
        Some("https://api.deepinfra.com/v1/openai/chat/completions"),
    ),
    ("fal-ai", None),
    (
        "featherless-ai",
        Some("https://api.featherless.ai/v1/chat/completions"),
    ),
    (
        "fireworks-ai",
        Some("https://api.fireworks.ai/inference/v1/chat/completions"),
    ),
    (
        "groq",
        Some("https://api.groq.com/openai/v1/chat/completions"),
    ),
    ("hf-inference", None),
    (
        "hyperbolic",
        Some("https://api.hyperbolic.xyz/v1/chat/completions"),
    ),
    (
        "nebius",
        Some("https://api.studio.nebius.ai/v1/chat/completions"),
    ),
    (
        "novita",
        Some("https://api.novita.ai/v3/openai/chat/completions"),
    ),
    (
        "nscale",
        Some("https://inference.api.nscale.com/v1/chat/completions"),
    ),
    (
        "ovhcloud",
        Some("https://oai.endpoints.kepler.ai.cloud.ovh.net/v1/chat/completions"),
    ),
    (
        "publicai",
        Some("https://api.publicai.co/v1/chat/completions"),
    ),
    ("replicate", None),
    (
        "sambanova",
        Some("https://api.sambanova.ai/v1/chat/completions"),
    ),
    (
        "scaleway",
        Some("https://api.scaleway.ai/v1/chat/completions"),
    ),
    (
        "together",
        Some("https://api.together.xyz/v1/chat/completions"),
    ),
    ("wavespeed", None),
    (
        "zai-org",
        Some("https://api.z.ai/api/paas/v4/chat/completions"),
    ),
];

/// Providers the router serves chat for (the table's `chat_route` is set).
const CHAT: &[&str] = &[
    "baseten",
    "cerebras",
    "clarifai",
    "cohere",
    "deepinfra",
    "featherless-ai",
    "fireworks-ai",
    "groq",
    "hf-inference",
    "hyperbolic",
    "nebius",
    "novita",
    "nscale",
    "ovhcloud",
    "publicai",
    "sambanova",
    "scaleway",
    "together",
    "zai-org",
];

fn named(name: &str) -> Provider {
    parse_provider(name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn request<'a>(provider: Provider, auth: &'a Auth) -> RouteRequest<'a> {
    RouteRequest {
        provider,
        policy: None,
        model: MODEL,
        base_url: None,
        endpoint_url: None,
        auth,
        bill_to: None,
        mapped_model: None,
        body: BODY,
        extra_headers: &[],
        stream: true,
    }
}

fn ok(r: Result<Route, Error>) -> Route {
    r.unwrap_or_else(|e| panic!("{e:?}"))
}

fn header<'a>(route: &'a Route, name: &str) -> Option<&'a str> {
    route
        .headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn body_model(route: &Route) -> String {
    serde_json::from_str::<Value>(&route.body)
        .ok()
        .and_then(|v| v.get("model").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default()
}

fn host(url: &str) -> &str {
    let rest = url.split("://").nth(1).unwrap_or("");
    rest.split(['/', '?']).next().unwrap_or("")
}

fn is_routing_error(e: &Error) -> bool {
    e.kind == ErrorKind::Input && e.code.as_deref() == Some("routing")
}

#[test]
fn table_lists_every_provider_the_issue_names_and_no_other() {
    let names: Vec<&str> = PROVIDERS.iter().map(|p| p.name).collect();
    let expected: Vec<&str> = DIRECT.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, expected);
    for required in [
        "cerebras",
        "cohere",
        "deepinfra",
        "featherless-ai",
        "fireworks-ai",
        "groq",
        "hf-inference",
        "hyperbolic",
        "nebius",
        "novita",
        "nscale",
        "ovhcloud",
        "publicai",
        "sambanova",
        "scaleway",
        "together",
        "zai-org",
        "baseten",
    ] {
        assert!(provider_info(required).is_some(), "{required}");
    }
    let chat: Vec<&str> = PROVIDERS
        .iter()
        .filter(|p| p.chat_route.is_some())
        .map(|p| p.name)
        .collect();
    assert_eq!(chat, CHAT);
}

#[test]
fn hf_token_goes_to_the_router_with_the_provider_suffix() {
    let auth = Auth::from_token(Some(HF_TOKEN));
    for &name in CHAT {
        let r = ok(route_chat(RouteRequest {
            bill_to: Some("my-org"),
            ..request(named(name), &auth)
        }));
        assert_eq!(r.url, ROUTER, "{name}");
        assert_eq!(
            header(&r, "authorization"),
            Some(format!("Bearer {HF_TOKEN}").as_str()),
            "{name}"
        );
        assert_eq!(header(&r, "x-hf-bill-to"), Some("my-org"), "{name}");
        assert_eq!(header(&r, "accept"), Some("text/event-stream"));
        assert_eq!(body_model(&r), format!("{MODEL}:{name}"), "{name}");
        assert!(r.routed, "{name}");
        assert_eq!(r.provider, Some(name));
        // Everything else in the body is kept.
        assert!(r.body.contains(r#""messages":[{"#), "{}", r.body);
    }
}

#[test]
fn provider_key_goes_straight_to_the_provider_with_the_mapped_model() {
    let auth = Auth::from_token(Some(KEY));
    let extra = vec![
        ("X-HF-Bill-To".to_owned(), "sneaky-org".to_owned()),
        ("X-Trace".to_owned(), "1".to_owned()),
    ];
    for &(name, direct) in DIRECT {
        let Some(direct) = direct else { continue };
        let r = ok(route_chat(RouteRequest {
            bill_to: Some("my-org"),
            mapped_model: Some("provider/model-id"),
            extra_headers: &extra,
            ..request(named(name), &auth)
        }));
        assert_eq!(r.url, direct, "{name}");
        assert_eq!(
            header(&r, "authorization"),
            Some(format!("Bearer {KEY}").as_str()),
            "{name}"
        );
        assert_eq!(
            host(&r.url),
            host(direct),
            "{name}: the key goes to its own host"
        );
        assert_eq!(
            header(&r, "x-hf-bill-to"),
            None,
            "{name}: no bill-to on direct calls"
        );
        assert_eq!(header(&r, "x-trace"), Some("1"), "{name}");
        assert_eq!(body_model(&r), "provider/model-id", "{name}");
        assert!(!r.routed, "{name}");
        assert_eq!(r.provider, Some(name));
    }
}

#[test]
fn a_mapping_is_needed_exactly_for_direct_calls() {
    let key = Auth::from_token(Some(KEY));
    let hf = Auth::from_token(Some(HF_TOKEN));
    let name = |r: RouteRequest<'_>| direct_provider(&r).map(|p| p.name);
    assert_eq!(name(request(named("groq"), &key)), Some("groq"));
    assert_eq!(
        name(RouteRequest {
            model: "org/m:groq",
            ..request(Provider::Auto, &key)
        }),
        Some("groq")
    );
    for r in [
        request(named("groq"), &hf),
        request(named("groq"), &Auth::None),
        request(Provider::Auto, &key),
        request(named("hf-inference"), &key),
        request(named("fal-ai"), &key),
        RouteRequest {
            base_url: Some("http://127.0.0.1:9"),
            ..request(named("groq"), &key)
        },
        RouteRequest {
            endpoint_url: Some("http://127.0.0.1:9"),
            ..request(Provider::Auto, &key)
        },
        RouteRequest {
            model: "org/m:together",
            ..request(named("groq"), &key)
        },
    ] {
        assert_eq!(direct_provider(&r), None, "{r:?}");
    }
    // Whenever it says a mapping is needed, routing without one is the routing error
    // and routing with one goes to that provider.
    for p in PROVIDERS {
        let r = request(Provider::Named(p), &key);
        if let Some(d) = direct_provider(&r) {
            assert!(route_chat(r).is_err_and(|e| is_routing_error(&e)));
            let routed = ok(route_chat(RouteRequest {
                mapped_model: Some("m"),
                ..r
            }));
            assert_eq!(routed.provider, Some(d.name));
        }
    }
}

#[test]
fn direct_calls_to_zai_carry_its_channel_headers() {
    let auth = Auth::from_token(Some(KEY));
    let r = ok(route_chat(RouteRequest {
        mapped_model: Some("glm-4.5"),
        ..request(named("zai-org"), &auth)
    }));
    assert_eq!(header(&r, "x-source-channel"), Some("hugging_face"));
    assert_eq!(header(&r, "accept-language"), Some("en-US,en"));
}

#[test]
fn no_key_is_a_routing_error_for_every_provider() {
    for p in PROVIDERS {
        let e = route_chat(request(Provider::Named(p), &Auth::None)).expect_err(p.name);
        assert!(is_routing_error(&e), "{}: {e:?}", p.name);
        assert!(e.message.contains("HF token"), "{}", e.message);
    }
    let e = route_chat(request(Provider::Auto, &Auth::None)).expect_err("auto");
    assert!(is_routing_error(&e));
    assert!(e.message.contains("proxy"), "{}", e.message);
}

#[test]
fn provider_key_without_a_mapping_is_a_routing_error_that_says_what_to_do() {
    let auth = Auth::from_token(Some(KEY));
    for &(name, direct) in DIRECT {
        if direct.is_none() {
            continue;
        }
        for mapped in [None, Some(""), Some("  ")] {
            let e = route_chat(RouteRequest {
                mapped_model: mapped,
                ..request(named(name), &auth)
            })
            .expect_err(name);
            assert!(is_routing_error(&e), "{name}: {e:?}");
            assert!(e.message.contains("HF token"), "{}", e.message);
            assert!(e.message.contains(name), "{}", e.message);
        }
    }
}

#[test]
fn hf_inference_with_a_provider_key_is_a_routing_error() {
    let auth = Auth::from_token(Some(KEY));
    let e = route_chat(RouteRequest {
        mapped_model: Some(MODEL),
        ..request(named("hf-inference"), &auth)
    })
    .expect_err("hf-inference takes HF tokens only");
    assert!(is_routing_error(&e), "{e:?}");
    assert!(e.message.contains("HF token"));
}

#[test]
fn providers_without_chat_are_input_errors_whatever_the_key() {
    for name in ["black-forest-labs", "fal-ai", "replicate", "wavespeed"] {
        for token in [HF_TOKEN, KEY] {
            let auth = Auth::from_token(Some(token));
            let e = route_chat(RouteRequest {
                mapped_model: Some("x"),
                ..request(named(name), &auth)
            })
            .expect_err(name);
            assert_eq!(e.kind, ErrorKind::Input, "{name}");
            assert!(e.message.contains("no chat"), "{}", e.message);
            assert!(
                e.message.contains("together"),
                "lists chat providers: {}",
                e.message
            );
        }
    }
}

#[test]
fn auto_with_an_hf_token_passes_the_model_through_suffix_and_all() {
    let auth = Auth::from_token(Some(HF_TOKEN));
    for model in [
        MODEL,
        "meta-llama/Llama-3.3-70B-Instruct:groq",
        "meta-llama/Llama-3.3-70B-Instruct:cheapest",
        "meta-llama/Llama-3.3-70B-Instruct:some-future-provider",
    ] {
        let r = ok(route_chat(RouteRequest {
            model,
            ..request(Provider::Auto, &auth)
        }));
        assert_eq!(r.url, ROUTER);
        assert_eq!(body_model(&r), model);
        assert!(r.routed);
        assert_eq!(header(&r, "x-hf-bill-to"), None);
    }
    let r = ok(route_chat(RouteRequest {
        model: "org/m:groq",
        ..request(Provider::Auto, &auth)
    }));
    assert_eq!(r.provider, Some("groq"));
}

#[test]
fn auto_with_a_provider_key_is_a_routing_error_that_says_what_to_do() {
    let auth = Auth::from_token(Some(KEY));
    let e = route_chat(RouteRequest {
        mapped_model: Some("x"),
        ..request(Provider::Auto, &auth)
    })
    .expect_err("auto needs the router");
    assert!(is_routing_error(&e), "{e:?}");
    assert!(e.message.contains("hf_"), "{}", e.message);
    assert!(e.message.contains("provider"), "{}", e.message);
    assert!(!e.message.contains(KEY), "never quotes the key");
}

#[test]
fn auto_with_a_provider_key_and_a_provider_suffix_goes_direct() {
    let auth = Auth::from_token(Some(KEY));
    let r = ok(route_chat(RouteRequest {
        model: "meta-llama/Llama-3.3-70B-Instruct:groq",
        mapped_model: Some("llama-3.3-70b-versatile"),
        ..request(Provider::Auto, &auth)
    }));
    assert_eq!(r.url, "https://api.groq.com/openai/v1/chat/completions");
    assert_eq!(body_model(&r), "llama-3.3-70b-versatile");
}

#[test]
fn policy_option_becomes_the_model_suffix() {
    let auth = Auth::from_token(Some(HF_TOKEN));
    for (policy, suffix) in [
        (Policy::Fastest, "fastest"),
        (Policy::Cheapest, "cheapest"),
        (Policy::Preferred, "preferred"),
    ] {
        let r = ok(route_chat(RouteRequest {
            policy: Some(policy),
            ..request(Provider::Auto, &auth)
        }));
        assert_eq!(body_model(&r), format!("{MODEL}:{suffix}"));
        assert_eq!(r.provider, None);
        // The same policy in both places is not doubled.
        let r = ok(route_chat(RouteRequest {
            policy: Some(policy),
            model: &format!("{MODEL}:{suffix}"),
            ..request(Provider::Auto, &auth)
        }));
        assert_eq!(body_model(&r), format!("{MODEL}:{suffix}"));
    }
}

#[test]
fn conflicting_options_are_input_errors() {
    let hf = Auth::from_token(Some(HF_TOKEN));
    let key = Auth::from_token(Some(KEY));
    let cases: Vec<(&str, RouteRequest<'_>)> = vec![
        (
            "provider and policy",
            RouteRequest {
                policy: Some(Policy::Cheapest),
                ..request(named("together"), &hf)
            },
        ),
        (
            "suffix names another provider",
            RouteRequest {
                model: "org/m:groq",
                ..request(named("together"), &hf)
            },
        ),
        (
            "suffix is a policy, provider named",
            RouteRequest {
                model: "org/m:fastest",
                ..request(named("together"), &hf)
            },
        ),
        (
            "suffix is another policy",
            RouteRequest {
                model: "org/m:fastest",
                policy: Some(Policy::Cheapest),
                ..request(Provider::Auto, &hf)
            },
        ),
        (
            "suffix is a provider, policy given",
            RouteRequest {
                model: "org/m:groq",
                policy: Some(Policy::Cheapest),
                ..request(Provider::Auto, &hf)
            },
        ),
        (
            "policy on a direct call",
            RouteRequest {
                policy: Some(Policy::Fastest),
                mapped_model: Some("x"),
                ..request(named("groq"), &key)
            },
        ),
        (
            "suffix names another provider on a direct call",
            RouteRequest {
                model: "org/m:together",
                mapped_model: Some("x"),
                ..request(named("groq"), &key)
            },
        ),
        (
            "provider with endpointUrl",
            RouteRequest {
                endpoint_url: Some("http://127.0.0.1:8080"),
                ..request(named("groq"), &hf)
            },
        ),
        (
            "policy with endpointUrl",
            RouteRequest {
                endpoint_url: Some("http://127.0.0.1:8080"),
                policy: Some(Policy::Fastest),
                ..request(Provider::Auto, &hf)
            },
        ),
        (
            "baseUrl with endpointUrl",
            RouteRequest {
                endpoint_url: Some("http://127.0.0.1:8080"),
                base_url: Some("http://127.0.0.1:9090"),
                ..request(Provider::Auto, &hf)
            },
        ),
        (
            "no model for the router",
            RouteRequest {
                model: "",
                ..request(named("groq"), &hf)
            },
        ),
    ];
    for (what, req) in cases {
        let e = route_chat(req).expect_err(what);
        assert_eq!(e.kind, ErrorKind::Input, "{what}: {e:?}");
        assert_ne!(e.code.as_deref(), Some("routing"), "{what}: {e:?}");
    }
}

#[test]
fn unknown_provider_message_lists_the_valid_ones() {
    let e = parse_provider("openrouter").expect_err("unknown");
    assert_eq!(e.kind, ErrorKind::Input);
    assert!(e.message.contains("openrouter"));
    for &(name, _) in DIRECT {
        assert!(e.message.contains(&format!("\"{name}\"")), "{}", e.message);
    }
    assert!(e.message.contains("\"auto\""));
}

#[test]
fn endpoint_url_gets_the_chat_route_and_the_callers_token() {
    for token in [Some(HF_TOKEN), Some(KEY), None] {
        let auth = Auth::from_token(token);
        let r = ok(route_chat(RouteRequest {
            endpoint_url: Some("http://127.0.0.1:8080/v1/"),
            bill_to: Some("my-org"),
            ..request(Provider::Auto, &auth)
        }));
        assert_eq!(r.url, "http://127.0.0.1:8080/v1/chat/completions");
        assert_eq!(
            header(&r, "authorization").map(str::to_owned),
            token.map(|t| format!("Bearer {t}"))
        );
        assert_eq!(header(&r, "x-hf-bill-to"), None);
        assert_eq!(body_model(&r), MODEL);
        assert!(!r.routed);
        assert_eq!(r.provider, None);
    }
    // No model: the body is sent as it is (TGI serves one model).
    let auth = Auth::None;
    let body = r#"{"messages":[{"role":"user","content":"hi"}],"stream":true}"#;
    let r = ok(route_chat(RouteRequest {
        endpoint_url: Some("https://x.endpoints.huggingface.cloud"),
        model: "",
        body,
        ..request(Provider::Auto, &auth)
    }));
    assert_eq!(r.body, body);
    assert_eq!(
        r.url,
        "https://x.endpoints.huggingface.cloud/v1/chat/completions"
    );
}

#[test]
fn base_url_is_a_router_of_the_callers() {
    // A loopback router or a proxy holding the key: no token needed.
    let none = Auth::None;
    let r = ok(route_chat(RouteRequest {
        base_url: Some("http://127.0.0.1:9/"),
        bill_to: Some("my-org"),
        ..request(named("together"), &none)
    }));
    assert_eq!(r.url, "http://127.0.0.1:9/v1/chat/completions");
    assert_eq!(header(&r, "authorization"), None);
    assert_eq!(header(&r, "x-hf-bill-to"), Some("my-org"));
    assert_eq!(body_model(&r), format!("{MODEL}:together"));
    assert!(r.routed);
    // A provider key to the caller's own OpenAI-compatible server.
    let key = Auth::from_token(Some(KEY));
    let r = ok(route_chat(RouteRequest {
        base_url: Some("http://127.0.0.1:9"),
        ..request(Provider::Auto, &key)
    }));
    assert_eq!(
        header(&r, "authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    // ...but never to Hugging Face's hosts.
    for base in [
        "https://router.huggingface.co",
        "https://huggingface.co/api",
    ] {
        let e = route_chat(RouteRequest {
            base_url: Some(base),
            ..request(Provider::Auto, &key)
        })
        .expect_err(base);
        assert!(is_routing_error(&e), "{base}: {e:?}");
    }
    let e = route_chat(RouteRequest {
        endpoint_url: Some("https://router.huggingface.co/hf-inference/models/x/v1"),
        ..request(Provider::Auto, &key)
    })
    .expect_err("endpoint on an HF host");
    assert!(is_routing_error(&e), "{e:?}");
}

#[test]
fn a_caller_bill_to_header_stays_on_routed_calls() {
    let auth = Auth::from_token(Some(HF_TOKEN));
    let extra = vec![("X-HF-Bill-To".to_owned(), "their-org".to_owned())];
    let r = ok(route_chat(RouteRequest {
        extra_headers: &extra,
        ..request(Provider::Auto, &auth)
    }));
    assert_eq!(header(&r, "x-hf-bill-to"), Some("their-org"));
    let r = ok(route_chat(RouteRequest {
        extra_headers: &extra,
        bill_to: Some("option-org"),
        ..request(Provider::Auto, &auth)
    }));
    assert_eq!(header(&r, "x-hf-bill-to"), Some("option-org"));
    assert_eq!(
        r.headers
            .iter()
            .filter(|(n, _)| n == "x-hf-bill-to")
            .count(),
        1
    );
}

/// Every combination of provider, key, `baseUrl` and `endpointUrl`: whatever routes,
/// the token reaches only a host it belongs to, and bill-to only a router.
#[test]
fn tokens_never_reach_a_host_they_do_not_belong_to() {
    let bases = [
        None,
        Some("http://127.0.0.1:9"),
        Some("https://router.huggingface.co"),
    ];
    let endpoints = [None, Some("http://127.0.0.1:8080/v1")];
    let providers: Vec<Provider> = std::iter::once(Provider::Auto)
        .chain(PROVIDERS.iter().map(Provider::Named))
        .collect();
    let mut routed = 0;
    for token in [Some(HF_TOKEN), Some(KEY), None] {
        let auth = Auth::from_token(token);
        for &provider in &providers {
            for base in bases {
                for endpoint in endpoints {
                    for model in [MODEL, "org/m:groq", "org/m:cheapest"] {
                        let Ok(r) = route_chat(RouteRequest {
                            base_url: base,
                            endpoint_url: endpoint,
                            model,
                            bill_to: Some("my-org"),
                            mapped_model: Some("mapped"),
                            ..request(provider, &auth)
                        }) else {
                            continue;
                        };
                        routed += 1;
                        let h = host(&r.url).to_owned();
                        let callers = [base, endpoint].iter().flatten().any(|u| host(u) == h);
                        match token {
                            Some(t) if t.starts_with("hf_") => {
                                assert!(h == "router.huggingface.co" || callers, "HF token to {h}")
                            }
                            Some(_) => {
                                let own = r
                                    .provider
                                    .and_then(provider_info)
                                    .is_some_and(|p| host(p.base_url) == h && !r.routed);
                                assert!(
                                    own || (callers && !h.ends_with("huggingface.co")),
                                    "provider key to {h}"
                                );
                            }
                            None => assert_eq!(header(&r, "authorization"), None),
                        }
                        if header(&r, "x-hf-bill-to").is_some() {
                            assert!(r.routed, "bill-to on a call that is not routed: {r:?}");
                        }
                    }
                }
            }
        }
    }
    assert!(routed > 100, "{routed}");
}

// ---------------------------------------------------------------------------------
// The recordings
// ---------------------------------------------------------------------------------

struct Recording {
    id: String,
    url: String,
    body: String,
}

fn recordings(file: &str) -> Vec<Recording> {
    let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let entries: Vec<Value> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"));
    entries
        .iter()
        .map(|e| {
            let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            Recording {
                id: s("id"),
                url: s("url"),
                body: s("body"),
            }
        })
        .collect()
}

/// The recorded direct calls confirm the table's URLs for the providers they cover, and
/// the router's recorded per-provider paths confirm the chat routes.
#[test]
fn recorded_direct_and_router_urls_match_the_table() {
    let provider_urls: Vec<String> = recordings("provider-recordings.json")
        .into_iter()
        .map(|r| r.url)
        .collect();
    let router_urls: Vec<String> = recordings("router-recordings.json")
        .into_iter()
        .map(|r| r.url)
        .collect();
    let mut confirmed = Vec::new();
    for p in PROVIDERS {
        let Some(url) = p.direct_chat_url() else {
            continue;
        };
        let direct = provider_urls.contains(&url);
        let routed = p
            .chat_route
            .map(|r| format!("https://router.huggingface.co/{}{r}", p.name))
            .is_some_and(|u| router_urls.contains(&u));
        if direct || routed {
            confirmed.push(p.name);
        }
        if p.source == hf_inference_wasm::providers::Source::Recorded && p.provider_keys {
            assert!(direct, "{} is marked recorded but {url} is not", p.name);
        }
    }
    eprintln!("confirmed by recordings: {confirmed:?}");
    for name in [
        "cerebras",
        "cohere",
        "fireworks-ai",
        "hyperbolic",
        "nebius",
        "novita",
        "sambanova",
        "together",
    ] {
        assert!(confirmed.contains(&name), "{name}");
    }
}

/// Every recorded Hub mapping parses, and each of its chat providers routes directly to
/// the table's URL with the recorded provider id as the model.
#[test]
fn recorded_mappings_drive_direct_calls() {
    let key = Auth::from_token(Some(KEY));
    let mut n = 0;
    for r in recordings("router-recordings.json") {
        if !r.url.contains("inferenceProviderMapping") {
            continue;
        }
        let m = parse_mapping(&r.body).unwrap_or_else(|e| panic!("{}: {e:?}", r.id));
        assert!(!m.providers.is_empty(), "{}", r.id);
        // The look-up URL we would send for this model matches the recorded one up to
        // the `expand` spelling (`expand[]=` as the JS client, `expand=` as Python).
        let (url, _) = mapping_request(None, &m.model, &Auth::None)
            .unwrap_or_else(|e| panic!("{}: {e:?}", r.id));
        assert_eq!(url.replace("expand[]=", "expand="), r.url, "{}", r.id);
        for pm in &m.providers {
            if pm.task != TASK_CHAT || !pm.provider.provider_keys {
                continue;
            }
            let found = m
                .require(pm.provider.name, TASK_CHAT)
                .unwrap_or_else(|e| panic!("{e:?}"));
            let route = ok(route_chat(RouteRequest {
                model: &m.model,
                mapped_model: Some(&found.provider_id),
                ..request(Provider::Named(pm.provider), &key)
            }));
            assert_eq!(Some(route.url.clone()), pm.provider.direct_chat_url());
            assert_eq!(body_model(&route), pm.provider_id, "{}", r.id);
            n += 1;
        }
    }
    assert!(n >= 40, "{n}");
}

// ---------------------------------------------------------------------------------
// TGI
// ---------------------------------------------------------------------------------

fn tgi<'a>(request: &'a TextGenerationRequest, auth: &'a Auth) -> TgiRouteRequest<'a> {
    TgiRouteRequest {
        provider: Provider::Auto,
        policy: None,
        model: "",
        base_url: None,
        endpoint_url: None,
        auth,
        bill_to: None,
        request,
        extra_headers: &[],
        stream: false,
    }
}

fn tgi_request() -> TextGenerationRequest {
    TextGenerationRequest::from_json(
        r#"{"model":"google/flan-t5-xxl","inputs":"Hello","parameters":{"max_new_tokens":50}}"#,
    )
    .unwrap_or_else(|e| panic!("{e:?}"))
}

#[test]
fn tgi_on_an_endpoint_uses_generate_and_generate_stream() {
    let req = tgi_request();
    let auth = Auth::None;
    for (stream, route) in [(false, "/generate"), (true, "/generate_stream")] {
        let r = ok(route_text_generation(TgiRouteRequest {
            endpoint_url: Some("http://127.0.0.1:8080/"),
            stream,
            ..tgi(&req, &auth)
        }));
        assert_eq!(r.url, format!("http://127.0.0.1:8080{route}"));
        let body: Value = serde_json::from_str(&r.body).unwrap_or_default();
        assert_eq!(
            body,
            serde_json::json!({"inputs":"Hello","parameters":{"max_new_tokens":50}})
        );
        assert!(!r.routed);
    }
}

#[test]
fn tgi_through_the_router_uses_the_recorded_hf_inference_route() {
    let req = tgi_request();
    let auth = Auth::from_token(Some(HF_TOKEN));
    for provider in [Provider::Auto, named("hf-inference")] {
        let r = ok(route_text_generation(TgiRouteRequest {
            provider,
            stream: true,
            bill_to: Some("my-org"),
            ..tgi(&req, &auth)
        }));
        // As recorded: `router.huggingface.co/hf-inference/models/google/flan-t5-xxl`.
        assert_eq!(
            r.url,
            "https://router.huggingface.co/hf-inference/models/google/flan-t5-xxl"
        );
        let body: Value = serde_json::from_str(&r.body).unwrap_or_default();
        assert_eq!(body["stream"], Value::Bool(true));
        assert_eq!(body["inputs"], "Hello");
        assert_eq!(header(&r, "x-hf-bill-to"), Some("my-org"));
        assert_eq!(
            header(&r, "authorization"),
            Some(format!("Bearer {HF_TOKEN}").as_str())
        );
        assert_eq!(r.provider, Some("hf-inference"));
    }
}

#[test]
fn tgi_routing_errors() {
    let req = tgi_request();
    let hf = Auth::from_token(Some(HF_TOKEN));
    let key = Auth::from_token(Some(KEY));
    let none = Auth::None;
    let input = [
        TgiRouteRequest {
            provider: named("together"),
            ..tgi(&req, &hf)
        },
        TgiRouteRequest {
            policy: Some(Policy::Fastest),
            ..tgi(&req, &hf)
        },
        TgiRouteRequest {
            model: "org/m:groq",
            ..tgi(&req, &hf)
        },
        TgiRouteRequest {
            provider: named("groq"),
            endpoint_url: Some("http://127.0.0.1:1"),
            ..tgi(&req, &hf)
        },
    ];
    for r in input {
        let e = route_text_generation(r).expect_err("input");
        assert_eq!(e.kind, ErrorKind::Input, "{e:?}");
        assert_ne!(e.code.as_deref(), Some("routing"), "{e:?}");
    }
    for auth in [&key, &none] {
        let e = route_text_generation(tgi(&req, auth)).expect_err("routing");
        assert!(is_routing_error(&e), "{e:?}");
    }
    let no_model =
        TextGenerationRequest::from_json(r#"{"inputs":"x"}"#).unwrap_or_else(|e| panic!("{e:?}"));
    let e = route_text_generation(tgi(&no_model, &hf)).expect_err("model");
    assert!(e.message.contains("model"));
}

// ---------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------

fn json_value() -> impl Strategy<Value = Value> {
    let word = prop::sample::select(vec![
        "live",
        "staging",
        "error",
        "together",
        "groq",
        "hf-inference",
        "brand-new",
        "conversational",
        "text-generation",
        "",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        word.prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        let key = prop_oneof![
            prop::sample::select(vec![
                "provider",
                "providerId",
                "status",
                "task",
                "adapter",
                "adapterWeightsPath",
                "together",
                "groq",
                "nebius",
                "id",
                "error",
                "inferenceProviderMapping",
            ])
            .prop_map(str::to_owned),
            ".{0,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_mapping_body_parses_or_fails_cleanly(v in json_value(), wrap in any::<bool>()) {
        let body = if wrap {
            serde_json::json!({"id": "org/m", "inferenceProviderMapping": v}).to_string()
        } else {
            v.to_string()
        };
        if let Ok(m) = parse_mapping(&body) {
            for p in &m.providers {
                prop_assert!(provider_info(p.provider.name).is_some());
                prop_assert!(!p.provider_id.is_empty());
            }
            let _ = m.require("together", TASK_CHAT);
        }
    }

    #[test]
    fn any_bytes_as_a_mapping_body_do_not_panic(s in ".{0,200}") {
        let _ = parse_mapping(&s);
    }

    #[test]
    fn any_model_string_routes_or_fails_cleanly(
        model in ".{0,40}",
        suffix in prop::sample::select(vec!["", ":groq", ":fastest", ":", ":x/y", "::", ":hf-inference"]),
        token in prop::sample::select(vec![Some(HF_TOKEN), Some(KEY), None]),
        provider in prop::sample::select(vec!["auto", "together", "fal-ai", "hf-inference"]),
        policy in prop::sample::select(vec![None, Some(Policy::Cheapest)]),
        base in prop::sample::select(vec![None, Some("http://127.0.0.1:9")]),
    ) {
        let model = format!("{model}{suffix}");
        let auth = Auth::from_token(token);
        let r = route_chat(RouteRequest {
            model: &model,
            policy,
            base_url: base,
            mapped_model: Some("m"),
            ..request(named(provider), &auth)
        });
        if let Ok(r) = r {
            prop_assert!(serde_json::from_str::<Value>(&r.body).is_ok());
        }
        let _ = mapping_request(None, &model, &auth);
        if let Ok(req) = TextGenerationRequest::from_json(
            &serde_json::json!({"inputs": "x", "model": model}).to_string(),
        ) {
            let _ = route_text_generation(tgi(&req, &auth));
        }
    }
}
