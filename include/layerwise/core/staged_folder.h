// A result folder written whole or not at all: files go to DIR.partial, which commit() renames to
// DIR; an exception before that deletes DIR.partial, so a failed export or import leaves nothing.
// A folder the program owns (a report's figures) may replace its previous version whole.
#pragma once

#include <string>

namespace layerwise {

class StagedFolder {
 public:
  enum class Existing { refuse, replace };
  /// Refuses (layerwise::Error) a DIR that is a file, or (Existing::refuse) a folder that is not
  /// empty; clears a stale DIR.partial.
  explicit StagedFolder(std::string dir, Existing existing = Existing::refuse);
  ~StagedFolder();
  StagedFolder(const StagedFolder&) = delete;
  StagedFolder& operator=(const StagedFolder&) = delete;

  /// Where to write: DIR.partial.
  const std::string& path() const { return partial_; }
  /// Moves DIR.partial to DIR (a folder DIR had, with Existing::replace, is removed after).
  void commit();

 private:
  std::string dir_, partial_;
  bool committed_ = false;
};

/// Deletes a folder and everything in it; no error if absent. (Not std::filesystem::remove_all:
/// PyTorch 2.x's libtorch.so exports its own copy of that symbol, which crashes when bound.)
void remove_folder(const std::string& dir);

}  // namespace layerwise
