"""Bank-statement parsers: camt.052/053/054, MT940/MT942, BAI2, BAI lockbox and bank CSV exports.

Each parser takes the file's bytes and a name for messages and returns an
``ingestion.normalized.ParseResult``; ``ingestion.parsing.parse_file`` picks the parser. See README.md
in this folder for the decisions (identity, signs, what is refused and why).
"""

from ingestion.bank.common import reconcile

__all__ = ["reconcile"]
