// What a person in front of the chat is told when a reply fails: what happened and what
// they can do, in plain words, from the error's typed fields (`kind`, `status`, `code`,
// `retryable`, `retryAfterMs`) — never by parsing its message. The client's own message (the
// technical detail) goes under "Details", with the request id.
//
//   describeError(err, { partial, offline }) → {
//     kind,      banner kind: "rate-limit" | "circuit" | "network" | "timeout" | "stream" |
//                "token" | "access" | "credits" | "request" | "upstream"
//     tone,      colour: "rate-limit" | "network" | "upstream"
//     title,     one short line
//     text,      what it means and what to do
//     detail,    the client's message (technical), for "Details"
//     canRetry,  whether to offer Retry (never for an error the server says retrying cannot fix)
//     wait,      ms the server asked to wait, when it said
//   }
// `partial`: some of the reply arrived (it stays on screen); `offline`: the browser says it
// has no network.

/** How long the server asked to wait, in ms, when the error says. */
export function retryAfterMs(err) {
  if (Number.isFinite(err?.retryAfterMs)) return err.retryAfterMs;
  const text = `${err?.message ?? ""} ${err?.body ?? ""}`;
  const m = /asked to wait (\d+(?:\.\d+)?) ?(ms|s)\b/.exec(text) ?? /try again in (\d+(?:\.\d+)?) ?(ms|s|seconds?)\b/i.exec(text);
  if (m) return Number(m[1]) * (m[2] === "ms" ? 1 : 1000);
  return undefined;
}

const KEPT = "The part of the reply that arrived is kept above.";

export function describeError(err, { partial = false, offline = false } = {}) {
  const status = err?.status;
  const code = typeof err?.code === "string" ? err.code : undefined;
  const kind = err?.kind;
  const detail = err?.message ?? String(err);
  // The server's verdict first: a "do not retry" (x-should-retry: false → retryable: false)
  // is final. A dropped stream is `retryable: false` for the client's automatic retries only
  // (text was delivered); asking again is the person's call, through Regenerate.
  const serverSaysNo = err?.retryable === false && !(kind === "network" && partial);
  const out = (o) => ({ detail, canRetry: !serverSaysNo, wait: undefined, tone: "upstream", ...o, ...(serverSaysNo ? { canRetry: false } : {}) });

  if (code === "upstream_auth_failed") {
    return out({
      kind: "token",
      title: "The server's access token was refused",
      text: "The model provider did not accept the token this chat server uses, so no reply can be made. Whoever runs the server needs to set a valid HF_TOKEN and restart it; trying again will not help.",
      canRetry: false,
    });
  }
  if (status === 429 && code !== "insufficient_quota") {
    const wait = retryAfterMs(err);
    return out({
      kind: "rate-limit",
      tone: "rate-limit",
      title: "Too many messages right now",
      text: wait !== undefined ? "The server asked for a short pause before the next message." : "The server is limiting how often messages can be sent. Wait a little, then try again.",
      wait,
    });
  }
  if (kind === "circuit_open") {
    return out({
      kind: "circuit",
      tone: "rate-limit",
      title: "Paused after repeated failures",
      text: "The last few attempts all failed, so the page is waiting before it tries again.",
      wait: retryAfterMs(err),
    });
  }
  if (kind === "network") {
    if (offline) return out({ kind: "network", tone: "network", title: "You are offline", text: `Your device has no network connection. Reconnect, then try again.${partial ? ` ${KEPT}` : ""}` });
    if (partial) {
      return out({
        kind: "stream",
        title: "The connection dropped before the reply finished",
        text: `${KEPT} Use Regenerate to ask again.`,
        canRetry: false,
      });
    }
    return out({
      kind: "network",
      tone: "network",
      title: "Can't reach the chat server",
      text: "The page could not connect to its server. Check your connection and that the server is still running, then try again.",
    });
  }
  if (kind === "timeout" || code === "upstream_timeout") {
    return out({
      kind: "timeout",
      title: "The model took too long",
      text: partial ? `It stopped sending mid-reply. ${KEPT}` : "No reply arrived in time; the model may be busy. Try again in a moment.",
    });
  }
  if (kind === "stream" || kind === "parse" || kind === "truncated") {
    return out({ kind: "stream", title: "The reply was cut off", text: partial ? `${KEPT} Use Regenerate to ask again.` : "The server's answer could not be read. Try again." });
  }
  if (kind === "input") {
    return out({ kind: "request", title: "The message was not sent", text: detail, canRetry: false });
  }
  if (code === "origin_not_allowed") {
    return out({ kind: "access", title: "This site may not use the chat server", text: "The chat server only answers pages it was told to trust. Its operator can add this site's address to the allowed origins.", canRetry: false });
  }
  if (status === 401 || code === "invalid_proxy_key" || code === "missing_credentials") {
    return out({ kind: "access", title: "The chat server did not accept this page", text: "It wants a key or session this page did not provide. Reload the page; if that does not help, tell the site's owner.", canRetry: false });
  }
  if (code === "model_not_allowed" || code === "provider_not_allowed") {
    return out({ kind: "request", title: "That model isn't available here", text: "This chat server does not offer the chosen model. Pick another one in the model list.", canRetry: false });
  }
  if (status === 402 || code === "insufficient_quota") {
    return out({ kind: "credits", title: "Out of credits", text: "The account behind this chat server has no credits left for this model. Try another model, or tell the site's owner.", canRetry: false });
  }
  if (status === 413 || code === "body_too_large") {
    return out({ kind: "request", title: "The conversation is too long", text: "Shorten your message, or start a new chat.", canRetry: false });
  }
  if (status === 403) {
    return out({ kind: "access", title: "Not allowed", text: "The chat server refused this request.", canRetry: false });
  }
  if (status === 400 || status === 422 || status === 404) {
    return out({ kind: "request", title: "The server could not use this request", text: "Try another model, a shorter message, or a new chat.", canRetry: false });
  }
  if (code === "upstream_unreachable") {
    return out({ kind: "upstream", title: "The model service can't be reached", text: "The chat server is up, but it could not reach the model provider. Try again in a moment." });
  }
  if (status >= 500) {
    return out({ kind: "upstream", title: "The model service had a problem", text: `It answered with an error${status ? ` (HTTP ${status})` : ""}. Try again in a moment.` });
  }
  return out({ kind: "upstream", title: "Something went wrong", text: partial ? KEPT : "The reply failed. Try again." });
}
