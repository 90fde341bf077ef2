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
          "webnlg": {"joint"}, "nyt_star": {"joint"}, "webnlg_star": {"joint"}}


FUSION_TASKS = {"muse_only_i": {"msa"}}  # fusions that serve fewer than all tasks


def test_every_dataset_is_known():
    assert set(DATASETS) == set(SERVES)


METHODS = [f for f in FUSIONS if OmegaConf.load(CONF / "fusion" / f"{f}.yaml").get("family") == f]
VARIANTS = sorted(set(FUSIONS) - set(METHODS))  # inherit their method's config: checked on one dataset


def test_every_fusion_names_its_method():
    assert set(METHODS) == {"text_only", "concat", "hvpnet", "muse", "pmei", "mase"}
    assert all(compose_config([f"fusion={v}", "output_dir=/tmp/x"]).fusion.family in METHODS for v in VARIANTS)


@pytest.mark.parametrize("fusion, task, dataset", [*itertools.product(METHODS, TASKS, DATASETS),
                                                   *itertools.product(VARIANTS, TASKS, ["synthetic"])])
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


PAPER_EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml")
                           if {"override /encoder": "paper"} in OmegaConf.load(p).defaults)  # not the CPU-sized ones


@pytest.mark.parametrize("experiment", PAPER_EXPERIMENTS)
def test_paper_experiments_compose_with_the_paper_encoders_and_several_seeds(experiment):
    cfg = compose_config([f"experiment={experiment}", "output_dir=/tmp/x"])
    method, dataset = experiment.split("_", 1)
    assert cfg.fusion.name == method and cfg.dataset.name == dataset
    assert cfg.encoder.text.name == "bert-base-uncased" and cfg.trainer.precision == "bf16-mixed"
    check_combination(cfg)
    seeds = str(OmegaConf.load(CONF / "experiment" / f"{experiment}.yaml").hydra.sweeper.params.seed).split(",")
    assert len(seeds) >= 3


@pytest.mark.parametrize("overrides, check", [
    (["hydra/launcher=local_parallel"], lambda h: h.launcher.n_jobs == 2 and "Joblib" in h.launcher._target_),
    (["hydra/launcher=slurm", "hydra.launcher.partition=gpu"],
     lambda h: h.launcher.gpus_per_node == 1 and h.launcher.partition == "gpu" and "Slurm" in h.launcher._target_),
    (["hparams_search=hvpnet_mner"], lambda h: "Optuna" in h.sweeper._target_ and "optim.lr" in h.sweeper.params),
    (["hparams_search=muse", "fusion=muse"], lambda h: h.sweeper.params["fusion.module.dropout"].startswith("choice")),
    (["hparams_search=pmei", "fusion=pmei", "task=joint"], lambda h: "fusion.module.alpha" in h.sweeper.params),
])
def test_launchers_and_searches_compose(overrides, check):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides + ["output_dir=/tmp/x"], return_hydra_config=True)
    assert check(cfg.hydra)


def test_pmei_search_ties_the_two_kl_weights():
    cfg = compose_config(["hparams_search=pmei", "fusion=pmei", "fusion.module.beta_e=0.5", "output_dir=/tmp/x"])
    assert cfg.fusion.module.beta_r == 0.5
