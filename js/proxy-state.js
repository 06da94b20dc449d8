// The proxy's shared state on Cloudflare: `ProxyState`, a Durable Object class, and
// `durableStore(namespace)`, the store `createProxy({ durableState: env.PROXY_STATE })`
// hands the wasm proxy. No decision is made here: the object runs the same wasm core
// (`ProxyStateCore`: the rate limiter's bucket math, budget windows and resets) and only
// moves JSON text between the proxy, the core and the object's storage.
//
// Objects: `client:<key>` holds one client's token bucket and spend; `proxy` holds the
// proxy-wide spend (the ledger). Every call to an object is bounded by `stateTimeoutMs`
// (default 1000 ms); a call that fails or times out makes the proxy answer 503 (fail
// closed; see the README's Workers section for why).

import { ProxyStateCore } from "./hf_inference_proxy.js";

const ORIGIN = "https://proxy-state.invalid/";
const OPS = new Set(["admit", "check", "record", "ledger"]);

/**
 * The Durable Object class: `export { ProxyState } from "hf-inference-wasm/proxy"` in the Worker,
 * bound as `PROXY_STATE` in wrangler.toml. Its state is saved after every change, so an
 * evicted or restarted object loses nothing.
 */
export class ProxyState {
  constructor(state, env) {
    this.state = state;
    this.env = env;
    this.core = null;
    state.blockConcurrencyWhile(async () => {
      const snapshot = await state.storage.get("core");
      this.core = new ProxyStateCore(typeof snapshot === "string" ? snapshot : undefined);
    });
  }

  async fetch(request) {
    const op = new URL(request.url).pathname.slice(1);
    if (request.method !== "POST" || !OPS.has(op)) return new Response("unknown state call", { status: 404 });
    let out;
    try {
      out = this.core.call(op, await request.text(), Date.now());
    } catch (e) {
      return new Response(String(e?.message ?? e), { status: 400 });
    }
    // `check` and `ledger` may roll a window over, `admit` and `record` spend: save all
    // but reads of an unchanged state.
    const snapshot = this.core.snapshot();
    if (snapshot !== this.saved) {
      await this.state.storage.put("core", snapshot);
      this.saved = snapshot;
    }
    return new Response(out, { headers: { "content-type": "application/json" } });
  }
}

/**
 * The store for a Durable Object namespace bound to `ProxyState`. Each method resolves to
 * the object's JSON answer, or rejects when the object fails or does not answer within
 * `stateTimeoutMs` (`record` never rejects: a usage record lost is logged by no one and
 * must not fail a response already sent).
 */
export function durableStore(namespace, { stateTimeoutMs = 1000 } = {}) {
  if (namespace === null || typeof namespace !== "object" || typeof namespace.idFromName !== "function" || typeof namespace.get !== "function") {
    throw new TypeError("`durableState` must be a Durable Object namespace bound to the ProxyState class (e.g. env.PROXY_STATE)");
  }
  const timeoutMs = Number.isFinite(stateTimeoutMs) && stateTimeoutMs > 0 ? stateTimeoutMs : 1000;
  const call = async (key, op, body) => {
    const name = key === undefined || key === null ? "proxy" : `client:${key}`;
    const payload = key === undefined || key === null ? body : JSON.stringify({ ...JSON.parse(body), key });
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the ProxyState object did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const stub = namespace.get(namespace.idFromName(name));
      const res = await Promise.race([stub.fetch(ORIGIN + op, { method: "POST", body: payload }), timeout]);
      const text = await Promise.race([res.text(), timeout]);
      if (!res.ok) throw new Error(`the ProxyState object answered ${res.status}: ${text.slice(0, 200)}`);
      return text;
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    admit: (key, body) => call(key, "admit", body),
    check: (key, body) => call(key, "check", body),
    record: (key, body) => call(key, "record", body).catch(() => "null"),
    ledger: (key, body) => call(key, "ledger", body),
  };
}
