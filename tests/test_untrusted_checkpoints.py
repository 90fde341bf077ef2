"""A checkpoint or a results.json is untrusted input: predict and evaluate rebuild the run from conf/ by the
names it gives and take only checked values from it, so no target it names is ever instantiated; evaluate
refuses a checkpoint that another run wrote."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from fusionlab import CONF
from fusionlab.config.stored import NOT_READ, trusted_config
from fusionlab.evaluate import evaluate
from fusionlab.sharing.loading import load_assembly
from fusionlab.train import run
from tests.conftest import compose_config

CPU = OmegaConf.create({"_target_": "lightning.Trainer", "accelerator": "cpu", "devices": 1,
                        "enable_progress_bar": False, "enable_model_summary": False})
# every node of a stored config that holds a _target_ (the dataset's reader too), and one that holds none
PLACES = ["fusion.module", "encoder.text", "encoder.vision", "task.head", "data", "dataset.tasks.mner.reader",
          "data.test_corruption"]
PAYLOADS = ["builtins.open", "torch.load", "torch.hub.load_state_dict_from_url"]


class CreateOnUnpickling:
    """What a malicious pickle does when it is loaded: here, create a file."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), "w")


def payload(name: str, folder: Path) -> tuple[dict, list[Path]]:
    """A config node that runs ``name`` when instantiated, and the files it would then create."""
    pickled = folder / "payload.pt"
    torch.save(CreateOnUnpickling(folder / "unpickled"), pickled)
    nodes = {"builtins.open": {"file": str(folder / "opened"), "mode": "w"},
             "torch.load": {"f": str(pickled), "weights_only": False},
             "torch.hub.load_state_dict_from_url": {"url": pickled.as_uri(), "model_dir": str(folder / "hub"),
                                                    "weights_only": False}}
    return {"_target_": name, **nodes[name]}, [folder / "opened", folder / "unpickled", folder / "hub"]


def place_at(config: dict, place: str, node: dict) -> None:
    *parents, last = place.split(".")
    for key in parents:
        config = config[key]
    config[last] = node


def refusal(source: str, place: str, name: str) -> str:
    return rf"{re.escape(source)}: {re.escape(place)}\._target_='{re.escape(name)}', but the registered config holds"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A tiny concat mner run (frozen vision: cached features)."""
    root = tmp_path_factory.mktemp("trained")
    run(compose_config(["encoder=tiny", "logger=none", f"output_dir={root}/run", f"cache_root={root}/cache",
                        "dataset.synthetic.train=32", "dataset.synthetic.val=16", "dataset.synthetic.test=16",
                        "data.batch_size=16", "trainer.max_epochs=1", "trainer.enable_progress_bar=false",
                        "fusion=concat"]))
    return root / "run"


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("name", PAYLOADS)
def test_predict_never_instantiates_a_target_a_checkpoint_names(trained, tmp_path, name, place):
    saved = torch.load(trained / "checkpoints" / "best.ckpt", weights_only=True)
    node, created = payload(name, tmp_path)
    place_at(saved["fusionlab"]["config"], place, node)
    checkpoint = tmp_path / "downloaded.ckpt"
    torch.save(saved, checkpoint)
    with pytest.raises(ValueError, match=refusal(f"{checkpoint} (its stored config)", place, name)):
        load_assembly(checkpoint)
    assert [path for path in created if path.exists()] == []


@pytest.mark.parametrize("place, name", zip(PLACES, PAYLOADS * 3))
def test_evaluate_never_instantiates_a_target_a_results_file_names(trained, tmp_path, place, name):
    results = json.loads((trained / "results.json").read_text())
    node, created = payload(name, tmp_path)
    place_at(results["config"], place, node)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "results.json").write_text(json.dumps(results))
    with pytest.raises(ValueError, match=refusal(str(tmp_path / "run" / "results.json"), place, name)):
        evaluate(tmp_path / "run", trained / "checkpoints" / "best.ckpt", "clean", CPU)
    assert [path for path in created if path.exists()] == []


def test_evaluate_refuses_a_checkpoint_another_run_wrote(trained, tmp_path):
    saved = torch.load(trained / "checkpoints" / "best.ckpt", weights_only=True)
    saved["fusionlab"]["config"]["output_dir"] = str(tmp_path / "other_run")
    torch.save(saved, tmp_path / "other.ckpt")
    with pytest.raises(ValueError, match=rf"checkpoint={re.escape(str(tmp_path / 'other.ckpt'))} was written by the "
                                         rf"run trained in {re.escape(str(tmp_path / 'other_run'))}, not by the run "
                                         rf"of run_dir={re.escape(str(trained))} \(trained in "):
        evaluate(trained, tmp_path / "other.ckpt", "shuffled", CPU)
    assert not (trained / "evaluation_shuffled.json").exists()


@pytest.mark.parametrize("overrides", [
    *([f"experiment={path.stem}"] for path in sorted((Path(CONF) / "experiment").glob("*.yaml"))),
    ["dataset=mvsa_multiple", "task=msa", "dataset.layout=clmlf"],  # the reader follows the layout
    ["fusion=pmei", "fusion/base=concat", "fusion.base.module.stages=last"],  # PMEI's base, a config of its own
])
def test_a_stored_config_rebuilds_as_it_was(overrides):
    stored = OmegaConf.to_container(compose_config([*overrides, "output_dir=/runs/a"]), resolve=True,
                                    enum_to_str=True)
    rebuilt = OmegaConf.to_container(trusted_config(stored, "results.json"), resolve=True, enum_to_str=True)
    assert {k: v for k, v in rebuilt.items() if k not in NOT_READ} == \
        {k: v for k, v in stored.items() if k not in NOT_READ}


@pytest.mark.parametrize("change, message", [
    ({"fusion": {"name": "bogus"}}, r"fusion.name='bogus' is not a registered fusion \(conf/fusion: concat, "),
    ({"task": {"name": None}}, r"task.name=None is not a registered task \(conf/task: joint, mner, mre, msa\)"),
    ({"fusion": {"module": {"routing": "sideways"}}},
     r"fusion.module.routing: Invalid value 'sideways', expected one of \[gate, flat, groups\]"),
    ({"data": {"unknown": 1}}, r"data.unknown: Key 'unknown' is not in struct"),
    ({"data": {"max_length": [512]}}, "data.max_length is a list, but the registered config holds a value there"),
    ({"data": {"cache_dir": "${oc.env:HOME}"}},
     r"data.cache_dir='\$\{oc.env:HOME\}' is an interpolation; a run's config is stored resolved"),
    ({"data": {"test_corruption": {"_args_": ["x"]}}},
     r"data.test_corruption._args_=\['x'\], but the registered config holds nothing there"),
])
def test_a_stored_value_that_conf_or_the_schema_does_not_allow_is_refused_naming_its_key(change, message):
    stored = OmegaConf.to_container(compose_config(["output_dir=/runs/a"]), resolve=True, enum_to_str=True)
    tampered = OmegaConf.to_container(OmegaConf.merge(stored, change))
    with pytest.raises(ValueError, match=rf"^results.json: {message}"):
        trusted_config(tampered, "results.json")
