"""Thin command-line entry points, one per recipe step: ``python -m espnet_ext.bin.<step>``.

Each module parses arguments and calls one library function through :func:`run_main`.
"""

import contextlib
import errno
import logging
import sys
from typing import Callable, Iterator


@contextlib.contextmanager
def exit_on_full_disk() -> Iterator[None]:
    """A full disk exits 2 with what to do instead of a traceback from deep inside a writer.

    Writers are atomic (``espnet_ext.fileio``), so the failed output was discarded whole: the
    same command, rerun once there is space, continues where it stopped.
    """
    try:
        yield
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        where = f" while writing {e.filename}" if e.filename else ""
        logging.getLogger("espnet_ext").error(
            "No space left on device%s (%s). Nothing partial was kept: free space (or point "
            "--expdir/--dumpdir at a larger disk) and rerun the same command.", where, e.strerror)
        sys.exit(2)


@contextlib.contextmanager
def exit_on_user_error() -> Iterator[None]:
    """An :class:`espnet_ext.errors.XlingError` exits 2 with its message only (it already names
    the file or utterance and the fix: a traceback would bury that) and a full disk exits 2 with
    what to do. For entry points that leave logging to ESPnet."""
    from espnet_ext.errors import XlingError

    try:
        with exit_on_full_disk():
            yield
    except XlingError as e:
        logging.getLogger("espnet_ext").error("%s", e)
        sys.exit(2)


def run_main(main: Callable[[], None]) -> None:
    """Run ``main`` with recipe-style logging; a user-facing error exits 2 with its message only.

    An :class:`espnet_ext.errors.XlingError` already names the file/utterance and the fix, so a
    traceback would only bury that message.
    """
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s",
    )
    with exit_on_user_error():
        main()


def upstream_out_dirs(parser, args) -> list:
    """The (``--upstream``, ``--out_dir``) pairs of a CLI that handles several upstreams in one
    process (imports cost more than one upstream's work); a count mismatch is a usage error."""
    if len(args.upstream) != len(args.out_dir):
        parser.error(f"{len(args.upstream)} --upstream but {len(args.out_dir)} --out_dir: give "
                     "one --out_dir per --upstream")
    return list(zip(args.upstream, args.out_dir))
