//! Where a chat call goes before anything is sent, decided once the request and the
//! options are read, and again once a direct provider call's model id is known.
//!
//! Owns: [`ChatInputs`] (a chat call's routing inputs, owned, so the route can be
//! decided again after the Hub look-up), [`ChatInputs::target`] (through a router or
//! to an endpoint, or straight to a provider with the caller's own key, which must not
//! be sent anywhere else, so no `fallback`), and [`ChatInputs::route_mapped`] (the
//! direct call once the mapping gives the provider's model id), and
//! [`text_generation_route`] (a `textGeneration` call's one target). Must never: fetch the
//! mapping (the shell does), or build a URL or header itself (`crate::providers` does).

use crate::error::Error;
use crate::hub::{Mapping, TASK_CHAT};
use crate::options::client::{ClientOptions, Routing};
use crate::providers::{self, Auth, ProviderInfo, Route, RouteRequest};
use crate::tgi::{route_text_generation, TextGenerationRequest, TgiRouteRequest};

/// A chat call's routing inputs.
#[derive(Debug, Clone)]
pub struct ChatInputs {
    /// The call's routing options over the client's.
    pub routing: Routing,
    /// The request's `model` (`""` when none).
    pub model: String,
    /// The prepared request body.
    pub body: String,
    /// The caller's headers (client then call, merged).
    pub headers: Vec<(String, String)>,
    pub stream: bool,
}

/// Where a chat call goes, before anything is sent.
#[derive(Debug)]
pub enum ChatTarget {
    /// Through a router or to a dedicated endpoint: this route (fallbacks may follow).
    Routed(Route),
    /// To `provider`'s own API with the caller's provider key: the provider's model id
    /// comes from the Hub's mapping first ([`ChatInputs::route_mapped`]); `provisional`
    /// is the route until then.
    Direct {
        provider: &'static ProviderInfo,
        provisional: Route,
    },
}

impl ChatInputs {
    /// The inputs as `crate::providers` reads them (`mapped`: the provider's model id).
    pub fn request<'a>(
        &'a self,
        o: &'a ClientOptions,
        auth: &'a Auth,
        mapped: Option<&'a str>,
    ) -> RouteRequest<'a> {
        RouteRequest {
            provider: self.routing.provider.unwrap_or_default(),
            policy: self.routing.policy,
            model: &self.model,
            base_url: o.base_url.as_deref(),
            endpoint_url: o.endpoint_url.as_deref(),
            auth,
            bill_to: self.routing.bill_to.as_deref(),
            mapped_model: mapped,
            body: &self.body,
            extra_headers: &self.headers,
            stream: self.stream,
        }
    }

    /// Where the call goes. `has_fallback`: the call names fallback targets, which a
    /// direct call with the caller's provider key refuses (an `input` error): a fallback
    /// would send that key to another server.
    pub fn target(
        &self,
        o: &ClientOptions,
        auth: &Auth,
        has_fallback: bool,
    ) -> Result<ChatTarget, Error> {
        let Some(p) = providers::direct_provider(&self.request(o, auth, None)) else {
            return providers::route_chat(self.request(o, auth, None)).map(ChatTarget::Routed);
        };
        if has_fallback {
            return Err(Error::input(format!(
                "`fallback` is for calls through a router or to endpoints; a direct call to \"{}\" with its own key would send that key elsewhere: drop `fallback`, or use an HF token",
                p.name
            )));
        }
        Ok(ChatTarget::Direct {
            provider: p,
            provisional: Route {
                url: p.direct_chat_url().unwrap_or_default(),
                headers: Vec::new(),
                body: self.body.clone(),
                routed: false,
                provider: Some(p.name),
            },
        })
    }

    /// The direct call to `provider` once the Hub's `mapping` is known: its route with
    /// the provider's own model id, and the warning to print when that mapping is in
    /// staging. An error when the mapping has no live chat entry for the provider.
    pub fn route_mapped(
        &self,
        o: &ClientOptions,
        auth: &Auth,
        provider: &ProviderInfo,
        mapping: &Mapping,
    ) -> Result<(Route, Option<String>), Error> {
        let entry = mapping.require(provider.name, TASK_CHAT)?;
        let warning = entry.staging_warning(&self.model);
        let route = providers::route_chat(self.request(o, auth, Some(&entry.provider_id)))?;
        Ok((route, warning))
    }
}

