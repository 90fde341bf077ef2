"""Share a trained run (``python -m fusionlab.export``): the exported folder (weights, config, labels, card),
its model card, traced programs (TorchScript, ONNX), the push to the Hugging Face Hub, and ``load_assembly``,
which loads a checkpoint, a run folder or an exported folder alike; one file each."""
