"""One registry for every buildable component: backbones, heads, losses, recipes and protocols.

Following timm's ``register_model`` / ``create_model``: a builder registers itself with a decorator
(``@register_backbone("resnet18")``) and ``create("backbone", "resnet18", **options)`` is the only way
to build one. Unlike timm, knowing *which* entries exist never needs an import:

- the **manifest** is read from the source of the component packages (``vaultlab.nn``,
  ``vaultlab.recipes``, ``vaultlab.data``) by a static scan of those decorators (``ast``, no import, no torch), so
  ``sync`` and ``list`` decide "runnable" exactly while staying torch-free, and a new module is
  found without editing any list;
- ``create`` imports the one module the manifest names, then calls the builder the decorator recorded.

``tests/test_registry.py`` checks that the manifest equals the live registry after importing every
component module, so the static scan cannot drift from what the decorators really register.

Decorator forms the scan reads (arguments must be literals):
``@register_backbone("id", key=literal, …)``, ``@register_head(…)``, ``@register_loss(…)``,
``@register_protocol(…)``, and
``@register_recipe`` on a class whose body sets ``name = "id"`` (and optionally ``hparams = {…}``,
``backbones = …`` and ``losses = "any"``, read as literals too).
"""

from __future__ import annotations

import ast
import difflib
import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

KINDS = ("backbone", "head", "loss", "recipe", "protocol")
PACKAGES = ("nn", "recipes", "data")  # sub-packages of vaultlab whose top-level modules may register components
_DECORATORS = {f"register_{kind}": kind for kind in KINDS}
_RECIPE_CLASS_LITERALS = ("name", "hparams", "backbones", "losses")
HPARAM_TYPES = ("int", "float", "bool", "str", "list")

# Hyper-parameters every recipe accepts: ``recipes.base``'s shared helpers (batch_spec, make_optimizer,
# train_bce_classifier) and the runner (threads, score_level, k for ``adapt:``, synthfas_subjects) read them.
SHARED_HPARAMS: dict[str, str] = {
    "input_size": "int", "batch_size": "int", "hflip": "bool", "balanced": "bool", "epochs": "int", "steps_per_epoch": "int",
    "optimizer": "str", "lr": "float", "weight_decay": "float", "threads": "int", "score_level": "str", "k": "int",
    "synthfas_subjects": "int",
}


class UnknownComponent(LookupError):
    """A name no registry entry has; the message names the closest known ones."""

    def __init__(self, kind: str, name: str, known: list[str]):
        self.kind, self.name = kind, name
        self.close = closest(name, known)
        hint = f" Closest known: {', '.join(self.close)}." if self.close else ""
        super().__init__(f"unknown {kind} {name!r}.{hint} Known {kind}s: {', '.join(sorted(known)) or 'none'}")


def closest(name: str, known: list[str] | set[str], n: int = 3) -> list[str]:
    return difflib.get_close_matches(str(name), sorted(known), n=n, cutoff=0.5)


@dataclass(frozen=True)
class Entry:
    """One registered component as the manifest knows it (torch-free)."""

    kind: str
    name: str
    module: str  # "vaultlab.nn.backbones"
    attr: str  # the builder's name in that module
    meta: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)  # the decorator's literal keywords


# -- the live registry: filled by the decorators when a module is imported ------------------------

_LIVE: dict[str, dict[str, tuple[Callable[..., Any], dict[str, Any]]]] = {kind: {} for kind in KINDS}


def _register(kind: str, name: str, obj: Callable[..., Any], meta: dict[str, Any]) -> None:
    current = _LIVE[kind].get(name)
    if current is not None and current[0] is not obj and getattr(current[0], "__qualname__", None) != getattr(obj, "__qualname__", None):
        raise ValueError(f"{kind} {name!r} is registered twice ({current[0].__module__} and {obj.__module__})")
    _LIVE[kind][name] = (obj, meta)


def _named_decorator(kind: str):
    def register(name: str, **meta: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def deco(obj):
            _register(kind, name, obj, meta)
            return obj

        return deco

    register.__name__ = f"register_{kind}"
    register.__doc__ = f"Decorator: ``@register_{kind}(\"id\", **literal_meta)`` registers a {kind} builder under ``id``."
    return register


register_backbone = _named_decorator("backbone")
register_head = _named_decorator("head")
register_loss = _named_decorator("loss")
register_protocol = _named_decorator("protocol")


def register_recipe(cls):
    """Class decorator: the recipe's id is its ``name`` class attribute (also its module's file name)."""
    meta = {key: getattr(cls, key) for key in _RECIPE_CLASS_LITERALS[1:] if key in vars(cls)}
    _register("recipe", cls.name, cls, meta)
    return cls


def live_entries() -> dict[str, dict[str, Entry]]:
    """What the decorators of the modules imported so far registered (used by the manifest test)."""
    return {kind: {name: Entry(kind, name, obj.__module__, obj.__qualname__, dict(meta)) for name, (obj, meta) in entries.items()}
            for kind, entries in _LIVE.items()}


def import_all_components() -> None:
    """Import every module the manifest scans (tests only: this imports torch)."""
    for module, path in _component_modules():
        if "@register_" in path.read_text(encoding="utf-8"):
            importlib.import_module(module)


# -- the manifest: the same entries, read from source without importing it ------------------------

def _package_root() -> Path:
    return Path(__file__).resolve().parent


def _component_modules() -> list[tuple[str, Path]]:
    root = _package_root()
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).glob("*.py")):
            found.append((f"vaultlab.{package}.{path.stem}".removesuffix(".__init__"), path))
    return found


