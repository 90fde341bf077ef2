"""fusionlab's Python API: the commands as functions that return typed results and raise exceptions.

``fusionlab.train(overrides=[...])``, ``fusionlab.evaluate(run_dir)``, ``fusionlab.load(run_dir).predict(texts)``
and ``fusionlab.report(runs=...)`` (``fusionlab/__init__`` exposes them lazily; ``train``, ``evaluate`` and
``report`` are the entry modules themselves, callable: ``callable_module``). One module per function, their
results in ``results``."""
