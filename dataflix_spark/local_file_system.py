"""Hadoop's local file system without a process per file, for a JVM started here on a local master.

Without Hadoop's native library (pip's PySpark ships none), Hadoop's local file system runs `chmod` after creating
each file or directory and `readlink` at each rename through a FileContext (Delta's commits): about 800 child
processes in a small run, each a spawn from a JVM of a few GB. resources/LocalFileSystemWithoutForks.java does the
same through java.nio. It is compiled once per Java, Spark and source, with the JDK's `javac`, into the cache folder
beside the class cache (`session.ClassCache`); without a JDK or a cache folder Hadoop's own class stays, as before.

The jar also holds an empty resources/yarn-default.xml, found before Hadoop's own on the class path: Spark serialises
the whole Hadoop configuration into each write task and each scan's broadcast, and YARN's 643 defaults were more than
half of it (1,122 settings, 115 kB each time), read by nothing on a local master (docs/performance.md).
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
import zipfile

from importlib import resources
from pathlib import Path

CLASS = "dataflix.hadoop.LocalFileSystemWithoutForks"
SOURCE = "LocalFileSystemWithoutForks.java"
NO_YARN_DEFAULTS = "yarn-default.xml"
# Hadoop's settings that name the class for file: paths, through FileSystem and through FileContext.
HADOOP_CONF = {"fs.file.impl": CLASS, "fs.AbstractFileSystem.file.impl": f"{CLASS}$ForFileContext"}


def conf(jar: Path, settings_conf: dict[str, str]) -> dict[str, str]:
    """The Spark settings that use the class in `jar` for file: paths. A class path set in the settings is kept
    after the jar; a file system class set there wins (then nothing is changed)."""
    file_systems = {f"spark.hadoop.{key}": value for key, value in HADOOP_CONF.items()}
    if any(key in settings_conf for key in file_systems):
        return {}
    class_path = [str(jar), *filter(None, [settings_conf.get("spark.driver.extraClassPath")])]
    return {"spark.driver.extraClassPath": os.pathsep.join(class_path), **file_systems}


def compiled_jar(folder: Path | None, java: str | None, spark_jars: Path) -> Path | None:
    """The class's jar (with the empty yarn-default.xml) in `folder`, compiled there first if it is not yet (a second
    or two, once). None when there is no folder, no `javac` beside `java`, no Hadoop jar in `spark_jars`, or the
    compile fails: only speed is lost."""
    if folder is None or not java:
        return None
    javac = Path(os.path.realpath(java)).with_name("javac")
    hadoop = sorted(spark_jars.glob("hadoop-client-api-*.jar"))
    if not javac.is_file() or not hadoop:
        return None
    folder_of_resources = resources.files("dataflix_spark") / "resources"
    source = folder_of_resources / SOURCE
    try:
        no_yarn = (folder_of_resources / NO_YARN_DEFAULTS).read_text()
        facts = [source.read_text(), no_yarn, javac, javac.stat().st_mtime_ns, hadoop[-1],
                 hadoop[-1].stat().st_mtime_ns]
        jar = folder / f"localfs-{hashlib.sha256(chr(10).join(map(str, facts)).encode()).hexdigest()[:16]}.jar"
        if jar.is_file():
            return jar
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder, prefix=".localfs-") as work:
            classes = Path(work) / "classes"
            result = subprocess.run([str(javac), "-nowarn", "-proc:none", "-d", str(classes), "-cp", str(hadoop[-1]),
                                     str(source)], capture_output=True, timeout=300)
            if result.returncode != 0:
                return None
            made = Path(work) / "made.jar"
            with zipfile.ZipFile(made, "w") as archive:
                for path in sorted(classes.rglob("*.class")):
                    archive.write(path, path.relative_to(classes).as_posix())
                archive.writestr(NO_YARN_DEFAULTS, no_yarn)
            try:
                # A jar never changes once in place (a class cache made with it checks its time and size): when
                # another process put one there first, that one stays.
                os.link(made, jar)
            except FileExistsError:
                pass
    except (OSError, subprocess.SubprocessError):
        return None
    return jar if jar.is_file() else None

