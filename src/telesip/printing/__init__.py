"""Paper and files for handing accounts out: the printable sheet of settings-link cards (one QR
code, the account's name and short instructions per card; PDF or PNG pages) and the links'
CSV. Pure rendering: rows in, bytes out (docs/bulk.md says why Pillow). Imports only the domain
and i18n; the bot, the API, the Mini App and the CLI call it with what ``services.bulk`` made.
"""

from __future__ import annotations

from telesip.printing.sheet import Card, links_csv, pdf, png_pages

__all__ = ["Card", "links_csv", "pdf", "png_pages"]
