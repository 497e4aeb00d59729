"""Helpers for tests that run the project's and mmdet's command-line tools."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_command(cmd: list[str], cwd: Path = REPO, timeout: float = 900, env: dict | None = None,
                check: bool = True) -> subprocess.CompletedProcess:
    """Run a command; on failure show its output in the assertion."""
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    if check:
        assert proc.returncode == 0, f'{cmd} exited {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}'
    return proc


def run_tool(args: list[str], cwd: Path = REPO, timeout: float = 900, env: dict | None = None,
             check: bool = True) -> subprocess.CompletedProcess:
    """Run a script with this interpreter; on failure show its output in the assertion."""
    return run_command([sys.executable, *args], cwd, timeout, env, check)


def stock_mmdet_tool(name: str) -> str:
    from mmgen_det.utils.mmdet_tools import mmdet_tool_path
    return str(mmdet_tool_path(name))
