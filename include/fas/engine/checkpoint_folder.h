// A checkpoint is a folder (`checkpoints/last`, `checkpoints/best`) replaced as a whole: the new one is written
// into a temporary sibling folder, every file and the folder are fsync'd, and only then is it swapped in with
// one atomic rename (renameat2 RENAME_EXCHANGE; on file systems without it, two renames, the previous folder kept
// as `NAME.old` until the new one is in place). A process killed at any point leaves a loadable checkpoint.
#pragma once

#include <string>

namespace fas {

class CheckpointTransaction {
 public:
  // Starts a new version of the checkpoint folder `dir` (its parent is created if needed). Temporary folders
  // left by killed writers of the same checkpoint are removed first.
  explicit CheckpointTransaction(std::string dir);
  ~CheckpointTransaction();  // discards the temporary folder unless committed
  CheckpointTransaction(const CheckpointTransaction&) = delete;
  CheckpointTransaction& operator=(const CheckpointTransaction&) = delete;

  // Where a file of the new version goes; write it there (any writer), Commit fsyncs it.
  std::string Path(const std::string& name) const;
  void WriteFile(const std::string& name, const std::string& bytes);
  // Adds a file of an existing checkpoint by hard link (a copy where linking fails): checkpoint files are never
  // modified once written, so sharing them between `last` and `best` is safe.
  void LinkFile(const std::string& name, const std::string& source);
  // Makes the new version the checkpoint. Throws IoError (naming the path) on any failure, leaving the previous
  // version in place.
  void Commit();

  const std::string& temp_dir() const { return tmp_; }

 private:
  std::string dir_, tmp_;
  bool committed_ = false;
};

// The folder to load for checkpoint `dir`: `dir` itself, or `dir.old` when a writer was killed between the two
// renames of the fallback swap. Returns "" when neither exists.
std::string FindCheckpoint(const std::string& dir);

// The checkpoint a finished run is evaluated with: checkpoints/best, else checkpoints/last. Throws IoError when the
// run has neither.
std::string CheckpointForEval(const std::string& run_dir);

// Copies a whole checkpoint folder to `dir` (hard links, one transaction): `best` from a just-written `last`.
void CopyCheckpoint(const std::string& source_dir, const std::string& dir);

}  // namespace fas
