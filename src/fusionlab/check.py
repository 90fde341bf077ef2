"""``python -m fusionlab.check dataset=<d> task=<t> [fusion=<f>]``: look at a dataset before training on it.

Reads every split as a run would (same readers, tokenizer, ``max_length`` and the fusion's image needs:
images, and crops for methods that read them) and prints, per split: sentences, entities and relations,
labels seen in val/test but not in train, images and crops found (``images_found``: sentences with a
readable image; ``crops_found``: filled crop slots) or missing (with the folder looked in), unreadable
image files, sentences truncated at ``max_length`` (and MRE pairs whose markers were cut), reader drops,
and sentences shared across splits. Nothing is trained, cached or written.
"""

from __future__ import annotations

import json
import logging

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from fusionlab import CONF
from fusionlab.config.checks import check_combination, method_declaration
from fusionlab.data.datamodule import FusionDataModule
from fusionlab.data.example import Example
from fusionlab.data.splits import SPLITS
from fusionlab.data.tagging import spans_from_tags

log = logging.getLogger(__name__)


def annotations(examples: list[Example]) -> dict[str, int]:
    """Entities (tagged or listed) and relations other than the no-relation label."""
    entities = sum(len(spans_from_tags(e.tags)) if e.tags else len(e.entities) for e in examples)
    relations = sum(r.label not in ("None", "NA") for e in examples for r in e.relations)
    return {"entities": entities, "relations": relations}


def shared_sentences(datamodule: FusionDataModule) -> dict[str, int]:
    """How many sentences of one split appear word for word in another."""
    words = {split: {tuple(e.words) for e in datamodule.splits[split].examples} for split in SPLITS}
    return {f"{a}&{b}": len(words[a] & words[b]) for a, b in (("train", "val"), ("train", "test"), ("val", "test"))}


def found(dataset, store, load_aux: bool) -> dict[str, int]:
    """Sentences whose image is there and readable, and (``load_aux``) crop slots filled with a readable crop."""
    def readable(path) -> bool:
        return path is not None and path.is_file() and str(path) not in store.unreadable

    counts = {"images_found": sum(readable(store.image_path(e.image)) for e in dataset.examples)}
    if load_aux:
        counts["crops_found"] = sum(readable(p) for e in dataset.examples for p in store.aux_paths(e.image, e.crop_key))
    return counts


def check(cfg: DictConfig) -> dict:
    """The per-split report of ``cfg.dataset`` for ``cfg.task`` and the fusion's image needs."""
    check_combination(cfg)
    needs = method_declaration(cfg)["needs"]
    text = instantiate(cfg.encoder.text)
    task = instantiate(cfg.task.head)
    text.add_special_tokens(list(task.data.special_tokens))
    # pixels, not cached features: images are found and opened, nothing is encoded or cached
    needs["image_mode"] = "pixels" if needs["image_mode"] != "none" else "none"
    datamodule = instantiate(cfg.data, dataset=OmegaConf.to_container(cfg.dataset, resolve=True), task=task,
                             tokenizer=text.tokenizer, seed=cfg.seed, cache_dir=None, **needs)  # writes nothing
    datamodule.setup()
    stats = datamodule.stats
    report = {"dataset": cfg.dataset.name, "task": cfg.task.name, "fusion": cfg.fusion.name,
              "release": stats["release"], "files": stats["files"],
              "max_length": cfg.data.max_length, "labels": task.data.vocabulary(), "splits": {}}
    for split in SPLITS:
        dataset, store = datamodule.splits[split], datamodule.stores[split]
        row = {**stats["splits"][split], **annotations(dataset.examples),
               "unseen_labels": stats.get("unseen_labels", {}).get(split, {}),
               "dropped": stats.get("dropped", {}).get(split, {})}
        if needs["image_mode"] != "none":
            row.update(found(dataset, store, needs["load_aux"]), image_dir=str(store.image_dir))
        if needs["load_aux"]:
            row.update(aux_image_dir=str(store.aux_dir), aux_mapping_entries=len(store.aux_mapping))
        report["splits"][split] = row
    report["unreadable_images"] = len(datamodule.unreadable)
    report["shared_sentences"] = shared_sentences(datamodule)
    report.update({key: stats[key] for key in ("no_images_found", "no_crops_found", "aux_mapping_missing")
                   if key in stats})
    return report


def render(report: dict) -> str:
    """The report as a Markdown table (one column per split) and the cross-split lines."""
    rows = [key for key in report["splits"]["train"]]
    lines = [f"# {report['dataset']} / {report['task']} (fusion {report['fusion']}, max_length {report['max_length']})",
             "", f"release: {report['release']} (fusionlab.data.releases)",
             *[f"  {split}: {f['path']} ({f['bytes']} bytes, sha256 {f['sha256']})" for split, f in report["files"].items()],
             "", "| | " + " | ".join(SPLITS) + " |", "|---|" + "---|" * len(SPLITS)]
    for key in rows:
        values = [report["splits"][split].get(key, "") for split in SPLITS]
        lines.append(f"| {key} | " + " | ".join(json.dumps(v) if isinstance(v, dict) else str(v) for v in values) + " |")
    lines += ["", f"sentences shared across splits: {report['shared_sentences']}",
              f"unreadable image files: {report['unreadable_images']}"]
    lines += [f"{key}: {report[key]}" for key in ("no_images_found", "no_crops_found", "aux_mapping_missing")
              if key in report]
    return "\n".join(lines) + "\n"


@hydra.main(version_base="1.3", config_path=CONF, config_name="check")
def main(cfg: DictConfig) -> None:
    print(render(check(cfg)))


if __name__ == "__main__":
    main()
