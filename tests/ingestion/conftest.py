"""Shared test helpers for ingestion tests: where the public bank-statement samples live."""

from __future__ import annotations

from pathlib import Path

import pytest

# The samples are not copied into the repo (licences, size): they sit in the sibling shared/ folder.
BANK_FIXTURES = (Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "bank").resolve()


def bank_fixture_files() -> list[Path]:
    """Every file under shared/fixtures/bank, or [] when the folder is absent (tests then skip)."""
    if not BANK_FIXTURES.is_dir():
        return []
    return sorted(p for p in BANK_FIXTURES.rglob("*") if p.is_file())


@pytest.fixture
def bank_fixtures() -> Path:
    if not BANK_FIXTURES.is_dir():
        pytest.skip(
            f"public bank-statement samples not found at {BANK_FIXTURES} (the repo's sibling shared/ folder)"
        )
    return BANK_FIXTURES


def pytest_generate_tests(metafunc):
    # One test per sample file, named by its path under shared/fixtures/bank.
    if "bank_fixture_file" in metafunc.fixturenames:
        files = bank_fixture_files()
        ids = [str(p.relative_to(BANK_FIXTURES)) for p in files]
        metafunc.parametrize("bank_fixture_file", files or [None], ids=ids or ["samples-absent"])
