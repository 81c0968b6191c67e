"""`gallery train stylegan --data NAME`: the run on a registered image dataset, from the command's options to
the registered model (see :mod:`generator.stylegan.train_data`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gallery.errors import BadInput


def open_dataset(settings: Any, catalogue: Any, name: str) -> Any:
    """The registered image dataset ``name`` (BadInput when unknown, not images, or its files are gone)."""
    from catalogue.datasets import get_dataset, list_datasets
    from generator.datasets.image_store import ImageDataset
    from generator.datasets.images import dataset_folder

    row = get_dataset(catalogue, name)
    if row is None:
        known = [d.name for d in list_datasets(catalogue, kind="images")]
        raise BadInput(f"unknown dataset {name!r}; registered image datasets: {', '.join(known) or 'none'} "
                       "(make one with `gallery dataset images FOLDER --name NAME --resolution 64`)")
    if row.kind != "images":
        raise BadInput(f"dataset {name!r} holds {row.kind}, not images")
    return ImageDataset(dataset_folder(settings, row))


def train_stylegan_data(st: Any, data: str, *, resume: str | None, cont: bool, out: Path | None,
                        export: Path | None, name: str | None, opts: Any, device: Any,
                        progress: Any) -> dict[str, Any]:
    """Check everything, train, export, register; returns the summary the command prints."""
    from generator.stylegan.train_data import train_on_data
    from generator.stylegan.train_register import check_model_name, export_data_weights, register_trained
    from generator.stylegan.transfer import check_freeze, data_config, transfer_source

    model_name = check_model_name(name or data)
    ds = open_dataset(st.settings, st.catalogue, data)
    run_dir = out or st.settings.path(st.settings.stylegan.train_dir) / model_name
    source = None
    if resume is not None and not cont:
        source = transfer_source(resume, ds.resolution, st.settings, st.catalogue)
    if not cont:  # refuse a bad --freeze-d before anything is written
        from generator.stylegan.model import Discriminator

        check_freeze(source.D if source is not None else Discriminator(data_config(ds.resolution)), opts.freeze_d)
    r = train_on_data(ds, data, run_dir, opts, source=source, cont=cont, device=device, progress=progress)
    weights, prov = export_data_weights(r.checkpoint, run_dir / "weights.pt")
    if export is not None:
        export_data_weights(r.checkpoint, export)
    reg = register_trained(weights, model_name, st.settings, st.catalogue, prov)
    return {"model": reg["name"], "model_id": reg["model_id"], "weights": reg["path"], "sha256": reg["sha256"],
            "dataset": data, "steps": r.step, "images_seen": r.images_seen, "seconds": round(r.seconds, 1),
            "ada_p": round(r.ada_p, 4), "rt": None if r.rt != r.rt else round(r.rt, 3),
            "kid": r.kid, "transfer": prov["transfer"]["name"] if prov["transfer"] else None,
            "checkpoint": str(r.checkpoint), "run_weights": str(weights),
            **({"export": str(export)} if export is not None else {}), "grid": str(r.last_grid), "losses": r.losses}
