"""Config composition for every fusion x task x dataset, with config-time errors where they don't fit."""

from __future__ import annotations

import itertools

import pytest
from hydra.utils import get_class
from omegaconf import OmegaConf

from fusionlab.train import check_combination
from tests.conftest import CONF, compose_config

FUSIONS = sorted(p.stem for p in (CONF / "fusion").glob("*.yaml"))
TASKS = sorted(p.stem for p in (CONF / "task").glob("*.yaml"))
DATASETS = sorted(p.stem for p in (CONF / "dataset").glob("*.yaml"))
SERVES = {"synthetic": {"mner", "mre", "joint", "msa"}, "twitter2015": {"mner"}, "twitter2017": {"mner"},
          "mnre": {"mre", "joint"}, "mvsa_single": {"msa"}, "mvsa_multiple": {"msa"}, "nyt": {"joint"},
          "webnlg": {"joint"}}


FUSION_TASKS = {"muse_only_i": {"msa"}}  # fusions that serve fewer than all tasks


def test_every_dataset_is_known():
    assert set(DATASETS) == set(SERVES)


@pytest.mark.parametrize("fusion, task, dataset", itertools.product(FUSIONS, TASKS, DATASETS))
def test_composition(fusion, task, dataset):
    cfg = compose_config([f"fusion={fusion}", f"task={task}", f"dataset={dataset}", "output_dir=/tmp/x"])
    assert (cfg.fusion.name, cfg.task.name, cfg.dataset.name) == (fusion, task, dataset)
    get_class(cfg.task.head._target_)
    if task not in FUSION_TASKS.get(fusion, {task}):
        with pytest.raises(ValueError, match=f"task msa, not '{task}'"):
            check_combination(cfg)
    elif task in SERVES[dataset]:
        check_combination(cfg)
        assert set(cfg.dataset.tasks[task].splits) == {"train", "val", "test"}
    else:
        with pytest.raises(ValueError, match=f"dataset '{dataset}' serves tasks .* not '{task}'"):
            check_combination(cfg)


def test_paper_encoders_and_trainers_compose():
    cfg = compose_config(["encoder=paper", "trainer=ddp", "output_dir=/tmp/x"])
    assert cfg.encoder.text.name == "bert-base-uncased" and cfg.encoder.vision.name == "resnet50"
    assert cfg.trainer.strategy == "ddp" and cfg.trainer.precision == "bf16-mixed"


@pytest.mark.parametrize("experiment", sorted(p.stem for p in (CONF / "experiment").glob("*.yaml")))
def test_paper_experiments_compose_with_the_paper_encoders_and_several_seeds(experiment):
    cfg = compose_config([f"+experiment={experiment}", "output_dir=/tmp/x"])
    method, dataset = experiment.split("_", 1)
    assert cfg.fusion.name == method and cfg.dataset.name == dataset
    assert cfg.encoder.text.name == "bert-base-uncased" and cfg.trainer.precision == "bf16-mixed"
    check_combination(cfg)
    seeds = str(OmegaConf.load(CONF / "experiment" / f"{experiment}.yaml").hydra.sweeper.params.seed).split(",")
    assert len(seeds) >= 3
