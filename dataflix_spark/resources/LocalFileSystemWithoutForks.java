package dataflix.hadoop;

import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.ChecksumFs;
import org.apache.hadoop.fs.DelegateToFileSystem;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FsServerDefaults;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.local.LocalConfigKeys;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.io.nativeio.NativeIO;
import org.apache.hadoop.util.Shell;

/**
 * Hadoop's local file system (fs.file.impl) without a child process per file. Without Hadoop's native library
 * (pip's PySpark ships none) RawLocalFileSystem runs `chmod` after it creates each file or directory and
 * `readlink` each time it is asked whether a path is a symbolic link (every rename through a FileContext, as
 * Delta's commits are): about 800 processes in a small run. This one does both through java.nio, with the same
 * outcome; anything else (the native library, Windows, a sticky bit, a path that is a link) is left to Hadoop.
 * Compiled once per install by dataflix_spark/local_file_system.py; set only for local masters.
 */
public class LocalFileSystemWithoutForks extends LocalFileSystem {
  public LocalFileSystemWithoutForks() {
    super(new Raw());
  }

  /** The raw file system under both entry points. */
  public static class Raw extends RawLocalFileSystem {
    @Override
    public void setPermission(Path p, FsPermission permission) throws IOException {
      if (Shell.WINDOWS || NativeIO.isAvailable() || permission.getStickyBit()) {
        super.setPermission(p, permission);
        return;
      }
      Files.setPosixFilePermissions(pathToFile(p).toPath(), posix(permission.toShort()));
    }

    @Override
    public FileStatus getFileLinkStatus(Path f) throws IOException {
      // Hadoop runs `readlink <f.toString()>` (for a qualified path, "file:/...", which names no file): the same
      // question, asked of the same name without a process. A link is left to Hadoop.
      if (Shell.WINDOWS || Files.isSymbolicLink(new File(f.toString()).toPath())) {
        return super.getFileLinkStatus(f);
      }
      return getFileStatus(f);
    }
  }

  /** The same for FileContext (fs.AbstractFileSystem.file.impl): Hadoop's LocalFs over this Raw. */
  public static class ForFileContext extends ChecksumFs {
    public ForFileContext(URI uri, Configuration conf) throws IOException, URISyntaxException {
      super(new RawForFileContext(uri, conf));
    }
  }

  /** Hadoop's RawLocalFs (whose constructors are not public) over this Raw. */
  static class RawForFileContext extends DelegateToFileSystem {
    RawForFileContext(URI uri, Configuration conf) throws IOException, URISyntaxException {
      super(uri, new Raw(), conf, "file", false);
    }

    @Override
    public int getUriDefaultPort() {
      return -1;
    }

    @Override
    public FsServerDefaults getServerDefaults() throws IOException {
      return LocalConfigKeys.getServerDefaults();
    }

    @Override
    public FsServerDefaults getServerDefaults(Path f) throws IOException {
      return LocalConfigKeys.getServerDefaults();
    }

    @Override
    public boolean isValidName(String src) {
      return true;  // as RawLocalFs: the operating system decides
    }
  }

  static Set<PosixFilePermission> posix(short mode) {
    // PosixFilePermission's order: OWNER_READ ... OTHERS_EXECUTE, from bit 8 down to bit 0.
    PosixFilePermission[] all = PosixFilePermission.values();
    Set<PosixFilePermission> set = EnumSet.noneOf(PosixFilePermission.class);
    for (int i = 0; i < all.length; i++) {
      if ((mode & (1 << (all.length - 1 - i))) != 0) {
        set.add(all[i]);
      }
    }
    return set;
  }
}
