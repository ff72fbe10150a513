"""Judge providers: the registry, their key variables, and each SDK's failures as brie's own errors."""

import socket
import subprocess
import sys

import pytest

from brie.errors import BrieError
from brie.judging.base import (JudgeAccessError, JudgeBadAnswer, JudgeError, JudgeNotFound, JudgeRequestError,
                               JudgeTimeout, JudgeUnreachable, Provider)
from brie.judging.judges import connect, parse_judge
from brie.judging.providers import PROVIDERS, key_vars
from brie.store import judging as rows
from tests.judge_fixtures import fresh_ws, judged_template  # noqa: F401  (fixtures)
from tests.judge_server import JudgeServer
from tests.test_judge_compare import CLAUDE, FAST, server_env  # noqa: F401  (fixture)

API_KINDS = ["anthropic", "openai", "openai-compatible"]  # the kinds that talk HTTP
KINDS = [*API_KINDS, "local"]


def test_the_registry_names_each_kind_once_and_its_key():
    assert list(PROVIDERS) == KINDS
    assert all(issubclass(cls, Provider) and cls.kind == kind for kind, cls in PROVIDERS.items())
    assert key_vars() == ("ANTHROPIC_API_KEY", "OPENAI_API_KEY")  # what `brie doctor` reports
    assert PROVIDERS["openai-compatible"].missing_key() is None  # a local server needs no key
    assert PROVIDERS["local"].missing_key() is None  # in-process: no key at all


def test_importing_the_judging_code_imports_no_sdk():
    code = ("import sys, brie.judging, brie.judging.judges, brie.judging.workflows, brie.judging.human, brie.doctor; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'anthropic', 'openai', 'scipy', 'statsmodels'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_human_judge_has_no_client():
    with pytest.raises(JudgeError, match="human verdicts are given in the UI"):
        connect(parse_judge("human:ann"))


def client_for(kind: str, url: str, monkeypatch, **kw) -> Provider:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-test-key")
    monkeypatch.setenv("OPENAI_BASE_URL", url + "/v1")
    name = {"anthropic": CLAUDE, "openai": "openai:gpt-5", "openai-compatible": f"openai-compatible:m@{url}/v1"}[kind]
    return connect(parse_judge(name), **{"max_retries": 0, "timeout": 5.0, "max_tokens": 8, **kw})


@pytest.mark.parametrize("kind", API_KINDS)
@pytest.mark.parametrize("scripted, error", [
    ({"status": 401}, JudgeAccessError), ({"status": 403}, JudgeAccessError), ({"status": 404}, JudgeNotFound),
    ({"status": 500}, JudgeRequestError), ({"raw": b'{"broken'}, JudgeBadAnswer),
    ({"text": "[[A]]", "delay": 2}, JudgeTimeout),
])
def test_sdk_failures_become_brie_errors_naming_judge_and_url(kind, scripted, error, monkeypatch):
    with JudgeServer(lambda call: scripted) as server:
        client = client_for(kind, server.url, monkeypatch, **({"timeout": 0.5} if "delay" in scripted else {}))
        with pytest.raises(error) as caught:
            client.ask("system", "user")
    assert type(caught.value) is error and isinstance(caught.value, BrieError)
    assert str(caught.value).startswith(f"judge {client.spec.name} at {client.url}: ")
    assert "sk-" not in str(caught.value)


@pytest.mark.parametrize("kind", API_KINDS)
def test_a_closed_port_is_unreachable(kind, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = client_for(kind, f"http://127.0.0.1:{port}", monkeypatch)
    with pytest.raises(JudgeUnreachable, match="could not connect"):
        client.ask("system", "user")


def test_only_anthropic_has_batches(monkeypatch):
    assert [k for k, cls in PROVIDERS.items() if cls.supports_batch] == ["anthropic"]
    with JudgeServer(lambda call: {"text": "[[A]]"}) as server:
        server.batch_get_status = 500
        client = client_for("anthropic", server.url, monkeypatch)
        batch_id = client.submit_batch([("c1-p0-t1", "system", "user")])
        with pytest.raises(JudgeRequestError, match="InternalServerError"):
            client.batch_ended(batch_id)
        with pytest.raises(JudgeError, match="no batch API"):
            client_for("openai", server.url, monkeypatch).submit_batch([])


@pytest.mark.parametrize("judge", [CLAUDE, "openai:gpt-5"])
def test_a_rejected_key_stops_the_run_with_one_line(fresh_ws, server_env, judge):
    from brie.judging.workflows import compare

    server = server_env(lambda call: {"status": 401})
    with pytest.raises(JudgeAccessError, match=f"judge {judge} at .*: AuthenticationError"):
        compare(fresh_ws, "s", "base", "r1@10", [judge], concurrency=2, **FAST)
    assert rows.all_judgments(fresh_ws.store) == [] and len(server.calls) <= 2  # no request after the first answers
