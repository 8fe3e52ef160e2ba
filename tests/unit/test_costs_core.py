"""Cost visibility's plain-data rules: who pays for a model, how recorded usage is summed and
priced per model and cost centre, the window `--since` opens, and the rates' own rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mlops.core import costs
from mlops.core.costs import Rates, Usage
from mlops.core.document import Document

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RATES = Rates("EUR", {"cpu_second": 0.01, "instance_hour": 2.0, "batch_row": 0.001,
                      "batch_second": 0.1})  # fmt: skip
MODELS = {
    "churn": {"owners": ["@acme/Marketing", "@ana"]},
    "spend": {"owners": ["@bob"], "cost_centre": "procurement"},
}


def test_the_cost_centre_is_explicit_else_the_first_team_else_the_first_owner() -> None:
    """An explicit `cost_centre` wins; otherwise the first team owner's team (lower-cased),
    otherwise the first owner; a manifest without owners is `unassigned`."""
    assert costs.cost_centre_of(MODELS["spend"]) == "procurement"
    assert costs.cost_centre_of({"owners": ["@ana", "@acme/Marketing"]}) == "marketing"
    assert costs.cost_centre_of({"owners": ["@Ana"]}) == "ana"
    assert costs.cost_centre_of({"owners": "not a list"}) == "unassigned"
    assert costs.cost_centre_of({}) == "unassigned"


def test_runs_and_containers_are_labelled_with_owners_and_cost_centre() -> None:
    """The labels name every owner and the cost centre."""
    assert costs.cost_labels(MODELS["churn"]) == {
        "mlops.owner": "@acme/Marketing,@ana",
        "mlops.cost_centre": "marketing",
    }


def test_usage_is_summed_per_model_and_priced_per_unit() -> None:
    """Two training runs, one serving instance and two batch runs of one model add up, each
    unit at its own rate; a model with no usage still has a line at zero."""
    usages = [
        Usage("churn", "marketing", costs.TRAINING, {"cpu_second": 100.0}),
        Usage("churn", "marketing", costs.TRAINING, {"cpu_second": 50.0}),
        Usage("churn", "marketing", costs.SERVING, {"instance_hour": 3.0}),
        Usage("churn", "marketing", costs.BATCH, {"batch_row": 1000.0, "batch_second": 20.0}),
        Usage("churn", "marketing", costs.BATCH, {"batch_row": 500.0, "batch_second": 10.0}),
    ]
    report = costs.price(usages, MODELS, RATES, None, NOW)
    churn, spend = (line.to_dict(RATES) for line in report.lines)
    assert churn["training"] == {"runs": 2, "cpu_seconds": 150.0, "cost": 1.5}
    assert churn["serving"] == {"instances": 1, "instance_hours": 3.0, "cost": 6.0}
    assert churn["batch"] == {"runs": 2, "rows": 1500.0, "seconds": 30.0, "cost": 4.5}
    assert churn["total"] == 12.0
    assert churn["owners"] == "@acme/Marketing,@ana"
    assert spend["total"] == 0.0 and spend["cost_centre"] == "procurement"
    assert report.to_dict()["total"] == 12.0
    assert report.by_cost_centre() == {"marketing": 12.0, "procurement": 0.0}


def test_a_recorded_label_keeps_usage_with_the_cost_centre_that_paid_for_it() -> None:
    """A run labelled with another cost centre (the model changed teams since) is its own
    line under that cost centre; usage of a model no longer in the repository is kept."""
    assert costs.attributed({"mlops.cost_centre": "sales"}, MODELS["churn"]) == "sales"
    assert costs.attributed({}, MODELS["churn"]) == "marketing"
    assert costs.attributed({}, None) == "unassigned"
    usages = [
        Usage("churn", "sales", costs.TRAINING, {"cpu_second": 10.0}),
        Usage("retired", "unassigned", costs.SERVING, {"instance_hour": 1.0}),
    ]
    report = costs.price(usages, MODELS, RATES, None, NOW)
    keys = [(line.model, line.cost_centre) for line in report.lines]
    assert keys == [("churn", "marketing"), ("churn", "sales"), ("retired", "unassigned"),
                    ("spend", "procurement")]  # fmt: skip
    assert report.by_cost_centre() == {"marketing": 0.0, "procurement": 0.0, "sales": 0.1,
                                       "unassigned": 2.0}  # fmt: skip


def test_a_unit_without_a_rate_has_no_price_and_is_named() -> None:
    """Usage in a unit the policy does not price shows its quantity, a null cost, and is
    listed as unpriced; the total adds up only what has a price."""
    rates = Rates("EUR", {"cpu_second": 0.5})
    usages = [
        Usage("churn", "marketing", costs.TRAINING, {"cpu_second": 4.0}),
        Usage("churn", "marketing", costs.SERVING, {"instance_hour": 2.0}),
    ]
    report = costs.price(usages, MODELS, rates, None, NOW)
    churn = report.lines[0].to_dict(rates)
    assert churn["serving"] == {"instances": 1, "instance_hours": 2.0, "cost": None}
    assert churn["batch"]["cost"] is None
    assert churn["total"] == 2.0
    assert report.unpriced() == ["instance_hour"]


def test_rates_are_read_from_the_policy() -> None:
    """Each rate of the policy prices its unit in the policy's currency."""
    rates = Rates.from_policy({"currency": "USD", "rates": [{"unit": "batch_row", "price": 1}]})
    assert rates == Rates("USD", {"batch_row": 1.0})
    assert rates.cost("batch_row", 3) == 3.0
    assert rates.cost("cpu_second", 3) is None


