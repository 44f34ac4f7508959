"""The JVM class cache (session.ClassCache): where it lives, when a JVM maps or writes it, and that only a
complete archive of a run that succeeded is kept."""
from __future__ import annotations

import os
import subprocess
import sys
import time

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


def test_a_successful_runs_archive_is_kept_beside_the_newest_other_and_replaces_older_ones(cache_dir):
    cache = ClassCache([])
    cache.java_options(make=True)
    # A local run's archive and a cluster driver's differ; a third is an older install's. Partial files of
    # killed runs go once an hour old.
    oldest, older, newest = (cache_dir / f"classes-{n:016d}.jsa" for n in range(3))
    for age, path in ((3, oldest), (2, older), (1, newest)):
        path.write_bytes(b"old")
        os.utime(path, (time.time() - age * 60, time.time() - age * 60))
    killed, running = cache_dir / f"{oldest.name}.1.tmp", cache_dir / f"{oldest.name}.2.tmp"
    killed.write_bytes(b"part")
    running.write_bytes(b"part")
    os.utime(killed, (time.time() - 7200, time.time() - 7200))
    gateway = _Gateway(cache.pending)
    assert cache.keep(gateway, succeeded=True)
    assert gateway.shut and cache.archive.read_bytes() == b"archive"
    assert sorted(p.name for p in cache_dir.iterdir()) == sorted([cache.archive.name, newest.name, running.name])


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
