"""Write docs/checkpoints.md from the shipped checkpoints' own metadata (no number typed by hand).

    python -m scripts.checkpoint_report --history studies/shipped_history studies/judge > docs/checkpoints.md

``--history`` names the folders that keep the checkpoints shipped stages started from: the versions
shipped before (``<name>_v<k>.safetensors``) and any other start kept by file name. With them, each
checkpoint's stages are followed back through every replaced version; without them, only as far as
the shipped files' own metadata records (one stage back).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from compute.catalog import current_command
from model import read_metadata
from model.factory import ARCHITECTURES

ROOT = Path(__file__).resolve().parent.parent

SHIPPED = [("s3ta_default", "S3TA, adversarially trained (the default)"),
           ("s3ta_clean", "S3TA, trained without attacks"),
           ("baseline_default", "ResNet + global average pooling, adversarially trained"),
           ("s3ta_cued", "S3TA on the cued task: the cue first, then the item of its colour"),
           ("baseline_cued",
            "ResNet + global average pooling on the cued task: as long a training, the same PGD stage")]


# The research checkpoints moved from docs/ to studies/ after these checkpoints were trained (the
# programs moved too: compute.catalog.current_command): show the recorded commands with today's
# names and paths, so they can be copied and run.
JUDGE_MOVED = {"docs/ablation/judge_baseline_clean.safetensors": "studies/judge/judge_baseline_clean.safetensors"}


def current(command: str | None) -> str | None:
    """A recorded command under today's module names and paths."""
    command = current_command(command)
    for old, new in JUDGE_MOVED.items():
        command = command.replace(old, new) if command else command
    return command


def fmt(v: object) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def identity(meta: dict) -> tuple:
    """What tells two training runs apart: their command and how long they took."""
    return meta.get("command"), meta.get("wall_time_s")


def shipped_versions(start: str, history: list[Path] = ()) -> list[Path]:
    """Where the checkpoint a stage started from may be now, newest first: a stage recorded as starting
    from `assets/<name>.safetensors` started from what was shipped under that name when it ran, and each
    replaced version is kept in a ``history`` folder as `<name>_v<k>.safetensors`; a start from
    anywhere else is its recorded path or a file of the same name in a ``history`` folder."""
    path = ROOT / start
    if path.parent != ROOT / "assets":
        return [path, *(folder / path.name for folder in history)]
    kept = sorted((p for folder in history for p in folder.glob(f"{path.stem}_v*.safetensors")),
                  key=lambda p: int(p.stem.rsplit("_v", 1)[1]))
    return [path, *reversed(kept)]


def kept_checkpoints(history: list[Path] = ()) -> dict[tuple, dict]:
    """Every checkpoint shipped or kept in a ``history`` folder, by identity: a stage's record of the
    checkpoint it started from holds one level of history, the kept file holds all of it."""
    paths = [*sorted((ROOT / "assets").glob("*.safetensors")),
             *(p for folder in history for p in sorted(folder.glob("*.safetensors")))]
    return {identity(m): m for m in map(read_metadata, paths)}


def chain(meta: dict, history: list[Path] = ()) -> list[dict]:
    """The checkpoint's training stages, earliest first (init_from records the previous one)."""
    kept = kept_checkpoints(history)
    stages = [meta]
    while stages[0].get("init_from"):
        prev = kept.get(identity(stages[0]["init_from"]), stages[0]["init_from"])
        seen = {identity(s) for s in stages} | {identity(prev)}
        # the stage before that one: its own start, the newest version of it not already in the chain
        start = (prev.get("recipe") or {}).get("init_from")
        # (or, where no such file is in the repository, the start's metadata as the stage recorded it)
        earlier = prev.get("init_from")
        for path in shipped_versions(start, history) if start else []:
            if path.is_file() and identity(candidate := read_metadata(path)) not in seen:
                earlier = candidate
                break
        stages.insert(0, {"command": prev.get("command"), "wall_time_s": prev.get("wall_time_s"),
                          "recipe": prev.get("recipe"), "init_from": earlier})
    return stages


