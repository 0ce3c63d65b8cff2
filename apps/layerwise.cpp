// layerwise: the command-line program. It parses, wires and writes; the work lives in the library.
// Each subcommand lives in its own cmd_<name>.cpp.
#include <iostream>
#include <utility>
#include <vector>

#include "cli.h"
#include "layerwise/core/error.h"
#include "layerwise/core/runtime.h"
#include "layerwise/core/version.h"

namespace lw = layerwise;

namespace {

// The first line of a library message (LibTorch's carry their call sites on further lines).
std::string first_line(const std::string& message) {
  return message.substr(0, message.find('\n'));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"layerwise " + lw::version_string() +
               ": how the hidden layers of a transformer relate to each other"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags (--quiet, --threads) also after the subcommand
  app.footer(
      "Start here:\n"
      "  layerwise demo                      train a standard and an aligned ViT, compare them\n"
      "  layerwise train --objective aligned --out runs/aligned\n"
      "  layerwise eval runs/aligned         accuracy of the last classifier after every layer\n"
      "  layerwise similarity runs/aligned   COS / CKA matrices of the trained model\n"
      "  layerwise exit runs/aligned         early exit with the one classifier: curves, speed-up\n"
      "  layerwise compare acts.safetensors  matrices from any activations you dumped\n"
      "  layerwise train --dataset folder --data-dir DIR --image-size 64 ...  your own images\n"
      "  layerwise import HF_DIR --out RUN   a Hugging Face ViT/DeiT/BERT/GPT-2 as a run\n"
      "  layerwise export RUN --out HF_DIR   a run as a checkpoint transformers loads\n"
      "  layerwise export RUN --depth K ...  its first K layers only, a smaller model\n"
      "Each subcommand has its own --help.");
  lw::cli::GlobalFlags global;
  app.add_option("--threads", global.threads, "CPU threads (default: all cores)")
      ->check(CLI::Range(0, 1024));
  app.add_flag("--quiet,-q", global.quiet, "no progress on stderr");
  app.set_version_flag("--version", lw::version_string());
  const std::vector<std::pair<std::string, lw::cli::Runner>> commands = {
      {"demo", lw::cli::add_demo(app)},
      {"train", lw::cli::add_train(app)},
      {"eval", lw::cli::add_eval(app)},
      {"similarity", lw::cli::add_similarity(app)},
      {"exit", lw::cli::add_exit(app)},
      {"compare", lw::cli::add_compare(app)},
      {"example", lw::cli::add_example(app)},
      {"report", lw::cli::add_report(app)},
      {"import", lw::cli::add_import(app)},
      {"export", lw::cli::add_export(app)},
      {"example-images", lw::cli::add_example_images(app)}};

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "layerwise: " << lw::cli::shorten_long_numbers(e.what()) << " (see --help)\n";
    return 2;
  }
  lw::configure_runtime(global.threads);
  try {
    for (const auto& [name, run] : commands)
      if (app.got_subcommand(name)) return run(global);
  } catch (const lw::EnvironmentError& e) {  // docs/ERRORS.md: 3 for the machine, 2 for the input
    std::cerr << "layerwise: " << e.what() << "\n";
    return 3;
  } catch (const lw::Error& e) {
    std::cerr << "layerwise: " << e.what() << "\n";
    return 2;
  } catch (const std::bad_alloc&) {
    std::cerr << "layerwise: out of memory (lower --batch-size or the sample count)\n";
    return 3;
  } catch (const c10::Error& e) {
    const std::string message = first_line(e.what_without_backtrace());
    const bool memory = message.find("alloc") != std::string::npos ||
                        message.find("out of memory") != std::string::npos;
    std::cerr << "layerwise: " << (memory ? "out of memory: " : "") << message << "\n";
    return memory ? 3 : 2;
  } catch (const std::exception& e) {
    std::cerr << "layerwise: internal error (please report it): " << first_line(e.what()) << "\n";
    return 1;
  }
  return 2;
}
