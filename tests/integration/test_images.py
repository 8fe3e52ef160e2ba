"""Container images of one model version on a real Docker engine (scripts/start-docker) and
the offline Python base (scripts/build-base-images).

breast-cancer is trained once into a module-wide repository; its registered version is
downloaded from the embedded store as a deployer would and built once for the module (the
slow part, about a minute; layers are cached by the engine afterwards). Containers get
unique names and a per-run label and are removed by the tests that start them; the images
carry the same label and are removed when the module ends.
"""

from __future__ import annotations

import csv
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from deploying import require_docker_image
from support import make_repository, require_system, run_cli, runtime_present

from mlops.adapters import containers, images
from mlops.adapters.images import BuiltImage, ImageSpec
from mlops.adapters.probes import free_port
from mlops.core.resources import Limits

MODEL = "breast-cancer"
BASE = images.LOCAL_PYTHON_BASE
RUN = uuid.uuid4().hex[:8]


@pytest.fixture(scope="module", autouse=True)
def _remove_images() -> Iterator[None]:
    """The images this module builds are removed afterwards (the engine keeps their layers in
    its build cache, so the next run is quick)."""
    yield
    try:
        engine = containers.engine()
    except containers.EngineUnavailable:
        return
    for image in engine.images.list(filters={"label": f"mlops.test-run={RUN}"}):
        with suppress(containers.sdk().errors.APIError):
            engine.images.remove(image.id, force=True)


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> ImageSpec:
    """breast-cancer version 1, trained and downloaded from the registry."""
    require_docker_image(BASE)
    return trained_spec(tmp_path_factory.mktemp("images"), MODEL, "python", BASE)


def trained_spec(folder: Path, model: str, language: str, base: str) -> ImageSpec:
    """`model` trained in a scratch repository, version 1 downloaded from its registry as a
    deployer would."""
    import mlflow

    root = make_repository(folder / "repo", (model,))
    assert run_cli("--repo", root, "train", model) == 0
    store = f"sqlite:///{root / '.mlops' / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store)
        model_dir = Path(
            mlflow.artifacts.download_artifacts(
                f"models:/{model}/1", dst_path=str(folder / "model"), tracking_uri=store
            )
        )
    return ImageSpec(
        model=model,
        version="1",
        language=language,
        model_dir=model_dir,
        manifest=root / "models" / model / "model.yaml",
        requirements=(model_dir / "requirements.txt").read_text().splitlines(),
        base_image=base,
        labels={"mlops.test-run": RUN},
    )


@pytest.fixture(scope="module")
def built(spec: ImageSpec, tmp_path_factory: pytest.TempPathFactory) -> BuiltImage:
    folder = tmp_path_factory.mktemp("build")
    return images.build(spec, folder / "bentoml-home", folder / "work")


@contextmanager
def started(
    image: str, ready: bool, model: str = MODEL, limits: Limits | None = None
) -> Iterator[tuple[containers.Container, str]]:
    """`image` as a uniquely named container on a free loopback port (until /readyz answers
    when `ready`), with `limits`; removed afterwards."""
    name = f"mlops-test-{RUN}-{uuid.uuid4().hex[:6]}"
    port = free_port()
    labels = {"mlops.model": model, "mlops.version": "1", "mlops.test-run": RUN}
    try:
        running = containers.run_container(image, name, port, labels, {}, limits=limits)
        url = f"http://127.0.0.1:{port}"
        if ready:
            _wait_ready(url, name, 180)
        yield running, url
    finally:
        containers.stop_container(name, timeout=10)