def shown(path: Path) -> str:
    """A path as the report prints it: relative to the repository where it is inside it."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--history", type=Path, nargs="+", default=[],
                   help="folders of the checkpoints stages started from: replaced shipped versions "
                        "(<name>_v<k>.safetensors) first, then any other kept start")
    history = p.parse_args(argv).history
    generated = " ".join(["python -m scripts.checkpoint_report", *(["--history"] if history else []),
                          *map(shown, history)])
    metas = {name: read_metadata(ROOT / "assets" / f"{name}.safetensors") for name, _ in SHIPPED}
    rows = [("clean accuracy", "clean_acc"),
            ("accuracy under PGD-20, random wrong target, 8/255", "pgd20_random_target_8_255_acc"),
            ("attention mass on the item (clean)", "attention_on_item_clean"),
            ("targeted PGD-20 success at 16/255", "targeted_pgd20_16_255_success"),
            ("attention-on-item drop at 16/255 (successful attacks)", "attention_on_item_drop_16_255"),
            ("targeted PGD-20 success at 32/255", "targeted_pgd20_32_255_success"),
            ("attention-on-item drop at 32/255 (successful attacks)", "attention_on_item_drop_32_255")]
    out = ["# The shipped checkpoints", "",
           f"Generated by `{generated} > docs/checkpoints.md` from the metadata "
           "inside each `assets/*.safetensors`. Metrics: test-split canvases 0..1999 (seed 0), at the "
           "model's default glance count, measured by the command in the last section of each entry. "
           "PGD-20 uses the default step size max(1/255, eps/20), a random start, and aims at a "
           "uniformly drawn wrong class per example; the attention mass is that of the glance- and "
           "head-averaged map inside the item's box (the box covers about 9% of the canvas). Each run "
           "wrote `runs/<name>/model.safetensors`, which was copied to `assets/`; the runs went two at "
           "a time on a 2-core machine, one torch thread each, so the wall times are those of one core. "
           "Commands recorded as `python -m model.train` / `model.evaluate` are shown under today's "
           "names (`programs.train` / `programs.evaluate`), and research checkpoints at their "
           "places today (under `studies/`). Each model is measured on its own task's "
           "canvases (`s3ta_cued` and `baseline_cued`: the cued task, `model/data/cued.py`; the others: "
           "the cluttered task). "
           "A stage whose recorded command starts from `assets/<name>.safetensors` started from the "
           "checkpoint shipped under that name when it ran (the entry's previous stage)"
           + (f", kept as `{shown(history[0])}/<name>_v<k>.safetensors` (the highest k the most recent)."
              if history else "."), "",
           "| metric | " + " | ".join(f"`{n}`" for n, _ in SHIPPED) + " |",
           "|---|" + "---:|" * len(SHIPPED)]
    for label, key in rows:
        out.append(f"| {label} | " + " | ".join(fmt(metas[n].get("metrics", {}).get("test", {}).get(key, "-"))
                                                 for n, _ in SHIPPED) + " |")
    out += ["", "Clean accuracy by glance count (the same weights unrolled 1..16 times):", "",
            "| glances | " + " | ".join(str(g) for g in range(1, 17)) + " |", "|---|" + "---:|" * 16]
    for n, _ in SHIPPED:
        by = metas[n].get("metrics", {}).get("test", {}).get("clean_acc_by_glances", {})
        if len(by) > 1:
            out.append(f"| `{n}` | " + " | ".join(f"{by[str(g)]:.3f}" for g in range(1, 17)) + " |")
    for n, title in SHIPPED:
        m = metas[n]
        c = m["config"]
        arch = (f"`s3ta`, {c['heads']} heads, {c['glances']} glances by default, LSTM {c['lstm_size']}, "
                f"{c['basis_size']}x{c['basis_size']} spatial basis" if ARCHITECTURES[c["arch"]].has_attention
                else "`baseline` (global average pooling + linear; glance settings unused)")
        out += ["", f"## `{n}`: {title}", "",
                f"- architecture: {arch}; backbone `{c['backbone']}` widths {c['backbone_widths']}, "
                f"image {c['image_size']} px",
                f"- task: {m.get('task')}; classes: {', '.join(m['class_names'])}",
                f"- hardware: {m.get('hardware')}; torch {m.get('torch')}"]
        total = 0.0
        for i, stage in enumerate(chain(m, history), 1):
            r = stage.get("recipe") or {}
            adv = r.get("adv", {})
            total += stage.get("wall_time_s") or 0.0
            attack = "no attack" if adv.get("method") == "none" else \
                f"{adv.get('method')} towards {adv.get('target')} targets at eps {adv.get('eps', 0) * 255:.0f}/255"
            out += [f"- stage {i}: `{current(stage.get('command'))}` ({r.get('epochs')} epochs of "
                    f"{r.get('train_size')} canvases, {attack}, seed {r.get('seed')}, "
                    f"{(stage.get('wall_time_s') or 0) / 60:.1f} min)"]
        out += [f"- total training wall time: {total / 60:.1f} min",
                f"- metrics measured by: `{current(m.get('metrics', {}).get('test', {}).get('command', '-'))}` "
                f"({m.get('metrics', {}).get('test', {}).get('wall_time_s', '-')} s)"]
    photo = ROOT / "assets" / "photo_attention.safetensors"
    if photo.exists():
        m = read_metadata(photo)
        c, held = m["config"], m.get("metrics", {})
        agree = held.get("holdout_agreement", {})
        box = held.get("holdout_box_attention", {})
        out += ["", "## `photo_attention`: the natural-photo head (not the paper's model)", "",
                f"- {m.get('description')}",
                f"- architecture: `{c['arch']}`, {c['heads']} heads, {c['glances']} glances by default, LSTM "
                f"{c['lstm_size']}, keys {c['key_channels']}"
                f"{', belief query' if c.get('belief_query') else ''}; trunk `{c['backbone']}` (frozen, output stride "
                f"{c['output_stride']}), image {c['image_size']} px; {len(m['class_names'])} ImageNet classes",
                f"- trunk weights: {m.get('weights_origin')}",
                f"- trained by: `{current(m.get('command'))}` ({(m.get('wall_time_s') or 0) / 60:.1f} min)",
                "- held out (scikit-image's photographs, `docs/photos.md`): agreement with the pretrained network "
                "at 1 / 2 / 4 / 8 glances " + " / ".join(fmt(agree.get(str(g), "-")) for g in (1, 2, 4, 8))
                + f"; attention in pasted objects' boxes {fmt(box.get('mass_in_box', '-'))} against their share "
                f"{fmt(box.get('box_share', '-'))} ({fmt(box.get('ratio', '-'))}x)"]
    print("\n".join(out))


if __name__ == "__main__":
    main()
