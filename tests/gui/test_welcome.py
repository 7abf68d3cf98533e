"""The Welcome page: what is here, downloads with progress, offline, stop and retry."""

from __future__ import annotations

import pytest

from household_assistant.assistant import Assistant
from household_assistant.gui.context import AppContext
from household_assistant.gui.welcome import BAR_STEPS, WelcomeView, _Speed
from household_assistant.models import ModelManager

from ..test_models import LocalHub

ROUTER_REPO = "mlx-community/Qwen3-0.6B-4bit"


def _view(qtbot, ctx) -> WelcomeView:
    view = WelcomeView(ctx)
    qtbot.addWidget(view)
    view.resize(820, 560)
    view.show()
    return view


def _notices(ctx) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    ctx.notice.connect(lambda level, text: seen.append((level, text)))
    return seen


@pytest.fixture
def router_missing(use_tiny_models, home, monkeypatch):
    """The default router repo, not downloaded; the other two models are here."""
    monkeypatch.setenv("HOUSEHOLD_ASSISTANT_ROUTER_MODEL", ROUTER_REPO)
    return AppContext(Assistant(home))


@pytest.fixture
def local_hub(monkeypatch, tiny_models):
    """The Hub's two network calls, served from the tiny 4-bit model's folder
    (the stand-in tests/test_models.py uses); downloads are switched on."""
    hub = LocalHub({ROUTER_REPO: tiny_models["4bit"]})
    monkeypatch.setattr(ModelManager, "_list_files", staticmethod(hub.list_files))
    monkeypatch.setattr(ModelManager, "_fetch", staticmethod(hub.fetch))
    monkeypatch.delenv("HF_HUB_OFFLINE")
    return hub


def test_ready_models_show_ready_and_continue(qtbot, ctx):
    view = _view(qtbot, ctx)
    assert [row.state.text() for row in view.rows.values()] == ["✓ Ready"] * 3
    assert all(row.bar.value() == BAR_STEPS for row in view.rows.values())
    assert view.continue_button.isEnabled()
    assert not view.download_button.isVisible() and not view.look_button.isVisible()
    assert "All three models" in view.summary.text()

    with qtbot.waitSignal(view.done, timeout=1000):
        view.continue_button.click()


def test_offline_download_fails_plainly(qtbot, router_missing):
    ctx = router_missing
    notices = _notices(ctx)
    view = _view(qtbot, ctx)
    router = view.rows["router"]
    assert router.state.text().lower() == "not downloaded"
    assert "about 351 MB" in router.size.text()  # the known size, offline
    assert view.rows["answer"].state.text() == "✓ Ready"
    assert not view.continue_button.isEnabled() and view.look_button.isVisible()
    assert "HF_HUB_OFFLINE" in view.message.text()  # said before any click

    view.start_download()
    assert view.stop_button.isVisible()
    qtbot.waitUntil(lambda: not view.downloading() and view.task is None, timeout=15000)

    plain = "Downloads are turned off (HF_HUB_OFFLINE is set)"
    assert plain in view.message.text()
    assert notices and notices[-1][0] == "error" and plain in notices[-1][1]
    assert router.state.text().lower() == "not downloaded"
    assert view.download_button.isVisible() and view.download_button.text() == "Retry"
    assert not view.continue_button.isEnabled()
    ready, reason = ctx.models_ready()
    assert not ready and "router model" in reason

    with qtbot.waitSignal(view.done, timeout=1000):
        view.look_button.click()


def test_download_shows_progress_and_makes_the_model_ready(
    qtbot, router_missing, local_hub, home
):
    ctx = router_missing
    view = _view(qtbot, ctx)
    assert not view.message.isVisible()  # downloads are on: no offline note
    values: list[int] = []
    view.rows["router"].bar.valueChanged.connect(values.append)

    with qtbot.waitSignal(ctx.models_changed, timeout=30000):
        view.download_button.click()
    qtbot.waitUntil(lambda: view.task is None, timeout=5000)

    moving = [v for v in values if 0 < v < BAR_STEPS]
    assert len(set(moving)) >= 2 and moving == sorted(moving)
    assert values[-1] == BAR_STEPS
    assert view.rows["router"].state.text() == "✓ Ready"
    assert view.continue_button.isEnabled() and not view.download_button.isVisible()
    assert (home / "models" / "mlx-community--Qwen3-0.6B-4bit" / "config.json").exists()
    assert ctx.models_ready() == (True, "")


def test_an_interrupted_download_says_no_network_and_retry_resumes(
    qtbot, router_missing, local_hub, home
):
    ctx = router_missing
    notices = _notices(ctx)
    local_hub.fail_on = "model.safetensors"
    view = _view(qtbot, ctx)

    view.start_download()
    qtbot.waitUntil(lambda: view.task is None, timeout=15000)
    assert "No network" in view.message.text()
    assert notices[-1][0] == "error" and "huggingface.co" in notices[-1][1]
    assert view.download_button.text() == "Retry"
    assert (home / "models" / "mlx-community--Qwen3-0.6B-4bit.partial").is_dir()
    fetched_before = list(local_hub.fetched)
    assert fetched_before  # the small files came before the failure

    with qtbot.waitSignal(ctx.models_changed, timeout=30000):
        view.download_button.click()
    qtbot.waitUntil(lambda: view.task is None, timeout=5000)
    assert view.rows["router"].state.text() == "✓ Ready"
    assert not view.message.isVisible()
    assert "model.safetensors" in local_hub.fetched[len(fetched_before) :]


def test_stop_pauses_and_retry_finishes(qtbot, router_missing, local_hub):
    ctx = router_missing
    view = _view(qtbot, ctx)
    view.start_download()
    view.task.progress.connect(lambda _item: view.stop_download())
    qtbot.waitUntil(lambda: view.task is None, timeout=15000)

    assert "stopped" in view.message.text().lower()
    assert view.rows["router"].state.text().lower() == "not downloaded"
    assert view.download_button.text() == "Retry" and not ctx.models_ready()[0]

    with qtbot.waitSignal(ctx.models_changed, timeout=30000):
        view.download_button.click()
    assert view.rows["router"].state.text() == "✓ Ready"


def test_speed_is_measured_over_a_window_and_smoothed():
    speed = _Speed()
    speed.add(1_000_000, now=0.0)
    speed.add(1_000_000, now=0.1)
    assert speed.rate is None  # too short to tell
    speed.add(3_000_000, now=1.0)
    assert speed.rate == pytest.approx(5_000_000)  # 5 MB over the first second
    speed.add(1_000_000, now=2.0)
    # One slow second moves the estimate 30 % of the way, not all the way.
    assert speed.rate == pytest.approx(5_000_000 + 0.3 * (1_000_000 - 5_000_000))
