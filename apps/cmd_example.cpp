#include <iostream>

#include "cli.h"
#include "layerwise/core/safetensors.h"
#include "layerwise/core/version.h"
#include "layerwise/data/example_activations.h"

namespace lw = layerwise;

namespace layerwise::cli {

namespace {

struct ExampleFlags {
  std::string out = "example_layers.safetensors";
  lw::data::ExampleOptions options;
};

void add_options(CLI::App& app, ExampleFlags& flags) {
  auto* cmd = app.add_subcommand(
      "example", "Write generated layer activations (a random residual network) to try compare on");
  cmd->footer(
      "Tensors layer.0 .. layer.L of shape (N, T, D), and labels (N).\n\nExample:\n"
      "  layerwise example --out acts.safetensors --layers 12\n"
      "  layerwise compare acts.safetensors --pool mean --out sim/");
  cmd->add_option("--out,-o", flags.out, "safetensors file to write")->capture_default_str();
  cmd->add_option("--samples", flags.options.n_samples, "N")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{2}, int64_t{10000000}));
  cmd->add_option("--tokens", flags.options.n_tokens, "T")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  cmd->add_option("--width", flags.options.width, "D")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{65536}));
  cmd->add_option("--layers", flags.options.n_layers, "number of blocks")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1000}));
  cmd->add_option("--seed", flags.options.seed, "random seed")->capture_default_str();
}

int run(ExampleFlags& flags, const GlobalFlags& global) {
  lw::write_safetensors(flags.out, lw::data::example_activations(flags.options),
                        {{"generator", "layerwise example"}, {"version", lw::version_string()}});
  if (!global.quiet) std::cerr << "wrote " << flags.out << "\n";
  std::cout << flags.out << "\n";
  return 0;
}

}  // namespace

Runner add_example(CLI::App& app) {
  return make_subcommand<ExampleFlags>(app, add_options, run);
}

}  // namespace layerwise::cli
