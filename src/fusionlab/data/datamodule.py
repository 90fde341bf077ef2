"""One LightningDataModule for every task, dataset and fusion method: it prepares the splits
(``fusionlab.data.splits``), counts what they hold (``fusionlab.data.audit``), and serves them: loaders and
their samplers (seeded per epoch, split across DDP processes), the frozen vision encoder's cached features
in place of pixels, and the position inside an epoch that a mid-epoch resume continues from.
"""

from __future__ import annotations

import logging
import os
import warnings

import lightning as L
import torch
from lightning.pytorch.accelerators import CUDAAccelerator
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from lightning.pytorch.utilities.warnings import PossibleUserWarning
from torch.utils.data import DataLoader, Dataset, Subset

from fusionlab.data import audit
from fusionlab.data.corruption import check as check_corruption
from fusionlab.data.dataset import Collator, MultimodalDataset
from fusionlab.data.example import Example
from fusionlab.data.feature_cache import filled_cache
from fusionlab.data.images import ImageStore
from fusionlab.data.resumable import EpochSampler
from fusionlab.data.splits import SPLITS, Preparation, prepare_splits
from fusionlab.data.task import DataTask

log = logging.getLogger(__name__)

# Lightning warns on every mid-epoch resume unless the DataLoader object keeps its own state. Here the
# position is kept by the datamodule (``batches_done`` in the checkpoint) and applied by ``EpochSampler``,
# so the warning would be false; ``train_dataloader`` logs what the resume does instead.
warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch ended",
                        category=PossibleUserWarning)
IMAGE_MODES = ("none", "pixels", "features")