def _wait_ready(url: str, name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _ = _call(f"{url}/readyz")
        if status == 200:
            return
        time.sleep(0.3)
    logs = containers.engine().containers.get(name).logs(tail=40).decode(errors="replace")
    raise AssertionError(f"container {name} not ready after {timeout} s:\n{logs}")


def _call(url: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, None


def _holdout_rows(spec: ImageSpec, target: str, count: int = 1) -> list[dict[str, Any]]:
    path = spec.manifest.parent / "data" / "holdout.csv"
    with path.open() as fh:
        rows = list(csv.DictReader(fh))[:count]
    return [{k: json.loads(v) for k, v in row.items() if k != target} for row in rows]


@pytest.mark.system
def test_the_image_is_tagged_by_version_and_identified_by_its_digest(
    spec: ImageSpec, built: BuiltImage
) -> None:
    """`mlops/<model>:<version>`, a bento tag `<model>:<version>-<hash>`, and the image ID
    as digest, which image_digest finds by tag and by ID; its labels name model, version,
    bento and the caller's labels."""
    assert built.image == "mlops/breast-cancer:1"
    name, _, version = built.bento_tag.partition(":")
    assert name == MODEL and version.startswith("1-") and len(version) == 14
    assert built.digest.startswith("sha256:") and len(built.digest) == 71
    int(built.digest.removeprefix("sha256:"), 16)
    assert images.image_digest(built.image) == built.digest
    assert images.image_digest(built.digest) == built.digest
    assert images.image_digest("mlops/no-such-model:1") is None
    labels = images.image_labels(built.image) or {}
    assert {k: labels.get(k) for k in ("mlops.model", "mlops.version", "mlops.bento")} == {
        "mlops.model": MODEL, "mlops.version": "1", "mlops.bento": built.bento_tag
    }  # fmt: skip
    assert labels["mlops.test-run"] == RUN
    assert labels["mlops.launcher"] == "1"  # containers run mlops.serving.launcher


@pytest.mark.system
def test_the_image_holds_the_serving_code_and_mlflow_skinny_only(built: BuiltImage) -> None:
    """Inside the image the service imports from the bento's own copy of mlops (not the
    whole package), the model loads with mlflow-skinny, and the full mlflow is absent."""
    script = (
        "import importlib.metadata as m, json, sys; sys.path.insert(0, '.'); import service; "
        "import mlflow.pyfunc, mlops; "
        "model = mlflow.pyfunc.load_model('/home/bentoml/bento/src/model'); "
        "names = {d.metadata['Name'].lower() for d in m.distributions()}; "
        "print(json.dumps({'mlops': mlops.__file__, 'flavors': sorted(model.metadata.flavors),"
        " 'skinny': 'mlflow-skinny' in names, 'mlflow': 'mlflow' in names,"
        " 'cli': __import__('importlib').util.find_spec('mlops.cli') is not None}))"
    )
    output = containers.engine().containers.run(
        built.digest, ["python", "-c", script], entrypoint=[], working_dir="/home/bentoml/bento/src",
        network_mode="host", remove=True,
    )  # fmt: skip
    found = json.loads(output.decode().strip().splitlines()[-1])
    assert found == {
        "mlops": "/home/bentoml/bento/src/mlops/__init__.py",
        "flavors": ["python_function", "sklearn"],
        "skinny": True, "mlflow": False, "cli": False,
    }  # fmt: skip


@pytest.mark.system
def test_the_container_serves_the_baked_in_version(spec: ImageSpec, built: BuiltImage) -> None:
    """With no configuration at all the container is ready and answers /predict for the
    model and version its image pins; it runs the image ID it was started from, within the
    CPU and memory limits it was given (no swap beyond the memory)."""
    limits = Limits(nano_cpus=10**9, memory_bytes=1024**3)
    with started(built.digest, ready=True, limits=limits) as (running, url):
        assert running.running and running.image_id == built.digest
        host = containers.engine().containers.get(running.name).attrs["HostConfig"]
        assert (host["NanoCpus"], host["Memory"], host["MemorySwap"]) == (
            10**9, 1024**3, 1024**3
        )  # fmt: skip
        status, body = _call(f"{url}/predict", {"rows": _holdout_rows(spec, "malignant")})
    assert status == 200, body
    assert (body["model"], body["version"]) == (MODEL, "1")
    (prediction,) = body["predictions"]
    assert prediction["prediction"] in (0, 1) and 0.0 <= prediction["probability"] <= 1.0


@pytest.mark.system
def test_containers_are_listed_by_label_and_stopping_removes_them(built: BuiltImage) -> None:
    """containers() finds a container by its labels (and nothing for other labels); a
    second container of the same name is refused; stop_container removes it, and stopping
    it again is not an error."""
    with started(built.digest, ready=False) as (running, _):
        listed = containers.containers({"mlops.model": MODEL, "mlops.test-run": RUN})
        assert [(c.name, c.id, c.image_id) for c in listed] == [
            (running.name, running.id, built.digest)
        ]
        assert listed[0].labels["mlops.version"] == "1"
        assert containers.containers({"mlops.test-run": f"{RUN}-other"}) == []
        with pytest.raises(containers.ContainerError, match="already exists"):
            containers.run_container(built.digest, running.name, free_port(), {}, {})
        containers.stop_container(running.name, timeout=10)
        assert containers.containers({"mlops.test-run": RUN}) == []
        containers.stop_container(running.name)


@pytest.mark.system
def test_building_the_same_inputs_again_reuses_bento_and_image(
    spec: ImageSpec, built: BuiltImage, tmp_path: Path
) -> None:
    """Same model, manifest, requirements, labels, base and platform code: the same bento tag
    and image digest, without running BentoML (the store and the image already have them)."""
    home = tmp_path / "bentoml-home"
    first = images.build(replace(spec, labels={**spec.labels, "mlops.copy": "x"}), home, tmp_path)
    started = time.monotonic()
    again = images.build(replace(spec, labels={**spec.labels, "mlops.copy": "x"}), home, tmp_path)
    assert again == first
    assert time.monotonic() - started < 15
    assert (tmp_path / "build.log").read_text().count("==> bentoml containerize") == 1
    # Different labels are different inputs: a new bento, and the tag moved to its image.
    assert first.bento_tag != built.bento_tag and first.digest != built.digest
    assert images.image_digest(built.image) == first.digest


@pytest.mark.system
def test_an_r_model_is_built_on_the_r_base_and_served_by_its_worker(tmp_path: Path) -> None:
    """fuel-efficiency (R) given the default Python base gets the R base; in the container
    its pyfunc (a pickled mlops worker model) loads with mlflow-skinny and answers through
    Rscript, the same predictions as the model loaded on this machine."""
    require_system("R", runtime_present("r"))
    require_docker_image(images.LANGUAGE_BASES["r"])
    import mlflow.pyfunc
    import pandas as pd

    spec = trained_spec(tmp_path, "fuel-efficiency", "r", images.DEFAULT_BASE_IMAGE)
    built = images.build(spec, tmp_path / "bentoml-home", tmp_path / "work")
    assert built.image == "mlops/fuel-efficiency:1"
    rows = _holdout_rows(spec, "mpg", 5)
    with started(built.digest, ready=True, model=spec.model) as (_, url):
        status, body = _call(f"{url}/predict", {"rows": rows})
    assert status == 200, body
    assert (body["model"], body["version"]) == ("fuel-efficiency", "1")
    local = mlflow.pyfunc.load_model(str(spec.model_dir))
    try:
        output = local.predict(pd.DataFrame(rows).astype(local_dtypes(local)))
    finally:
        local.unwrap_python_model().close()
    expected = output["prediction"] if isinstance(output, pd.DataFrame) else output
    assert [p["prediction"] for p in body["predictions"]] == pytest.approx(list(expected))


def local_dtypes(model: Any) -> dict[str, str]:
    """The pandas dtype of each input column of a pyfunc's signature."""
    kinds = {"long": "int64", "integer": "int32", "double": "float64", "float": "float32"}
    schema = model.metadata.get_input_schema()
    return {
        name: kinds.get(kind.name, "object") for name, kind in schema.input_types_dict().items()
    }


def test_an_engine_that_does_not_answer_says_how_to_start_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With DOCKER_HOST at a socket nobody serves, every call raises EngineUnavailable
    whose hint names scripts/start-docker."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'nobody.sock'}")
    for call in (lambda: images.image_digest("x"), lambda: containers.containers({})):
        with pytest.raises(containers.EngineUnavailable) as caught:
            call()
        assert "scripts/start-docker" in (caught.value.hint or "")


def test_a_spec_that_cannot_be_built_is_refused_before_any_build(tmp_path: Path) -> None:
    """A name that is not DNS-safe, a version that is not a number, an unknown language and
    a folder without MLmodel are all reported in one error, before BentoML runs."""
    bad = ImageSpec(model="Breast_Cancer", version="latest", language="cobol",
                    model_dir=tmp_path, manifest=tmp_path / "model.yaml", requirements=[])  # fmt: skip
    with pytest.raises(images.ImageBuildError) as caught:
        images.build(bad, tmp_path / "home", tmp_path / "work")
    message = caught.value.message
    for part in ("not DNS-safe", "'latest'", "'cobol'", "no MLmodel", "no such file"):
        assert part in message
    assert not (tmp_path / "work").exists()


def test_requirements_swap_mlflow_for_mlflow_skinny_and_pin_bentoml() -> None:
    """mlflow becomes mlflow-skinny at the same specifier (extras dropped), other pins stay,
    any bentoml pin gives way to this bentoml, this orjson is added (the service's prediction
    log imports it), and pyyaml and pandas are added once."""
    from importlib.metadata import version

    got = images.serving_requirements(
        ["mlflow==3.17.2", "# a comment", "", "scikit-learn==1.9.1", "mlflow-skinny",
         "MLflow[extras]>=3 ; python_version >= '3.10'", "bentoml==1.0", "PyYAML==6.0.3"]
    )  # fmt: skip
    assert got == [
        "mlflow-skinny==3.17.2", "scikit-learn==1.9.1", "mlflow-skinny",
        "mlflow-skinny>=3 ; python_version >= '3.10'", "PyYAML==6.0.3",
        f"bentoml=={version('bentoml')}", f"orjson=={version('orjson')}", "pandas",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("language", "given", "used"),
    [
        ("python", "python:3.11-slim", "python:3.11-slim"),
        ("python", "registry.example/python:3.11", "registry.example/python:3.11"),
        ("r", "python:3.11-slim", "local/r-python:bookworm"),
        ("r", "local/python:3.11-bookworm", "local/r-python:bookworm"),
        ("julia", "python:3.11-slim-bookworm", "local/julia-python:bookworm"),
        ("r", "registry.example/r-and-python:4", "registry.example/r-and-python:4"),
    ],
)
def test_r_and_julia_models_get_their_languages_base(language: str, given: str, used: str) -> None:
    """A plain Python base given for an R or Julia model becomes that language's local base;
    any other base is the caller's choice and is kept."""
    spec = ImageSpec("m", "1", language, Path(), Path("model.yaml"), [], base_image=given)
    assert images.base_image_for(spec) == used


def test_only_the_modules_serving_imports_go_into_the_image() -> None:
    """The service, its config, the R/Julia worker pyfunc and what they import: yes; the
    CLI, commands and templates: no."""
    sources = {p.as_posix() for p in images.serving_sources()}
    assert {"__init__.py", "errors.py", "serving/service.py", "serving/config.py",
            "adapters/workers.py", "adapters/runtimes.py", "adapters/tracking.py"} <= sources  # fmt: skip
    assert not {s for s in sources if s.startswith(("commands/", "templates/", "testing/"))}
    assert "cli.py" not in sources
