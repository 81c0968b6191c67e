"""Making artworks: the job registry and runner, the scheduler, and four model families.

Every family (``stylegan``, ``vqgan_clip``, ``lts``, ``musicvae``) has the same files:

- ``model.py``: the network(s); ``presets.py``: named configurations as typed (dataclass) data;
- ``checkpoints.py``: ``LoadedModel``, ``load(path, device="cpu", ...) -> LoadedModel`` and ``resolve(...)``,
  which finds the file from the settings and returns what ``load`` takes besides the device (a path; with
  StyleGAN also the registered model's name, with VQGAN also the configured architecture);
- ``train.py`` (VQGAN+CLIP: ``train_vqgan.py`` and ``train_clip.py``, one per network):
  ``train(preset, out, *, steps=..., seed=..., progress=..., ...)``, the family's data options keyword-only;
- ``jobs.py`` (the job kinds), ``cli.py`` (its commands), ``settings.py`` (its config section).

Shared helpers live outside the families: :mod:`gallery.hashing` (``sha256_file``), :mod:`gallery.imaging`
(``png_bytes``, ``thumbnail``), and the artwork kinds with their groups in :mod:`catalogue.models`.
"""
