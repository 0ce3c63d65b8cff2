#include <iostream>

#include "cli.h"
#include "layerwise/workflow/example_images.h"

namespace layerwise::cli {

namespace {

struct ExampleImagesFlags {
  std::string out;
  workflow::ExampleImagesOptions options;
};

void add_options(CLI::App& app, ExampleImagesFlags& f) {
  auto* cmd = app.add_subcommand("example-images",
                                 "Write a folder of PNG / JPEG images to try image folders on");
  cmd->footer(
      "Fashion-MNIST images saved as a user's photos come: OUT/train/<class>/ and\n"
      "OUT/test/<class>/, grey and colour, PNG and JPEG, 28 to 42 pixels, with alpha, and an\n"
      "EXIF-rotated JPEG. The sizes differ, so a model needs a resize to one size:\n\n"
      "  layerwise example-images --out photos\n"
      "  layerwise train --dataset folder --data-dir photos --image-size 28 --out runs/photos\n"
      "  layerwise eval runs/photos\n\n"
      "--corrupt adds an unreadable file: training then stops naming it, unless\n"
      "--skip-bad-images leaves it out (and config.json counts it).");
  cmd->add_option("--out,-o", f.out, "folder to create")->required();
  cmd->add_option("--fashion-dir", f.options.fashion_dir,
                  "Fashion-MNIST folder (default: Debian's)");
  cmd->add_option("--train-per-class", f.options.train_per_class, "training images per class")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{6000}));
  cmd->add_option("--test-per-class", f.options.test_per_class, "test images per class")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1000}));
  cmd->add_flag("--corrupt", f.options.corrupt, "also write one truncated PNG");
}

int run(ExampleImagesFlags& f, const GlobalFlags& global) {
  const auto files = workflow::write_example_images(f.out, f.options);
  if (!global.quiet) std::cerr << "wrote " << files << " images into " << f.out << "\n";
  std::cout << f.out << "\n";
  return 0;
}

}  // namespace

Runner add_example_images(CLI::App& app) {
  return make_subcommand<ExampleImagesFlags>(app, add_options, run);
}

}  // namespace layerwise::cli
