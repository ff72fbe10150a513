"""`brie runs pack` and `brie runs import`: a run trained here, packed, imported into a second
workspace and compared and evaluated there; mlx-lm and peft adapter folders imported (peft's
outputs through MLX equal peft's own on the CPU); malformed and hostile folders and archives
refused with one line naming the file."""

from __future__ import annotations

import importlib.util
import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from brie.store import runs as run_rows
from brie.training.lifecycle import train
from brie.workspace import Workspace
from tests.judge_server import JudgeServer
from tests.train_helpers import tiny_config, write_chat_data

HAS_PEFT = all(importlib.util.find_spec(m) for m in ("torch", "peft", "transformers"))


def cli(*args, home: Path | None = None):
    from brie.cli import app

    return CliRunner().invoke(app, [*map(str, args)], env={"BRIE_HOME": str(home)} if home else None)


def one_line_error(r, *words):
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.output
    for w in words:
        assert str(w) in lines[0], (w, lines[0])
    return lines[0]


@pytest.fixture
def trained(workspace, tiny_model_dir, tmp_path):
    data = write_chat_data(tmp_path / "chat", n_train=16, n_valid=8)
    run = train(workspace, tiny_config(tiny_model_dir, data, iters=4, save_every=2, eval_every=2, steps_per_report=1,
                                       val_batches=1), "home")
    assert run["status"] == "completed"
    return workspace, data


