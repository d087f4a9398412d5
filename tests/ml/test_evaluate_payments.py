"""``openar evaluate payments`` on a file shaped nothing like the simulator's, and on broken files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ml.evaluate_payments import (
    InvoiceFileError,
    ParseReport,
    load_invoice_history,
    main,
    parse_amounts,
    parse_mapping,
)
from tests.ml.helpers import synthetic_history

MAP = (
    "customer=Kunden-Nr,invoice=Belegnummer,invoice_date=Belegdatum,due_date=Fällig am,amount=Betrag,"
    "paid_date=Bezahlt am,region=Region,disputed=Strittig"
)


def _euro(cents: int) -> str:
    """12345678 → '123.456,78 €' (German style)."""
    whole, frac = divmod(cents, 100)
    return f"{whole:,}".replace(",", ".") + f",{frac:02d} €"


@pytest.fixture(scope="module")
def german_csv(tmp_path_factory):
    """A semicolon CSV with German headers, dd.mm.yyyy dates, '1.234,50 €' amounts, zero-padded ids
    (as text), an extra column and a yes/no column, in Windows-1252 like a German Excel export."""
    h, _, _ = synthetic_history(n_customers=40, days=700, seed=5)
    inv = h.invoices
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "Belegnummer": ["0" + i[3:] for i in inv["invoice_id"]],
            "Kunden-Nr": inv["customer_id"],  # '00012': leading zeros that must survive
            "Belegdatum": inv["invoice_date"].dt.strftime("%d.%m.%Y"),
            "Fällig am": inv["due_date"].dt.strftime("%d.%m.%Y"),
            "Bezahlt am": inv["paid_date"].dt.strftime("%d.%m.%Y").fillna(""),
            "Betrag": [_euro(int(c)) for c in inv["amount_minor"]],
            "Region": rng.choice(["Nord", "Süd", "West"], len(inv)),
            "Strittig": rng.choice(["nein", "ja"], len(inv), p=[0.95, 0.05]),
        }
    )
    path = tmp_path_factory.mktemp("byo") / "offene_posten.csv"
    df.to_csv(path, sep=";", index=False, encoding="cp1252")
    return path, h


def test_evaluate_a_german_export(german_csv, capsys):
    path, h = german_csv
    code = main(["--invoices", str(path), "--map", MAP, "--json", "--folds", "2", "--num-boost-round", "40"])
    out = capsys.readouterr()
    assert code == 0, out.err
    res = json.loads(out.out)
    assert res["rows_used"] == res["rows_read"] == len(h.invoices)
    assert res["customers"] == h.invoices["customer_id"].nunique()
    assert res["parsing"]["delimiter"] == ";" and res["parsing"]["encoding"] == "windows-1252"
    assert set(res["parsing"]["date_formats"].values()) == {"%d.%m.%Y"}
    assert res["parsing"]["amounts"] == "decimal ',', thousands '.'"
    assert res["extra_features"] == ["x_disputed_flag", "x_region"]
    m = res["metrics"]
    assert m["model"]["n"] > 200
    assert m["model"]["mae"] < 0.5 * m["baseline_due_date"]["mae"]
    assert m["model"]["mae"] < m["baseline_customer_median"]["mae"]


def test_text_output(german_csv, capsys):
    path, _ = german_csv
    assert main(["--invoices", str(path), "--map", MAP, "--folds", "1", "--num-boost-round", "20"]) == 0
    out = capsys.readouterr().out
    assert "baseline_customer_median" in out and "dates invoice_date %d.%m.%Y" in out


def test_ids_keep_their_leading_zeros(german_csv):
    path, h = german_csv
    loaded, report = load_invoice_history(path, parse_mapping(MAP))
    assert set(loaded.invoices["customer_id"]) == set(h.invoices["customer_id"])
    assert loaded.invoices["customer_id"].str.startswith("000").all()
    assert loaded.invoices["amount_minor"].sum() == h.invoices["amount_minor"].sum()  # exact, to the cent


def _write(tmp_path, text: str, name="f.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


GOOD_MAP = "customer=cust,invoice=inv,invoice_date=date,due_date=due,amount=amt,paid_date=paid"


def test_missing_column_is_named(tmp_path, capsys):
    p = _write(tmp_path, "cust,inv,date,due,amount,paid\n1,2,2025-01-01,2025-01-31,10.00,\n")
    assert main(["--invoices", str(p), "--map", GOOD_MAP]) == 2
    err = capsys.readouterr().err
    assert (
        "column 'amt' (mapped as amount) is not in the header" in err
        and "cust, inv, date, due, amount, paid" in err
    )


def test_unreadable_dates_show_examples_with_lines(tmp_path):
    lines = ["cust,inv,date,due,amt,paid"]
    for i in range(200):
        d = "2025-02-30" if i % 10 == 3 else f"2025-01-{1 + i % 28:02d}"
        lines.append(f"C{i % 7},I{i},{d},2025-03-01,100.00,2025-03-05")
    p = _write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(InvoiceFileError) as e:
        load_invoice_history(p, parse_mapping(GOOD_MAP))
    msg = str(e.value)
    assert "column 'date' (invoice_date): 20 of 200 values are not dates" in msg
    assert "'2025-02-30' (line 5)" in msg


def test_a_few_bad_rows_are_left_out_with_a_warning(tmp_path):
    lines = ["cust,inv,date,due,amt,paid"]
    for i in range(300):
        amt = "n/a" if i == 7 else f"{100 + i}.50"
        lines.append(f"C{i % 9},I{i},2025-01-{1 + i % 28:02d},2025-03-01,{amt},2025-03-0{1 + i % 9}")
    p = _write(tmp_path, "\n".join(lines) + "\n")
    h, report = load_invoice_history(p, parse_mapping(GOOD_MAP))
    assert report.rows_used == 299
    assert any("'n/a' (line 9)" in w and "left out" in w for w in report.warnings)


def test_duplicate_invoice_with_different_values(tmp_path):
    rows = "\n".join(f"C1,I{i},2025-01-02,2025-02-01,10.00,2025-02-03" for i in range(120))
    p = _write(tmp_path, "cust,inv,date,due,amt,paid\n" + rows + "\nC1,I5,2025-01-02,2025-02-01,99.00,\n")
    with pytest.raises(InvoiceFileError, match="invoice 'I5' appears on lines 7, 122 with different values"):
        load_invoice_history(p, parse_mapping(GOOD_MAP))


def test_mapping_errors():
    with pytest.raises(InvoiceFileError, match="missing paid_date"):
        parse_mapping("customer=a,invoice=b,invoice_date=c,due_date=d,amount=e")
    with pytest.raises(InvoiceFileError, match="not NAME=COLUMN"):
        parse_mapping(GOOD_MAP + ",region")


@pytest.mark.parametrize(
    "texts, cents",
    [
        (["1.234,50 €", "12,00 €", "0,99"], [123450, 1200, 99]),
        (["$1,234.50", "(100.00)", "USD 12"], [123450, -10000, 1200]),
        (["CHF 1'234.55", "1'000"], [123455, 100000]),
        (["1 234,5", "10,25"], [123450, 1025]),
        (["1.234", "12.500"], [123400, 1250000]),  # dots with three digits everywhere: thousands
        (["1,234", "12,500"], [123400, 1250000]),  # commas with three digits everywhere: thousands
    ],
)
def test_amount_texts(texts, cents):
    drop = np.zeros(len(texts), dtype=bool)
    out = parse_amounts(pd.Series(texts), "amount", "amt", ParseReport(), drop, allow_zero=True)
    assert out.tolist() == cents


@pytest.mark.parametrize(
    "inv, due, fmt",
    [
        (["03/15/2025", "04/02/2025"], ["04/14/2025", "05/02/2025"], "%m/%d/%Y"),
        (["15/03/2025", "02/04/2025"], ["14/04/2025", "02/05/2025"], "%d/%m/%Y"),
        (["2025-03-15", "2025-04-02"], ["2025-04-14", "2025-05-02"], "%Y-%m-%d"),
        (["15-Mar-2025", "2-Apr-2025"], ["14-Apr-2025", "2-May-2025"], "%d-%b-%Y"),
    ],
)
def test_date_formats_are_detected(tmp_path, inv, due, fmt):
    n = 60
    lines = ["cust,inv,date,due,amt,paid"] + [
        f"C{i % 5},I{i},{inv[i % 2]},{due[i % 2]},10.00,{due[i % 2]}" for i in range(n * 2)
    ]
    p = _write(tmp_path, "\n".join(lines) + "\n")
    h, report = load_invoice_history(p, parse_mapping(GOOD_MAP))
    assert report.date_formats["invoice_date"] == fmt
    assert (h.invoices["due_date"] > h.invoices["invoice_date"]).all()


def test_ambiguous_slashes_follow_invoice_before_due(tmp_path):
    """02/01 and 01/03 read both ways; only day-first keeps every invoice before its due date."""
    lines = ["cust,inv,date,due,amt,paid"] + [
        f"C{i % 5},I{i},02/01/2025,01/03/2025,10.00,05/03/2025" for i in range(120)
    ]
    p = _write(tmp_path, "\n".join(lines) + "\n")
    h, report = load_invoice_history(p, parse_mapping(GOOD_MAP))
    assert report.date_formats["invoice_date"] == report.date_formats["due_date"] == "%d/%m/%Y"
    assert h.invoices["invoice_date"].iloc[0] == pd.Timestamp("2025-01-02")
    assert any("fit both" in w for w in report.warnings)


def test_a_simulated_world_is_evaluated_against_its_truth(small_world_dir, tmp_path):
    """``openar evaluate payments --world``: the model against the baselines on the world's truth, and
    the early warnings against the customers the simulator made deteriorate or default."""
    from ml.world_report import world_report

    lines: list[str] = []
    out = world_report(
        small_world_dir, warehouse=tmp_path / "wh.duckdb", folds=1, step_days=30, say=lines.append
    )
    assert set(out["metrics"]) == {
        "model",
        "baseline_due_date",
        "baseline_customer_median",
        "baseline_median_on_rhythm",
    }
    model, median = out["metrics"]["model"], out["metrics"]["baseline_customer_median"]
    assert model["n"] == median["n"] > 50
    assert 0 < model["mae"] < out["metrics"]["baseline_due_date"]["mae"]
    assert 0.5 <= model["p10_p90_coverage"] <= 1.0
    assert "other_customers" in out["early_warnings"]
    assert any("Rolling-origin backtest" in line for line in lines)
    json.dumps(out)  # the --json document


def test_world_option_errors(tmp_path, capsys):
    assert main(["--world", str(tmp_path)]) == 2
    assert "not a simulated world" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--invoices", str(tmp_path / "x.csv")])  # --map is needed with a CSV
    with pytest.raises(SystemExit):
        main(["--invoices", "x.csv", "--world", str(tmp_path), "--map", "customer=a"])
