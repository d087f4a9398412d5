"""Cash application: match every received payment to the invoices it pays, explain it, learn from people.

Entry points (plain functions and classes; Dagster assets, dbt marts, the CLI and the app wire them):

- ``ml.cashapp.engine.build_engine(open_items, customers, history=, corrections=, rules=, scorer=)``
  and ``CashApplicationEngine.run(transactions, remittances) -> CashAppResult`` (payments,
  applications, suggestions, exceptions, unapplied, unlinked remittances, candidates for training);
  ``check_conservation(result)``.
- ``ml.cashapp.scoring``: ``fit_scorer``, ``log_scorer`` / ``load_scorer`` (MLflow registry, alias
  ``champion``).
- ``ml.cashapp.corrections``: the corrections table the app writes, ``confirmed_from_corrections``,
  ``training_labels`` / ``training_arrays`` for the next training.
- ``ml.cashapp.reconciliation.write_reconciliation_csv(result, path)``: the ERP file.
- ``ml.cashapp.rules.load_rules()``: ``cashapp_rules.yaml``.
- ``ml.cashapp.sources.simulated_feed(world_dir)`` and ``ml.cashapp.replay.replay``: a simulated
  world as engine input, replayed day by day; ``ml.cashapp.bench.main`` (``openar bench cashapp``).
"""
