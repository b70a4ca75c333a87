"""Training recipes, one module per paper plus ``baseline`` and ``composed``.

A recipe module registers one ``Recipe`` class with ``@register_recipe``; its ``name`` is the id a
method card's ``recipe:`` names. ``vaultlab.registry`` finds recipes by reading this folder's source,
so adding a method is one module here plus one card in ``methods/`` — no list to edit. This package's
``__init__`` stays torch-free.
"""
