"""Entry modules that are also functions: ``fusionlab.train`` is the module ``python -m fusionlab.train`` runs and,
called, the Python API's ``train``.

Importing a submodule binds it as an attribute of its package, so a function ``train`` in ``fusionlab/__init__``
would be replaced by the module ``fusionlab.train`` as soon as anything imports that. Instead the entry module's
class becomes ``CallableModule`` (assigning a module's ``__class__`` to a ``types.ModuleType`` subclass is supported
Python, since 3.5), whose ``__call__`` is the API function. That function is imported at the first call, so an entry
module imports nothing of the API and ``python -m fusionlab.train`` runs as before."""

from __future__ import annotations

import importlib
import inspect
import sys
import types


class CallableModule(types.ModuleType):
    """A module whose call is the function its ``__api__`` names (``"package.module:function"``)."""

    def __api_function__(self):
        module, name = self.__api__.split(":")
        return getattr(importlib.import_module(module), name)

    def __call__(self, *args, **kwargs):
        return self.__api_function__()(*args, **kwargs)

    @property
    def __signature__(self) -> inspect.Signature:  # what help(), inspect and a notebook's completion show
        return inspect.signature(self.__api_function__())


def make_callable(module_name: str, api: str) -> None:
    """Make the loaded module ``module_name`` callable as ``api`` (``"package.module:function"``)."""
    module = sys.modules[module_name]
    module.__api__ = api
    module.__class__ = CallableModule
