"""MASE's multimodal-semantic scene graph (MSSG, Sec. 3.5): entity nodes and typed edges of a
sentence, batched into tensors for the heterogeneous GAT.

A builder turns the words the tokenizer saw into a ``SceneGraph`` (entity spans and the
relations between them):

- ``RuleGraphBuilder`` (built in, needs no model): the spans inside entity markers
  (``<s> .. </s>``, ``<o> .. </o>``, the given pair of a relation task, joined by a relation
  edge) and every maximal run of capitalised, ``@`` or ``#`` words (names, mentions,
  hashtags: the entities of social-media posts). A capitalised sentence-initial function
  word becomes a node too; the rules do not know grammar.
- ``ParserGraphBuilder``: the same markers plus the entities and relations of the scene-graph
  parser the paper uses (``sng_parser``, SceneGraphParser; an optional install). A parsed
  entity whose words cannot be found in the sentence is counted (``unmatched``) and logged.

``batch_graphs`` adds what every graph has: a sentence node (reading the [CLS] position)
linked to every entity, self-loops, and reading-order edges between consecutive entities.
A node reads the mean of its words' first sub-tokens; its output is written back to the
tokens the task head reads for it: those words (mner and joint read every word there), the
opening marker ``<s>``/``<o>`` of a marked entity too (mre's head reads only the markers),
and [CLS] for the sentence node (msa reads [CLS]).
Edge types (``EDGE_TYPES``) are fixed so the GAT's per-type parameters are: the parser's
relation phrases (``on``, ``holding``, ...) are open-ended, so a parsed relation is typed
``related`` (subject -> object) and ``related_by`` (back), like the marked pair.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

log = logging.getLogger(__name__)

EDGE_TYPES = ("self", "next", "previous", "related", "related_by", "in_sentence", "has_entity")
MARKER_PAIRS = {"<s>": "</s>", "<o>": "</o>"}
BUILDERS = ("auto", "rules", "parser")


@dataclass(frozen=True)
class SceneGraph:
    entities: tuple[tuple[int, int], ...]  # word spans [start, end)
    relations: tuple[tuple[int, int], ...] = ()  # (subject entity, object entity)
    markers: tuple[int, ...] = ()  # word position of the opening marker of entities 0, 1, .. (the marked ones)


def _marked(words: list[str]) -> tuple[list[tuple[int, int]], set[int], list[int]]:
    """Spans enclosed by entity markers, every word position the markers take up, and the
    position of each span's opening marker."""
    spans, taken, markers = [], set(), []
    for opening, closing in MARKER_PAIRS.items():
        if opening in words and closing in words[words.index(opening):]:
            start = words.index(opening)
            end = words.index(closing, start)
            spans.append((start + 1, end))
            taken.update(range(start, end + 1))
            markers.append(start)
    return spans, taken, markers


def _is_name(word: str) -> bool:
    return word[:1].isupper() or (len(word) > 1 and word[0] in "@#")


class RuleGraphBuilder:
    name = "rules"

    def __init__(self, max_entities: int = 12):
        self.max_entities = max_entities

    def names(self, words: list[str], taken: set[int]) -> list[tuple[int, int]]:
        spans, start = [], None
        for position, word in enumerate([*words, ""]):
            inside = position < len(words) and position not in taken and _is_name(word)
            if inside and start is None:
                start = position
            elif not inside and start is not None:
                spans.append((start, position))
                start = None
        return spans

    def __call__(self, words: list[str]) -> SceneGraph:
        marked, taken, markers = _marked(words)
        relations = ((0, 1),) if len(marked) == 2 else ()
        entities = (marked + self.names(words, taken))[:self.max_entities]
        return SceneGraph(tuple(entities), relations, tuple(markers[:self.max_entities]))


class ParserGraphBuilder(RuleGraphBuilder):
    """Entities and relations from SceneGraphParser (``pip install SceneGraphParser`` and its
    spaCy model), on top of the marked pair."""

    name = "parser"

    def __init__(self, max_entities: int = 12):
        super().__init__(max_entities)
        import sng_parser

        self.parse = sng_parser.parse
        self.unmatched = 0

    def locate(self, span_words: list[str], words: list[str], taken: set[int]) -> tuple[int, int] | None:
        size = len(span_words)
        lowered = [w.lower() for w in words]
        for start in range(len(words) - size + 1):
            if lowered[start:start + size] == span_words and not taken & set(range(start, start + size)):
                return start, start + size
        return None

    def __call__(self, words: list[str]) -> SceneGraph:
        marked, taken, opening = _marked(words)
        markers = {*MARKER_PAIRS, *MARKER_PAIRS.values()}
        graph = self.parse(" ".join(w for w in words if w not in markers))
        entities = list(marked)
        relations = [(0, 1)] if len(marked) == 2 else []
        index = {}
        for number, entity in enumerate(graph["entities"]):
            span = self.locate(entity["span"].lower().split(), words, taken)
            if span is None:
                self.unmatched += 1
                log.info("scene-graph entity %r not found in %r", entity["span"], " ".join(words))
                continue
            index[number] = len(entities)
            entities.append(span)
        relations += [(index[r["subject"]], index[r["object"]]) for r in graph["relations"]
                      if r["subject"] in index and r["object"] in index]
        keep = self.max_entities
        return SceneGraph(tuple(entities[:keep]), tuple((s, o) for s, o in relations if s < keep and o < keep),
                          tuple(opening[:keep]))


