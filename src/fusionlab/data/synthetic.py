"""The embedded synthetic benchmark: real files, in the formats the readers parse, where
the image matters for some labels and is irrelevant for others.

Every sentence names one or two made-up entities. For each label the generator decides
where its evidence lives:

- **text cue** (share ``1 - p_image_cue``): a cue word fixes the label (``mr`` -> PER,
  ``member of`` -> a relation, ``love`` -> positive). With probability ``p_irrelevant``
  the image then shows a distractor that contradicts the text.
- **image cue**: the text is neutral (``look at``, ``with``, ``posted``) and only the image
  decides: the colour of the shape for an entity type, the arrangement of two shapes
  for a relation, a glyph for sentiment. Image-cued labels follow a skewed prior so that
  the best text-only guess is well defined.

Names are drawn independently of labels, so text alone cannot memorise them. For each
task and split the generator writes ``ceiling.json``: the best score a text-only model
can reach, i.e. every text-cued label right and, for image-cued ones, the best constant
guess (any label, or none) under the task's own metric. ``groups.json`` names each sample's
group (the text decides / the text decides against an irrelevant image / the image decides),
which the datamodule attaches so that test metrics are also reported per group.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from fusionlab.data.example import Example, Relation, Span
from fusionlab.data.tagging import tags_from_spans

SPLITS = ("train", "val", "test")
GENERATOR_VERSION = 2  # part of every fingerprint: bump when the generator's output changes
# Where a sample's evidence lives (written to groups.json, scored separately at test time).
CLEAN, IRRELEVANT_IMAGE, IMAGE_DECIDES = "text_decides", "text_decides_irrelevant_image", "image_decides"
TYPE_COLOURS = {"PER": (220, 40, 40), "LOC": (40, 180, 60), "ORG": (40, 80, 220), "MISC": (230, 200, 30)}
TYPE_CUES = {"PER": ["mr", "dr", "singer"], "LOC": ["in", "near", "from"],
             "ORG": ["company", "club", "team"], "MISC": ["event", "show", "game"]}
IMAGE_TYPE_PRIOR = {"PER": 0.55, "LOC": 0.15, "ORG": 0.15, "MISC": 0.15}
ENTITY_NEUTRAL = ["look", "at"]
TEXT_RELATIONS = {"member_of": ["member", "of"], "part_of": ["part", "of"]}
IMAGE_RELATIONS = {"beside": 0.4, "above": 0.3, "None": 0.3}
RELATION_NEUTRAL = ["with"]
SENTIMENT_CUES = {"positive": ["love", "great"], "negative": ["hate", "awful"], "neutral": ["saw", "today"]}
IMAGE_SENTIMENT_PRIOR = {"positive": 0.5, "negative": 0.25, "neutral": 0.25}
SENTIMENT_GLYPHS = {"positive": ("up", (40, 180, 60)), "negative": ("down", (220, 40, 40)),
                    "neutral": ("square", (128, 128, 128))}
SENTIMENT_NEUTRAL = ["posted"]
FILLER = ["the", "a", "this", "new", "photo", "news", "we", "our", "about", "and", "very", "big", "old", "here", "so"]
SYLLABLES = ["ka", "lo", "mi", "ren", "zu", "tor", "bel", "qua", "nix", "sol", "dra", "vin", "pe", "gor", "ul"]


@dataclass(frozen=True)
class SyntheticConfig:
    seed: int = 0
    train: int = 800
    val: int = 200
    test: int = 200
    image_size: int = 64
    p_image_cue: float = 0.6
    p_irrelevant: float = 0.3
    n_names: int = 400

    @property
    def fingerprint(self) -> str:
        key = json.dumps({"version": GENERATOR_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha1(key.encode()).hexdigest()[:12]


@dataclass
class Shape:
    kind: str  # circle, square, up, down
    colour: tuple[int, int, int]
    box: tuple[int, int, int, int]


def _group(image_decides: bool, irrelevant: bool) -> str:
    return IMAGE_DECIDES if image_decides else IRRELEVANT_IMAGE if irrelevant else CLEAN


def _pick(rng: random.Random, prior: dict[str, float]) -> str:
    return rng.choices(list(prior), weights=list(prior.values()))[0]


class SyntheticBenchmark:
    """Writes one task's files under ``root/<task>`` with its text-only ceilings."""

    TASKS = ("mner", "mre", "joint", "msa")

    def __init__(self, root: str | Path, config: SyntheticConfig = SyntheticConfig()):
        self.root, self.config = Path(root), config

    def ensure(self, task: str) -> dict:
        """Generate ``task`` unless its folder holds this exact configuration; return its ceilings.
        A file lock makes parallel runs (joblib sweeps, DDP ranks) wait for one generator."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / f".{task}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            stamp = self.root / task / "ceiling.json"
            if stamp.exists():
                ceilings = json.loads(stamp.read_text())
                if ceilings.get("fingerprint") == self.config.fingerprint:
                    return ceilings
            return self.generate(task)

    def generate(self, task: str) -> dict:
        if task not in self.TASKS:
            raise ValueError(f"the synthetic benchmark has tasks {self.TASKS}, not {task!r}")
        cfg = self.config
        rng = random.Random(f"{cfg.seed}-{task}")
        self.names = ["".join(rng.sample(SYLLABLES, rng.choice([2, 3]))).capitalize() for _ in range(cfg.n_names)]
        folder = self.root / task
        make, write = getattr(self, f"_{task}"), _WRITERS[task]
        ceilings = {"fingerprint": cfg.fingerprint, "config": asdict(cfg)}
        mapping: dict[str, list[str]] = {}
        groups: dict[str, str] = {}
        for split in SPLITS:
            samples = [make(rng, f"{split}_{i}.png") for i in range(getattr(cfg, split))]
            for example, shapes, _ in samples:
                mapping[example.image] = self._draw(rng, folder, example.image, shapes)
                groups[example.image] = example.group
            write(folder, split, [example for example, _, _ in samples])
            ceilings[split] = _CEILINGS[task]([(example, cued) for example, _, cued in samples])
        (folder / "aux_mapping.json").write_text(json.dumps(mapping))
        (folder / "groups.json").write_text(json.dumps(groups))
        (folder / "ceiling.json").write_text(json.dumps(ceilings, indent=2))
        return ceilings

    # --- sentences -------------------------------------------------------------------------
    def _name(self, rng: random.Random) -> list[str]:
        return rng.sample(self.names, rng.choice([1, 1, 2]))

    def _filler(self, rng: random.Random, low: int = 1, high: int = 4) -> list[str]:
        return rng.choices(FILLER, k=rng.randint(low, high))

    def _shape(self, rng: random.Random, colour, kind: str | None = None, region=(0.0, 0.0, 1.0, 1.0)) -> Shape:
        size = self.config.image_size
        x0, y0, x1, y1 = (int(v * size) for v in region)
        side = rng.randint(size // 4, size // 3)
        left, top = rng.randint(x0, max(x0, x1 - side)), rng.randint(y0, max(y0, y1 - side))
        return Shape(kind or rng.choice(["circle", "square"]), colour, (left, top, left + side, top + side))

    def _mner(self, rng, image):
        words, spans, cued = self._filler(rng, 0, 2), [], []
        image_slot = rng.random() < self.config.p_image_cue
        colour = None
        for slot in range(rng.choice([1, 2])):
            by_image = image_slot and slot == 0
            kind = _pick(rng, IMAGE_TYPE_PRIOR) if by_image else rng.choice(list(TYPE_CUES))
            words += ENTITY_NEUTRAL if by_image else [rng.choice(TYPE_CUES[kind])]
            name = self._name(rng)
            spans.append(Span(len(words), len(words) + len(name), kind))
            cued.append(by_image)
            words += name + self._filler(rng)
            if by_image or colour is None:
                colour = TYPE_COLOURS[kind]
        irrelevant = not image_slot and rng.random() < self.config.p_irrelevant
        if irrelevant:
            colour = rng.choice([c for c in TYPE_COLOURS.values() if c != colour])
        shapes = [self._shape(rng, colour)]
        example = Example(words, image, tags=tags_from_spans(spans, len(words)), entities=spans,
                          group=_group(image_slot, irrelevant))
        return example, shapes, cued

    def _pair(self, rng, image):
        """Two entities and a relation, its evidence in the text or in the arrangement of two shapes."""
        by_image = rng.random() < self.config.p_image_cue
        label = _pick(rng, IMAGE_RELATIONS) if by_image else rng.choice(list(TEXT_RELATIONS))
        head_name, tail_name = self._name(rng), self._name(rng)
        words = self._filler(rng, 0, 2)
        head = Span(len(words), len(words) + len(head_name))
        words += head_name + (RELATION_NEUTRAL if by_image else TEXT_RELATIONS[label])
        tail = Span(len(words), len(words) + len(tail_name))
        words += tail_name + self._filler(rng)
        irrelevant = not by_image and rng.random() < self.config.p_irrelevant
        # an irrelevant image arranges the shapes as a relation the text does not state
        arrangement = label if by_image else rng.choice(["beside", "above"]) if irrelevant else "None"
        colour_a, colour_b = rng.sample(list(TYPE_COLOURS.values()), 2)
        regions = {"beside": ((0, 0.25, 0.5, 0.75), (0.5, 0.25, 1, 0.75)),
                   "above": ((0.25, 0, 0.75, 0.5), (0.25, 0.5, 0.75, 1)),
                   "None": ((0, 0, 0.5, 0.5), (0.5, 0.5, 1, 1))}[arrangement]
        shapes = [self._shape(rng, colour_a, "circle", regions[0]), self._shape(rng, colour_b, "square", regions[1])]
        example = Example(words, image, entities=[head, tail], relations=[Relation(head, tail, label)],
                          group=_group(by_image, irrelevant))
        return example, shapes, [by_image]

    _mre = _pair

    def _joint(self, rng, image):
        example, shapes, cued = self._pair(rng, image)
        example.relations = [r for r in example.relations if r.label != "None"]
        return example, shapes, cued

    def _msa(self, rng, image):
        by_image = rng.random() < self.config.p_image_cue
        label = _pick(rng, IMAGE_SENTIMENT_PRIOR) if by_image else rng.choice(list(SENTIMENT_CUES))
        cue = SENTIMENT_NEUTRAL if by_image else [rng.choice(SENTIMENT_CUES[label])]
        words = self._filler(rng, 1, 3) + cue + self._name(rng) + self._filler(rng)
        glyph = label
        irrelevant = not by_image and rng.random() < self.config.p_irrelevant
        if irrelevant:
            glyph = rng.choice([g for g in SENTIMENT_GLYPHS if g != label])
        kind, colour = SENTIMENT_GLYPHS[glyph]
        example = Example(words, image, label=label, group=_group(by_image, irrelevant))
        return example, [self._shape(rng, colour, kind)], [by_image]

    # --- images ----------------------------------------------------------------------------
    def _draw(self, rng: random.Random, folder: Path, name: str, shapes: list[Shape]) -> list[str]:
        """Draw the global image with a grey distractor; save one crop per shape."""
        size = self.config.image_size
        background = tuple(rng.randint(200, 250) for _ in range(3))
        canvas = Image.new("RGB", (size, size), background)
        pen = ImageDraw.Draw(canvas)
        shapes = shapes + [self._shape(rng, (90, 90, 90), "circle")]
        for shape in shapes:
            x0, y0, x1, y1 = shape.box
            if shape.kind == "circle":
                pen.ellipse(shape.box, fill=shape.colour)
            elif shape.kind == "square":
                pen.rectangle(shape.box, fill=shape.colour)
            else:
                apex, base = (y0, y1) if shape.kind == "up" else (y1, y0)
                pen.polygon([((x0 + x1) // 2, apex), (x0, base), (x1, base)], fill=shape.colour)
        (folder / "images").mkdir(parents=True, exist_ok=True)
        (folder / "aux_images").mkdir(parents=True, exist_ok=True)
        canvas.save(folder / "images" / name)
        crops = []
        for index, shape in enumerate(shapes[:3]):
            crop = f"{Path(name).stem}_crop{index}.png"
            canvas.crop(shape.box).save(folder / "aux_images" / crop)
            crops.append(crop)
        return crops


# --- writers: the same formats the readers parse ---------------------------------------------
def _write_conll(folder: Path, split: str, examples: list[Example]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    blocks = ["\n".join([f"IMGID:{Path(e.image).stem}"] + [f"{w}\t{t}" for w, t in zip(e.words, e.tags)])
              for e in examples]
    (folder / f"{split}.txt").write_text("\n\n".join(blocks) + "\n")


def _write_mnre(folder: Path, split: str, examples: list[Example]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for e in examples:
        rel = e.relations[0]
        lines.append(repr({"token": e.words, "h": {"name": " ".join(e.words[rel.head.start:rel.head.end]),
                                                    "pos": [rel.head.start, rel.head.end]},
                           "t": {"name": " ".join(e.words[rel.tail.start:rel.tail.end]),
                                 "pos": [rel.tail.start, rel.tail.end]},
                           "img_id": e.image, "relation": rel.label}))
    (folder / f"{split}.txt").write_text("\n".join(lines) + "\n")


def _write_casrel(folder: Path, split: str, examples: list[Example]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    phrase = lambda e, s: " ".join(e.words[s.start:s.end])  # noqa: E731
    records = [{"text": " ".join(e.words), "img_id": e.image,
                "triple_list": [[phrase(e, r.head), r.label, phrase(e, r.tail)] for r in e.relations]}
               for e in examples]
    (folder / f"{split}.json").write_text("\n".join(json.dumps(r) for r in records) + "\n")


def _write_mvsa(folder: Path, split: str, examples: list[Example]) -> None:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    lines = ["ID\ttext,image"]
    for e in examples:
        post = Path(e.image).stem
        (folder / "data" / f"{post}.txt").write_text(" ".join(e.words))
        lines.append(f"{post}\t{e.label},{e.label}")
    (folder / f"{split}.txt").write_text("\n".join(lines) + "\n")


# --- text-only ceilings ----------------------------------------------------------------------
def _f1(tp: float, n_pred: float, n_gold: float) -> float:
    return 2 * tp / (n_pred + n_gold) if n_pred + n_gold else 0.0


def _ceiling_mner(samples) -> dict:
    gold = sum(len(e.entities) for e, _ in samples)
    text_tp = sum(not c for _, cued in samples for c in cued)
    image_types = [s.label for e, cued in samples for s, c in zip(e.entities, cued) if c]
    n_image = len(image_types)
    guesses = [_f1(text_tp, text_tp, gold)] + [
        _f1(text_tp + image_types.count(t), text_tp + n_image, gold) for t in TYPE_COLOURS]
    return {"f1": max(guesses)}


def _ceiling_relations(samples) -> dict:
    gold_labels = [e.relations[0].label if e.relations else "None" for e, _ in samples]
    cued = [c[0] for _, c in samples]
    n_gold = sum(label != "None" for label in gold_labels)
    best = 0.0
    for guess in IMAGE_RELATIONS:
        preds = [label if not c else guess for label, c in zip(gold_labels, cued)]
        tp = sum(p == g != "None" for p, g in zip(preds, gold_labels))
        best = max(best, _f1(tp, sum(p != "None" for p in preds), n_gold))
    return {"f1": best}


def _ceiling_msa(samples) -> dict:
    labels = [e.label for e, _ in samples]
    cued = [c[0] for _, c in samples]
    best = max(sum(l == g if c else True for l, c in zip(labels, cued)) for g in SENTIMENT_CUES)
    return {"accuracy": best / len(samples)}


_WRITERS = {"mner": _write_conll, "mre": _write_mnre, "joint": _write_casrel, "msa": _write_mvsa}
_CEILINGS = {"mner": _ceiling_mner, "mre": _ceiling_relations, "joint": _ceiling_relations, "msa": _ceiling_msa}
