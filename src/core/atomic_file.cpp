#include "layerwise/core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "layerwise/core/error.h"

namespace layerwise {

void write_file_atomic(const std::string& path, const std::string& contents) {
  const std::string tmp = str_cat(path, ".tmp.", ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    LW_CHECK(out, "cannot write '", path, "': ", std::strerror(errno));
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.flush();
    if (!out) {
      const std::string reason = std::strerror(errno);
      std::remove(tmp.c_str());
      throw EnvironmentError(str_cat("writing '", path, "' failed: ", reason, " (disk full?)"));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(tmp.c_str());
    throw Error(str_cat("cannot move '", tmp, "' to '", path, "': ", reason));
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  LW_CHECK(in, "cannot open '", path, "': ", std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void make_directories(const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  LW_CHECK(!error, "cannot create folder '", dir, "': ", error.message());
}

bool file_exists(const std::string& path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error);
}

bool directory_exists(const std::string& path) {
  std::error_code error;
  return std::filesystem::is_directory(path, error);
}

void sync_to_disk(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  LW_CHECK(fd >= 0, "cannot open '", path, "' to flush it: ", std::strerror(errno));
  const int result = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  LW_CHECK(result == 0, "flushing '", path, "' to disk failed: ", std::strerror(error));
}

void replace_with_link(const std::string& link, const std::string& target) {
  const std::string tmp = str_cat(link, ".tmp.", ::getpid());
  std::remove(tmp.c_str());
  LW_CHECK(::symlink(target.c_str(), tmp.c_str()) == 0, "cannot create link '", tmp,
           "': ", std::strerror(errno));
  if (std::rename(tmp.c_str(), link.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(tmp.c_str());
    throw Error(str_cat("cannot move link '", tmp, "' to '", link, "': ", reason));
  }
}

}  // namespace layerwise
