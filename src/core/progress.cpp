#include "layerwise/core/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>

namespace layerwise {

namespace {
bool stderr_is_terminal() {
  static const bool terminal = isatty(fileno(stderr)) != 0;
  return terminal;
}
}  // namespace

void Progress::update(const std::string& text, bool force) {
  if (quiet_) return;
  const auto now = std::chrono::steady_clock::now();
  const double interval = stderr_is_terminal() ? 0.25 : 10.0;
  if (!force && std::chrono::duration<double>(now - last_).count() < interval) return;
  last_ = now;
  if (stderr_is_terminal()) {
    std::cerr << "\r\033[K" << text << std::flush;
    open_line_ = true;
  } else {
    std::cerr << text << "\n" << std::flush;
  }
}

void Progress::message(const std::string& text) {
  if (quiet_) return;
  if (open_line_) std::cerr << "\r\033[K";
  open_line_ = false;
  std::cerr << text << "\n" << std::flush;
}

void Progress::items(const std::string& label, int64_t done, int64_t total,
                     const std::string& unit) {
  if (quiet_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!started_) {
    start_ = now;
    started_ = true;
  }
  if (done == 0) return;  // nothing to say yet: the rate is counted from here
  const double seconds = std::chrono::duration<double>(now - start_).count();
  const double rate = seconds > 0 ? double(done) / seconds : 0;
  char text[160];
  std::snprintf(text, sizeof text, "%s: %lld/%lld %s (%.0f%%), %.0f/s, left %s", label.c_str(),
                (long long)done, (long long)total, unit.c_str(),
                total > 0 ? 100.0 * double(done) / double(total) : 100.0, rate,
                rate > 0 ? format_duration(double(total - done) / rate).c_str() : "?");
  if (done >= total)
    message(text);
  else
    update(text);
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = int64_t(std::llround(seconds));
  char buffer[32];
  if (s >= 3600)
    std::snprintf(buffer, sizeof buffer, "%lldh%02lldm", (long long)(s / 3600),
                  (long long)(s % 3600 / 60));
  else if (s >= 60)
    std::snprintf(buffer, sizeof buffer, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
  else
    std::snprintf(buffer, sizeof buffer, "%llds", (long long)s);
  return buffer;
}

}  // namespace layerwise
