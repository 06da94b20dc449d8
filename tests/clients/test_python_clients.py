"""The auth proxy as a drop-in OpenAI-compatible server for the Python SDKs people use:
openai and huggingface_hub, pointed at the proxy by base URL, in front of the fixture
server. Issue 13, point by point, streamed and not, with the error classes each raises."""

import json
import time

import httpx2 as httpx
import openai
import pytest
from huggingface_hub import InferenceClient
from huggingface_hub.errors import HfHubHTTPError

MSG = [{"role": "user", "content": "Tell me a story"}]
# A base64 image makes bodies like this one common: over the proxy's 64 KiB default.
BIG = [{"role": "user", "content": "data:image/png;base64," + "A" * 300_000}]


def get(env, what):
    return httpx.get(env["control"] + what, timeout=5).json()


@pytest.fixture(autouse=True)
def reset(env):
    httpx.post(env["control"] + "/reset", timeout=5)


def oa(env, name, **kw):
    kw.setdefault("timeout", 10)
    return openai.OpenAI(base_url=env["proxies"][name] + "/v1", api_key="unused", **kw)


def hf(env, name, **kw):
    return InferenceClient(base_url=env["proxies"][name] + "/v1", api_key="unused", timeout=10, **kw)


def upstream_hits(env, prefix):
    return [r for r in get(env, "/requests") if r["path"].startswith(prefix)]


def wait_usages(env, n):
    for _ in range(200):
        u = get(env, "/usages")
        if len(u) >= n:
            return u
        time.sleep(0.02)
    raise AssertionError(f"no {n} onUsage records: {get(env, '/usages')}")


# --- the normal paths --------------------------------------------------------------


def test_openai_non_stream_with_usage_and_one_request_id(env):
    r = oa(env, "main").chat.completions.with_raw_response.create(model="org/m", messages=MSG)
    c = r.parse()
    assert c.choices[0].message.content
    assert c.usage.total_tokens > 0
    rid = r.headers["x-request-id"]
    (up,) = upstream_hits(env, "/v1/chat/completions")
    assert up["headers"]["x-request-id"] == rid, "the upstream got the proxy's id"
    assert r.headers["x-upstream-request-id"] == "sim-" + str(up["seq"]) or r.headers["x-upstream-request-id"]
    (u,) = wait_usages(env, 1)
    assert u["requestId"] == rid and u["estimated"] is False
    assert u["usage"]["total_tokens"] == c.usage.total_tokens
    assert any(line.get("request_id") == rid for line in get(env, "/logs"))


def test_openai_stream_without_include_usage_gets_no_usage_chunk_but_the_log_has_usage(env):
    chunks = list(oa(env, "main").chat.completions.create(model="org/m", messages=MSG, stream=True))
    assert chunks and all(len(ch.choices) == 1 for ch in chunks), "a naive choices[0] works"
    assert all(ch.usage is None for ch in chunks)
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks)
    assert text
    (up,) = upstream_hits(env, "/v1/chat/completions")
    assert json.loads(up["body"])["stream_options"] == {"include_usage": True}
    (u,) = wait_usages(env, 1)
    assert u["estimated"] is False and u["usage"]["completion_tokens"] > 0


