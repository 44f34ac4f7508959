"""Hadoop's local file system without a process per file (local_file_system, resources/LocalFileSystemWithoutForks.java):
compiled once, used only where asked, and answering as Hadoop's own class does."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from py4j.protocol import Py4JJavaError
from pyspark.find_spark_home import _find_spark_home

from dataflix_spark import local_file_system
from dataflix_spark.local_file_system import CLASS, compiled_jar, conf
from dataflix_spark.session import _java_path, _local_file_system_jar

JARS = Path(_find_spark_home()) / "jars"


def test_the_settings_name_the_class_and_put_the_jar_first_on_the_class_path(tmp_path):
    jar = tmp_path / "localfs.jar"
    assert conf(jar, {}) == {
        "spark.driver.extraClassPath": str(jar),
        "spark.hadoop.fs.file.impl": CLASS,
        "spark.hadoop.fs.AbstractFileSystem.file.impl": f"{CLASS}$ForFileContext",
    }
    assert conf(jar, {"spark.driver.extraClassPath": "/opt/x.jar"})["spark.driver.extraClassPath"] == \
        f"{jar}{os.pathsep}/opt/x.jar"


@pytest.mark.parametrize("key", ["spark.hadoop.fs.file.impl", "spark.hadoop.fs.AbstractFileSystem.file.impl"])
def test_a_file_system_chosen_in_the_settings_is_left_alone(tmp_path, key):
    assert conf(tmp_path / "localfs.jar", {key: "org.example.Fs"}) == {}


def test_only_a_local_master_gets_it():
    assert _local_file_system_jar("spark://127.0.0.1:7077") is None  # its executors would not have the jar


def test_no_folder_no_java_or_no_javac_means_no_jar(tmp_path):
    java = _java_path()
    assert compiled_jar(None, java, JARS) is None
    assert compiled_jar(tmp_path, None, JARS) is None
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "java").write_text("")  # a JRE's: no javac beside it
    assert compiled_jar(tmp_path / "cache", str(tmp_path / "bin" / "java"), JARS) is None
    assert compiled_jar(tmp_path / "cache", java, tmp_path) is None  # no Hadoop jar to compile against
    assert not (tmp_path / "cache").exists()


def test_compiled_once_and_then_left_as_it_is(tmp_path):
    jar = compiled_jar(tmp_path, _java_path(), JARS)
    assert jar is not None and jar.parent == tmp_path and jar.suffix == ".jar"
    made = jar.stat().st_mtime_ns
    assert compiled_jar(tmp_path, _java_path(), JARS) == jar and jar.stat().st_mtime_ns == made
    assert sorted(p.name for p in tmp_path.iterdir()) == [jar.name]  # its work folder is gone


def test_a_source_that_does_not_compile_gives_no_jar(tmp_path, monkeypatch):
    source = tmp_path / "src" / "dataflix_spark" / "resources"
    source.mkdir(parents=True)
    (source / local_file_system.SOURCE).write_text("class Broken {")
    (source / local_file_system.NO_YARN_DEFAULTS).write_text("<configuration/>")
    monkeypatch.setattr(local_file_system.resources, "files", lambda package: tmp_path / "src" / package)
    assert compiled_jar(tmp_path / "cache", _java_path(), JARS) is None
    assert list((tmp_path / "cache").iterdir()) == []


# The test session's JVM (tests/conftest.py: local[2], started by session.get_spark) uses the class.

def _file_systems(spark):
    jvm = spark.sparkContext._jvm
    hadoop_conf = spark.sparkContext._jsc.hadoopConfiguration()
    ours = jvm.org.apache.hadoop.fs.FileSystem.get(jvm.java.net.URI("file:///"), hadoop_conf)
    theirs = jvm.org.apache.hadoop.fs.RawLocalFileSystem()
    theirs.initialize(jvm.java.net.URI("file:///"), hadoop_conf)
    return jvm, ours, theirs


def test_the_test_sessions_jvm_uses_it_for_files_and_file_contexts(spark):
    jvm, ours, _ = _file_systems(spark)
    assert ours.getClass().getName() == CLASS
    context = jvm.org.apache.hadoop.fs.FileContext.getLocalFSFileContext(spark.sparkContext._jsc.hadoopConfiguration())
    assert context.getDefaultFileSystem().getClass().getName() == f"{CLASS}$ForFileContext"


def test_the_test_sessions_hadoop_settings_leave_yarns_defaults_out_and_keep_the_others(spark):
    """What a write task or a scan's broadcast carries: Hadoop's core and MapReduce defaults, without YARN's 643."""
    jvm = spark.sparkContext._jvm
    jvm.org.apache.hadoop.mapred.JobConf()  # adds yarn-default.xml to every Configuration's defaults, as a write does
    hadoop_conf = spark._jsparkSession.sessionState().newHadoopConf()
    keys = [entry.getKey() for entry in hadoop_conf.getPropsWithPrefix("").entrySet()]
    # (MapReduce's own defaults name its YARN application master's settings "yarn.app.mapreduce.…")
    assert not [key for key in keys if key.startswith("yarn.") and not key.startswith("yarn.app.mapreduce.")]
    assert hadoop_conf.get("yarn.resourcemanager.address") is None  # yarn-default.xml's
    assert hadoop_conf.get("ipc.client.connect.timeout") == "20000"  # core-default.xml
    assert hadoop_conf.get("mapreduce.job.maps") == "2"  # mapred-default.xml
    assert hadoop_conf.get("spark.sql.session.timeZone") == "UTC"  # the session's own
    written = jvm.java.io.ByteArrayOutputStream()
    hadoop_conf.write(jvm.java.io.DataOutputStream(written))
    assert written.size() < 80_000, written.size()  # 115 kB with YARN's


