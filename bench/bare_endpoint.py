"""The floor of bench/serving.py: a bare ASGI endpoint calling the same scikit-learn estimator.

What a careful team would write by hand with no platform: one Starlette route on uvicorn
(one worker, its default event loop and HTTP parser), the estimator loaded once from the same
registered version, `{"rows": [...]}` in, the rows straight into a NumPy array (no DataFrame)
and `{"predictions": [{"prediction", "probability"}]}` out. No request checks, no request
ids, no metrics, no logs: the cost of everything the platform's service adds is measured
against this.

    MLFLOW_TRACKING_URI=sqlite:///... python bench/bare_endpoint.py MODEL_URI PORT
"""

from __future__ import annotations

import sys
from typing import Any


def app_for(model_uri: str) -> Any:
    import warnings

    import mlflow.sklearn
    import numpy as np
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    estimator = mlflow.sklearn.load_model(model_uri)
    names = list(estimator.feature_names_in_)
    # Fitted on a DataFrame, scikit-learn warns about every array; the columns are in order.
    warnings.filterwarnings("ignore", message="X does not have valid feature names")

    async def predict(request: Request) -> JSONResponse:
        rows = (await request.json())["rows"]
        values = np.array([[row[name] for name in names] for row in rows], dtype=float)
        labels = estimator.predict(values)
        scores = estimator.predict_proba(values)[:, 1]
        return JSONResponse({"predictions": [
            {"prediction": int(label), "probability": float(score)}
            for label, score in zip(labels, scores, strict=True)
        ]})  # fmt: skip

    async def ping(_: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/predict", predict, methods=["POST"]), Route("/ping", ping)])


def main(model_uri: str, port: str) -> int:
    import uvicorn

    uvicorn.run(app_for(model_uri), host="127.0.0.1", port=int(port), log_level="warning",
                access_log=False)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
