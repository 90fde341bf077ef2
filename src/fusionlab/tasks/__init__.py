"""The tasks (mner, mre, joint, msa), one package each: ``targets`` (the data side: label vocabulary,
targets, collation), ``head`` (the TaskHead: loss, decoding, evidence) and ``output`` (metric, dumps,
predictions), composed into the task in its ``__init__``; torchmetrics metrics in ``metrics``."""
