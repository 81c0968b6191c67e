"""The machine a figure was measured on: CPU model and the instruction sets torch uses, torch build,
threads, load and GPU; printed beside every bench table (``print_machine``) and the key of the
per-machine fast-path cache (``machine_key``, see :mod:`generator.fastpath`).

torch is imported lazily (``gallery --help`` stays fast); nothing here fails on a machine without
/proc/cpuinfo or without CUDA: a missing fact is reported as "unknown".
"""

from __future__ import annotations

import os
import platform
import re
import sys
from pathlib import Path
from typing import Any, TextIO

# the /proc/cpuinfo flags that decide which CPU kernels oneDNN/MKL pick (vector width, bf16/fp16, AMX)
SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx512_fp16",
               "amx_tile", "amx_bf16", "amx_int8", "amx_fp16")
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "DNNL_MAX_CPU_ISA",
              "ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")


def _cpuinfo(path: Path = Path("/proc/cpuinfo")) -> tuple[str, list[str]]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return platform.processor() or platform.machine() or "unknown", []
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    flags = re.search(r"^(?:flags|Features)\s*:\s*(.+)$", text, re.M)
    have = set(flags.group(1).split()) if flags else set()
    return (model.group(1).strip() if model else platform.machine() or "unknown",
            [f for f in SPEED_FLAGS if f in have])


def _torch_build(torch: Any) -> dict[str, str]:
    """The parts of torch.__config__.show() that decide CPU speed: compiler, BLAS, oneDNN, CUDA."""
    try:
        text = torch.__config__.show()
    except Exception:  # noqa: BLE001 - a describe must never fail
        return {}
    out: dict[str, str] = {}
    for key, pat in (("compiler", r"GCC [\d.]+|clang[^\n,]*|MSVC [\d.]+"), ("onednn", r"(?:oneDNN|MKL-DNN) v([\d.]+)"),
                     ("blas", r"BLAS_INFO=(\w+)"), ("cuda", r"CUDA_VERSION=([\d.]+)"),
                     ("cudnn", r"CUDNN_VERSION=([\d.]+)")):
        m = re.search(pat, text)
        if m:
            out[key] = m.group(1) if m.groups() else m.group(0)
    m = re.search(r"Intel\(R\) (?:oneAPI )?Math Kernel Library Version ([\d.]+)", text)
    if m:
        out["mkl"] = m.group(1)
    return out


def describe(device: Any = None) -> dict[str, Any]:
    """Everything a speed figure depends on, as a JSON-able dict."""
    import torch

    model, flags = _cpuinfo()
    info: dict[str, Any] = {
        "cpu": model, "cpu_count": os.cpu_count(), "cpu_flags": flags,
        "torch_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__, "build": _torch_build(torch),
        "threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads(),
        "env": {k: os.environ[k] for k in THREAD_ENV if k in os.environ},
        "load": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
    }
    try:
        import torchvision

        info["torchvision"] = torchvision.__version__
    except ImportError:
        info["torchvision"] = None
    info["gpu"] = None
    if torch.cuda.is_available() and (device is None or torch.device(device).type == "cuda"):
        idx = torch.device(device).index if device is not None and torch.device(device).index is not None else 0
        p = torch.cuda.get_device_properties(idx)
        info["gpu"] = {"name": p.name, "memory_gib": round(p.total_memory / 2**30, 1),
                       "capability": f"{p.major}.{p.minor}", "cuda": torch.version.cuda,
                       "cudnn": torch.backends.cudnn.version(), "count": torch.cuda.device_count()}
    return info


def machine_line(info: dict[str, Any] | None = None) -> str:
    """One line (two with a GPU) that a table can carry: CPU, flags, torch, threads, load, GPU."""
    i = info or describe()
    b = i.get("build") or {}
    build = ", ".join(f"{k} {v}" for k, v in b.items() if k in ("blas", "mkl", "onednn"))
    env = " ".join(f"{k}={v}" for k, v in (i.get("env") or {}).items())
    load = "/".join(f"{x:.2f}" for x in i["load"]) if i.get("load") else "unknown"
    line = (f"machine: {i['cpu']} ({i['cpu_count']} logical CPUs; flags {' '.join(i['cpu_flags']) or 'none'}; "
            f"torch kernels {i['torch_capability']}) | torch {i['torch']} ({build or 'build unknown'}), "
            f"torchvision {i['torchvision']} | {i['threads']} torch threads{' (' + env + ')' if env else ''} | "
            f"load {load}")
    g = i.get("gpu")
    line += (f"\n         GPU: {g['name']}, {g['memory_gib']} GiB, sm {g['capability']}, CUDA {g['cuda']}, "
             f"cuDNN {g['cudnn']}" if g else " | GPU: none")
    return line


def print_machine(file: TextIO | None = None, device: Any = None,
                  unless: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """Print the machine line beside a bench's table (every script under bench/ calls this). Not when
    one of ``unless`` is among the command's arguments (a measured child process: its stdout is JSON
    and its peak memory must not include torch)."""
    if any(a in unless for a in sys.argv[1:]):
        return None
    info = describe(device)
    print(machine_line(info), file=file or sys.stdout, flush=True)
    return info


def machine_key(device: Any = None) -> str:
    """What a measured fast-path choice holds for: CPU model + torch kernels + torch version + threads
    (+ the GPU's name on CUDA). Another machine, torch or thread count measures again."""
    import torch

    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cuda":
        name = torch.cuda.get_device_name(dev)
        return f"cuda|{name}|torch {torch.__version__}|cuda {torch.version.cuda}"
    model, _ = _cpuinfo()
    return f"cpu|{model}|{torch.backends.cpu.get_cpu_capability()}|torch {torch.__version__}|{torch.get_num_threads()} threads"
