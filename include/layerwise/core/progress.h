// A progress line on stderr for anything that takes more than a few seconds: rewritten in place
// on a terminal (at most 4 times a second), one line every 10 seconds when stderr is a file.
#pragma once

#include <chrono>
#include <string>

namespace layerwise {

class Progress {
 public:
  explicit Progress(bool quiet) : quiet_(quiet) {}
  /// Shows `text` if enough time has passed since the last line (always if force).
  void update(const std::string& text, bool force = false);
  /// Prints `text` on its own line (clearing a line being rewritten).
  void message(const std::string& text);
  /// "label: 3072/10000 samples (31%), 1204/s, left 6s", the rate counted from the first call;
  /// always shown when done == total.
  void items(const std::string& label, int64_t done, int64_t total,
             const std::string& unit = "samples");

 private:
  bool quiet_;
  bool open_line_ = false;
  std::chrono::steady_clock::time_point last_{};
  std::chrono::steady_clock::time_point start_{};
  bool started_ = false;
};

/// "1h02m", "3m12s", "45s".
std::string format_duration(double seconds);

}  // namespace layerwise
