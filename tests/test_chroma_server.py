"""The notes store on a real Chroma server, as several Macs would share it.

A `chroma run` subprocess listens on a free loopback port for this module; each
test starts from an empty collection.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import chromadb
import pytest

from household_assistant.assistant import Assistant, SourcesEvent
from household_assistant.cli import main
from household_assistant.config import load_settings
from household_assistant.errors import StoreError
from household_assistant.store import COLLECTION, open_client

HOST = "127.0.0.1"
STARTUP_S = 60
POOL = (
    "Blue Wave Pools serviced the Pentair pool pump on 12 May 2025 and replaced "
    "the shaft seal."
)
FURNACE = "# Furnace\n\nThe Trane furnace takes a 16x25x1 MERV 11 filter.\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_for_heartbeat(process: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"chroma run exited with {process.returncode}:\n{log.read_text()}"
            )
        try:
            chromadb.HttpClient(host=HOST, port=port).heartbeat()
            return
        except Exception:  # not listening yet
            time.sleep(0.25)
    pytest.fail(f"chroma run did not answer within {STARTUP_S} s:\n{log.read_text()}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> str:
    """The URL of a Chroma server that lives as long as this module's tests."""
    folder = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    log = folder / "server.log"
    command = [chroma, "run", "--path", folder / "data", "--host", HOST]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*map(str, command), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_heartbeat(process, port, log)
        yield f"http://{HOST}:{port}"
    finally:
        stop(process)


@pytest.fixture
def url(server) -> str:
    """The server's URL, with the notes collection emptied after each test."""
    yield server
    port = int(server.rsplit(":", 1)[1])
    client = chromadb.HttpClient(host=HOST, port=port)
    if COLLECTION in [c.name for c in client.list_collections()]:
        client.delete_collection(COLLECTION)


def shared_assistant(home: Path, url: str) -> Assistant:
    return Assistant(home, dataclasses.replace(load_settings(home), chroma_url=url))


def test_import_and_ask_through_the_server(home, use_tiny_models, url, tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "pool.txt").write_text(POOL)
    (tmp_path / "notes" / "furnace.md").write_text(FURNACE)
    assistant = shared_assistant(home, url)

    results = list(assistant.import_paths([tmp_path / "notes"], "pool"))
    events = list(assistant.ask("Who serviced the pool pump?", "pool", answer=False))

    assert [r.status for r in results] == ["imported", "imported"]
    sources = next(e for e in events if isinstance(e, SourcesEvent))
    assert sources.scope.reason == "manual"
    assert sources.hits[0].source == str((tmp_path / "notes" / "pool.txt").resolve())
    assert "shaft seal" in sources.hits[0].text
    # Nothing went to the local store in the data folder.
    assert not (home / "chroma").exists()
    again = list(assistant.import_paths([tmp_path / "notes"], "pool"))
    assert [r.status for r in again] == ["unchanged", "unchanged"]


def test_a_second_mac_sees_the_same_notes(home, use_tiny_models, url, tmp_path):
    pool = tmp_path / "pool.txt"
    pool.write_text(POOL)
    first = shared_assistant(home, url)
    result = list(first.import_paths([pool], "pool"))[0]

    # Another data folder (another Mac) pointed at the same server.
    other_home = tmp_path / "other-mac"
    other_home.mkdir()
    second = shared_assistant(other_home, url)

    assert [n.note_id for n in second.store.notes()] == [result.note_id]
    hit = second.store.query("When was the pool pump serviced?", k=1)[0]
    assert hit.note_id == result.note_id and "12 May 2025" in hit.text

    furnace = tmp_path / "furnace.md"
    furnace.write_text(FURNACE)
    added = list(second.import_paths([furnace], "hvac"))[0]
    assert {n.note_id for n in first.store.notes()} == {
        result.note_id,
        added.note_id,
    }

    assert second.store.remove(result.note_id) == 1
    assert [n.note_id for n in first.store.notes()] == [added.note_id]


def test_the_cli_lists_notes_from_the_server(home, use_tiny_models, url, capsys):
    (home / "settings.json").write_text(json.dumps({"chroma_url": url}))
    source = str(home / "pool.txt")
    (home / "pool.txt").write_text(POOL)

    assert main(["import", source, "--category", "pool", "--json"]) == 0
    capsys.readouterr()
    assert main(["notes", "list", "--json"]) == 0

    listed = json.loads(capsys.readouterr().out)
    assert [(n["source"], n["category"]) for n in listed] == [(source, "pool")]
    assert not (home / "chroma").exists()


def test_a_server_that_is_not_running_is_a_store_error(home):
    url = f"http://{HOST}:{free_port()}"

    with pytest.raises(StoreError, match="Could not reach the Chroma server") as info:
        open_client(home, url)
    assert url in str(info.value)
    assert "chroma_url" in str(info.value)


@pytest.mark.parametrize(
    ("bad_url", "message"),
    [
        (None, "Could not reach the Chroma server at http://127.0.0.1:"),
        ("127.0.0.1:8000", "must look like http://host:8000; got '127.0.0.1:8000'"),
        ("ftp://127.0.0.1:8000", "must look like http://host:8000"),
    ],
)
def test_the_cli_reports_a_bad_server_url_without_a_traceback(
    home, use_tiny_models, capsys, bad_url, message
):
    bad_url = bad_url or f"http://{HOST}:{free_port()}"
    (home / "settings.json").write_text(json.dumps({"chroma_url": bad_url}))

    code = main(["notes", "list"])

    captured = capsys.readouterr()
    assert code == 4
    assert captured.out == ""
    assert captured.err.startswith("error: ")
    assert message in captured.err
    assert "Traceback" not in captured.err
