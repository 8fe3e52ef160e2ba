"""The deployment plan: registry.yaml's stages against running instances and nginx's routes."""

from __future__ import annotations

from mlops.core.deploy import Instance, desired_weights, plan, replica_counts, route_table
from mlops.core.routing import Backend, RouteTable


def entry(**stages: object) -> dict:
    return {"versions": {}, "stages": stages}


def running(
    version: str, port: int, healthy: bool = True, env: str = "production", replica: int = 1
) -> Instance:
    return Instance(env, "m", version, f"127.0.0.1:{port}", f"p{port}", healthy, replica)


def routes(*backends: tuple[str, int, int], env: str = "production") -> RouteTable:
    table = tuple(Backend(v, f"127.0.0.1:{port}", w) for v, port, w in backends)
    return RouteTable(env, 8700, {"m": table})


def kinds(steps: list) -> list[tuple[str, str | None]]:
    return [(s.kind, s.version) for s in steps]


def test_production_weights_split_with_the_canary() -> None:
    """Production keeps 100 minus the canary's weight; staging is one version."""
    stages = entry(staging="3", production="2", canary={"version": "3", "weight": 10})
    assert desired_weights(stages, "production") == {"2": 90, "3": 10}
    assert desired_weights(stages, "staging") == {"3": 100}
    assert desired_weights(entry(production="2"), "production") == {"2": 100}
    assert desired_weights(entry(), "production") == {}


def test_a_new_version_starts_beside_the_old_then_routes_then_the_old_stops() -> None:
    """Blue/green without standby: start v2, switch the route, stop v1, in that order."""
    steps = plan("production", {"m": entry(production="2")}, [running("1", 9001)],
                 routes(("1", 9001, 100)), standby=False)  # fmt: skip
    assert kinds(steps) == [("start", "2"), ("route", None), ("stop", "1")]
    assert steps[1].detail == "v1:100% -> v2:100%"


def test_the_version_traffic_leaves_stays_as_a_warm_standby() -> None:
    """With standby, v1 stays running at weight 0; the next move replaces the standby."""
    steps = plan("production", {"m": entry(production="2")}, [running("1", 9001)],
                 routes(("1", 9001, 100)))  # fmt: skip
    assert kinds(steps) == [("start", "2"), ("route", None)]
    assert steps[1].detail == "v1:100% -> v1:standby, v2:100%"
    after = routes(("1", 9001, 0), ("2", 9002, 100))
    both = [running("1", 9001), running("2", 9002)]
    assert plan("production", {"m": entry(production="2")}, both, after) == []  # idempotent
    third = plan("production", {"m": entry(production="3")}, both, after)
    assert kinds(third) == [("start", "3"), ("route", None), ("stop", "1")]
    assert third[1].detail == "v1:standby, v2:100% -> v2:standby, v3:100%"


def test_a_revert_to_the_standby_only_switches_the_route() -> None:
    """Production back to v1 while v1 is the standby: nothing starts or stops."""
    after = routes(("1", 9001, 0), ("2", 9002, 100))
    steps = plan("production", {"m": entry(production="1")},
                 [running("1", 9001), running("2", 9002)], after)  # fmt: skip
    assert kinds(steps) == [("route", None)]
    assert steps[0].detail == "v1:standby, v2:100% -> v1:100%, v2:standby"


def test_nothing_to_do_when_the_world_matches() -> None:
    """Idempotence: the desired version runs, healthy, and nginx routes all traffic to it."""
    assert plan("production", {"m": entry(production="1")}, [running("1", 9001)],
                routes(("1", 9001, 100))) == []  # fmt: skip


def test_an_unhealthy_instance_is_replaced() -> None:
    """The broken instance is stopped and a new one takes its place."""
    steps = plan("production", {"m": entry(production="1")}, [running("1", 9001, healthy=False)],
                 routes(("1", 9001, 100)))  # fmt: skip
    assert kinds(steps) == [("replace", "1"), ("stop", "1")]


def test_a_canary_only_changes_weights_when_both_versions_run() -> None:
    """Both versions already run: the canary is a new split, nothing starts or stops."""
    stages = entry(production="1", canary={"version": "2", "weight": 25})
    steps = plan("production", {"m": stages}, [running("1", 9001), running("2", 9002)],
                 routes(("1", 9001, 100)))  # fmt: skip
    assert kinds(steps) == [("route", None)]


def test_a_model_removed_from_the_stage_is_unrouted_and_stopped() -> None:
    steps = plan("production", {"m": entry()}, [running("1", 9001)], routes(("1", 9001, 100)),
                 standby=False)  # fmt: skip
    assert kinds(steps) == [("route", None), ("stop", "1")]


def test_other_environments_instances_are_left_alone() -> None:
    staging = running("5", 9005, env="staging")
    assert plan("production", {"m": entry()}, [staging], None) == []