def test_openai_stream_with_include_usage_keeps_its_usage_chunk(env):
    chunks = list(
        oa(env, "main").chat.completions.create(
            model="org/m", messages=MSG, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0


def test_openai_streamed_tool_call(env):
    args, name, finish = "", None, None
    for ch in oa(env, "tools").chat.completions.create(
        model="org/m",
        messages=MSG,
        stream=True,
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
    ):
        for tc in ch.choices[0].delta.tool_calls or []:
            name = name or tc.function.name
            args += tc.function.arguments or ""
        finish = ch.choices[0].finish_reason or finish
    assert finish == "tool_calls" and name
    json.loads(args)


def test_huggingface_hub_chat_stream_and_non_stream(env):
    c = hf(env, "main")
    out = c.chat_completion(messages=MSG, model="org/m")
    assert out.choices[0].message.content and out.usage.total_tokens > 0
    text = ""
    for ch in c.chat_completion(messages=MSG, model="org/m", stream=True):
        text += ch.choices[0].delta.content or ""  # IndexError if a usage chunk leaked
    assert text
    assert len(wait_usages(env, 2)) == 2


# --- 1. retry signals --------------------------------------------------------------


def test_openai_does_not_retry_a_refused_proxy_token(env):
    with pytest.raises(openai.InternalServerError) as e:
        oa(env, "auth401").chat.completions.create(model="org/m", messages=MSG)
    assert e.value.status_code == 502
    assert e.value.code == "upstream_auth_failed"
    assert e.value.response.headers["x-should-retry"] == "false"
    assert len(upstream_hits(env, "/status/401/")) == 1, "sent once, not 3 times"


def test_openai_honours_the_upstreams_own_should_retry_false(env):
    with pytest.raises(openai.InternalServerError) as e:
        oa(env, "noretry503").chat.completions.create(model="org/m", messages=MSG)
    assert e.value.status_code == 503
    assert len(upstream_hits(env, "/fault/x-should-retry-false/")) == 1


def test_huggingface_hub_sees_the_refused_token_once(env):
    with pytest.raises(HfHubHTTPError) as e:
        hf(env, "auth401").chat_completion(messages=MSG, model="org/m")
    assert e.value.response.status_code == 502
    assert "HF_TOKEN" in str(e.value)
    assert len(upstream_hits(env, "/status/401/")) == 1


# --- 2. large bodies ---------------------------------------------------------------


def test_openai_gets_413_for_a_large_body_not_a_write_timeout(env):
    # Before the fix the unread body blocked httpx's write until its timeout.
    c = oa(env, "main", timeout=httpx.Timeout(5.0), max_retries=0)
    with pytest.raises(openai.APIStatusError) as e:
        c.chat.completions.create(model="org/m", messages=BIG)
    assert e.value.status_code == 413
    assert e.value.code == "body_too_large"
    assert upstream_hits(env, "/v1/") == []
    # The connection is usable afterwards.
    assert c.chat.completions.create(model="org/m", messages=MSG).choices


def test_huggingface_hub_gets_413_for_a_large_body(env):
    with pytest.raises(HfHubHTTPError) as e:
        InferenceClient(base_url=env["proxies"]["main"] + "/v1", api_key="unused", timeout=5).chat_completion(
            messages=BIG, model="org/m"
        )
    assert e.value.response.status_code == 413


# --- 3. a timeout mid-stream ---------------------------------------------------------


def test_openai_stream_timeout_mid_way_is_an_api_error_after_the_deltas(env):
    got = ""
    with pytest.raises(openai.APIError) as e:
        for ch in oa(env, "stallmid").chat.completions.create(model="org/m", messages=MSG, stream=True):
            got += ch.choices[0].delta.content or ""
    assert got == "Hello world"
    assert not isinstance(e.value, openai.APIConnectionError)
    assert e.value.code == "upstream_timeout"
    assert "idle" in e.value.message
    (u,) = wait_usages(env, 1)
    assert u["complete"] is False and u["estimated"] is True
    assert u["usage"]["completion_tokens"] > 0


def test_huggingface_hub_stream_timeout_mid_way_is_a_readable_error(env):
    got = ""
    client = hf(env, "stallmid")  # kept: the client closes its streams when collected
    with pytest.raises(Exception) as e:
        for ch in client.chat_completion(messages=MSG, model="org/m", stream=True):
            got += ch.choices[0].delta.content or ""
    assert got == "Hello world", repr(e.value)
    assert "upstream_timeout" in str(e.value) and "idle" in str(e.value), repr(e.value)
    assert not isinstance(e.value, (httpx.TransportError, ConnectionError)), repr(e.value)


# --- 4. non-streamed answers and max_tokens ---------------------------------------------


def test_no_max_tokens_is_inserted(env):
    oa(env, "main").chat.completions.create(model="org/m", messages=MSG)
    (up,) = upstream_hits(env, "/v1/chat/completions")
    body = json.loads(up["body"])
    assert "max_tokens" not in body and "max_completion_tokens" not in body


def test_a_504_from_an_operator_set_headers_timeout_is_not_retried(env):
    with pytest.raises(openai.InternalServerError) as e:
        oa(env, "slow").chat.completions.create(model="org/m", messages=MSG)
    assert e.value.status_code == 504 and e.value.code == "upstream_timeout"
    assert len(upstream_hits(env, "/fault/slow-headers/")) == 1


# --- 6. ids --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model",
    [
        "qwen2.5:7b-instruct-q4_K_M",
        "@cf/meta/llama-3.1-8b-instruct",
        "ft:gpt-4o-mini-2024-07-18:my-org::9abcDEF",
        "mistral-large@2407",
    ],
)
def test_model_ids_reach_the_upstream_as_written(env, model):
    out = oa(env, "echo").chat.completions.create(model=model, messages=MSG)
    echoed = json.loads(out.choices[0].message.content)
    assert json.loads(echoed["body"])["model"] == model


# --- 7. smaller ----------------------------------------------------------------------


def test_an_echoing_upstream_never_shows_the_token(env):
    for stream in (False, True):
        r = httpx.post(
            env["proxies"]["echo"] + "/v1/chat/completions",
            json={"model": "org/m", "messages": MSG, "stream": stream},
            timeout=10,
        )
        assert r.status_code == 200
        assert env["token"] not in r.text
        assert "[redacted]" in r.text


def test_upstream_errors_keep_type_param_and_estimated_time(env):
    with pytest.raises(openai.BadRequestError) as e:
        oa(env, "bad400").chat.completions.create(model="org/m", messages=MSG)
    assert e.value.type == "invalid_request_error"
    with pytest.raises(openai.InternalServerError) as e:
        oa(env, "loading503", max_retries=0).chat.completions.create(model="org/m", messages=MSG)
    assert e.value.response.json()["estimated_time"] == 2.0


def test_head_health_and_route_hints(env):
    assert httpx.head(env["proxies"]["main"] + "/health", timeout=5).status_code == 200
    with pytest.raises(HfHubHTTPError) as e:
        InferenceClient(base_url=env["proxies"]["main"], api_key="unused", timeout=5).text_generation("hi")
    assert e.value.response.status_code == 404
    assert "chat_completion" in e.value.response.text
