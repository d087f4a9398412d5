"""Use ``unstructured`` with no network: a blank spaCy pipeline instead of a downloaded model.

The trap (unstructured 0.27.32, measured here): ``unstructured.nlp.tokenize._get_nlp`` loads
``en_core_web_sm`` and, when it is not installed, downloads the wheel from GitHub at run time. Offline
that raises ``RuntimeError: Failed to download spaCy model``, so ``partition_html``,
``partition_text`` and ``partition_email`` fail on the first element they classify. We do not install
the model (unofficial PyPI re-uploads are of unknown origin) and never want a library to download
code at run time, so ``_get_nlp`` is replaced by a blank English pipeline with a rule-based
sentencizer: tokenization and sentence splitting work; part-of-speech tags are empty, so
unstructured's "is this narrative text?" heuristic (it looks for verbs) labels fewer elements
``NarrativeText``. We read element text and tables, never those labels, so nothing we use changes.

PDFs and spreadsheets are not read through unstructured here (see ``readers.py``): its
``partition_pdf`` imports ``unstructured_inference`` at module load, whose dependencies are torch
and CUDA (~6.8 GB), and ``partition_xlsx`` needs ``xlrd``/``msoffcrypto-tool`` and pandas internals
its extra pins below pandas 3.

Telemetry: unstructured pings its servers on import and prints a usage notice unless told not to;
``DO_NOT_TRACK``/``SCARF_NO_ANALYTICS``/``UNSTRUCTURED_DISABLE_NOTICE`` are set (only if unset)
before the first import.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import Any

_lock = threading.Lock()
_ready = False


@lru_cache(maxsize=1)
def blank_pipeline() -> Any:
    """A spaCy English pipeline with no trained components: tokenizer plus rule-based sentencizer."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


def ensure_offline() -> None:
    """Make unstructured's NLP helpers use the blank pipeline. Idempotent and thread-safe."""
    global _ready
    if _ready:
        return
    with _lock:
        if _ready:
            return
        for var in ("DO_NOT_TRACK", "SCARF_NO_ANALYTICS", "UNSTRUCTURED_DISABLE_NOTICE"):
            os.environ.setdefault(var, "1")
        import unstructured.nlp.tokenize as tokenize

        if not callable(getattr(tokenize, "_get_nlp", None)):
            import unstructured

            raise RuntimeError(
                f"unstructured {getattr(unstructured, '__version__', '?')} no longer loads spaCy through "
                "unstructured.nlp.tokenize._get_nlp; update ingestion/remittance/unstructured_offline.py"
            )
        # _run_pipeline looks _get_nlp up as a module global on every call, so replacing the
        # attribute is enough; the model loader (and its download) is then never reached.
        tokenize._get_nlp = blank_pipeline
        _ready = True


def partition_html(text: str) -> list[Any]:
    """``unstructured.partition.html.partition_html`` on an HTML string, offline."""
    ensure_offline()
    from unstructured.partition.html import partition_html as _partition_html

    # languages=[""] skips unstructured's per-document language detection (langdetect): we use the
    # text and tables, never the language metadata, and detection was 35 % of an HTML advice's cost.
    return _partition_html(text=text, languages=[""])