class FusionDataModule(L.LightningDataModule):
    """``dataset`` is the composed ``conf/dataset`` node (readers instantiated); ``image_mode`` and
    ``load_aux`` come from the fusion class."""

    def __init__(self, dataset: dict, task: DataTask, tokenizer, batch_size: int = 32, eval_batch_size: int = 64,
                 max_length: int = 128, num_workers: int | str = 0, sample_ratio: float = 1.0, seed: int = 1,
                 image_size: int = 224, max_aux: int = 3, image_mode: str = "pixels", load_aux: bool = False,
                 target_pixels: int | None = None, test_images: str = "clean", test_corruption: dict | None = None,
                 feature_cache: bool = True, cache_dir: str = ".cache/features", pin_memory: bool | str = "auto"):
        super().__init__()
        if image_mode not in IMAGE_MODES:
            raise ValueError(f"image_mode must be one of {IMAGE_MODES}, not {image_mode!r}")
        if task.name not in dataset["tasks"]:
            raise ValueError(f"dataset {dataset['name']!r} serves tasks {sorted(dataset['tasks'])}, not {task.name!r}")
        if not 0 < sample_ratio <= 1:
            raise ValueError(f"sample_ratio must be in (0, 1], not {sample_ratio}")
        self.source, self.task, self.tokenizer = dataset, task, tokenizer
        self.batch_size, self.eval_batch_size, self.max_length = batch_size, eval_batch_size, max_length
        self.num_workers, self.pin_memory, self.sample_ratio, self.seed = num_workers, pin_memory, sample_ratio, seed
        self.image_size, self.max_aux, self.image_mode, self.load_aux = image_size, max_aux, image_mode, load_aux
        self.target_pixels = target_pixels  # a generation target of this size (MuSE's image decoder)
        self.test_images = test_images
        self.corruption = dict(test_corruption or {"kind": "none", "level": 0.0})  # robustness curves
        check_corruption(self.corruption["kind"], self.corruption["level"])
        self.use_cache, self.cache_dir = feature_cache, cache_dir
        self.vision: torch.nn.Module | None = None
        self.splits: dict[str, MultimodalDataset] = {}
        self.stats: dict = {}
        self.groups: list[str] = []  # evaluation subsets of the test split (see _attach_groups)
        self._resume_batches = 0  # set from a mid-epoch checkpoint
        self.stores: dict[str, ImageStore] = {}
        self.unreadable: dict[str, str] = {}  # every unreadable image or crop file (path -> why), counted once

    def attach_vision(self, encoder: torch.nn.Module) -> None:
        """Serve cached features instead of pixels when the vision encoder is frozen."""
        if self.image_mode == "pixels" and self.use_cache and getattr(encoder, "frozen", False):
            self.vision, self.image_mode = encoder, "features"

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        how = Preparation(self.seed, self.sample_ratio, self.test_images, self.corruption, self.load_aux, self.max_aux,
                          self.image_size, self.cache_dir)
        prepared = prepare_splits(self.source, self.task, how, self.tokenizer, self.unreadable)
        examples, self.stores, self.groups = prepared.examples, prepared.stores, prepared.groups
        self.stats.update(prepared.stats)
        name = self.source["name"]
        audit.unseen_labels(name, self.task, examples, self.stats)
        cache = template = None
        if self.image_mode == "features":
            cache, template, self.stats["feature_cache"] = filled_cache(self.cache_dir, self.vision, examples,
                                                                        self.stores, self.load_aux, self.image_size)
        self.stats["splits"] = {}
        for split in SPLITS:
            self.splits[split] = MultimodalDataset(examples[split], self.task, self.tokenizer, self.max_length,
                                                   self.stores[split], self.image_mode, self.load_aux, cache, template,
                                                   self.target_pixels)
            self.stats["splits"][split] = audit.split_counts(
                name, split, self.splits[split], self.stores[split], task_name=self.task.name,
                reads_images=self.image_mode != "none", load_aux=self.load_aux, max_aux=self.max_aux,
                max_length=self.max_length)
        if self.image_mode != "none":
            audit.absent_modalities(name, self.stats, self.stores, self.unreadable, load_aux=self.load_aux,
                                    max_aux=self.max_aux, aux_mapping=self.source.get("aux_mapping"))

    def serve(self, examples: list[Example]) -> MultimodalDataset:
        """New inputs (prediction) without the dataset: image paths as given, pixels through the vision
        encoder (no feature cache is read or filled), no object crops (their slots are masked)."""
        store = ImageStore("/", None, {}, self.max_aux, self.image_size,  # inputs name images by absolute path
                           unreadable=self.unreadable)
        mode = "none" if self.image_mode == "none" else "pixels"
        return MultimodalDataset(examples, self.task, self.tokenizer, self.max_length, store, mode,
                                 self.load_aux, None, None, self.target_pixels)

    def loader(self, dataset: Dataset, train: bool = False) -> DataLoader:
        collate = Collator(self.task, self.tokenizer.pad_token_id or 0)
        sampler = None
        trainer = self.trainer
        replicas, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
        if train:  # shuffled per epoch from (seed, epoch), this process's share: replayable on resume
            sampler = EpochSampler(len(dataset), self.seed, replicas, rank)
        elif replicas > 1:
            # evaluation under DDP: each sample on exactly one process (no padding duplicates);
            # the torchmetrics states are summed across processes
            sampler = UnrepeatedDistributedSampler(dataset, num_replicas=replicas, rank=rank, shuffle=False)
        workers = self.workers()
        return DataLoader(dataset, batch_size=self.batch_size if train else self.eval_batch_size, sampler=sampler,
                          num_workers=workers, collate_fn=collate, persistent_workers=workers > 0,
                          pin_memory=self._on_gpu() if self.pin_memory == "auto" else bool(self.pin_memory))

    def _on_gpu(self) -> bool:
        trainer = self.trainer
        return trainer is not None and isinstance(trainer.accelerator, CUDAAccelerator)

    def workers(self) -> int:
        """``num_workers: auto``: none on CPU (the training process uses every core), on GPU a few per
        device (decoding images and collating keep up with the device)."""
        if self.num_workers != "auto":
            return int(self.num_workers)
        if not self._on_gpu():
            return 0
        return max(1, min(8, (os.cpu_count() or 2) // max(1, self.trainer.num_devices)))

    def estimation_loader(self, samples: int | None = None) -> DataLoader:
        """The first ``samples`` training sentences in file order, whole on every process (an
        estimate every process must agree on, such as MASE's E-step)."""
        train = self.splits["train"]
        subset = Subset(train, range(min(samples or len(train), len(train))))
        return DataLoader(subset, batch_size=self.eval_batch_size, num_workers=self.workers(),
                          collate_fn=Collator(self.task, self.tokenizer.pad_token_id or 0))

    def on_before_batch_transfer(self, batch, dataloader_idx):
        """Count, once per file, the unreadable images DataLoader workers found (see ``_newly_unreadable``)."""
        for path, why in batch.pop("unreadable", {}).items():
            self.unreadable.setdefault(path, why)
        return batch

    def train_dataloader(self):
        loader = self.loader(self.splits["train"], train=True)
        if self._resume_batches:
            log.info("resuming mid-epoch: the epoch's first %d batches (of this process's share) were trained "
                     "before the checkpoint; training continues from batch %d in the same order",
                     self._resume_batches, self._resume_batches + 1)
        loader.sampler.start, self._resume_batches = self._resume_batches * self.batch_size, 0
        return loader

    def state_dict(self) -> dict:
        """Kept in every checkpoint: how many batches of the current epoch this process trained on (the same
        on every process: each trains on its own share, batch for batch); 0 once the epoch's batches are all
        done (a checkpoint after its validation), as a resume from it starts the next epoch."""
        trainer = self.trainer
        done = trainer.fit_loop.epoch_loop.batch_progress.current.processed if trainer else 0
        return {"batches_done": done if trainer and done < trainer.num_training_batches else 0}

    def load_state_dict(self, state: dict) -> None:
        self._resume_batches = state.get("batches_done", 0)

    def val_dataloader(self):
        return self.loader(self.splits["val"])

    def test_dataloader(self):
        return self.loader(self.splits["test"])
