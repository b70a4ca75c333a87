"""``vaultlab data …``: prepare real datasets into the cache, list them, preview them, export MCIO lists.

The lead's ``cli.py`` mounts ``data_app`` as ``vaultlab data``. Heavy imports (PyAV, OpenCV, torch)
happen inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from vaultlab.cli_common import err, fail as _fail, find_vault, out

data_app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="rich",
                       help="Datasets: preview SynthFAS, prepare and list real datasets.")
VaultOption = Annotated[Optional[Path], typer.Option("--vault", help="Vault folder (default: $VAULTLAB_VAULT, else the nearest folder holding .obsidian/, else the current folder).")]

LAYOUT_HELP = """Layouts (fas-toolkits.md §1): oulu-npu (Train_files/ Dev_files/ Test_files/ Protocols/),
casia-fasd (train_release/ test_release/), replay-attack (train/ devel/ test/ with real/ and attack/{fixed,hand}/),
msu-mfsd (train_sub_list.txt, test_sub_list.txt, real/ and attack/ videos), celeba-spoof (Data/, metas/intra_test/*_label.json),
generic (<split>/for_real.lst + for_attack.lst, or one CSV path,label,pai,subject,video[,split] with 1 = bona fide)."""


def _vault(explicit: Path | None) -> Path:
    return find_vault(explicit, cwd_fallback=True)


@data_app.command(help=f"Decode, face-crop and cache a real dataset as uint8 crops + index (resumable).\n\n{LAYOUT_HELP}")
def prepare(
    dataset: Annotated[str, typer.Argument(help="oulu-npu, casia-fasd, replay-attack, msu-mfsd, celeba-spoof, or a name for a generic layout.")],
    root: Annotated[Optional[Path], typer.Option("--root", help="The dataset's folder as unpacked from its distribution.")] = None,
    data_root: Annotated[Optional[Path], typer.Option("--data-root", help="A folder holding several datasets, each in a sub-folder named like it.")] = None,
    layout: Annotated[Optional[str], typer.Option("--layout", help="Layout of the tree (default: the dataset's own; 'generic' for lists or CSV).")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Cache folder (default: <vault>/.vaultlab/cache/datasets/<dataset>/).")] = None,
    frames: Annotated[str, typer.Option("--frames", help="Frame sampling: '6+mid' (SSDG/FLIP), 'every:k[:max]' (SA-FAS every:5), 'uniform:k' (CDCN 8).")] = "6+mid",
    size: Annotated[int, typer.Option("--size", min=16, help="Crop side in pixels.")] = 224,
    crop_scale: Annotated[float, typer.Option("--crop-scale", min=1.0, help="Crop side / detected face box side.")] = 1.3,
    require_face: Annotated[bool, typer.Option("--require-face", help="Drop (and list) videos where a sampled frame has no face anywhere near it (default: keep them with a centre crop, listed).")] = False,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Skip unreadable and damaged videos (listed in the manifest) instead of stopping / keeping the frames that decode.")] = False,
    workers: Annotated[Optional[int], typer.Option("--workers", "-j", min=1, help="Worker processes that decode and detect (default: the number of cores). The crops do not depend on it.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild the cache even if it was made with other settings.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    vault: VaultOption = None,
) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from vaultlab.data.real.cache import PreparedDataError, dataset_cache_dir, read_manifest
    from vaultlab.data.real.config import DatasetConfigError, resolve_dataset_source
    from vaultlab.data.real.prepare import PrepareSettings, prepare_dataset
    from vaultlab.data.real.records import DatasetLayoutError
    from vaultlab.data.real.video import UnreadableMediaError

    vault_root = _vault(vault)
    try:
        source = resolve_dataset_source(dataset, vault_root, root=root, data_root=data_root, layout=layout)
        settings = PrepareSettings(frames=frames, size=size, crop_scale=crop_scale)
        settings.as_manifest()  # validates --frames before any work
    except (DatasetConfigError, ValueError) as exc:
        raise _fail(str(exc), 2) from None
    cache_dir = out_dir or dataset_cache_dir(vault_root, source.name)
    with Progress(TextColumn(f"[bold]{source.name}[/bold]"), BarColumn(), MofNCompleteColumn(), TextColumn("videos"),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=err, disable=quiet, transient=False) as progress:
        task = progress.add_task("prepare", total=None)
        try:
            report = prepare_dataset(source.name, source.root, cache_dir, settings, layout=source.layout, layout_options=source.options,
                                     require_face=require_face, skip_bad=skip_bad, force=force, workers=workers,
                                     on_progress=lambda done, total: progress.update(task, completed=done, total=total))
        except (DatasetLayoutError, PreparedDataError, DatasetConfigError) as exc:
            raise _fail(str(exc), 2) from None
        except UnreadableMediaError as exc:
            manifest = read_manifest(cache_dir) or {}
            kept = sum(s["videos"] for s in manifest.get("shards", {}).values())
            raise _fail(f"{exc}\n  kept: {kept} of {manifest.get('n_videos', '?')} videos already in {cache_dir}; "
                        f"rerun the same command to resume after them") from None
    rate = f"{report.images_per_second:.1f} crops/s" if report.images else "nothing new"
    out.print(f"{source.name}: {report.videos} videos → {report.images} crops in {report.seconds:.1f} s ({rate}, {report.workers} workers); "
              f"{report.videos_resumed} videos resumed from the cache", highlight=False)
    for line in prepare_findings(report, settings.frames):
        out.print(f"  {line}", highlight=False)
    out.print(f"  cache: {cache_dir}", highlight=False)


SHOWN = 5  # items named per finding; the manifest lists all


def _first(items: list[str]) -> str:
    more = f" … and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return "; ".join(items[:SHOWN]) + more


def _videos(n: int) -> str:
    return f"{n} video" + ("" if n == 1 else "s")


def prepare_findings(report, frames: str) -> list[str]:
    """What the user should know about the prepared videos, each finding naming the first few (all in manifest.json)."""
    lines = [f"warning: {w}" for w in report.warnings[:SHOWN]]
    if len(report.warnings) > SHOWN:
        lines.append(f"warning: … and {len(report.warnings) - SHOWN} more in manifest.json")
    damaged = {v: f for v, f in report.damaged.items() if not f.get("skipped")}
    if damaged:
        lines.append(f"damaged, kept with the frames that decode ({_videos(len(damaged))}): " + _first(
            [f"{v} (container states {f['declared']} frames, {f['decoded']} decode; asked {f['requested']}, kept {f['kept']})"
             for v, f in damaged.items()]))
    if report.skipped:
        lines.append(f"skipped {len(report.skipped)} unreadable or damaged (--skip-bad): {_first(report.skipped)}")
    if report.centre_fallbacks:
        lines.append(f"no face at or near a sampled frame: {_videos(len(report.centre_fallbacks))} kept with {report.centre_crops} "
                     f"centre crops (drop them with --require-face): " + _first([f"{v} frames {f}" for v, f in report.centre_fallbacks.items()]))
    if report.dropped_no_face:
        lines.append(f"dropped {_videos(len(report.dropped_no_face))} with no face near a sampled frame (--require-face): "
                     f"{_first(report.dropped_no_face)}")
    if report.substituted:
        lines.append(f"{report.substituted} sampled frames without a face took the nearest frame with one")
    if report.short_videos:
        lines.append(f"{_videos(len(report.short_videos))} shorter than {frames} asks for (the shortest has "
                     f"{min(report.short_videos.values())} frames); their indices were clamped to the last frame: {_first(list(report.short_videos))}")
    return lines


@data_app.command("list", help="What is configured (.vaultlab/config.yaml) and what is prepared in the vault's cache.")
def list_datasets(vault: VaultOption = None) -> None:
    from vaultlab.data.real.cache import dataset_cache_dir, summarise_prepared
    from vaultlab.data.real.config import DatasetConfigError, read_dataset_config

    vault_root = _vault(vault)
    try:
        configured = read_dataset_config(vault_root)
    except DatasetConfigError as exc:
        raise _fail(str(exc), 2) from None
    cache_root = dataset_cache_dir(vault_root, "x").parent
    prepared = {p.name: summarise_prepared(p) for p in sorted(cache_root.iterdir())} if cache_root.is_dir() else {}
    table = Table(title=f"datasets of {vault_root}",
                  caption="no face: videos kept with centre-fallback crops; damaged: videos whose frames did not all decode")
    for column in ("dataset", "prepared", "crops", "frames", "size", "no face", "damaged"):
        table.add_column(column, no_wrap=True)
    roots = []  # below the table: paths are long
    for name in sorted(set(configured) | {k for k, v in prepared.items() if v is not None}):
        source, summary = configured.get(name), prepared.get(name)
        if source is not None:
            roots.append(f"{name}: {source.root}" + ("" if source.root.is_dir() else " [red](missing)[/red]"))
        if summary is None:
            state, crops, frames, size, faceless, damaged = "no", "", "", "", "", ""
        else:
            state = "yes" if summary.complete else f"[yellow]partial {summary.videos_done}/{summary.videos_total}[/yellow]"
            crops, frames, size = str(summary.images), summary.frames, str(summary.size)
            faceless = f"{summary.centre_fallback_videos} ({summary.centre_crops} crops)" if summary.centre_fallback_videos else "0"
            if summary.dropped_no_face:
                faceless += f", {summary.dropped_no_face} dropped"
            damaged = str(summary.damaged)
        layout_note = f" ({source.layout})" if source and source.layout != name else ""
        table.add_row(name + layout_note, state, crops, frames, size, faceless, damaged)
    if not table.rows:
        out.print(f"no datasets configured or prepared; add 'datasets: {{oulu-npu: /path}}' to {vault_root / '.vaultlab' / 'config.yaml'} "
                  "or run `vaultlab data prepare NAME --root PATH`", highlight=False)
        return
    out.print(table)
    for line in roots:
        out.print(f"  {line}", highlight=False)


@data_app.command(help="A contact sheet PNG of a dataset: 'synthfas' (generated) or a prepared real dataset.")
def preview(
    dataset: Annotated[str, typer.Argument(help="synthfas, or a prepared dataset name.")] = "synthfas",
    out_png: Annotated[Optional[Path], typer.Option("--out", help="PNG to write (default: <dataset>-preview.png in the vault's attachment folder).")] = None,
    vault: VaultOption = None,
) -> None:
    """A contact sheet: rows bona fide / print / replay, columns the capture domains."""
    from vaultlab.data.preview import write_contact_sheet
    from vaultlab.vault.config import VaultConfig
    from vaultlab.vault.write import safe_path

    if out_png is None:
        root = _vault(vault)
        folder = VaultConfig.load(root).attachment_folder(f"{dataset}-preview.md")
        out_png = safe_path(root, f"{folder.strip('/')}/{dataset.lower()}-preview.png" if folder.strip("/") else f"{dataset.lower()}-preview.png")
        out_png.parent.mkdir(parents=True, exist_ok=True)

    if dataset.lower() == "synthfas":
        from vaultlab.data.synthfas import SynthFASConfig

        subject = SynthFASConfig()
    else:
        from vaultlab.data.real.cache import PreparedDataError, load_prepared

        try:
            subject = load_prepared(dataset, _vault(vault))
        except PreparedDataError as exc:
            raise _fail(str(exc), 2) from None
    write_contact_sheet(subject, out_png)
    out.print(f"wrote {out_png}", highlight=False)


@data_app.command("export-mcio", help="Write FLIP/ViTAF MCIO lists (txt/<ds>_<real|fake>_<train|test|shot>.txt) for the prepared OCIM datasets.")
def export_mcio(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write txt/ (and frame/ with --frames) into.")],
    shots: Annotated[int, typer.Option("--shots", min=0, help="Videos per class in the *_shot lists.")] = 10,
    write_frames: Annotated[bool, typer.Option("--frames", help="Also write frame0/frame1 PNGs from the cache.")] = False,
    vault: VaultOption = None,
) -> None:
    from vaultlab.data.real.cache import PreparedDataError, load_prepared
    from vaultlab.data.real.mcio import export_mcio_lists

    try:
        data = load_prepared("ocim", _vault(vault))
    except PreparedDataError as exc:
        raise _fail(str(exc), 2) from None
    written = export_mcio_lists(data, out_dir, shots=shots, write_frames=write_frames)
    out.print(f"wrote {len(written)} lists to {out_dir / 'txt'}", highlight=False)
