"""Evidently's own drift report on the frames `mlops monitor` compares, as one plain process:
the peer of bench/monitor.py, timed from outside.

    python bench/monitor_evidently.py REF.parquet CUR.parquet OUT.html METHOD THRESHOLD COLUMN...

It reads both frames (already flat Parquet: no log parsing, no lineage, no schema checks, no
tracking), runs one Evidently `ValueDrift` per column with the same method and threshold, and
writes the HTML report: what a team would run by hand with Evidently alone.
"""

from __future__ import annotations

import sys


def main(reference: str, current: str, report: str, method: str, threshold: str,
         *columns: str) -> int:  # fmt: skip
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    ref, cur = pd.read_parquet(reference), pd.read_parquet(current)
    numeric = [c for c in columns if c != "prediction"]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=["prediction"])
    metrics = [ValueDrift(column=c, method=method if c in numeric else "psi",
                          threshold=float(threshold)) for c in columns]  # fmt: skip
    snapshot = Report(metrics).run(
        current_data=Dataset.from_pandas(cur[list(columns)], data_definition=definition),
        reference_data=Dataset.from_pandas(ref[list(columns)], data_definition=definition),
    )
    snapshot.save_html(report)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
