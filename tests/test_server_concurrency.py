"""The configuration loader under ``kedro server``, which builds and reads a
loader per request in threads of one process. Kedro's loader binds OmegaConf's
process-wide ``globals`` and ``runtime_params`` resolvers to one loader
instance; ``ProjectConfigLoader`` builds and reads under one lock, rebinding
them to itself, so that a read resolves with its own loader's values only."""

from __future__ import annotations

import threading

from kedro.config import MissingConfigException, OmegaConfigLoader

from customer_segmentation.config import ProjectConfigLoader


def _conf(tmp_path):
    """Environments a and b, each with its own data_dir global, and a catalog
    entry that reads it and a runtime parameter."""
    for env, data_dir in (("base", "data"), ("local", None), ("a", "data/a"), ("b", "data/b")):
        (tmp_path / env).mkdir()
        if data_dir:
            (tmp_path / env / "globals.yml").write_text(f"data_dir: {data_dir}\n")
    (tmp_path / "base" / "catalog.yml").write_text(
        "segments:\n"
        "  type: pandas.CSVDataset\n"
        "  filepath: ${globals:data_dir}/${runtime_params:run, none}.csv\n"
    )
    return tmp_path


def _loader(conf, env, run=None):
    return ProjectConfigLoader(
        str(conf),
        env=env,
        runtime_params={"run": run} if run else None,
        base_env="base",
        default_run_env="local",
    )


def _filepath(loader) -> str:
    return loader["catalog"]["segments"]["filepath"]


def test_a_read_waits_for_a_loader_another_thread_is_building(tmp_path, monkeypatch):
    """Kedro registers a new loader's globals resolver before the loader has
    read its globals: a read in another thread at that moment failed with
    "'ProjectConfigLoader' object has no attribute '_globals'"."""
    conf = _conf(tmp_path)
    ready = _loader(conf, "a")
    registered, read_done = threading.Event(), threading.Event()
    register = OmegaConfigLoader._register_globals_resolver

    def register_then_pause(self):
        register(self)
        if threading.current_thread().name == "builder" and not registered.is_set():
            registered.set()
            read_done.wait(timeout=0.5)  # an unguarded read happens now

    monkeypatch.setattr(OmegaConfigLoader, "_register_globals_resolver", register_then_pause)
    built = []
    builder = threading.Thread(
        target=lambda: built.append(_loader(conf, "b")), name="builder", daemon=True
    )
    builder.start()
    assert registered.wait(timeout=5)
    try:
        assert _filepath(ready) == "data/a/none.csv"
    finally:
        read_done.set()
        builder.join(timeout=5)
    assert _filepath(built[0]) == "data/b/none.csv"


def test_a_loader_resolves_its_own_globals_after_another_loader_is_built(tmp_path):
    conf = _conf(tmp_path)
    first = _loader(conf, "a")
    _loader(conf, "b")  # took the process-wide globals resolver
    assert _filepath(first) == "data/a/none.csv"


def test_reading_credentials_under_another_environment_keeps_its_globals(tmp_path):
    """Credentials are also read from conf/local, by a loader of its own."""
    conf = _conf(tmp_path)
    loader = _loader(conf, "a")
    try:
        loader["credentials"]
    except MissingConfigException:
        pass
    assert _filepath(loader) == "data/a/none.csv"


def test_concurrent_requests_resolve_their_own_globals_and_runtime_params(tmp_path):
    conf = _conf(tmp_path)
    start, wrong = threading.Barrier(8), []

    def request(index: int) -> None:
        env, run = "ab"[index % 2], f"run{index}"
        start.wait(timeout=5)
        for _ in range(15):
            try:
                found = _filepath(_loader(conf, env, run))
            except Exception as error:  # noqa: BLE001 - any failure is the finding
                found = f"{type(error).__name__}: {error}"
            if found != f"data/{env}/{run}.csv":
                wrong.append(found)

    threads = [threading.Thread(target=request, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not wrong, wrong[:3]
