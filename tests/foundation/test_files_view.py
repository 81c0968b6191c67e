"""Media under recognisable names: the files view (links with extensions) and named exports."""

from __future__ import annotations

import mimetypes
import os
from types import SimpleNamespace

import pytest

from catalogue import ArtworkDraft, MediaDraft
from catalogue.files import artwork_files, export_artwork, media_ext, media_names

PNG = b"\x89PNG\r\n\x1a\n" + b"png-body"
WAV = b"RIFF\x00\x00\x00\x00WAVEfmt "
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"video"
MIDI = b"MThd\x00\x00\x00\x06"


def _add(cat, media: list[tuple[str, str, bytes]], title: str = "a work") -> int:
    return cat.add(ArtworkDraft(kind="walk", recipe={"generator": "test", "title": title}, title=title,
                                media=[MediaDraft(role=r, mime=mt, data=d) for r, mt, d in media]))


@pytest.mark.parametrize(("mime", "ext"), [
    ("image/png", ".png"), ("video/mp4", ".mp4"), ("audio/wav", ".wav"), ("audio/x-wav", ".wav"),
    ("audio/midi", ".mid"), ("image/jpeg", ".jpg"), ("IMAGE/PNG", ".png"), ("audio/wav; codecs=1", ".wav"),
    ("application/x-unknown-thing", ".bin"), ("", ".bin"), (None, ".bin"),
])
def test_extension_from_the_mime_type(mime, ext):
    assert media_ext(mime) == ext


def test_names_number_repeated_roles_and_keep_odd_roles_inside_the_folder():
    media = [SimpleNamespace(role=r, mime=m) for r, m in [
        ("video", "video/mp4"), ("frame", "image/png"), ("frame", "image/png"), ("poster", "image/png"),
        ("frame", "image/png"), ("../../etc/passwd", "text/plain"), ("", "image/png")]]
    names = media_names(media)
    assert names == ["video.mp4", "frame-00.png", "frame-01.png", "poster.png", "frame-02.png",
                     "etc-passwd.txt", "media.png"]
    assert all("/" not in n and not n.startswith(".") for n in names)
    many = [SimpleNamespace(role="frame", mime="image/png")] * 120
    assert media_names(many)[0] == "frame-000.png" and media_names(many)[-1] == "frame-119.png"


def test_files_view_links_with_extensions_open_the_blobs(catalogue, tmp_path):
    aid = _add(catalogue, [("video", "video/mp4", MP4), ("poster", "image/png", PNG), ("frame", "image/png", PNG + b"1"),
                           ("frame", "image/png", PNG + b"2"), ("audio", "audio/wav", WAV), ("midi", "audio/midi", MIDI)])
    art = catalogue.get(aid)
    root = tmp_path / "files"
    found = artwork_files(catalogue, art, root)
    paths = [p for _, p in found]
    assert [p.name for p in paths] == ["video.mp4", "poster.png", "frame-00.png", "frame-01.png", "audio.wav",
                                       "midi.mid"]
    for m, p in found:
        assert p.parent == root / str(aid)
        assert p.read_bytes() == catalogue.media_path(m).read_bytes()  # the same content, a recognised name
        guessed = mimetypes.guess_type(p.name)[0]  # what a program that goes by the name sees
        assert guessed is not None and guessed.split("/")[0] == m.mime.split("/")[0]
        if p.is_symlink():  # relative: the data_dir can move as a whole
            assert not os.path.isabs(os.readlink(p))
    # again: the same links, nothing else appears
    assert [p for _, p in artwork_files(catalogue, art, root)] == paths
    assert sorted(x.name for x in (root / str(aid)).iterdir()) == sorted(p.name for p in paths)


def test_files_view_repairs_a_folder_left_by_an_older_catalogue(catalogue, tmp_path):
    """A catalogue made again from scratch reuses ids: stale names are replaced or removed."""
    aid = _add(catalogue, [("image", "image/png", PNG), ("thumbnail", "image/png", PNG + b"t")])
    root = tmp_path / "files"
    folder = root / str(aid)
    folder.mkdir(parents=True)
    (folder / "image.png").write_bytes(b"an old picture")  # a stale file under a current name
    os.symlink("../../nowhere", folder / "thumbnail.png")  # a dangling link under a current name
    (folder / "video.mp4").write_bytes(b"old video")  # a name this artwork has no media for
    found = artwork_files(catalogue, catalogue.get(aid), root)
    for m, p in found:
        assert p.read_bytes() == catalogue.media_path(m).read_bytes()
    assert sorted(x.name for x in folder.iterdir()) == ["image.png", "thumbnail.png"]


def test_a_missing_blob_leaves_no_stale_file(catalogue, tmp_path):
    aid = _add(catalogue, [("image", "image/png", PNG), ("audio", "audio/wav", WAV)])
    art = catalogue.get(aid)
    root = tmp_path / "files"
    artwork_files(catalogue, art, root)
    catalogue.media_path(art.media[1]).unlink()  # the blob is gone (a broken store)
    found = artwork_files(catalogue, art, root)
    assert found[0][1].read_bytes() == PNG
    assert not found[1][1].exists()


def test_export_copies_named_files_and_replaces_old_ones(catalogue, tmp_path):
    aid = _add(catalogue, [("video", "video/mp4", MP4), ("poster", "image/png", PNG)])
    art = catalogue.get(aid)
    dest = tmp_path / "out" / "nested"
    (dest).mkdir(parents=True)
    (dest / f"{aid}-poster.png").write_bytes(b"older export")
    written = export_artwork(catalogue, art, dest)
    assert [p.name for p in written] == [f"{aid}-video.mp4", f"{aid}-poster.png"]
    assert written[0].read_bytes() == MP4 and written[1].read_bytes() == PNG
    assert not any(p.is_symlink() for p in written)  # copies: they outlive the catalogue
    assert sorted(p.name for p in dest.iterdir()) == sorted(p.name for p in written)  # no temp files left
    assert [p.name for p in export_artwork(catalogue, art, dest, prefix="")] == ["video.mp4", "poster.png"]
