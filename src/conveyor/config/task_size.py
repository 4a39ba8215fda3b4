"""Task-level `cpu` and `memory` as ECS reads them, and the task sizes Fargate accepts.

    >>> cpu_units("0.25 vCPU"), cpu_units("1 vcpu"), cpu_units("256"), cpu_units(512)
    (256, 1024, 256, 512)
    >>> memory_mib("1 GB"), memory_mib("0.5GB"), memory_mib("512")
    (1024, 512, 512)
    >>> fargate_problem(256, 4096)
    'Fargate runs cpu 256 (0.25 vCPU) with memory 512, 1024 or 2048 MiB, got 4096'

The API types both as strings ("256", "0.25 vCPU", "512", "1 GB"): ECS converts them to CPU units
and MiB at registration (botocore ecs/2014-11-13 RegisterTaskDefinition.cpu/.memory).
"""

from __future__ import annotations

import re

# RegisterTaskDefinition.memory documentation: memory choices (MiB) per Fargate cpu value.
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}
EC2_CPU_RANGE = (128, 196608)  # "between 128 CPU units (0.125 vCPUs) and 196608 CPU units (192 vCPUs)"

_CPU = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+)\s*(vcpu)?\s*", re.IGNORECASE)
_MEMORY = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+)\s*(gb)?\s*", re.IGNORECASE)


def _amount(value: str | float, pattern: re.Pattern, scale: int) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value) if value == int(value) and value > 0 else None
    match = pattern.fullmatch(value)
    if not match:
        return None
    number = float(match.group(1)) * (scale if match.group(2) else 1)
    return int(number) if number == int(number) and number > 0 else None


def cpu_units(value: str | float) -> int | None:
    """CPU units from "256", "0.25 vCPU", "1 vcpu" (or a number); None when it is not one."""
    return _amount(value, _CPU, 1024)


def memory_mib(value: str | float) -> int | None:
    """MiB from "512", "1 GB", "1GB" (or a number); None when it is not one."""
    return _amount(value, _MEMORY, 1024)


def _mib_list(choices: tuple[int, ...]) -> str:
    if len(choices) <= 3:
        return ", ".join(str(c) for c in choices[:-1]) + f" or {choices[-1]}"
    step = choices[1] - choices[0]
    return f"{choices[0]} to {choices[-1]} in steps of {step}"


def fargate_problem(cpu: int, memory: int) -> str | None:
    """Why Fargate rejects this task size, or None when it is one of the combinations it runs."""
    if cpu not in FARGATE_SIZES:
        return (f"Fargate runs task cpu {', '.join(str(c) for c in FARGATE_SIZES)} "
                f"(0.25 to 16 vCPU), got {cpu}")
    choices = FARGATE_SIZES[cpu]
    if memory in choices:
        return None
    return f"Fargate runs cpu {cpu} ({cpu / 1024:g} vCPU) with memory {_mib_list(choices)} MiB, got {memory}"
