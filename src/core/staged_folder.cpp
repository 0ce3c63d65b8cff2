#include "layerwise/core/staged_folder.h"

#include <ftw.h>

#include <cstdio>
#include <filesystem>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"

namespace layerwise {

namespace fs = std::filesystem;

void remove_folder(const std::string& dir) {
  ::nftw(
      dir.c_str(),
      [](const char* file, const struct stat*, int, struct FTW*) { return std::remove(file); }, 16,
      FTW_DEPTH | FTW_PHYS);
}

StagedFolder::StagedFolder(std::string dir, Existing existing) : dir_(std::move(dir)) {
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();  // "runs/x/" is "runs/x"
  partial_ = dir_ + ".partial";
  std::error_code error;
  LW_CHECK(!fs::exists(dir_, error) || fs::is_directory(dir_, error), "'", dir_,
           "' is a file, not a folder; choose a new folder");
  LW_CHECK(existing == Existing::replace || !fs::exists(dir_, error) || fs::is_empty(dir_, error),
           "'", dir_, "' exists and is not empty; choose a new folder");
  remove_folder(partial_);
  make_directories(partial_);
}

StagedFolder::~StagedFolder() {
  if (!committed_) remove_folder(partial_);
}

void StagedFolder::commit() {
  std::error_code error;
  const std::string old = dir_ + ".old";
  remove_folder(old);
  if (fs::is_directory(dir_, error))  // empty, or replaced as the constructor allowed
    LW_CHECK(std::rename(dir_.c_str(), old.c_str()) == 0, "cannot move '", dir_, "' aside");
  LW_CHECK(std::rename(partial_.c_str(), dir_.c_str()) == 0, "cannot move '", partial_, "' to '",
           dir_, "'");
  committed_ = true;
  remove_folder(old);
}

}  // namespace layerwise
