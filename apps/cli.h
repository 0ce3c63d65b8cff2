// What every subcommand of the CLI shares: global flags and the shape of a
// subcommand (a function that adds its options to the parser and returns the code that runs it).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

#include <torch/torch.h>

namespace layerwise::cli {

struct GlobalFlags {
  int threads = 0;
  bool quiet = false;
};

/// Runs a parsed subcommand; returns the exit status.
using Runner = std::function<int(const GlobalFlags&)>;

/// Adds a subcommand and returns what runs it (flags are owned by the returned function).
Runner add_compare(CLI::App& app);
Runner add_example(CLI::App& app);
Runner add_train(CLI::App& app);
Runner add_eval(CLI::App& app);
Runner add_similarity(CLI::App& app);
Runner add_demo(CLI::App& app);
Runner add_exit(CLI::App& app);
Runner add_report(CLI::App& app);

}  // namespace layerwise::cli