@cache
def manifest() -> dict[str, dict[str, Entry]]:
    """kind → id → Entry, from a static scan of the component packages' decorators (no import)."""
    entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
    for module, path in _component_modules():
        text = path.read_text(encoding="utf-8")
        if "@register_" not in text:
            continue
        for entry in _scan_module(module, text, str(path)):
            entries[entry.kind][entry.name] = entry
    return entries


_DECORATED = re.compile(r"^@register_\w+", re.MULTILINE)
_BODY_END = re.compile(r"^\s+(?:async\s+def|def|@)\s*")


def _decorated_chunks(text: str) -> list[str]:
    """Each top-level ``@register_…`` definition cut after its decorator, its header and the literal
    assignments before its first nested ``def`` (all the scan reads): parsing these few lines instead
    of the whole module keeps the manifest cheap on the ``sync`` path."""
    lines = text.splitlines()
    chunks = []
    for match in _DECORATED.finditer(text):
        start = text.count("\n", 0, match.start())
        end, in_body = start + 1, False
        while end < len(lines):
            line = lines[end]
            if not in_body and line.startswith(("def ", "class ")):
                in_body = True
            elif in_body and line[:1] not in ("", " ", "\t", ")"):
                break  # the next top-level statement
            elif in_body and _BODY_END.match(line):
                break  # the first method or nested function: no literal the scan reads comes after it
            end += 1
        chunks.append("\n".join(lines[start:end]) + "\n    pass\n")
    return chunks


def _scan_module(module: str, text: str, filename: str) -> list[Entry]:
    found = []
    for chunk in _decorated_chunks(text):
        node = ast.parse(chunk, filename).body[0]
        if not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            continue
        for deco in node.decorator_list:
            if isinstance(deco, ast.Call) and isinstance(deco.func, ast.Name) and deco.func.id in _DECORATORS:
                kind = _DECORATORS[deco.func.id]
                name = ast.literal_eval(deco.args[0])
                meta = {kw.arg: ast.literal_eval(kw.value) for kw in deco.keywords if kw.arg}
                found.append(Entry(kind, name, module, node.name, meta))
            elif isinstance(deco, ast.Name) and deco.id == "register_recipe" and isinstance(node, ast.ClassDef):
                literals = _class_literals(node)
                if "name" not in literals:
                    raise ValueError(f"{filename}: a @register_recipe class needs a literal `name = \"id\"` before its methods")
                name = literals.pop("name")
                found.append(Entry("recipe", name, module, node.name, literals))
    return found


def _class_literals(node: ast.ClassDef) -> dict[str, Any]:
    out = {}
    for item in node.body:
        target = None
        if isinstance(item, ast.Assign) and len(item.targets) == 1 and isinstance(item.targets[0], ast.Name):
            target, value = item.targets[0].id, item.value
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value is not None:
            target, value = item.target.id, item.value
        if target in _RECIPE_CLASS_LITERALS:
            out[target] = ast.literal_eval(value)
    return out


# -- lookups -----------------------------------------------------------------------------------------

def names(kind: str) -> list[str]:
    return sorted(manifest()[kind])


def known(kind: str, name: str) -> bool:
    """In the manifest: what ``sync`` may call runnable."""
    return name in manifest()[kind]


def exists(kind: str, name: str) -> bool:
    """In the manifest, or registered at run time (a test's own entry)."""
    return name in _LIVE[kind] or name in manifest()[kind]


def entry(kind: str, name: str) -> Entry:
    entries = manifest()[kind]
    if name not in entries:
        raise UnknownComponent(kind, name, list(entries))
    return entries[name]


def load(kind: str, name: str) -> Callable[..., Any]:
    """The builder (or recipe class) registered as ``name``: imports only the module that defines it.

    An entry registered at run time outside the scanned packages (a test's tiny network) is found too;
    it is never in the manifest, so ``sync`` never calls it runnable."""
    if name in _LIVE[kind]:
        return _LIVE[kind][name][0]
    found = entry(kind, name)
    importlib.import_module(found.module)
    if name not in _LIVE[kind]:  # the scan saw a decorator the import did not run: a bug in that module
        raise RuntimeError(f"{found.module} did not register {kind} {name!r} when imported")
    return _LIVE[kind][name][0]


def recipe_hparams(name: str) -> dict[str, str] | None:
    """key → type name of every hyper-parameter recipe ``name`` reads; ``None`` when the recipe does not
    declare them (then any key its card sets is accepted) or is unknown."""
    found = manifest()["recipe"].get(name)
    if found is None or "hparams" not in found.meta:
        return None
    return {**SHARED_HPARAMS, **found.meta["hparams"]}


def create(kind: str, name: str, **options: Any) -> Any:
    """Build ``name`` with ``options``; options set to ``None`` are dropped (the builder's default wins)."""
    return load(kind, name)(**{k: v for k, v in options.items() if v is not None})