def test_the_route_table_uses_healthy_instances_and_keeps_failed_models() -> None:
    """A model whose new version failed keeps its observed routing; others move on."""
    models = {"m": entry(production="2")}
    observed = routes(("1", 9001, 100))
    moved = route_table("production", 8700, models, [running("1", 9001), running("2", 9002)],
                        observed)  # fmt: skip
    assert moved.weights("m") == {"2": 100}
    assert [(b.version, b.address, b.weight) for b in moved.routes["m"]] == [
        ("1", "127.0.0.1:9001", 0),
        ("2", "127.0.0.1:9002", 100),
    ]
    kept = route_table("production", 8700, models, [running("1", 9001)], observed, keep={"m"})
    assert kept.to_dict() == observed.to_dict()


def replicated(*versions_ports: tuple[str, int, int]) -> list[Instance]:
    """(version, replica, port) -> healthy instances."""
    return [running(v, port, replica=r) for v, r, port in versions_ports]


def starts(steps: list) -> list[tuple[str, str | None, int]]:
    return [(s.kind, s.version, s.replica) for s in steps if s.kind in ("start", "replace")]


def test_a_canary_runs_its_share_of_the_replicas_rounded_up() -> None:
    """The version with all traffic runs every replica; a split runs its share rounded up,
    never none."""
    assert replica_counts({"1": 100}, 3) == {"1": 3}
    assert replica_counts({"1": 90, "2": 10}, 4) == {"1": 4, "2": 1}
    assert replica_counts({"1": 50, "2": 50}, 3) == {"1": 2, "2": 2}
    assert replica_counts({"1": 99, "2": 1}, 1) == {"1": 1, "2": 1}


def test_every_replica_starts_before_the_route_names_them_all() -> None:
    """Two replicas of a first deployment: two starts, then one route to both."""
    steps = plan("production", {"m": entry(production="1")}, [], None, replicas={"m": 2})
    assert starts(steps) == [("start", "1", 1), ("start", "1", 2)]
    assert kinds(steps)[2:] == [("route", None)]
    assert steps[2].detail == "(none) -> v1:100% x2"


def test_blue_green_with_replicas_keeps_every_old_replica_warm() -> None:
    """v1 on two replicas moves to v2: both v2 replicas start, the route switches, and both
    v1 replicas stay as the standby; the plan is then empty."""
    models = {"m": entry(production="2")}
    old = replicated(("1", 1, 9001), ("1", 2, 9002))
    table = routes(("1", 9001, 100), ("1", 9002, 100))
    steps = plan("production", models, old, table, replicas={"m": 2})
    assert starts(steps) == [("start", "2", 1), ("start", "2", 2)]
    assert [s.kind for s in steps] == ["start", "start", "route"]
    assert steps[2].detail == "v1:100% x2 -> v1:standby x2, v2:100% x2"
    both = [*old, *replicated(("2", 1, 9003), ("2", 2, 9004))]
    moved = route_table("production", 8700, models, both, table, replicas={"m": 2})
    assert moved.replicas("m") == {"1": 2, "2": 2} and moved.weights("m") == {"2": 100}
    assert plan("production", models, both, moved, replicas={"m": 2}) == []


def test_a_canary_with_replicas_starts_only_its_share() -> None:
    """Production v1 on four replicas takes a 10% canary of v2: one v2 replica starts."""
    models = {"m": entry(production="1", canary={"version": "2", "weight": 10})}
    four = replicated(*(("1", r, 9000 + r) for r in range(1, 5)))
    table = routes(*(("1", 9000 + r, 100) for r in range(1, 5)))
    steps = plan("production", models, four, table, replicas={"m": 4})
    assert starts(steps) == [("start", "2", 1)]
    assert steps[-1].detail == "v1:100% x4 -> v1:90% x4, v2:10%"


def test_fewer_replicas_unroutes_then_stops_the_extra_ones() -> None:
    """Three replicas scaled to two: the route drops the third before it is stopped."""
    models = {"m": entry(production="1")}
    three = replicated(("1", 1, 9001), ("1", 2, 9002), ("1", 3, 9003))
    table = routes(("1", 9001, 100), ("1", 9002, 100), ("1", 9003, 100))
    steps = plan("production", models, three, table, replicas={"m": 2})
    assert kinds(steps) == [("route", None), ("stop", "1")]
    assert (steps[1].replica, steps[1].detail) == (3, "p9003 (beyond 2 replicas)")
    fewer = route_table("production", 8700, models, three, table, replicas={"m": 2})
    assert [b.address for b in fewer.routes["m"]] == ["127.0.0.1:9001", "127.0.0.1:9002"]


def test_only_the_unhealthy_replica_is_replaced() -> None:
    """One of two replicas fails its health check: that one is replaced, the other kept."""
    models = {"m": entry(production="1")}
    pair = [running("1", 9001, replica=1), running("1", 9002, healthy=False, replica=2)]
    table = routes(("1", 9001, 100), ("1", 9002, 100))
    steps = plan("production", models, pair, table, replicas={"m": 2})
    assert starts(steps) == [("replace", "1", 2)]
    assert [(s.kind, s.replica) for s in steps if s.kind == "stop"] == [("stop", 2)]
