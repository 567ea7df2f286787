"""Logging for rule scripts: everything a script says goes to its rule's log file."""
from __future__ import annotations

import logging
import sys


def to_rule_log(path: str) -> logging.Logger:
    """Send stderr and the ``logging`` tree to ``path`` (the rule's ``log:``) and return a logger."""
    stream = open(path, "w", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives as long as the script
    sys.stderr = stream
    logging.basicConfig(stream=stream, level=logging.INFO, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return logging.getLogger("medrobust")
