"""Adapters that run simalloc's allocation inside the trainers people already use (opt-in extras): ``verl``
(``pip install 'simalloc[verl]'``) and ``trl`` (``pip install 'simalloc[trl]'``). Importing this package imports
neither trainer; import the submodule you need."""

__all__: list = []
