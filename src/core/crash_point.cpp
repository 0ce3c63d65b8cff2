#include "layerwise/core/crash_point.h"

#include <csignal>
#include <cstdlib>
#include <string>

namespace layerwise {

namespace {

struct CrashTarget {
  std::string name;  // empty: none
  long hit = 1;      // which arrival kills
};

CrashTarget read_target() {
  CrashTarget target;
  const char* value = std::getenv("LAYERWISE_CRASH_AT");
  if (value == nullptr) return target;
  target.name = value;
  const auto colon = target.name.find(':');
  if (colon != std::string::npos) {
    target.hit = std::strtol(target.name.c_str() + colon + 1, nullptr, 10);
    target.name.resize(colon);
  }
  return target;
}

}  // namespace

void crash_point(const char* name) {
  static const CrashTarget target = read_target();
  static long arrivals = 0;
  if (target.name.empty() || target.name != name) return;
  if (++arrivals == target.hit) std::raise(SIGKILL);
}

}  // namespace layerwise
