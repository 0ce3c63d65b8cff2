// Inputs that the fuzz targets (fuzz/, scripts/fuzz.sh) showed to crash, hang or reach undefined
// behaviour, each kept as a seed of its target's corpus (fuzz/corpus/<target>/regression-*) and
// fed here through the same reader: each must now give a clear layerwise::Error, or a result.
// The undefined conversions (a float such as 1e300 turned into an integer) show as failures only
// in the sanitizer build (LAYERWISE_SANITIZE=ON); the other cases fail in any build.
#include <string>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/run_dir.h"
#include "layerwise/data/hf_image_processor.h"
#include "layerwise/data/tokenizer.h"
#include "layerwise/model/hf_config.h"
#include "layerwise/report/html_report.h"
#include "layerwise/train/checkpoint.h"
#include "test_util.h"

using layerwise::testing::error_message;
using layerwise::testing::contains;

namespace {

// Writes the seed fuzz/corpus/<target>/<name> as DIR/<file>: the seed's first byte picks the reader
// in the fuzz target, the rest is the file.
void write_seed(const std::string& target, const std::string& name, const std::string& path) {
  const auto seed = layerwise::read_file(std::string(LAYERWISE_SOURCE_DIR) + "/fuzz/corpus/" +
                                         target + "/" + name);
  ASSERT_FALSE(seed.empty());
  layerwise::write_file_atomic(path, seed.substr(1));
}

// A run folder holding config.json and the seed as `file`, as the run_json target makes it.
std::string run_with(const std::string& seed, const std::string& file) {
  const auto dir = layerwise::testing::temp_dir("fuzz_regression_run");
  layerwise::make_directories(dir + "/run");
  layerwise::write_file_atomic(dir + "/run/config.json",
                               R"({"model": {"arch": "vit"}, "objective": "aligned"})");
  write_seed("run_json", seed, dir + "/run/" + file);
  return dir;
}

}  // namespace

TEST(FuzzRegression, TrainerStateWithAFloatStepIsRefused) {
  const auto dir = run_with("regression-trainer-state-step-1e300", "trainer_state.json");
  const layerwise::RunDir run(dir + "/run");
  const auto message = error_message([&] { (void)run.read_state(); });
  EXPECT_PRED2(contains, message, run.trainer_state() + ": not a trainer state");
  EXPECT_PRED2(contains, message, "\"step\" must be a non-negative integer, got 1e+300");
  layerwise::testing::remove_tree(dir);
}

TEST(FuzzRegression, ReportIgnoresAMinimalDepthOutOfRange) {
  const auto dir = run_with("regression-eval-minimal-depth-1e300", "eval.json");
  layerwise::report::write_report({dir + "/run"}, dir + "/report.html");
  const auto html = layerwise::read_file(dir + "/report.html");
  EXPECT_PRED2(contains, html, "minimal depth, the first layer within the tolerance");
  EXPECT_FALSE(contains(html, "min depth"));
  layerwise::testing::remove_tree(dir);
}

TEST(FuzzRegression, ReportRefusesASimilarityFileWithoutLayers) {
  for (const char* seed : {"regression-similarity-no-layers", "regression-similarity-no-columns"}) {
    const auto dir = run_with(seed, "similarity.json");
    EXPECT_PRED2(contains, error_message([&] {
                   layerwise::report::write_report({dir + "/run"}, dir + "/report.html");
                 }),
                 dir +
                     "/run/similarity.json: layers_a and layers_b must each name at least one "
                     "layer")
        << seed;
    layerwise::testing::remove_tree(dir);
  }
}

TEST(FuzzRegression, ReportDrawsAHugeLayerNumber) {
  // "layer.1e300": the integer ticks of the x axis counted up with ++t, which stops changing t.
  const auto dir = run_with("regression-similarity-layer-1e300", "similarity.json");
  layerwise::report::write_report({dir + "/run"}, dir + "/report.html");
  EXPECT_PRED2(contains, layerwise::read_file(dir + "/report.html"), "Similarity of each layer");
  layerwise::testing::remove_tree(dir);
}

