"""The registry's torch-free manifest against the live registry, and who may import what."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from vaultlab import registry
from vaultlab.catalog import compose
from vaultlab.catalog.cards import VOCABULARY_FILE
from vaultlab.catalog.vocabulary import load_vocabulary
from vaultlab.resources import methods_dir

SRC = Path(registry.__file__).resolve().parent
# vocabulary loss ids with no uniform implementation, on purpose (each needs more than a backbone and heads)
NOT_COMPOSABLE_LOSSES = {"kd"}


def test_manifest_equals_the_live_registry():
    registry.import_all_components()
    live = registry.live_entries()
    manifest = registry.manifest()
    for kind in registry.KINDS:  # tests may register their own tiny networks at run time: not vaultlab's
        assert {n: e for n, e in live[kind].items() if e.module.startswith("vaultlab.")} == manifest[kind], kind


def test_manifest_is_read_without_importing_torch():
    code = ("import sys; from vaultlab import registry; m = registry.manifest(); "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "assert {'resnet18', 'vit', 'cdcn', 'depthnet'} <= set(m['backbone']); assert 'composed' in m['recipe']")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": str(SRC.parent)})
    assert done.returncode == 0, done.stderr


def test_unknown_component_names_the_closest():
    with pytest.raises(registry.UnknownComponent, match="resnet18") as caught:
        registry.entry("backbone", "resnet-18")
    assert caught.value.close[0] == "resnet18"


def test_catalog_never_imports_recipes_nn_or_torch():
    for path in (SRC / "catalog").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert not name.startswith(("vaultlab.recipes", "vaultlab.nn", "torch")), f"{path.name} imports {name}"


def test_registry_ids_are_vocabulary_ids():
    vocabulary = load_vocabulary(methods_dir() / VOCABULARY_FILE)
    assert set(registry.names("backbone")) - {"smp_encoder"} <= set(vocabulary.ids("backbones"))
    assert set(registry.names("loss")) <= set(vocabulary.ids("losses"))
    assert set(vocabulary.ids("losses")) - set(registry.names("loss")) == NOT_COMPOSABLE_LOSSES


def test_every_loss_declares_known_heads_and_every_head_exists():
    for name in registry.names("loss"):
        heads = registry.entry("loss", name).meta["heads"]
        assert heads and set(heads) <= set(registry.names("head")), name
        assert registry.entry("loss", name).meta.get("choice"), f"{name}: `vaultlab show` lists its choice"


def test_catalog_and_recipe_agree_on_scoring_heads():
    from vaultlab.recipes.composed import SCORE_HEADS

    assert compose.SCORE_HEADS == SCORE_HEADS


def test_declared_hyper_parameter_types_are_known():
    for name in registry.names("recipe"):
        declared = registry.recipe_hparams(name) or {}
        assert set(declared.values()) <= set(registry.HPARAM_TYPES), name


def test_every_shipped_recipe_declares_its_hyper_parameters_and_every_card_key_is_read():
    """A key no recipe reads (the old `mmd_layer`, `pair_form`) is refused at plan time, never silently recorded."""
    from vaultlab.catalog.cards import load_catalog

    catalog = load_catalog()
    for card in catalog.cards.values():
        declared = registry.recipe_hparams(card.recipe)
        assert declared is not None, f"recipe {card.recipe} declares no hyper-parameters"
        for profile, values in card.profiles.items():
            assert set(values) <= set(declared), (card.id, profile, sorted(set(values) - set(declared)))


def test_a_set_key_no_recipe_reads_is_a_usage_error(tmp_path):
    import shutil

    from typer.testing import CliRunner

    from vaultlab.cli import app

    vault = tmp_path / "vault"
    shutil.copytree(Path(__file__).resolve().parents[1] / "example_vault", vault)
    result = CliRunner().invoke(app, ["run", "003", "--vault", str(vault), "--set", "mmd_layer=fc7", "--dry-run"])
    assert result.exit_code == 2 and "unknown key 'mmd_layer'" in result.output
    assert CliRunner().invoke(app, ["run", "003", "--vault", str(vault), "--set", "pair_margin=2", "--dry-run"]).exit_code == 0


NEW_RECIPE = '''"""DeepPixBiS (George & Marcel, ICB 2019): binary and pixel-wise binary supervision on one backbone.
The stand-in for "a paper's method added as one module"."""

from vaultlab.recipes.base import register_recipe
from vaultlab.recipes.composed import Composed


@register_recipe
class DeepPixBiS(Composed):
    name = "deeppixbis"
    losses = "any"
    hparams = {"depth_size": "int", "pixel_size": "int", "metric_dim": "int", "grl_lambda": "float"}
'''

NEW_CARD = """id: deeppixbis
title: Deep pixel-wise binary supervision
recipe: deeppixbis
match:
  methods: [DeepPixBiS]
components:
  backbone: resnet18
  losses: {bce: 0.5, pixel_bce: 0.5}
  input: rgb
  supervision: [binary]
  temporal: static
default_protocol: intra
seeds: [0]
profiles:
  quick: {input_size: 32, batch_size: 16, balanced: true, epochs: 1, steps_per_epoch: 3, optimizer: adam, lr: 1.0e-3,
          depth_size: 8, pixel_size: 2, metric_dim: 16, grl_lambda: 1.0}
  smoke: {synthfas_subjects: 12}
"""


@pytest.mark.slow
def test_a_new_method_is_one_recipe_module_plus_one_card(tmp_path):
    """Copy the installed package, add exactly two files, and the new method is in the manifest, its note
    is runnable, and it trains and writes its rows; nothing else was edited (the copy is otherwise byte-identical)."""
    import shutil

    root = tmp_path / "checkout"
    shutil.copytree(SRC, root / "src" / "vaultlab", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(methods_dir(), root / "methods")
    shutil.copytree(SRC.parents[1] / "templates", root / "templates")
    (root / "src" / "vaultlab" / "recipes" / "deeppixbis.py").write_text(NEW_RECIPE, encoding="utf-8")
    (root / "methods" / "deeppixbis.yaml").write_text(NEW_CARD, encoding="utf-8")
    vault = tmp_path / "vault"
    (vault / ".obsidian").mkdir(parents=True)
    (vault / "001_pix.md").write_text("---\ntags: [paper]\n---\n# Pix\n\n## Quick Summary\n**Method:** DeepPixBiS\n\n### Results\n",
                                      encoding="utf-8")

    def vaultlab(*args: str) -> subprocess.CompletedProcess:
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root / "src"), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
        return subprocess.run([sys.executable, "-m", "vaultlab", *args, "--vault", str(vault)], capture_output=True, text=True, env=env,
                              timeout=300)

    import json

    listed = vaultlab("list", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert (row["card"], row["runnable"]) == ("deeppixbis", True), row
    ran = vaultlab("run", "001", "--profile", "smoke", "--device", "cpu")
    assert ran.returncode == 0, ran.stderr[-2000:]
    [run] = (vault / ".vaultlab" / "runs").iterdir()
    spec = json.loads((run / "spec.json").read_text())
    assert spec["recipe"] == "deeppixbis", spec
    assert f"vaultlab/results/{run.name}" in (vault / "001_pix.md").read_text(encoding="utf-8")
