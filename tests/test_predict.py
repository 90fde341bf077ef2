"""python -m fusionlab.predict ckpt=... text=... | inputs=...: a trained run's predictions on new inputs, as JSON
lines on stdout."""

from __future__ import annotations

import json

import pytest

from fusionlab.data.inputs import read_inputs
from fusionlab.predict import main, predict
from fusionlab.sharing.loading import load_assembly
from fusionlab.train import run
from tests.conftest import compose_config
from tests.test_cli import run_main


@pytest.fixture
def checkpoint(tiny_overrides, tmp_path):
    def train(task: str):
        run(compose_config(tiny_overrides + ["fusion=concat", f"task={task}"]))
        return tmp_path / "run" / "checkpoints" / "best.ckpt"

    return train


def rounded(value):
    """A prediction row with its probabilities to 5 decimals."""
    if isinstance(value, dict):
        return {key: rounded(v) for key, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return round(value, 5) if isinstance(value, float) else value


def test_mner_prints_entities_for_a_sentence_and_an_image(checkpoint, tmp_path, capsys):
    ckpt = checkpoint("mner")
    capsys.readouterr()  # what training printed
    image = next((tmp_path / "cache" / "synthetic").rglob("images/test_0.png"))
    run_main(main, f"ckpt={ckpt}", "text=look at Kalo Miren in the news", f"image={image}")
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]  # stdout holds only the rows
    assert row["text"] == "look at Kalo Miren in the news" and row["image"] == str(image.resolve())
    words = row["text"].split()
    for entity in row["entities"]:
        assert entity["text"] == " ".join(words[entity["start"]:entity["end"]])
        assert entity["type"] in {"PER", "LOC", "ORG", "MISC"} and 0 < entity["score"] <= 1
    assert 0 < row["probability"] <= 1
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text(json.dumps({"text": row["text"], "image": str(image)}) + '\n{"text": "Kalo, Miren (2017)"}\n')
    run_main(main, f"ckpt={ckpt}", f"inputs={inputs}")
    first, second = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # batched with another sentence (padded): the same prediction, its probabilities up to float rounding
    assert rounded(first) == rounded(row) and second["text"] == "Kalo, Miren (2017)" and second["image"] is None
    run_main(main, f"ckpt={ckpt}", 'text="Kalo, Miren (2017)"')  # quoted for Hydra: its special characters
    assert rounded(json.loads(capsys.readouterr().out)) == rounded(second)


def test_mre_classifies_given_entities_and_needs_them(checkpoint, tmp_path, capsys):
    ckpt = checkpoint("mre")
    parts = load_assembly(ckpt)
    (row,) = predict(parts, [{"text": "Kalo member of Miren team", "head": "0:1", "tail": [3, 4]}])
    assert row["head"]["text"] == "Kalo" and row["tail"]["text"] == "Miren"
    assert row["relation"] in parts.task.data.relations and row["image"] is None  # no image: masked, as in training
    assert 0 < row["probability"] <= 1
    capsys.readouterr()
    run_main(main, f"ckpt={ckpt}", "text=Kalo member of Miren team", "head=0:1", "tail=[3,4]")  # both span forms
    assert json.loads(capsys.readouterr().out) == row
    with pytest.raises(ValueError, match="pass head and tail spans"):
        predict(parts, [{"text": "Kalo member of Miren team"}])


def test_an_inputs_file_with_a_bad_line_names_file_and_line(tmp_path):
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text('{"text": "fine"}\n\n{"text": broken}\n')
    with pytest.raises(ValueError, match=r"inputs.jsonl:3: expected one JSON object per line"):
        read_inputs(inputs)
