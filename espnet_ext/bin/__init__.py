"""Thin command-line entry points, one per recipe step: ``python -m espnet_ext.bin.<step>``.

Each module parses arguments and calls one library function through :func:`run_main`.
"""

import logging
import sys
from typing import Callable


def run_main(main: Callable[[], None]) -> None:
    """Run ``main`` with recipe-style logging; a user-facing error exits 2 with its message only.

    An :class:`espnet_ext.errors.XlingError` already names the file/utterance and the fix, so a
    traceback would only bury that message.
    """
    from espnet_ext.errors import XlingError

    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s",
    )
    try:
        main()
    except XlingError as e:
        logging.getLogger("espnet_ext").error("%s", e)
        sys.exit(2)
