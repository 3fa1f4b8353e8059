"""Is the process that created a run alive? By pid, the pid's start time (a reused pid is another
process) and the host (runs of another host cannot be checked)."""

from __future__ import annotations

import os
import socket
from typing import Any

import pandas as pd



def _process_start(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot), to tell a reused pid apart.

    None where /proc is not available or the process does not exist.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may contain spaces: split after it
    fields = stat[stat.rfind(")") + 2:].split()
    try:
        return int(fields[19])  # field 22 of the whole line: starttime
    except (IndexError, ValueError):
        return None


def _pid_alive(pid: int | None, pid_start: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, belongs to someone else
    except (OSError, OverflowError, ValueError):
        return False
    if pid_start is not None:
        now_start = _process_start(int(pid))
        if now_start is not None and now_start != pid_start:
            return False  # the pid was reused by another process
    return True


def _is_dead(status: str, pid: Any, pid_start: Any, host: Any) -> bool:
    """A ``running`` run of this host whose process is gone (another host: cannot tell)."""
    if status != "running" or host != socket.gethostname():
        return False
    pid = None if pd.isna(pid) else int(pid)
    pid_start = None if pid_start is None or pd.isna(pid_start) else int(pid_start)
    return not _pid_alive(pid, pid_start)