def test_new_files_and_folders_get_the_modes_hadoops_own_gives_them(spark, tmp_path):
    """Hadoop sets a new file's mode from its own umask (fs.permissions.umask-mode), not the process's: with 077
    a file is 0600 and a folder 0700 only if the mode is really set, through FileSystem and FileContext alike."""
    jvm = spark.sparkContext._jvm
    hadoop_conf = jvm.org.apache.hadoop.conf.Configuration(spark.sparkContext._jsc.hadoopConfiguration())
    hadoop_conf.set("fs.permissions.umask-mode", "077")
    uri = jvm.java.net.URI("file:///")
    fs = jvm.org.apache.hadoop.fs
    for name, file_system in (("ours", jvm.dataflix.hadoop.LocalFileSystemWithoutForks()),
                              ("theirs", fs.LocalFileSystem())):
        file_system.initialize(uri, hadoop_conf)
        file_system.mkdirs(fs.Path(str(tmp_path / name / "a" / "b")))
        file_system.create(fs.Path(str(tmp_path / name / "a" / "f"))).close()
    for name, impl in (("ours", f"{CLASS}$ForFileContext"), ("theirs", "org.apache.hadoop.fs.local.LocalFs")):
        hadoop_conf.set("fs.AbstractFileSystem.file.impl", impl)
        context = fs.FileContext.getFileContext(uri, hadoop_conf)
        assert context.getDefaultFileSystem().getClass().getName() == impl
        context.mkdir(fs.Path(str(tmp_path / name / "c")), fs.permission.FsPermission.getDirDefault(), True)
        flags = jvm.java.util.EnumSet.of(fs.CreateFlag.CREATE)
        context.create(fs.Path(str(tmp_path / name / "c" / "g")), flags,
                       spark.sparkContext._gateway.new_array(fs.Options.CreateOpts, 0)).close()

    def modes(name: str) -> dict[str, int]:
        root = tmp_path / name
        return {p.relative_to(root).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*")
                if not p.name.endswith(".crc")}

    assert modes("ours") == modes("theirs") == {"a": 0o700, "a/b": 0o700, "a/f": 0o600, "c": 0o700, "c/g": 0o600}


def test_permissions_set_as_asked_a_sticky_bit_too(spark, tmp_path):
    jvm, ours, theirs = _file_systems(spark)
    (tmp_path / "f").write_text("x")
    for mode in (0o600, 0o750, 0o444, 0o1777):
        for fs in (ours, theirs):
            path = tmp_path / f"d{mode:o}{fs is ours}"
            path.mkdir()
            fs.setPermission(jvm.org.apache.hadoop.fs.Path(str(path)), jvm.org.apache.hadoop.fs.permission.FsPermission(mode))
            assert stat.S_IMODE(path.stat().st_mode) == mode


def test_link_status_answers_as_hadoops_own(spark, tmp_path):
    """Hadoop asks `readlink` of the path as written: a qualified path ("file:/...") is never a link to it."""
    jvm, ours, theirs = _file_systems(spark)
    (tmp_path / "file").write_text("x")
    (tmp_path / "folder").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "file")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")

    def answer(fs, name: str):
        try:
            status = fs.getFileLinkStatus(jvm.org.apache.hadoop.fs.Path(name))
        except Py4JJavaError as error:
            return error.java_exception.getClass().getName()
        return (status.isFile(), status.isDirectory(), status.isSymlink(), status.getLen(),
                status.getSymlink().toString() if status.isSymlink() else None, status.getPath().toString())

    for name in ("file", "folder", "link", "dangling", "nowhere"):
        for path in (str(tmp_path / name), f"file:{tmp_path / name}"):
            assert answer(ours, path) == answer(theirs, path), path
    assert answer(ours, str(tmp_path / "link"))[2] is True
    assert answer(ours, str(tmp_path / "nowhere")) == "java.io.FileNotFoundException"