def test_a_unit_priced_twice_is_an_error_at_the_second_rate() -> None:
    """Each unit has one price: the second rate of a unit is reported at its `unit`."""
    data = {"rates": [{"unit": "cpu_second", "price": 1}, {"unit": "batch_row", "price": 1},
                      {"unit": "cpu_second", "price": 2}]}  # fmt: skip
    problems = costs.costs_rules(Document("policies/costs.yaml", data))
    assert [(d.json_path, d.message) for d in problems] == [
        ("$.rates[2].unit", "expected each unit once; 'cpu_second' is already priced at $.rates[0]")
    ]
    assert costs.costs_rules(Document("policies/costs.yaml", {"rates": "none"})) == []


def test_serving_hours_count_only_inside_the_window() -> None:
    """An instance started before the window counts from its opening; one started inside it
    counts from its start; nothing is negative."""
    start = NOW - timedelta(hours=10)
    assert costs.hours_between(start, NOW, None) == 10.0
    assert costs.hours_between(start, NOW, NOW - timedelta(hours=4)) == 4.0
    assert costs.hours_between(start, NOW, NOW - timedelta(hours=24)) == 10.0
    assert costs.hours_between(NOW + timedelta(hours=1), NOW, None) == 0.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12h", NOW - timedelta(hours=12)),
        ("30d", NOW - timedelta(days=30)),
        ("2w", NOW - timedelta(weeks=2)),
        ("2026-02-01", datetime(2026, 2, 1, tzinfo=UTC)),
        ("2026-02-01T06:30:00Z", datetime(2026, 2, 1, 6, 30, tzinfo=UTC)),
        ("2026-02-01T08:30:00+02:00", datetime(2026, 2, 1, 6, 30, tzinfo=UTC)),
    ],
)
def test_since_is_a_span_back_from_now_or_a_moment(text: str, expected: datetime) -> None:
    """`--since` takes 12h / 30d / 2w, or an ISO 8601 date or time (UTC unless it says)."""
    assert costs.parse_since(text, NOW) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("yesterday", "expected a span such as 12h"),
        ("2026-03-02", "is in the future"),
        ("-3d", "expected a span"),
    ],
)
def test_since_refuses_what_it_cannot_read(text: str, message: str) -> None:
    """A value it cannot read, or a moment after now, is refused saying what is expected."""
    with pytest.raises(ValueError, match=message):
        costs.parse_since(text, NOW)


def test_the_schema_names_exactly_the_units_that_are_priced() -> None:
    """policies/schemas/costs.schema.json allows the units the platform records, no other."""
    import json
    from pathlib import Path

    schema = Path(__file__).resolve().parents[2] / "policies/schemas/costs.schema.json"
    rate = json.loads(schema.read_text())["properties"]["rates"]["items"]
    assert tuple(rate["properties"]["unit"]["enum"]) == costs.UNITS