def test_pack_import_into_a_second_workspace_then_compare_and_eval_there(trained, tmp_path, monkeypatch):
    ws, data = trained
    here = run_rows.get_run(ws.store, "home")
    r = cli("runs", "pack", "home", "--checkpoints", "all", "--out", tmp_path / "move" / "home.tar.gz", "--json")
    assert r.exit_code == 0, r.output
    packed = json.loads(r.stdout)
    assert packed["checkpoints"] == [2, 4] and Path(packed["path"]).exists()
    with tarfile.open(packed["path"]) as t:  # not the base model: the run's own files only
        names = t.getnames()
    assert "home/brie-run.json" in names and not any("model.safetensors" in n for n in names)
    r = cli("runs", "pack", "home", "--checkpoints", "best", "--out", tmp_path / "move" / "best.zip")
    assert r.exit_code == 0 and "1 checkpoint: 4" in " ".join(r.stdout.split()), r.output

    other = Workspace.open(tmp_path / "elsewhere", create=True)
    monkeypatch.setenv("BRIE_HOME", str(other.root))
    r = cli("runs", "import", packed["path"], "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    there = run_rows.get_run(other.store, "home")
    assert out["kind"] == "brie-run" and there["status"] == "completed"
    # identity kept: config, checkpoints with their sha256, every metric, best and recommended
    for key in ("config_json", "model", "step", "total_steps", "best_step", "recommended_step", "method", "created_at"):
        assert there[key] == here[key], key
    strip = lambda rows, keys: [{k: c[k] for k in keys} for c in rows]  # noqa: E731
    ck_keys = ("step", "epoch", "train_loss", "val_loss", "adapter_sha256", "size_bytes")
    assert strip(run_rows.list_checkpoints(other.store, there["id"]), ck_keys) == \
        strip(run_rows.list_checkpoints(ws.store, here["id"]), ck_keys)
    m_keys = ("step", "name", "value")
    assert strip(run_rows.get_metrics(other.store, there["id"]), m_keys) == \
        strip(run_rows.get_metrics(ws.store, here["id"]), m_keys)
    assert (other.runs_dir / "home" / "metrics.jsonl").read_bytes() == (ws.runs_dir / "home" / "metrics.jsonl").read_bytes()
    # the zip, under another name, next to it
    r = cli("runs", "import", tmp_path / "move" / "best.zip", "--name", "home-best")
    assert r.exit_code == 0 and "Imported home-best" in r.stdout, r.output
    one_line_error(cli("runs", "import", packed["path"]), "'home' already exists")

    # and there it is a run like any other: compared, evaluated, exported
    (tmp_path / "s.jsonl").write_text('{"prompt": "add 2 3"}\n{"prompt": "add 4 5"}\n')
    assert cli("suites", "import", tmp_path / "s.jsonl", "--name", "s").exit_code == 0
    with JudgeServer(lambda call: {"text": "[[B]]"}) as server:
        r = cli("compare", "--suite", "s", "--a", "base", "--b", "home@best", "--max-tokens", "4", "--retries", "0",
                "--judge", f"openai-compatible:j@{server.url}/v1", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["valid"] == 2
    r = cli("eval", "--models", "home@best,home-best@4", "--benchmarks", f"perplexity:{data}", "--limit", "2", "--json")
    assert r.exit_code == 0, r.output
    ppl = [x["metrics"] for x in json.loads(r.stdout)["results"]]
    assert len(ppl) == 2 and ppl[0] == ppl[1]  # the same checkpoint through either import
    r = cli("export", "model", "home@best", "--no-fuse", "--out", tmp_path / "exported")
    assert r.exit_code == 0, r.output


def test_a_dpo_run_imports_as_dpo_with_its_judged_recommendation(workspace, tiny_model_dir, tmp_path):
    """The method (`dpo lora`, which the run screen's preference charts go by) and the evidence of a
    judged recommendation travel in the archive."""
    from tests.test_train_preference import write_pairs

    data = write_pairs(tmp_path / "prefs", n_train=4, n_valid=2)
    run = train(workspace, tiny_config(tiny_model_dir, data, method="dpo", iters=2, save_every=1, eval_every=2,
                                       steps_per_report=1, batch_size=2, val_batches=1), "pref")
    assert run["method"] == "dpo lora"
    evidence = json.dumps({"by": "judged", "suite": "s", "judge": "j", "rank": 1, "models_ranked": 3,
                           "score": 1040.0, "ci_low": 1001.0, "ci_high": 1080.0})
    run_rows.set_recommended(workspace.store, run["id"], 1, by="judged", evidence=evidence)
    out = tmp_path / "pref.tar.gz"
    assert cli("runs", "pack", "pref", "--checkpoints", "all", "--out", out).exit_code == 0
    other = Workspace.open(tmp_path / "elsewhere", create=True)
    r = cli("runs", "import", out, home=other.root)
    assert r.exit_code == 0, r.output
    there = run_rows.get_run(other.store, "pref")
    assert (there["method"], there["recommended_step"], there["recommended_by"]) == ("dpo lora", 1, "judged")
    assert there["recommended_evidence"] == evidence
    # the manifest is outside input: evidence the readers could not parse is refused
    with tarfile.open(out) as t:
        t.extractall(tmp_path / "unpacked", filter="data")
    manifest = tmp_path / "unpacked" / "pref" / "brie-run.json"
    packed = json.loads(manifest.read_text())
    packed["run"]["recommended_evidence"] = "{not json"
    manifest.write_text(json.dumps(packed))
    one_line_error(cli("runs", "import", manifest.parent, "--name", "pref-2", home=other.root),
                   "recommended_evidence is not a JSON object")


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as t:
        for info, data in members:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def test_malformed_and_hostile_sources_are_one_line_errors(trained, tmp_path, monkeypatch):
    ws, _ = trained
    bad = tmp_path / "bad"
    bad.mkdir()
    # path traversal, an absolute path, a link: refused before anything is written
    manifest = _file("r/brie-run.json", b"{}")
    for members, words in (
            ([manifest, _file("r/../../escaped.txt", b"x")], ["escaped.txt", "outside the run"]),
            ([manifest, _file("/tmp/abs.txt", b"x")], ["/tmp/abs.txt", "outside the run"]),
    ):
        archive = _tar(bad / "evil.tar.gz", members)
        one_line_error(cli("runs", "import", archive), archive, *words)
        archive.unlink()
    link = tarfile.TarInfo("r/config.yaml")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    archive = _tar(bad / "link.tar.gz", [manifest, (link, None)])
    one_line_error(cli("runs", "import", archive), archive, "r/config.yaml", "links")
    assert not (tmp_path.parent / "escaped.txt").exists() and not (tmp_path / "escaped.txt").exists()
    import zipfile

    with zipfile.ZipFile(bad / "evil.zip", "w") as z:
        z.writestr("r/brie-run.json", "{}")
        z.writestr("r/../../zipped.txt", "x")
    one_line_error(cli("runs", "import", bad / "evil.zip"), bad / "evil.zip", "zipped.txt", "outside the run")
    with zipfile.ZipFile(bad / "link.zip", "w") as z:
        info = zipfile.ZipInfo("r/config.yaml")
        info.external_attr = 0o120777 << 16  # a symbolic link
        z.writestr(info, "/etc/passwd")
    one_line_error(cli("runs", "import", bad / "link.zip"), bad / "link.zip", "links")
    with zipfile.ZipFile(bad / "twice.zip", "w") as z:
        z.writestr("r/brie-run.json", "{}")
        z.writestr("r/config.yaml", "a")
        z.writestr("r/Config.yaml", "b")  # the same file on macOS
    one_line_error(cli("runs", "import", bad / "twice.zip"), bad / "twice.zip", "r/Config.yaml", "twice")
    # a zip bomb: 8 MB of zeros in a few kilobytes, refused by its declared size before it is unpacked
    with zipfile.ZipFile(bad / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("r/brie-run.json", "{}")
        z.writestr("r/checkpoints/1/adapters.safetensors", bytes(8 << 20))
    assert (bad / "bomb.zip").stat().st_size < 100_000
    real_usage = shutil.disk_usage
    with monkeypatch.context() as m:  # a disk with 10 MB free
        m.setattr(shutil, "disk_usage", lambda p: real_usage(p)._replace(free=10 << 20))
        one_line_error(cli("runs", "import", bad / "bomb.zip"), bad / "bomb.zip", "unpacks to 8,388,610 bytes")
    (bad / "junk.tar.gz").write_bytes(b"not a tar at all")
    one_line_error(cli("runs", "import", bad / "junk.tar.gz"), bad / "junk.tar.gz", "cannot read the archive")

    # a packed file changed after packing
    r = cli("runs", "pack", "home", "--out", tmp_path / "home.tar.gz")
    assert r.exit_code == 0, r.output
    unpacked = tmp_path / "unpacked"
    with tarfile.open(tmp_path / "home.tar.gz") as t:
        t.extractall(unpacked, filter="data")
    folder = unpacked / "home"
    (folder / "checkpoints" / "4" / "added.txt").write_text("x")
    one_line_error(cli("runs", "import", folder, "--name", "x"), folder / "checkpoints" / "4" / "added.txt",
                   "not listed in brie-run.json")
    (folder / "checkpoints" / "4" / "added.txt").unlink()
    manifest = (folder / "brie-run.json").read_text()
    files = json.loads(manifest)["files"]
    del files["metrics.jsonl"]
    (folder / "brie-run.json").write_text(json.dumps({**json.loads(manifest), "files": files}))
    one_line_error(cli("runs", "import", folder, "--name", "x"), folder / "metrics.jsonl", "not listed in brie-run.json")
    (folder / "brie-run.json").write_text(manifest)
    with (folder / "metrics.jsonl").open("a") as f:
        f.write('{"step": 99, "train_loss": 0.1}\n')
    one_line_error(cli("runs", "import", folder, "--name", "x"), folder / "metrics.jsonl", "sha256", "brie-run.json")
    # a checkpoint's adapter changed since it was written (no manifest: trainer_state.json holds its sha256)
    (folder / "brie-run.json").unlink()
    shutil.copyfile(ws.runs_dir / "home" / "metrics.jsonl", folder / "metrics.jsonl")
    adapter = folder / "checkpoints" / "4" / "adapters.safetensors"
    data = bytearray(adapter.read_bytes())
    data[-1] ^= 1
    adapter.write_bytes(bytes(data))
    one_line_error(cli("runs", "import", folder, "--name", "x"), adapter, "sha256", "recorded when the checkpoint was written")
    (folder / "metrics.jsonl").write_text('{"step": 1, "train_loss": 2.0}\n{"step": "one"}\n')
    one_line_error(cli("runs", "import", folder, "--name", "x"), folder / "metrics.jsonl", "line 2")
    (folder / "config.yaml").write_text("rank: [1, 2\n")
    one_line_error(cli("runs", "import", folder, "--name", "x"), folder / "config.yaml", "invalid YAML")

    # adapter folders: bad JSON, no adapters, a truncated safetensors file, no base model here
    mlx = tmp_path / "mlx-lm"
    mlx.mkdir()
    (mlx / "adapter_config.json").write_text('{"model": "x", "num_layers": 2,')
    one_line_error(cli("runs", "import", mlx), mlx / "adapter_config.json", "invalid JSON")
    (mlx / "adapter_config.json").write_text(json.dumps({"model": str(ws.path_of(run_rows.get_run(ws.store, "home")["model"])),
                                                         "num_layers": 2}))
    one_line_error(cli("runs", "import", mlx), mlx, "no adapters.safetensors")
    (mlx / "0000010_adapters.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    one_line_error(cli("runs", "import", mlx), mlx / "0000010_adapters.safetensors", "corrupt safetensors")
    (mlx / "0000010_adapters.safetensors").unlink()
    shutil.copyfile(ws.runs_dir / "home" / "adapters.safetensors", mlx / "adapters.safetensors")
    (mlx / "adapter_config.json").write_text(json.dumps({"model": str(tmp_path / "gone"), "num_layers": 2}))
    one_line_error(cli("runs", "import", mlx), "base model", "--model")
    one_line_error(cli("runs", "import", tmp_path / "nothing-here"), tmp_path / "nothing-here", "no such file or folder")

    # nothing left behind by any of it
    assert sorted(p.name for p in ws.runs_dir.iterdir()) == ["home"]
    assert [r["name"] for r in run_rows.list_runs(ws.store)] == ["home"]


def test_mlx_lm_adapter_folder_imports_with_its_checkpoints(trained, tiny_model_dir, tmp_path):
    """An `mlx_lm.lora --adapter-path` folder: its config (mlx-lm's arguments, with keys brie does
    not know) and the numbered and final adapters; the imported checkpoints give mlx-lm's outputs."""
    import mlx.core as mx
    import numpy as np
    from mlx_lm import load

    from brie.models.registry import load_model
    from brie.models.specs import resolve_spec

    ws, _ = trained
    src = tmp_path / "adapters"
    src.mkdir()
    ck = ws.runs_dir / "home" / "checkpoints"
    shutil.copyfile(ck / "2" / "adapters.safetensors", src / "0000002_adapters.safetensors")
    shutil.copyfile(ck / "4" / "adapters.safetensors", src / "0000004_adapters.safetensors")
    shutil.copyfile(ck / "4" / "adapters.safetensors", src / "adapters.safetensors")
    trained_with = json.loads((ck / "4" / "adapter_config.json").read_text())
    # as mlx_lm.lora writes it: its arguments, the LoRA's shape in lora_parameters only (no brie
    # rank/alpha keys), and a scale other than the trained one, so the outputs agree only if the
    # import carries it
    config = {"model": str(tiny_model_dir), "fine_tune_type": "lora", "num_layers": trained_with["num_layers"],
              "lora_parameters": {**trained_with["lora_parameters"], "scale": 5.0}, "iters": 4, "batch_size": 4,
              "learning_rate": 1e-3, "data": "somewhere", "adapter_path": str(src), "resume_adapter_file": None,
              "some_future_mlx_lm_key": True}
    (src / "adapter_config.json").write_text(json.dumps(config))
    r = cli("runs", "import", src, "--name", "from-mlx-lm", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert [c["step"] for c in out["checkpoints"]] == [2, 4] and out["check"]["checked"] == 2
    assert json.loads(r.stdout)["run"]["config"]["alpha"] == 5.0 * trained_with["lora_parameters"]["rank"]
    spec = resolve_spec(ws, "from-mlx-lm@4")
    prompt = mx.array([[5, 6, 7, 8, 9]])
    ours, _ = load_model(ws, spec.model, adapter_path=spec.adapter_path)
    theirs, _ = load(str(tiny_model_dir), adapter_path=str(src))
    theirs.set_dtype(mx.float32)
    assert np.array_equal(np.array(ours(prompt)), np.array(theirs(prompt)))


@pytest.mark.skipif(not HAS_PEFT, reason="torch, peft, transformers not installed")
def test_peft_adapter_made_on_cpu_gives_peft_outputs_through_mlx(workspace, tiny_model_dir, tmp_path):
    """A LoRA made with peft on the CPU (top block only, rsLoRA scaling, random B so it has an
    effect) imports, and the checkpoint through brie's MLX loading gives peft's logits."""
    import mlx.core as mx
    import numpy as np
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    from brie.models.registry import load_model
    from brie.models.specs import resolve_spec
    from brie.training.transfer import PEFT_TOLERANCE

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"],
                                                 layers_to_transform=[1], use_rslora=True, task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    folder = tmp_path / "checkpoint-30"
    peft_model.save_pretrained(str(folder))
    assert json.loads((folder / "adapter_config.json").read_text())["base_model_name_or_path"] == str(tiny_model_dir)

    r = cli("runs", "import", folder, "--name", "from-peft", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["kind"] == "peft" and [c["step"] for c in out["checkpoints"]] == [30]
    assert out["check"]["peft_compared"] and out["check"]["peft_relative_gap"] <= PEFT_TOLERANCE
    assert (workspace.runs_dir / "from-peft" / "checkpoints" / "30" / "peft" / "adapter_model.safetensors").exists()
    # what cannot convert is refused in one line, not converted wrong: DoRA, a lora_B bias, an embedding's LoRA
    from safetensors.numpy import load_file, save_file

    odd = tmp_path / "odd"
    for key, value in (("use_dora", True), ("lora_bias", True)):
        shutil.copytree(folder, odd)
        config = json.loads((odd / "adapter_config.json").read_text())
        (odd / "adapter_config.json").write_text(json.dumps({**config, key: value}))
        one_line_error(cli("runs", "import", odd, "--name", "odd"), odd / "adapter_config.json", key)
        shutil.rmtree(odd)
    shutil.copytree(folder, odd)
    tensors = load_file(str(odd / "adapter_model.safetensors"))
    tensors["base_model.model.model.embed_tokens.lora_embedding_A"] = np.zeros((4, 8), np.float32)
    save_file(tensors, str(odd / "adapter_model.safetensors"))
    one_line_error(cli("runs", "import", odd, "--name", "odd"), odd / "adapter_model.safetensors",
                   "lora_embedding_A", "linear layers only")
    assert run_rows.get_run(workspace.store, "odd") is None and not (workspace.runs_dir / "odd").exists()

    # measured here too, apart from the import's own check: logits through MLX vs through peft
    spec = resolve_spec(workspace, "from-peft@best")
    ours, _ = load_model(workspace, spec.model, adapter_path=spec.adapter_path)
    plain, _ = load_model(workspace, spec.model)
    fresh = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    theirs = PeftModel.from_pretrained(fresh, str(folder)).eval()
    for tokens in ([3, 70, 71, 72, 73, 74], [10, 20, 30]):
        with torch.no_grad():
            expected = theirs(torch.tensor([tokens])).logits[0].numpy()
        got = np.array(ours(mx.array([tokens]))[0])
        effect = np.abs(expected - np.array(plain(mx.array([tokens]))[0])).max()
        assert effect > 0.1  # the adapter does change the outputs
        assert np.abs(got - expected).max() <= PEFT_TOLERANCE * effect, np.abs(got - expected).max()
