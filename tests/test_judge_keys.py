"""Keys stay home: each API key goes only to its own provider's API (or the base URL set for it), and
an openai-compatible judge sends only the variable its judges.toml entry names (`key_env`).

The real anthropic and openai SDKs talk to a local server (tests/judge_server.py) that records every
request's headers; the workspace's files and the command's output are searched for the keys after.
"""

import json

import pytest
from typer.testing import CliRunner

from brie.cli import app
from brie.judging.base import JudgeError
from brie.judging.judges import parse_judge
from brie.judging.workflows import api_judges
from tests.judge_fixtures import fresh_ws, judged_template  # noqa: F401  (fixtures)
from tests.judge_server import JudgeServer
from tests.test_judge_compare import CLAUDE, N

OPENAI_KEY = "sk-openai-SENTINEL-0a1b2c3d4e5f"
ANTHROPIC_KEY = "sk-ant-SENTINEL-9z8y7x6w5v"
OWN_KEY = "own-server-SENTINEL-4242"
CUSTOM = "custom-header-SENTINEL-77"
ORG, PROJECT = "org-SENTINEL-5150", "proj-SENTINEL-6160"  # the OpenAI account's ids: OpenAI's only
ALL_KEYS = (OPENAI_KEY, ANTHROPIC_KEY, OWN_KEY, CUSTOM, ORG, PROJECT)


@pytest.fixture
def keys(monkeypatch):
    """Both providers' keys exported, as on a researcher's machine, base URLs left at their defaults
    (nothing here may reach them: an openai-compatible judge names its own server)."""
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    # The openai SDK also reads extra headers from the environment; an Authorization there is a key too.
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", f"Authorization: Bearer {CUSTOM}")
    monkeypatch.setenv("OPENAI_ORG_ID", ORG)
    monkeypatch.setenv("OPENAI_PROJECT_ID", PROJECT)


def sent(server: JudgeServer, path: str) -> list[dict]:
    return [h for _, p, h in server.headers if p == path]


def keys_in(server: JudgeServer) -> set[str]:
    """Every key found in any header of any request the server got."""
    return {k for _, _, headers in server.headers for v in headers.values() for k in ALL_KEYS if k in v}


def compare_cli(judge: str, *extra: str):
    return CliRunner().invoke(app, ["compare", "--suite", "s", "--a", "base", "--b", "r1@10", "--judge", judge,
                                    "--max-tokens", "8", "--retries", "0", "--max-attempts", "1", *extra])


def assert_no_key_in_workspace(ws, outputs: list[str]) -> None:
    for path in ws.root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for k in ALL_KEYS:
                assert k.encode() not in data, f"{k} found in {path}"
    for out in outputs:
        assert not any(k in out for k in ALL_KEYS), out


def test_an_openai_compatible_judge_carries_neither_providers_key(fresh_ws, keys):
    with JudgeServer(lambda call: {"text": "[[A]]"}) as server:
        r = compare_cli(f"openai-compatible:j@{server.url}/v1")
        assert r.exit_code == 0, r.output
        chats = sent(server, "/v1/chat/completions")
    assert len(chats) == N
    assert keys_in(server) == set()
    # The SDK insists on a key; the placeholder is what goes instead of the user's.
    assert {h.get("authorization") for h in chats} == {"Bearer not-needed"}
    assert_no_key_in_workspace(fresh_ws, [r.output])


def test_key_env_sends_that_variable_and_nothing_else(fresh_ws, keys, monkeypatch):
    monkeypatch.setenv("MY_JUDGE_KEY", OWN_KEY)
    with JudgeServer(lambda call: {"text": "[[B]]"}) as server:
        judge = f"openai-compatible:j@{server.url}/v1"
        (fresh_ws.root / "judges.toml").write_text(f'[models."{judge}"]\nkey_env = "MY_JUDGE_KEY"\n')
        outputs = [compare_cli(judge, "--json")]
        for args in (["results", "--json"], ["export", "judged"], ["export", "csv", "--force"]):
            outputs.append(CliRunner().invoke(app, args))
        chats = sent(server, "/v1/chat/completions")
    assert outputs[0].exit_code == 0 and json.loads(outputs[0].stdout)["valid"] == N, outputs[0].output
    assert len(chats) == N and {h.get("authorization") for h in chats} == {f"Bearer {OWN_KEY}"}
    assert keys_in(server) == {OWN_KEY}  # the key did go out: the search below can fail
    assert (fresh_ws.root / "exports" / "judged.jsonl").stat().st_size > 0
    assert_no_key_in_workspace(fresh_ws, [r.output for r in outputs])