/// Where a `textGeneration` call of `request` (its JSON) goes: its one target. TGI's
/// API has no fallback: a `fallback` option is an `input` error, whatever the request.
/// `routing` is the call's over the client's.
#[allow(clippy::too_many_arguments)]
pub fn text_generation_route(
    o: &ClientOptions,
    auth: &Auth,
    routing: &Routing,
    request: &str,
    headers: &[(String, String)],
    stream: bool,
    has_fallback: bool,
) -> Result<Route, Error> {
    if has_fallback {
        return Err(Error::input(
            "`fallback` applies to chat completions; textGeneration has one target",
        ));
    }
    let request = &TextGenerationRequest::from_json(request)?;
    route_text_generation(TgiRouteRequest {
        provider: routing.provider.unwrap_or_default(),
        policy: routing.policy,
        model: "",
        base_url: o.base_url.as_deref(),
        endpoint_url: o.endpoint_url.as_deref(),
        auth,
        bill_to: routing.bill_to.as_deref(),
        request,
        extra_headers: headers,
        stream,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::client::client_options;
    use crate::options::parse;
    use crate::ErrorKind;

    fn options(json: &str) -> ClientOptions {
        client_options(&parse(Some(json)).unwrap()).unwrap()
    }

    fn inputs(model: &str, provider: Option<&str>) -> ChatInputs {
        ChatInputs {
            routing: Routing {
                provider: provider.map(|p| crate::providers::parse_provider(p).unwrap()),
                ..Routing::default()
            },
            model: model.to_owned(),
            body: format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]}}"#),
            headers: Vec::new(),
            stream: true,
        }
    }

    #[test]
    fn an_hf_token_goes_through_the_router_and_may_fall_back() {
        let o = options("{}");
        let auth = Auth::from_token(Some("hf_abc"));
        let t = inputs("org/m", Some("together"))
            .target(&o, &auth, true)
            .unwrap();
        let ChatTarget::Routed(route) = t else {
            panic!("routed expected, got {t:?}")
        };
        assert!(
            route.routed && route.url.starts_with("https://router.huggingface.co/"),
            "{route:?}"
        );
    }

    #[test]
    fn a_provider_key_goes_direct_and_refuses_a_fallback() {
        let o = options("{}");
        let auth = Auth::from_token(Some("tgp_provider_key"));
        let e = inputs("org/m", Some("together"))
            .target(&o, &auth, true)
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Input);
        assert!(
            e.message.contains("\"together\"") && e.message.contains("`fallback`"),
            "{}",
            e.message
        );

        let t = inputs("org/m", Some("together"))
            .target(&o, &auth, false)
            .unwrap();
        let ChatTarget::Direct {
            provider,
            provisional,
        } = t
        else {
            panic!("direct expected, got {t:?}")
        };
        assert_eq!(provider.name, "together");
        assert!(
            !provisional.routed && provisional.url.starts_with("https://api.together.xyz"),
            "{provisional:?}"
        );
        assert_eq!(provisional.provider, Some("together"));
    }

    #[test]
    fn text_generation_has_one_target_and_refuses_a_fallback_first() {
        let o = options(r#"{"endpointUrl":"http://127.0.0.1:8080"}"#);
        let auth = Auth::from_token(None);
        let req = r#"{"inputs":"Hello","parameters":{"max_new_tokens":5}}"#;
        let r =
            text_generation_route(&o, &auth, &Routing::default(), req, &[], true, false).unwrap();
        assert_eq!(r.url, "http://127.0.0.1:8080/generate_stream");
        let r =
            text_generation_route(&o, &auth, &Routing::default(), req, &[], false, false).unwrap();
        assert_eq!(r.url, "http://127.0.0.1:8080/generate");
        // The option is wrong whatever the request: that error comes first.
        let e = text_generation_route(&o, &auth, &Routing::default(), "[]", &[], false, true)
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Input);
        assert!(e.message.contains("`fallback`"), "{}", e.message);
        let e = text_generation_route(&o, &auth, &Routing::default(), "[]", &[], false, false)
            .unwrap_err();
        assert!(!e.message.contains("`fallback`"), "{}", e.message);
    }

    #[test]
    fn a_direct_call_is_routed_with_the_providers_model_id_once_mapped() {
        let o = options("{}");
        let auth = Auth::from_token(Some("tgp_provider_key"));
        let call = inputs("org/m", Some("together"));
        let together = crate::providers::provider_info("together").unwrap();
        let live = crate::hub::parse_mapping(
            r#"{"inferenceProviderMapping":{"together":{"status":"live","providerId":"together/m-turbo","task":"conversational"}}}"#,
        )
        .unwrap();
        let (route, warning) = call.route_mapped(&o, &auth, together, &live).unwrap();
        assert!(
            route.body.contains("\"together/m-turbo\""),
            "{}",
            route.body
        );
        assert_eq!(warning, None);

        let staging = crate::hub::parse_mapping(
            r#"{"inferenceProviderMapping":{"together":{"status":"staging","providerId":"together/m","task":"conversational"}}}"#,
        )
        .unwrap();
        let (_, warning) = call.route_mapped(&o, &auth, together, &staging).unwrap();
        assert!(warning.unwrap().contains("staging"));

        let none = crate::hub::parse_mapping(r#"{"inferenceProviderMapping":{}}"#).unwrap();
        assert!(call.route_mapped(&o, &auth, together, &none).is_err());
    }
}
