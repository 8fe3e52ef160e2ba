"""Online serving: one BentoML service that serves any registered model version.

`service` holds the BentoML service (imported only by its worker processes), `launcher`
starts those processes, `config` reads what a deployer sets per process, and `requests`
checks request rows against the model's manifest without importing BentoML or MLflow.
"""
