#include "cli.h"

#include <cctype>
#include <cmath>
#include <string>

namespace layerwise::cli {

namespace {

// A flag value as CLI11 hands it to a validator: a number, or an empty string if it is not one.
CLI::Validator number_check(const std::string& description, bool (*accept)(double),
                            const std::string& requirement) {
  return CLI::Validator(
      [accept, requirement](std::string& text) -> std::string {
        double value = 0;
        if (!CLI::detail::lexical_cast(text, value) || !std::isfinite(value))
          return "not a finite number";
        if (std::abs(value) >= 9.2e18) return "too large";  // counts are 64-bit integers
        return accept(value) ? std::string() : requirement;
      },
      description);
}

}  // namespace

CLI::Validator at_least_zero() {
  return number_check(
      "NUMBER >= 0", [](double v) { return v >= 0; }, "must be >= 0");
}

void add_stats_flags(CLI::App* cmd, analysis::StatsOptions& stats) {
  cmd->add_option("--bootstrap", stats.bootstrap,
                  "resample the samples B times: a percentile interval for every entry "
                  "(similarity.json statistics, similarity_stats.csv)")
      ->check(CLI::Range(int64_t{0}, int64_t{100000}));
  cmd->add_option("--null", stats.null_draws,
                  "permutation null (samples of B paired at random with A's): mean, std, "
                  "p-value and calibrated score (s - null) / (1 - null); exact for cos and "
                  "cka_linear, K random pairings for the other measures")
      ->check(CLI::Range(int64_t{0}, int64_t{100000}));
  cmd->add_option("--confidence", stats.confidence, "of the --bootstrap interval")
      ->capture_default_str()
      ->check(CLI::Range(0.5, 0.999));
  cmd->add_option("--stats-seed", stats.seed, "seed of the resamples and pairings")
      ->capture_default_str();
}

CLI::Validator above_zero() {
  return number_check(
      "NUMBER > 0", [](double v) { return v > 0; }, "must be > 0");
}

std::string shorten_long_numbers(const std::string& message, std::size_t max_digits) {
  std::string out;
  std::size_t i = 0;
  while (i < message.size()) {
    std::size_t end = i;
    while (end < message.size() && std::isdigit(static_cast<unsigned char>(message[end]))) ++end;
    if (end == i) {
      out += message[i++];
      continue;
    }
    if (end - i > max_digits)
      out += message.substr(i, max_digits / 2) + "...(" + std::to_string(end - i) + " digits)";
    else
      out += message.substr(i, end - i);
    i = end;
  }
  return out;
}

}  // namespace layerwise::cli
