// What every subcommand of the CLI shares: global flags and the shape of a
// subcommand (a function that adds its options to the parser and returns the code that runs it).
#pragma once

#include <CLI/CLI.hpp>

#include "layerwise/analysis/similarity_stats.h"

#include <functional>
#include <memory>
#include <string>

#include <torch/torch.h>

namespace layerwise::cli {

struct GlobalFlags {
  int threads = 0;
  bool quiet = false;
};

/// Flag checks whose messages fit one line (CLI11's NonNegativeNumber prints the double range).
CLI::Validator at_least_zero();  ///< >= 0
CLI::Validator above_zero();     ///< > 0

/// `message` with every run of more than `max_digits` digits cut (a pasted 300-digit flag value
/// would otherwise fill the terminal).
std::string shorten_long_numbers(const std::string& message, std::size_t max_digits = 24);

/// --bootstrap, --null, --confidence, --stats-seed of similarity and compare.
void add_stats_flags(CLI::App* cmd, analysis::StatsOptions& stats);

/// Runs a parsed subcommand; returns the exit status.
using Runner = std::function<int(const GlobalFlags&)>;

/// The shape every subcommand shares: `add_options(app, flags)` declares its flags, and the
/// returned Runner calls `run(flags, global)` once they are parsed (it owns the flags). Typed
/// function pointers: every command file names its pair add_options / run, and the unity build
/// (CMAKE_UNITY_BUILD) compiles several command files as one, where the names are overloads.
template <typename Flags>
Runner make_subcommand(CLI::App& app, void (*add_options)(CLI::App&, Flags&),
                       int (*run)(Flags&, const GlobalFlags&)) {
  auto flags = std::make_shared<Flags>();
  add_options(app, *flags);
  return [flags, run](const GlobalFlags& global) { return run(*flags, global); };
}

/// Adds a subcommand and returns what runs it (flags are owned by the returned function).
Runner add_compare(CLI::App& app);
Runner add_example(CLI::App& app);
Runner add_example_images(CLI::App& app);
Runner add_train(CLI::App& app);
Runner add_eval(CLI::App& app);
Runner add_similarity(CLI::App& app);
Runner add_demo(CLI::App& app);
Runner add_exit(CLI::App& app);
Runner add_report(CLI::App& app);
Runner add_import(CLI::App& app);
Runner add_export(CLI::App& app);

}  // namespace layerwise::cli