def _parser_installed() -> bool:
    try:
        import sng_parser  # noqa: F401
    except ImportError:
        return False
    return True


def graph_builder(kind: str = "auto", max_entities: int = 12) -> RuleGraphBuilder:
    """``rules``, ``parser`` (fails if SceneGraphParser is missing) or ``auto`` (the parser when
    installed, else the rules). Which one runs is logged."""
    if kind not in BUILDERS:
        raise ValueError(f"MASE graph builder must be one of {BUILDERS}, not {kind!r}")
    if kind == "parser" or (kind == "auto" and _parser_installed()):
        builder = ParserGraphBuilder(max_entities)
    else:
        builder = RuleGraphBuilder(max_entities)
    log.info("MASE scene graphs: %s builder", builder.name)
    return builder


@dataclass
class GraphBatch:
    """Node 0 of every sample is the sentence node; nodes 1.. its entities."""

    membership: torch.Tensor  # [B, N, T] 1 where a node covers a token (the first sub-token of its words)
    injection: torch.Tensor  # [B, N, T] 1 where a node's output is added: its tokens and its opening marker
    adjacency: torch.Tensor  # [B, R, N, N] bool: adjacency[b, r, i, j] = an edge j -> i of type r
    node_mask: torch.Tensor  # [B, N] bool

    @property
    def pooling(self) -> torch.Tensor:
        """Membership rows normalised to means: node text feature = pooling @ token states."""
        return self.membership / self.membership.sum(-1, keepdim=True).clamp(min=1.0)


def batch_graphs(graphs: list[SceneGraph], word_index: torch.Tensor, word_mask: torch.Tensor,
                 tokens: int) -> GraphBatch:
    """Tensors for a batch of graphs. ``word_index`` [B, W] is each word's first sub-token; an
    entity whose words were all truncated away is left out (it has no token to read)."""
    batch = len(graphs)
    kept = [[i for i, (start, end) in enumerate(g.entities) if word_mask[b, start:end].any()]
            if word_mask.size(1) else [] for b, g in enumerate(graphs)]
    nodes = 1 + max((len(k) for k in kept), default=0)
    type_of = {name: r for r, name in enumerate(EDGE_TYPES)}
    membership, injection = torch.zeros(batch, nodes, tokens), torch.zeros(batch, nodes, tokens)
    adjacency = torch.zeros(batch, len(EDGE_TYPES), nodes, nodes, dtype=torch.bool)
    node_mask = torch.zeros(batch, nodes, dtype=torch.bool)
    for b, (graph, entities) in enumerate(zip(graphs, kept)):
        membership[b, 0, 0] = 1.0
        count = 1 + len(entities)
        node_mask[b, :count] = True
        for node, entity in enumerate(entities, start=1):
            start, end = graph.entities[entity]
            words = [w for w in range(start, end) if word_mask[b, w]]
            membership[b, node, word_index[b, words]] = 1.0
            if entity < len(graph.markers):  # a marker kept whenever its entity's first word is
                injection[b, node, word_index[b, graph.markers[entity]]] = 1.0
            adjacency[b, type_of["in_sentence"], 0, node] = True  # entity -> sentence
            adjacency[b, type_of["has_entity"], node, 0] = True  # sentence -> entity
        for node in range(count):
            adjacency[b, type_of["self"], node, node] = True
        for node in range(1, count - 1):
            adjacency[b, type_of["next"], node + 1, node] = True
            adjacency[b, type_of["previous"], node, node + 1] = True
        position = {entity: 1 + i for i, entity in enumerate(entities)}
        for subject, obj in graph.relations:
            s, o = position.get(subject), position.get(obj)
            if s is not None and o is not None:
                adjacency[b, type_of["related"], o, s] = True
                adjacency[b, type_of["related_by"], s, o] = True
    device = word_index.device
    injection = torch.maximum(injection, membership)
    return GraphBatch(membership.to(device), injection.to(device), adjacency.to(device), node_mask.to(device))