TEST(FuzzRegression, HfConfigRefusesSizesThatAreNotIntegers) {
  const auto dir = layerwise::testing::temp_dir("fuzz_regression_hf");
  const auto config = dir + "/config.json";
  const std::pair<const char*, const char*> cases[] = {
      {"regression-config-image-size-strings",
       "image_size must be an integer or a square [n, n] of integers, got [\"a\",\"a\"]"},
      {"regression-config-hidden-size-1e300", "field 'hidden_size' must be an integer, got 1e+300"},
      {"regression-config-gpt2-n-embd-overflow", "n_embd 4611686018427387904 is out of range"},
      {"regression-config-vit-no-image-size", "missing field 'image_size'"},
  };
  for (const auto& [seed, expected] : cases) {
    write_seed("hf", seed, config);
    EXPECT_PRED2(contains, error_message([&] { (void)layerwise::model::read_hf_config(dir); }),
                 config + ": " + expected)
        << seed;
  }
  layerwise::testing::remove_tree(dir);
}

TEST(FuzzRegression, HfImageProcessorRefusesSizesThatAreNotIntegers) {
  const auto dir = layerwise::testing::temp_dir("fuzz_regression_processor");
  const auto path = dir + "/preprocessor_config.json";
  const std::pair<const char*, const char*> cases[] = {
      {"regression-preprocessor-size-1e300", "size must be an integer, got 1e+300"},
      {"regression-preprocessor-height-1e300", "size.height must be an integer, got 1e+300"},
      {"regression-preprocessor-resample-1e300", "resample must be an integer, got 1e+300"},
  };
  for (const auto& [seed, expected] : cases) {
    write_seed("hf", seed, path);
    EXPECT_PRED2(contains,
                 error_message([&] { (void)layerwise::data::read_hf_image_processor(dir); }),
                 path + ": " + expected)
        << seed;
  }
  layerwise::testing::remove_tree(dir);
}

TEST(FuzzRegression, TokenizerRefusesMergesThatKeepDoublingAToken) {
  // Merge i makes a token of 2^(i + 1) bytes: the 40 merges would ask for 2 TiB.
  const auto dir = layerwise::testing::temp_dir("fuzz_regression_tokenizer");
  const auto path = dir + "/tokenizer.json";
  write_seed("tokenizer", "regression-tokenizer-doubling-merges", path);
  const auto message = error_message([&] { (void)layerwise::data::Tokenizer::load(path); });
  EXPECT_PRED2(contains, message, path + ": merge 24 [283, 283] makes a token of 33554432 bytes");
  EXPECT_PRED2(contains, message, "more than 64 MiB in all");
  layerwise::testing::remove_tree(dir);
}

// Found by review, not by a target: numbers that no integer holds, in the checkpoint manifest and
// in metrics.jsonl, were converted with get<int64_t>() (undefined behaviour).
TEST(FuzzRegression, ACheckpointManifestWithAFloatSizeIsMalformed) {
  const auto dir = layerwise::testing::temp_dir("fuzz_regression_manifest");
  for (const char* name : {"model.safetensors", "optimizer.safetensors", "trainer_state.json"})
    layerwise::write_file_atomic(dir + "/" + name, "x");
  layerwise::write_file_atomic(dir + "/manifest.json",
                               R"({"files": {"model.safetensors": {"bytes": 1e300, "crc32": 1.5},
                    "optimizer.safetensors": {"bytes": 1, "crc32": 0},
                    "trainer_state.json": {"bytes": 1, "crc32": 0}}})");
  EXPECT_PRED2(contains, layerwise::train::verify_checkpoint(dir),
               "manifest.json bytes must be an integer, got '1e+300'");
  layerwise::testing::remove_tree(dir);
}
