"""The JVM class cache (session.ClassCache): where it lives, when a JVM maps or writes it, and that only a
complete archive of a run that succeeded is kept."""
from __future__ import annotations

import subprocess
import sys

import pytest

from dataflix_spark.session import CACHE_DIR_ENV, ClassCache


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache" / "jvm"


class _Gateway:
    """A gateway's `proc`, as PySpark's launch_gateway leaves it: a child reading its stdin. This one writes
    `path` at the end of its input, as the JVM writes the archive as it exits."""

    def __init__(self, path):
        script = f"import sys; sys.stdin.read(); open({str(path)!r}, 'wb').write(b'archive')"
        self.proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE)
        self.shut = False

    def shutdown(self):
        self.shut = True


@pytest.mark.parametrize("value", ["off", "", "0"])
def test_the_cache_can_be_turned_off(monkeypatch, value):
    monkeypatch.setenv(CACHE_DIR_ENV, value)
    cache = ClassCache([])
    assert cache.archive is None and cache.java_options(make=True) == []


def test_the_default_folder_is_the_users_cache(monkeypatch, tmp_path):
    monkeypatch.delenv(CACHE_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert ClassCache([]).archive.parent == tmp_path / "dataflix" / "jvm"


def test_one_archive_per_package_set(cache_dir):
    assert ClassCache(["a"]).archive == ClassCache(["a"]).archive != ClassCache(["b"]).archive


def test_without_an_archive_a_run_writes_one_only_when_asked(cache_dir):
    assert ClassCache([]).java_options(make=False) == []
    cache = ClassCache([])
    options = cache.java_options(make=True)
    assert options[0] == f"-XX:ArchiveClassesAtExit={cache.pending}"
    assert cache.pending.parent == cache_dir and cache.pending != cache.archive  # this process's own file


def test_with_an_archive_every_jvm_maps_it_and_none_writes(cache_dir):
    cache = ClassCache([])
    cache_dir.mkdir(parents=True)
    cache.archive.write_bytes(b"archive")
    assert cache.java_options(make=True)[0] == f"-XX:SharedArchiveFile={cache.archive}"
    assert cache.pending is None


def test_a_successful_runs_archive_is_kept_and_replaces_other_installs(cache_dir):
    cache = ClassCache([])
    cache.java_options(make=True)
    stale = cache_dir / "classes-0000000000000000.jsa"
    stale.write_bytes(b"old")
    gateway = _Gateway(cache.pending)
    assert cache.keep(gateway, succeeded=True)
    assert gateway.shut and cache.archive.read_bytes() == b"archive"
    assert sorted(p.name for p in cache_dir.iterdir()) == [cache.archive.name]


def test_a_failed_runs_jvm_is_killed_and_writes_nothing(cache_dir):
    cache = ClassCache([])
    cache.java_options(make=True)
    pending = cache.pending
    gateway = _Gateway(pending)
    assert not cache.keep(gateway, succeeded=False)
    assert gateway.proc.returncode != 0
    assert not pending.exists() and not cache.archive.exists()


def test_an_unwritable_cache_folder_only_means_no_cache(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "file"))
    cache = ClassCache([])
    assert cache.java_options(make=True) == [] and cache.pending is None
