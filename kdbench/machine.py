"""The machine a run ran on: CPU model and instruction sets, GPU and compute capability, threads and
determinism settings. Runs are bitwise repeatable only where all of these (and the versions) match."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import torch

# CPU flags that change which kernels PyTorch runs, and so the last digits of a result.
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16",
             "amx_tile", "amx_bf16", "amx_int8", "asimd", "sve", "sve2")


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields from /proc/cpuinfo (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def cpu() -> dict[str, Any]:
    """CPU model, the ISA flags that matter, and the instruction set PyTorch's kernels use."""
    info = _cpuinfo()
    flags = set((info.get("flags") or info.get("Features") or "").split())
    capability = getattr(torch.backends.cpu, "get_cpu_capability", lambda: None)()
    return {"model": info.get("model name") or platform.processor() or platform.machine(),
            "isa": [flag for flag in ISA_FLAGS if flag in flags], "torch_capability": capability}


def gpu(device: torch.device) -> dict[str, Any] | None:
    """Name and compute capability of the CUDA device a run used, else None."""
    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    index = device.index if device.index is not None else torch.cuda.current_device()
    major, minor = torch.cuda.get_device_capability(index)
    return {"name": torch.cuda.get_device_name(index), "compute_capability": f"{major}.{minor}",
            "cuda": torch.version.cuda}


def describe(device: torch.device) -> dict[str, Any]:
    """Everything about this machine that a result's numbers depend on."""
    return {"device": str(device), "cpu": cpu(), "gpu": gpu(device),
            "torch_threads": torch.get_num_threads(),
            "determinism": {"deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
                            "cudnn_deterministic": torch.backends.cudnn.deterministic,
                            "cudnn_benchmark": torch.backends.cudnn.benchmark}}


def hardware_label(provenance: dict[str, Any]) -> str:
    """One line for a board: ``Intel Xeon ... (AVX2), 2 threads`` or the GPU's name."""
    gpu_info = provenance.get("gpu")
    if gpu_info:
        return f"{gpu_info['name']} (compute capability {gpu_info['compute_capability']})"
    cpu_info = provenance.get("cpu") or {}
    model = cpu_info.get("model") or "unknown CPU"
    capability = cpu_info.get("torch_capability")
    threads = provenance.get("torch_threads")
    return (f"{model}" + (f" ({capability})" if capability else "")
            + (f", {threads} threads" if threads else ""))
