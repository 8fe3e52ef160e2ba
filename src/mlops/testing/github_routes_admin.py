"""Handlers of the local GitHub API server for a repository's settings: branch protection,
environments, Actions variables and secrets, self-hosted runners. Every one needs admin
rights on the repository (`github_admin`). Importing this module registers them."""

from __future__ import annotations

from mlops.testing.github_routes import Call, Listing, Reply, handles

# GitHub pages Actions variables 30 at most, whatever `per_page` asks for.
MAX_VARIABLES_PER_PAGE = 30


def _admin(call: Call) -> None:
    call.repo()  # 404 for an unknown repository first, as GitHub answers
    call.state.require_admin(call.repo_name, call.token)


@handles("get", "{R}/branches/{branch}/protection")
def get_branch_protection(call: Call) -> Reply:
    _admin(call)
    protection = call.state.protection(call.repo_name, call.params["branch"])
    return 200, call.out.branch_protection(call.repo(), protection)


@handles("put", "{R}/branches/{branch}/protection")
def update_branch_protection(call: Call) -> Reply:
    _admin(call)
    protection = call.state.put_protection(call.repo_name, call.params["branch"], call.body)
    return 200, call.out.protected_branch(call.repo(), protection)


@handles("get", "{R}/environments/{environment_name}")
def get_environment(call: Call) -> Reply:
    _admin(call)
    environment = call.state.environment(call.repo_name, call.params["environment_name"])
    return 200, call.out.environment(call.repo(), environment)


@handles("put", "{R}/environments/{environment_name}")
def put_environment(call: Call) -> Reply:
    _admin(call)
    name = call.params["environment_name"]
    environment = call.state.put_environment(call.repo_name, name, call.body)
    return 200, call.out.environment(call.repo(), environment)


@handles("get", "{R}/actions/variables")
def list_variables(call: Call) -> Reply:
    _admin(call)
    variables = list(call.repo().variables)
    return Listing(variables, call.out.variable, key="variables",
                   max_per_page=MAX_VARIABLES_PER_PAGE)  # fmt: skip


@handles("post", "{R}/actions/variables")
def create_variable(call: Call) -> Reply:
    _admin(call)
    call.state.create_variable(call.repo_name, call.body["name"], call.body["value"])
    return 201, {}


@handles("patch", "{R}/actions/variables/{name}")
def update_variable(call: Call) -> Reply:
    _admin(call)
    call.state.update_variable(call.repo_name, call.params["name"], call.body)
    return 204, None


@handles("get", "{R}/actions/secrets")
def list_secrets(call: Call) -> Reply:
    _admin(call)
    return Listing(list(call.repo().secrets), call.out.secret, key="secrets")


@handles("get", "{R}/actions/runners")
def list_runners(call: Call) -> Reply:
    _admin(call)
    runners = list(call.repo().runners)
    if "name" in call.query:
        runners = [r for r in runners if r.name == call.query["name"]]
    return Listing(runners, call.out.runner, key="runners")
