// A result folder written whole or not at all: files go to DIR.partial, which commit() renames to
// DIR; an exception before that deletes DIR.partial, so a failed export or import leaves nothing.
#pragma once

#include <string>

namespace layerwise {

class StagedFolder {
 public:
  /// Refuses (layerwise::Error) a DIR that exists and is not empty; clears a stale DIR.partial.
  explicit StagedFolder(std::string dir);
  ~StagedFolder();
  StagedFolder(const StagedFolder&) = delete;
  StagedFolder& operator=(const StagedFolder&) = delete;

  /// Where to write: DIR.partial.
  const std::string& path() const { return partial_; }
  /// Moves DIR.partial to DIR.
  void commit();

 private:
  std::string dir_, partial_;
  bool committed_ = false;
};

/// Deletes a folder and everything in it; no error if absent. (Not std::filesystem::remove_all:
/// PyTorch 2.x's libtorch.so exports its own copy of that symbol, which crashes when bound.)
void remove_folder(const std::string& dir);

}  // namespace layerwise
