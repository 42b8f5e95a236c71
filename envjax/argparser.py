"""The argparse parser every Caravan command line uses (no jax import).

A bad command exits 2 with one `error: ...` line naming the flag (no usage block), and a
negative number of any spelling (-1e-3, -inf, -nan) is read as a flag's value: stock
argparse reads only -3 or -.5 that way and answers `--lr -inf` with "expected one argument".
"""

from __future__ import annotations

import argparse
import re
from typing import Any, NoReturn

# No flag of ours starts with '-' then a digit, '.', 'inf' or 'nan'.
NEGATIVE_NUMBER = re.compile(r"^-(\d|\.\d|inf|nan)", re.IGNORECASE)


class OneLineParser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) that reads any negative number as a value."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_NUMBER

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message}\n")
