"""MLflow's authentication on the tracking server: users, effective permissions and grants
(`mlflow.server.auth.client.AuthServiceClient`), and the experiments and registered models
they are attached to. Every call runs with the admin credentials in MLFLOW_TRACKING_USERNAME
and MLFLOW_TRACKING_PASSWORD, as MLflow's clients read them."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TypeVar

from mlops.adapters.tracking import TrackingUnavailable, public_uri
from mlops.core.tracking_access import EXPERIMENT, Observed, Resource
from mlops.errors import MlopsError, first_line

T = TypeVar("T")
CREDENTIALS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")


class AccessServer:
    """One tracking server running MLflow's basic-auth app, reached as an admin."""

    def __init__(self, uri: str) -> None:
        from mlflow import MlflowClient
        from mlflow.server.auth.client import AuthServiceClient

        missing = [name for name in CREDENTIALS if not os.environ.get(name)]
        if missing:
            raise MlopsError(
                f"setting permissions on {public_uri(uri)} needs an admin's credentials: "
                f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set",
                hint="set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD to the admin's",
            )
        self.uri = uri
        self.admin = os.environ["MLFLOW_TRACKING_USERNAME"]
        self._auth = AuthServiceClient(uri)
        self._client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        self._experiment_ids: dict[str, str] = {}

    def _call(self, doing: str, call: Callable[[], T]) -> T:
        from mlflow.exceptions import MlflowException

        try:
            return call()
        except MlflowException as exc:
            raise self._error(doing, exc) from None

    def _error(self, doing: str, exc: Exception) -> MlopsError:
        uri = public_uri(self.uri)
        if "failed with error code 404" in str(exc) and "/mlflow/users/" in str(exc):
            return MlopsError(
                f"the tracking server {uri} does not run MLflow's authentication: there are "
                "no permissions to set",
                hint="start it with `mlflow server --app-name basic-auth`",
            )
        return TrackingUnavailable(
            f"the tracking store {uri} failed to {doing}: {first_line(exc)}",
            hint="check MLFLOW_TRACKING_URI and that MLFLOW_TRACKING_USERNAME/PASSWORD are an "
            "admin's credentials",
        )

    def users(self, names: Iterable[str]) -> dict[str, bool]:
        """The users of `names` that exist on the server, each with whether it is an admin."""
        from mlflow.exceptions import MlflowException

        found: dict[str, bool] = {}
        me = self._call("read the admin user", lambda: self._auth.get_user(self.admin))
        if not me.is_admin:
            raise MlopsError(
                f"{self.admin!r} (MLFLOW_TRACKING_USERNAME) is not an admin of "
                f"{public_uri(self.uri)}: only an admin reads and grants permissions",
                hint="set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD to the admin's",
            )
        for name in sorted(set(names)):
            try:
                found[name] = bool(self._auth.get_user(name).is_admin)
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                    raise self._error(f"read the user {name!r}", exc) from None
        return found

    def existing(self, resources: Iterable[Resource]) -> frozenset[Resource]:
        """Those of `resources` the server holds (an experiment counts when not deleted)."""
        from mlflow.exceptions import MlflowException

        found = set()
        for resource in sorted(set(resources)):
            if resource.kind == EXPERIMENT:
                if self._experiment(resource.name) is not None:
                    found.add(resource)
                continue
            try:
                self._client.get_registered_model(resource.name)
                found.add(resource)
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                    raise self._error(f"read the registered model {resource.name!r}", exc) from None
        return frozenset(found)

    def _experiment(self, name: str) -> str | None:
        """The id of the active experiment `name`, None when there is none."""
        experiment = self._call(f"read the experiment {name!r}",
                                lambda: self._client.get_experiment_by_name(name))  # fmt: skip
        if experiment is None or experiment.lifecycle_stage != "active":
            return None
        self._experiment_ids[name] = str(experiment.experiment_id)
        return self._experiment_ids[name]

    def permission(self, user: str, resource: Resource) -> str:
        """The permission `user` effectively holds on `resource` (grants, else the default)."""
        found = self._call(
            f"read {user!r}'s permission on the {resource}",
            lambda: self._auth.get_user_permission(user, resource.kind, self._id(resource)),
        )
        return str(found.permission)

    def default_permission(self) -> str | None:
        """The server's default_permission as the admin user sees it on experiments it holds
        no grant for (None when the server cannot say)."""
        from mlflow.exceptions import MlflowException

        try:
            return str(self._auth.get_user_permission(self.admin, EXPERIMENT, "*").permission)
        except MlflowException:
            return None

    def observe(self, users: Iterable[str], resources: Iterable[Resource]) -> Observed:
        """Everything a plan compares, for these users on these resources."""
        present = self.users(users)
        held = self.existing(resources)
        permissions = {(user, resource): self.permission(user, resource)
                       for user in present for resource in held}  # fmt: skip
        return Observed(present, held, permissions, self.default_permission())

    def create(self, resource: Resource) -> None:
        """Create an experiment (where the server keeps artifacts) or a registered model."""
        if resource.kind == EXPERIMENT:
            self._experiment_ids[resource.name] = self._call(
                f"create the experiment {resource.name!r}",
                lambda: str(self._client.create_experiment(resource.name)),
            )
        else:
            self._call(f"create the registered model {resource.name!r}",
                       lambda: self._client.create_registered_model(resource.name))  # fmt: skip

    def grant(self, user: str, resource: Resource, permission: str) -> None:
        """Give `user` exactly `permission` on `resource` (MLflow replaces a previous grant)."""
        self._call(
            f"grant {permission} on the {resource} to {user!r}",
            lambda: self._auth.grant_user_permission(
                user, resource.kind, self._id(resource), permission
            ),
        )

    def _id(self, resource: Resource) -> str:
        if resource.kind != EXPERIMENT:
            return resource.name
        found = self._experiment_ids.get(resource.name) or self._experiment(resource.name)
        if found is None:
            raise MlopsError(f"the {resource} does not exist on {public_uri(self.uri)}")
        return found
