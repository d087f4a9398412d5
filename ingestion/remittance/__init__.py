"""Remittance advices: what a payer says a payment covers, read into ``RemittanceDocument`` records.

Two entry points, both returning ``ingestion.normalized.ParseResult`` with ``remittances`` filled:

- ``ingestion.remittance.x12_820.parse_x12_820(data, source_name)``: EDI X12 820 payment order /
  remittance advice (structured: every line has confidence 1.0).
- ``ingestion.remittance.documents.parse_remittance_document(path)``: e-mails (body tables, PDF /
  XLSX / CSV / HTML attachments), PDFs, HTML pages, spreadsheets and text files (extracted: every
  line carries how sure the extraction is).

Neither is imported here, so importing the package stays cheap (the document reader pulls in
unstructured and spaCy, several seconds of import).
"""
