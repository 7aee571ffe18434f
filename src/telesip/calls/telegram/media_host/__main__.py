"""``python -m telesip.calls.telegram.media_host --turns|--solo``: the child (started by
``MediaHost``)."""

from __future__ import annotations

import sys

if __name__ == "__main__":
    from .child import main

    sys.exit(main(sys.argv[1:]))