def test_a_key_env_that_is_not_set_stops_before_generation(fresh_ws, keys):
    judge = "openai-compatible:j@http://127.0.0.1:9/v1"
    (fresh_ws.root / "judges.toml").write_text(f'[models."{judge}"]\nkey_env = "MY_UNSET_JUDGE_KEY"\n')
    with pytest.raises(JudgeError, match=r"judge openai-compatible:j@http://127.0.0.1:9/v1: MY_UNSET_JUDGE_KEY is not set"):
        api_judges(fresh_ws, [judge])


@pytest.mark.parametrize("name, entry, error", [
    # Without the URL in the entry's name the key would go to whatever server a judge name says.
    ("openai-compatible:j@http://127.0.0.1:9/v1", '[models."openai-compatible:j"]\nkey_env = "K"\n',
     "key_env must be in an entry named with the server's URL"),
    (CLAUDE, f'[models."{CLAUDE}"]\ninput = 1.0\noutput = 1.0\nkey_env = "K"\n', "key_env is only for openai-compatible"),
    ("openai-compatible:j@http://127.0.0.1:9/v1", '[models."openai-compatible:j@http://127.0.0.1:9/v1"]\nkey_env = 5\n',
     "key_env must name an environment variable"),
    ("openai-compatible:j@http://127.0.0.1:9/v1", '[models."openai-compatible:j@http://127.0.0.1:9/v1"]\nkey_env = "A B"\n',
     "key_env must name an environment variable"),
    # a (shared, downloaded) judges.toml must not route the OpenAI key to another server
    ("openai-compatible:j@http://127.0.0.1:9/v1",
     '[models."openai-compatible:j@http://127.0.0.1:9/v1"]\nkey_env = "OPENAI_API_KEY"\n',
     "key_env OPENAI_API_KEY is a provider's own key"),
    ("openai-compatible:j@http://127.0.0.1:9/v1",
     '[models."openai-compatible:j@http://127.0.0.1:9/v1"]\nkey_env = "ANTHROPIC_API_KEY"\n',
     "key_env ANTHROPIC_API_KEY is a provider's own key"),
])
def test_a_misplaced_or_malformed_key_env_is_an_error(fresh_ws, name, entry, error):
    (fresh_ws.root / "judges.toml").write_text(entry)
    with pytest.raises(JudgeError, match=error):
        parse_judge(name, fresh_ws)


@pytest.mark.parametrize("judge, env, own", [
    ("openai:gpt-5", "OPENAI_BASE_URL", OPENAI_KEY),
    (CLAUDE, "ANTHROPIC_BASE_URL", ANTHROPIC_KEY),
])
def test_a_providers_key_goes_to_the_base_url_set_for_that_provider_only(fresh_ws, keys, monkeypatch,
                                                                          judge, env, own):
    # the user's own headers and account ids for OpenAI would go there, rightly
    for var in ("OPENAI_CUSTOM_HEADERS", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(var)
    with JudgeServer(lambda call: {"text": "[[A]]"}) as server:
        monkeypatch.setenv(env, server.url + ("/v1" if env.startswith("OPENAI") else ""))
        r = compare_cli(judge)
    assert r.exit_code == 0, r.output
    assert keys_in(server) == {own}
    model_calls = [h for _, p, h in server.headers if p in ("/v1/messages", "/v1/chat/completions")]
    assert len(model_calls) == N and all(own in " ".join(h.values()) for h in model_calls)
    assert_no_key_in_workspace(fresh_ws, [r.output])
