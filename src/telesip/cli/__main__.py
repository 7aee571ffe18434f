"""``python -m telesip.cli``: the same as the ``telesip`` command."""

from telesip.cli import main

main()
