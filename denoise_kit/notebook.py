"""Whether the scripts run as a notebook (Jupyter, VS Code, Colab) or as a program."""

from __future__ import annotations

import sys


def running_in_notebook() -> bool:
    """True inside a Jupyter kernel (ipykernel), where sys.argv holds the kernel's own arguments."""
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    ipython = shell.get_ipython()
    return ipython is not None and type(ipython).__name__ != "TerminalInteractiveShell"
