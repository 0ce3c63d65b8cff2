// Writing result files so that a failure never leaves a half-written file behind.
#pragma once

#include <string>

namespace layerwise {

/// Writes `contents` to `path` through a temporary file in the same folder, then renames it into
/// place. Throws layerwise::Error naming the path when the folder is missing or the write fails.
void write_file_atomic(const std::string& path, const std::string& contents);

/// Reads a whole file; throws layerwise::Error naming the path if it cannot be opened.
std::string read_file(const std::string& path);

/// Creates `dir` and its missing parents; throws layerwise::Error naming it on failure.
void make_directories(const std::string& dir);

/// True if `path` names an existing regular file (through links).
bool file_exists(const std::string& path);
/// True if `path` names an existing directory (through links).
bool directory_exists(const std::string& path);

/// Flushes a file or a folder (its entries: creations, renames) to the disk: what a crash must
/// not lose. Throws layerwise::Error naming the path on failure.
void sync_to_disk(const std::string& path);

/// Points the symbolic link `link` at `target` (relative to the link's folder), replacing what
/// `link` named in one atomic rename. Throws layerwise::Error naming the link on failure.
void replace_with_link(const std::string& link, const std::string& target);

}  // namespace layerwise
