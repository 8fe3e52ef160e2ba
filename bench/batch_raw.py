"""The raw limit of batch scoring, run by bench/batch.py as its own process and timed from outside.

    python bench/batch_raw.py MODEL_FILE INPUT.parquet OUTPUT.parquet

It does only what any batch job must: start Python, import what it needs, load the estimator,
read the whole Parquet input, call `model.predict` on every row at once and write the input's
columns plus a `prediction` column as Parquet. No row checks, no lineage, no tracking run, no
hashing, no probabilities, no streaming: whatever `mlops score` adds on top of this is its cost.

The estimator comes from the same downloaded MLflow model directory `mlops score` loads
(`models:/breast-cancer/1`), but from its `model.pkl` directly, with `pickle`, and without
importing mlflow. `mlflow.sklearn.load_model` would load the very same object, but then the
4-5 s that `import mlflow` costs would sit inside the limit, and the limit would hide exactly
the fixed cost a platform should be judged on. MLflow writes that file with cloudpickle, whose
output plain `pickle` reads back when, as here, every class in it is importable (scikit-learn's
Pipeline, StandardScaler, LogisticRegression). bench/batch.py checks the MLmodel file says
`serialization_format: cloudpickle` (or pickle) before it uses this script.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path


def main(model_file: str, source: str, target: str) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    model = pickle.loads(Path(model_file).read_bytes())  # our own model, from our training run
    table = pq.read_table(source)
    predictions = model.predict(table.to_pandas())
    pq.write_table(table.append_column("prediction", pa.array(predictions)), target)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
