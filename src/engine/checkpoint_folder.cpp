#include "fas/engine/checkpoint_folder.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "fas/core/error.h"

namespace fs = std::filesystem;

namespace fas {
namespace {

std::string Errno() { return std::strerror(errno); }

void FsyncPath(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) throw IoError("cannot open '" + path + "' to sync it: " + Errno());
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw IoError("cannot sync '" + path + "' to disk: " + std::strerror(err));
}

void WriteAll(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError("cannot create '" + path + "': " + Errno());
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string err = Errno();
      ::close(fd);
      throw IoError("cannot write '" + path + "': " + err);
    }
    done += static_cast<size_t>(n);
  }
  const int rc = ::fsync(fd);
  const std::string err = rc != 0 ? Errno() : "";
  if (::close(fd) != 0 || rc != 0) throw IoError("cannot write '" + path + "' to disk: " + err);
}

std::string ParentOf(const std::string& path) {
  const fs::path p = fs::path(path).parent_path();
  return p.empty() ? std::string(".") : p.string();
}

// Temporary versions are `.NAME.tmp-PID` beside the checkpoint.
std::string TempPrefix(const std::string& dir) { return "." + fs::path(dir).filename().string() + ".tmp-"; }

void RemoveStaleTemps(const std::string& dir) {
  std::error_code ec;
  const std::string prefix = TempPrefix(dir);
  for (const auto& entry : fs::directory_iterator(ParentOf(dir), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0) fs::remove_all(entry.path(), ec);
  }
}

}  // namespace

CheckpointTransaction::CheckpointTransaction(std::string dir) : dir_(std::move(dir)) {
  while (!dir_.empty() && dir_.back() == '/') dir_.pop_back();
  if (dir_.empty()) throw IoError("checkpoint folder name is empty");
  std::error_code ec;
  fs::create_directories(ParentOf(dir_), ec);
  if (ec) throw IoError("cannot create '" + ParentOf(dir_) + "': " + ec.message());
  RemoveStaleTemps(dir_);
  tmp_ = (fs::path(ParentOf(dir_)) / (TempPrefix(dir_) + std::to_string(::getpid()))).string();
  fs::create_directory(tmp_, ec);
  if (ec) throw IoError("cannot create '" + tmp_ + "': " + ec.message());
}

CheckpointTransaction::~CheckpointTransaction() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(tmp_, ec);
}

std::string CheckpointTransaction::Path(const std::string& name) const { return tmp_ + "/" + name; }

void CheckpointTransaction::WriteFile(const std::string& name, const std::string& bytes) {
  WriteAll(Path(name), bytes);
}

void CheckpointTransaction::LinkFile(const std::string& name, const std::string& source) {
  if (::link(source.c_str(), Path(name).c_str()) == 0) return;
  std::error_code ec;
  fs::copy_file(source, Path(name), fs::copy_options::overwrite_existing, ec);
  if (ec) throw IoError("cannot copy '" + source + "' into a checkpoint: " + ec.message());
}

void CheckpointTransaction::Commit() {
  if (committed_) throw IoError("checkpoint '" + dir_ + "' committed twice");
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(tmp_, ec)) FsyncPath(entry.path().string(), false);
  if (ec) throw IoError("cannot list '" + tmp_ + "': " + ec.message());
  FsyncPath(tmp_, true);

  const std::string parent = ParentOf(dir_);
  const std::string old = dir_ + ".old";
  if (!fs::exists(dir_)) {
    if (::rename(tmp_.c_str(), dir_.c_str()) != 0) throw IoError("cannot rename '" + tmp_ + "' to '" + dir_ + "': " + Errno());
  } else if (::renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, dir_.c_str(), RENAME_EXCHANGE) == 0) {
    // The previous version now sits at the temporary name.
    fs::remove_all(tmp_, ec);
  } else if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP) {
    fs::remove_all(old, ec);
    if (::rename(dir_.c_str(), old.c_str()) != 0) throw IoError("cannot rename '" + dir_ + "' to '" + old + "': " + Errno());
    if (::rename(tmp_.c_str(), dir_.c_str()) != 0) throw IoError("cannot rename '" + tmp_ + "' to '" + dir_ + "': " + Errno());
    FsyncPath(parent, true);
    fs::remove_all(old, ec);
  } else {
    throw IoError("cannot swap '" + tmp_ + "' in for '" + dir_ + "': " + Errno());
  }
  FsyncPath(parent, true);
  fs::remove_all(old, ec);  // left by a writer killed between the fallback's two renames
  committed_ = true;
}

std::string FindCheckpoint(const std::string& dir) {
  std::string d = dir;
  while (!d.empty() && d.back() == '/') d.pop_back();
  if (fs::is_directory(d)) return d;
  if (fs::is_directory(d + ".old")) return d + ".old";
  return "";
}

void CopyCheckpoint(const std::string& source_dir, const std::string& dir) {
  CheckpointTransaction t(dir);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(source_dir, ec)) {
    t.LinkFile(entry.path().filename().string(), entry.path().string());
  }
  if (ec) throw IoError("cannot list checkpoint '" + source_dir + "': " + ec.message());
  t.Commit();
}

std::string CheckpointForEval(const std::string& run_dir) {
  std::string dir = FindCheckpoint(run_dir + "/checkpoints/best");
  if (dir.empty()) dir = FindCheckpoint(run_dir + "/checkpoints/last");
  if (dir.empty()) throw IoError("run '" + run_dir + "' has no checkpoint (checkpoints/best or checkpoints/last)");
  return dir;
}

}  // namespace fas
