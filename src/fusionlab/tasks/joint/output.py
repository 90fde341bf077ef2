"""Joint extraction's output side: triple F1 (by position and as CasRel compares strings) over the extracted
entities and relations, dumps and predictions."""

from __future__ import annotations

from fusionlab.data.example import Relation
from fusionlab.data.tagging import spans_from_tags
from fusionlab.tasks.joint.targets import TripleTargets
from fusionlab.tasks.metrics.triple import TripleF1, gold_strings, triple_strings
from fusionlab.tasks.output import Output, span_record, span_score


class TripleOutput(Output):
    def __init__(self, data: TripleTargets, threshold: float = 0.5):
        self.data, self.threshold = data, threshold

    def metric(self):
        return TripleF1()

    def extract(self, prediction, n_words: int):
        """Entities from the tags, then every relation whose sigmoid clears the threshold (an entity with
        itself too: a triple whose head is its tail)."""
        tag_ids, probs = prediction
        tags = [self.data.tags[t] for t in tag_ids] + ["O"] * (n_words - len(tag_ids))
        entities = spans_from_tags(tags)
        relations = [Relation(h, t, self.data.relations[r]) for h in entities for t in entities
                     for r in range(len(self.data.relations)) if probs[h.last, t.last, r] > self.threshold]
        return entities, relations

    def score(self, metric, predictions, batch):
        examples = batch["examples"]
        metric.update([self.extract(p, len(e.words)) for p, e in zip(predictions, examples)], examples)

    def readable(self, example, prediction):
        """Triples by position ([head start, head end, relation, tail start, tail end]; a gold triple whose
        entity the words lack as its [subject, relation, object], a miss), and as strings."""
        entities, relations = self.extract(prediction, len(example.words))
        show = lambda rs: [[r.head.start, r.head.end, r.label, r.tail.start, r.tail.end] for r in rs]  # noqa: E731
        return {"words": example.words, "gold": show(example.relations) + [list(t) for t in example.unplaced],
                "predicted": show(relations),
                "gold_entities": [[s.start, s.end] for s in example.entities],
                "predicted_entities": [[s.start, s.end] for s in entities],
                "gold_triples": sorted(map(list, gold_strings(example))),
                "predicted_triples": sorted(map(list, triple_strings(example.words, relations)))}

    def prediction(self, example, prediction, confidence=None):
        """Entities and relations; with ``confidence``, each entity's ``score`` and each relation's sigmoid
        ``probability``."""
        entities, relations = self.extract(prediction, len(example.words))
        tag_ids, probs = prediction
        scored = confidence is not None
        return {"entities": [{**span_record(example.words, s),
                              **({"score": span_score(confidence["words"], tag_ids, s)} if scored else {})}
                             for s in entities],
                "relations": [{"head": span_record(example.words, r.head), "relation": r.label,
                               "tail": span_record(example.words, r.tail),
                               **({"probability": float(probs[r.head.last, r.tail.last,
                                                              self.data.relations.index(r.label)])} if scored else {})}
                              for r in relations]}
