"""`gallery show --sync leader|follower --screen NAME`: one screen of a multi-screen installation.

The loop waits for the next frame boundary of the SHARED clock (frame N is shown at shared time N / fps
on every screen), draws that frame with ``SyncPlayer`` and presents it (a window's flip, or the next
frame of a headless recording, watermarked with N). The leader re-reads the catalogue every
``show.refresh_seconds`` and, when the programme (timetable, a switch) or its works change, announces
the change at a shared time ``sync.change_lead_s`` ahead, rounded to a frame: every screen switches at
that frame.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gallery.errors import BadInput, GalleryError
from installation.control import Dispatcher, NotAvailable
from installation.heartbeat import Heartbeat
from installation.layouts import SpanTarget, layout_for
from installation.programme import CatalogueSource, Programme
from installation.programmes import Programmes
from installation.render import Renderer
from installation.settings import ShowSettings
from installation.sync_clock import Timeline
from installation.sync_follower import SyncNode
from installation.sync_schedule import Playlist, default_epoch, playlists
from installation.sync_show import SyncPlayer

log = logging.getLogger(__name__)
FIRST_EXCHANGES = 3  # kept exchanges before a follower draws its first frame
FIRST_TIMELINE_S = 10.0  # a follower waits this long for the leader's first answer before giving up


def check_sync(ss: ShowSettings, role: str, screen: str | None) -> None:
    cfg = ss.sync
    if role not in ("leader", "follower"):
        raise BadInput(f"--sync {role!r}: leader or follower")
    if not cfg.screens:
        raise BadInput("--sync needs show.sync.screens in config.yaml (see docs/show.md 'Many screens, one clock')")
    if screen is None:
        raise BadInput(f"--sync needs --screen NAME (one of show.sync.screens: {', '.join(cfg.screens)})")
    if screen not in cfg.screens:
        raise BadInput(f"--screen {screen!r}: not one of show.sync.screens ({', '.join(cfg.screens)})")
    if role == "leader" and screen != cfg.leader:
        raise BadInput(f"--sync leader --screen {screen}: show.sync.leader is {cfg.leader!r}")


class Library:
    """The catalogue as playlists, read on a thread (the leader and each follower read it alike)."""

    def __init__(self, ss: ShowSettings, catalogue: Any, group: tuple[int, int], seed: int | None = None) -> None:
        self.ss, self.catalogue, self.group = ss, catalogue, group
        self.source = CatalogueSource(catalogue, ss)
        seed = ss.seed if seed is None else seed
        self.programmes = Programmes(ss, Programme(ss, seed=seed or 0).weighted, seed=seed)
        self.lists: dict[str, Playlist] = {}  # programme -> its playlist as last read
        self.versions: dict[str, Playlist] = {}  # version -> playlist (the recent ones)
        self.read_at = 0.0
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-catalogue")
        self._reading: Future | None = None
        self.last_error: str | None = None

    def read(self, shared: float) -> dict[str, Playlist]:
        pool = self.source.read()
        wanted = [n for n, s in self.programmes.specs.items() if s.source[0] in ("set", "query")]
        members, errors = self.programmes.resolve(self.catalogue, wanted)
        self.programmes.update(members, errors)
        return playlists(self.programmes, pool, shared, self.group)

    def refresh(self, shared: float, block: bool = False) -> None:
        if self._reading is None:
            self._reading = self.pool.submit(self.read, shared)
        if block or self._reading.done():
            try:
                self.lists = self._reading.result()
                self.last_error = None
                for pl in self.lists.values():  # the version in force plays on until the change's frame
                    self.versions[pl.version] = pl
                while len(self.versions) > 16:
                    self.versions.pop(next(iter(self.versions)))
            except Exception as e:  # noqa: BLE001 - the catalogue went away: play what is known
                self.last_error = f"catalogue unavailable: {type(e).__name__}: {e}"
                log.warning("sync: %s", self.last_error)
            self._reading = None
            self.read_at = time.monotonic()

    def choose(self, name: str) -> Playlist | None:
        for n in (name, self.ss.programme, "all"):
            if n in self.lists:
                return self.lists[n]
        return None

    def close(self) -> None:
        self.pool.shutdown(wait=True)


@dataclass
class SyncResult:
    frames: int
    seconds: float
    status: dict[str, Any]


def run_sync(ss: ShowSettings, catalogue: Any, role: str, screen: str, *, record: Path | None = None,
             seconds: float | None = None, width: int | None = None, height: int | None = None,
             fps: float | None = None, fullscreen: bool = True, display: int = 0, status_file: Path | None = None,
             http_port: int | None = None, media: Any = None) -> SyncResult:
    check_sync(ss, role, screen)
    cfg = ss.sync
    fps = fps or ss.fps
    w, h = width or ss.width, height or ss.height
    sc = cfg.screens[screen]
    layout = layout_for(cfg, screen, (w, h))
    lib = Library(ss, catalogue, layout.group)
    stop = threading.Event()
    old = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if threading.current_thread() is threading.main_thread() else None
    node: SyncNode | None = None
    if role == "leader":
        from installation.sync_clock import NodeClock

        now = NodeClock(cfg.skew_ms).now()
        lib.refresh(now, block=True)
        active = lib.programmes.active(datetime.fromtimestamp(now, UTC))
        pl = lib.choose(active)
        epoch = cfg.epoch if cfg.epoch is not None else default_epoch(now, ss.timezone)
        node = SyncNode(cfg, screen, "leader", Timeline(epoch, pl.programme if pl else active, pl.version if pl else "-"))
    else:
        node = SyncNode(cfg, screen, "follower")
        lib.refresh(node.shared())  # read while the first exchanges run
        t_wait = time.monotonic()
        # the first frame waits for a few kept exchanges (one can be off by half its delay), a second at most
        while (node.current() is None or node.synced_at is None or (
                node.filter.accepted < FIRST_EXCHANGES and time.monotonic() - node.synced_at < 1.0)) \
                and not stop.is_set():
            if time.monotonic() - t_wait > FIRST_TIMELINE_S:
                node.close()
                raise GalleryError(f"sync: no answer from the leader {cfg.leader} ({cfg.screens[cfg.leader].address}) "
                                   f"or its successors in {FIRST_TIMELINE_S:.0f} s")
            time.sleep(0.01)
        lib.refresh(node.shared(), block=True)
    sound = cfg.sound == "each" or cfg.sound == screen
    out = _Output(ss, layout, record, fps, fullscreen, display, sound)
    audio = out.audio if sound else None
    player = SyncPlayer(ss, out.renderer, layout, audio, sc.channel if cfg.sound == "each" else "both", media)
    port = http_port if http_port is not None else sc.http_port if sc.http_port is not None else ss.http_port
    hb = Heartbeat(status_file, port,
                   stale_after=max(10.0, 5 * ss.heartbeat_seconds), host=ss.control_host)
    hb.control = Dispatcher()
    names = list(cfg.screens)
    frames, t_first = 0, node.shared()
    info: dict[str, Any] = {}
    next_beat = next_check = 0.0
    n = math.floor(node.shared() * fps) + 1

    def status() -> dict[str, Any]:
        me = {**node.report(), "frames": frames, "late_frames": player.late, "slot": info.get("slot"),
              "artwork_id": info.get("artwork_id"), "layout": layout.kind}
        screens = [me]
        if node.server is not None:
            screens += [s for s in node.server.followers() if s["screen"] != screen]
        item = None if player.slot is None else {"artwork_id": player.slot.entry.artwork_id,
                                                 "kind": player.slot.entry.kind, "title": player.slot.entry.title}
        return {"state": "playing", "item": item, "programme": me["programme"], "programmes": lib.programmes.names(),
                "sync": me, "screens": screens, "frames": frames, "late_frames": player.late,
                "last_error": (player.errors or [lib.last_error])[-1], "size": [w, h], "paused": False,
                "skipped_items": [], "time_left_s": None if player.slot is None else
                round(player.slot.start + player.slot.duration - node.shared(), 2)}

    try:
        while not stop.is_set():
            target = n / fps
            ahead = target - node.shared()
            if ahead > 0:
                time.sleep(min(ahead, 0.1))
                continue
            if seconds is not None and target - t_first >= seconds:
                break
            if out.quit_requested():
                break
            tl = node.current()
            if tl is None:
                n += 1
                continue
            epoch, prog, version = tl.at(target)
            pl = lib.versions.get(version)
            stale = pl is None or (tl.change_at is not None and tl.change_version not in lib.versions)
            if stale and tl.change_at is not None and tl.change_version != info.get("announced"):
                info["announced"] = tl.change_version
                log.info("sync: %s heard of version %s from %.3f (%.2f s ahead)", screen, tl.change_version,
                         tl.change_at, tl.change_at - target)
            if stale and time.monotonic() - lib.read_at > 0.3:
                lib.refresh(node.shared())  # the leader has (or announced) a newer catalogue: read it too
            pl = pl or lib.lists.get(prog) or lib.choose(prog)
            if pl and pl.version != version and info.get("behind") != version:
                info["behind"] = version
                log.warning("sync: %s plays version %s, the leader's is %s (catalogue read behind)", screen,
                            pl.version, version)
            if pl:
                info = {**info, **player.frame(target, out.target, pl, epoch, audio_t=target - t_first)}
            else:
                out.target.clear(0.0, 0.0, 0.0, 1.0)
            alive = node.leader_alive and node.leader_name in names
            tag = (names.index(node.leader_name) + 1 if alive else 0) | (int(pl.version[-1], 16) << 4 if pl else 0)
            out.present(n, tag, target - t_first)
            frames += 1
            n = max(n + 1, math.floor(node.shared() * fps))  # late: skip to the frame that is due now
            mono = time.monotonic()
            for cmd in hb.control.take():
                _apply(cmd, node, lib, stop, status)
            if mono >= next_check:
                next_check = mono + 0.5
                node.set_status({k: v for k, v in status()["sync"].items() if k in (
                    "frames", "late_frames", "slot", "artwork_id", "offset_ms", "delay_ms", "layout", "role")})
                if mono - lib.read_at > ss.refresh_seconds:
                    lib.refresh(node.shared())
                if node.server is not None:
                    _lead(node, lib, ss, fps)
            if mono >= next_beat:
                next_beat = mono + ss.heartbeat_seconds
                hb.beat(status())
        final = status()
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
        hb.control = None
        hb.close()
        player.close()
        out.close()
        node.close()
        lib.close()
    return SyncResult(frames, frames / fps, final)


def _lead(node: SyncNode, lib: Library, ss: ShowSettings, fps: float) -> None:
    """The leader: announce a new programme or version ``change_lead_s`` ahead, on a frame boundary."""
    at = math.ceil((node.shared() + ss.sync.change_lead_s) * fps) / fps
    tl = node.current()
    assert tl is not None and node.server is not None
    active = lib.programmes.active(datetime.fromtimestamp(at, UTC))
    pl = lib.choose(active)
    if pl is None:
        return
    if (pl.programme, pl.version) != tl.at(at)[1:]:
        node.server.announce(pl.programme, pl.version, at)


def _apply(cmd: Any, node: SyncNode, lib: Library, stop: threading.Event, status: Any) -> None:
    try:
        if node.server is None:
            raise NotAvailable("a follower screen: send commands to the leader screen")
        if cmd.name == "programme":
            lib.programmes.switch(cmd.arg.get("name") if isinstance(cmd.arg, dict) else cmd.arg)
            cmd.note = f"every screen switches within {lib.ss.sync.change_lead_s} s, at the same frame"
        elif cmd.name == "reload":
            lib.refresh(node.shared())
        elif cmd.name == "quit":
            stop.set()
        else:
            raise NotAvailable(f"{cmd.name}: a synchronised show plays its schedule (switch programmes instead)")
    except Exception as e:  # noqa: BLE001 - handed back to the caller
        cmd.error = e
    cmd.completed_at = time.monotonic()
    cmd.result = status()
    cmd.done.set()


class _Output:
    """Where frames go: a window (flip) or a headless recording (watermarked frames to ffmpeg)."""

    def __init__(self, ss: ShowSettings, layout: Any, record: Path | None, fps: float, fullscreen: bool,
                 display: int, sound: bool) -> None:
        from installation.render import headless_context, offscreen_target

        self.ss, self.record, self.fps = ss, record, fps
        w, h = layout.screen
        self.audio: Any = None
        self._wav = self._tmp = None
        if record is not None:
            import imageio_ffmpeg

            self.ctx = headless_context()
            self.fbo = offscreen_target(self.ctx, w, h)
            self.video = record if not sound else record.with_name(f".{record.stem}.video{record.suffix}")
            self.writer = imageio_ffmpeg.write_frames(str(self.video), (w, h), fps=fps, codec="libx264",
                                                      pix_fmt_out="yuv420p", macro_block_size=1, quality=7,
                                                      ffmpeg_log_level="error", output_params=["-preset", "veryfast"])
            self.writer.send(None)
            if sound:
                self._sound_track(ss)
        else:
            from installation.live import open_window

            self.ctx, (w, h) = open_window(w, h, fullscreen, display)
            self.fbo = self.ctx.screen
            if sound:
                from installation.audio import LiveAudio

                self.audio = LiveAudio(ss.sample_rate, ss.volume)
        self.size = (w, h)
        self.renderer = Renderer(self.ctx, *layout.canvas, ss.fit)
        self.target = SpanTarget(self.fbo, self.ctx, layout) if layout.spans else self.fbo

    def _sound_track(self, ss: ShowSettings) -> None:
        import wave

        import numpy as np

        from installation.audio import RecordAudio

        assert self.record is not None
        self._tmp = self.record.with_name(f".{self.record.stem}.audio.wav")
        self._wav = wave.open(str(self._tmp), "wb")  # noqa: SIM115 - closed in close()
        self._wav.setnchannels(2)
        self._wav.setsampwidth(2)
        self._wav.setframerate(ss.sample_rate)
        wav = self._wav
        self.audio = RecordAudio(ss.sample_rate, ss.volume,
                                 sink=lambda c: wav.writeframes(np.ascontiguousarray(c, "<i2").tobytes()))

    def quit_requested(self) -> bool:
        if self.record is not None:
            return False
        import pygame

        return any(ev.type == pygame.QUIT for ev in pygame.event.get())

    def present(self, n: int, tag: int, audio_t: float) -> None:
        if self.record is None:
            import pygame

            self.ctx.finish()
            pygame.display.flip()
            return
        from installation import watermark

        w, h = self.size
        rgb = watermark.stamp(
            __import__("numpy").frombuffer(self.fbo.read(components=3, alignment=1), "u1").reshape(h, w, 3)[::-1],
            n, int(time.time() * 1000), tag)
        self.writer.send(rgb.tobytes())
        if self.audio is not None:
            self.audio.advance(audio_t + 1 / self.fps)

    def close(self) -> None:
        self.renderer.release()
        if self.record is not None:
            self.writer.close()
            if self._wav is not None:
                from installation.record import mux

                self._wav.close()
                try:
                    mux(self.video, self._tmp, self.record)
                finally:
                    self.video.unlink(missing_ok=True)
                    self._tmp.unlink(missing_ok=True)
            self.fbo.release()
            self.ctx.release()
        else:
            import pygame

            if self.audio is not None:
                self.audio.close()
            pygame.display.quit()
