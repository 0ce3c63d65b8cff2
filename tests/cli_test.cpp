// The layerwise program as a user runs it: outputs, exit codes and one-line errors.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "layerwise/core/safetensors.h"
#include "layerwise/data/text_corpus.h"
#include "test_util.h"

namespace {

using Result = layerwise::testing::CommandResult;
using layerwise::testing::read_json;

Result run(const std::string& arguments) {
  return layerwise::testing::run_cli(arguments);
}

bool exists(const std::string& path) {
  return std::ifstream(path).good();
}

// One generated activation file shared by the tests: 300 samples, 4 tokens, 16 wide, layers 0..6.
const std::string& example_file() {
  static const std::string path = [] {
    const auto dir = layerwise::testing::temp_dir("cli_example");
    const auto file = dir + "/acts.safetensors";
    const auto result =
        run("example --samples 300 --tokens 4 --width 16 --layers 6 -q --out " + file);
    EXPECT_EQ(result.code, 0) << result.output;
    return file;
  }();
  return path;
}

}  // namespace

TEST(Cli, HelpTeachesAndExitsZero) {
  const auto top = run("--help");
  EXPECT_EQ(top.code, 0);
  EXPECT_NE(top.output.find("compare"), std::string::npos);
  const auto compare = run("compare --help");
  EXPECT_EQ(compare.code, 0);
  for (const char* part : {"cka_rbf", "--pool", "similarity.json", "Example"})
    EXPECT_NE(compare.output.find(part), std::string::npos) << part;
}

TEST(Cli, CompareWithinOneModelWritesJsonCsvAndSvg) {
  const auto out = layerwise::testing::temp_dir("cli_within");
  const auto result =
      run("compare " + example_file() + " --metrics all --pool mean -q --out " + out);
  ASSERT_EQ(result.code, 0) << result.output;
  const auto json = read_json(out + "/similarity.json");
  EXPECT_EQ(json["layers_a"].size(), 7u);
  EXPECT_EQ(json["layers_a"][6], "layer.6");
  EXPECT_EQ(json["layers_b"], json["layers_a"]);
  EXPECT_EQ(json["n_samples"], 300);
  EXPECT_EQ(json["metrics"].size(), 9u);
  for (const auto& [name, matrix] : json["metrics"].items()) {
    ASSERT_EQ(matrix.size(), 7u) << name;
    ASSERT_EQ(matrix[0].size(), 7u) << name;
    const double self = matrix[3][3].get<double>();
    EXPECT_NEAR(self, name == "procrustes" ? 0.0 : 1.0, 1e-5) << name;
    EXPECT_TRUE(exists(out + "/" + name + ".csv")) << name;
    EXPECT_TRUE(exists(out + "/" + name + ".svg")) << name;
  }
  // The CSV holds the same numbers as the JSON.
  std::ifstream csv(out + "/cka_linear.csv");
  std::string header, row;
  std::getline(csv, header);
  std::getline(csv, row);
  EXPECT_EQ(header.rfind("layer,layer.0,layer.1", 0), 0u) << header;
  EXPECT_NEAR(std::stod(row.substr(row.rfind(',') + 1)),
              json["metrics"]["cka_linear"][0][6].get<double>(), 1e-8);
}

TEST(Cli, SvgIsWellFormedXml) {
  const auto out = layerwise::testing::temp_dir("cli_svg");
  ASSERT_EQ(run("compare " + example_file() + " -m cos -q --out " + out).code, 0);
  // Python's standard library parser: no dependency beyond python3.
  const std::string check =
      "python3 -c \"import sys, xml.etree.ElementTree as e; r = e.parse(sys.argv[1]).getroot(); "
      "sys.exit(0 if r.tag.endswith('svg') and len(r.findall('.//{*}rect')) > 49 else 1)\" " +
      out + "/cos.svg";
  EXPECT_EQ(std::system(check.c_str()), 0);
}

TEST(Cli, CompareAcrossTwoFilesWithSelectionAndPooling) {
  const auto dir = layerwise::testing::temp_dir("cli_across");
  ASSERT_EQ(run("example --samples 300 --tokens 4 --width 16 --layers 3 --seed 7 -q --out " + dir +
                "/b.safetensors")
                .code,
            0);
  const auto result = run("compare " + example_file() + " " + dir +
                          "/b.safetensors --layers 0,2-4 --layers-b 0,2-3 " +
                          "--pool flatten -m cka_linear,cos -q --out " + dir + "/sim");
  ASSERT_EQ(result.code, 0) << result.output;
  const auto json = read_json(dir + "/sim/similarity.json");
  EXPECT_EQ(json["layers_a"], nlohmann::json({"layer.0", "layer.2", "layer.3", "layer.4"}));
  EXPECT_EQ(json["layers_b"], nlohmann::json({"layer.0", "layer.2", "layer.3"}));
  EXPECT_EQ(json["metrics"]["cka_linear"].size(), 4u);
  EXPECT_EQ(json["metrics"]["cka_linear"][0].size(), 3u);
  EXPECT_EQ(json["inputs"]["pool"], "flatten");
}

TEST(Cli, PerSampleCosinesAreSaved) {
  const auto out = layerwise::testing::temp_dir("cli_per_sample");
  ASSERT_EQ(run("compare " + example_file() + " -m cos --per-sample -q --out " + out).code, 0);
  const auto file = layerwise::read_safetensors(out + "/cos_per_sample.safetensors");
  EXPECT_EQ(file.at("cos").sizes(), (std::vector<int64_t>{300, 7, 7}));
}

// Bad input: exit code 2, one line naming the problem, and no result file.
void expect_usage_error(const std::string& arguments, const std::string& expected,
                        const std::string& out) {
  const auto result = run(arguments + " -q --out " + out);
  EXPECT_EQ(result.code, 2) << arguments << "\n" << result.output;
  EXPECT_NE(result.output.find(expected), std::string::npos) << result.output;
  EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << result.output;
  EXPECT_FALSE(exists(out + "/similarity.json")) << arguments;
}

TEST(Cli, BadInputGetsOneLineAndExitCodeTwo) {
  const auto dir = layerwise::testing::temp_dir("cli_bad");
  const auto out = dir + "/out";
  const auto& good = example_file();
  expect_usage_error("compare " + dir + "/missing.safetensors", "missing.safetensors", out);
  expect_usage_error("compare " + good + " -m cos,nope", "unknown metric 'nope'", out);
  expect_usage_error("compare " + good + " --pool middle", "--pool 'middle' is not known", out);
  expect_usage_error("compare " + good + " --layers 3,99", "no such layer", out);
  expect_usage_error("compare " + good + " --rbf-threshold -1", "rbf-threshold", out);
  expect_usage_error("frobnicate", "subcommand", out);

  // A truncated file.
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(dir + "/cut.safetensors", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  expect_usage_error("compare " + dir + "/cut.safetensors", "cut.safetensors", out);

  // NaN in a layer: the message names the layer and the sample.
  auto nan_layer = torch::randn({20, 4});
  nan_layer[7][2] = std::nan("");
  layerwise::write_safetensors(dir + "/nan.safetensors",
                               {{"layer.0", torch::randn({20, 4})}, {"layer.1", nan_layer}});
  expect_usage_error("compare " + dir + "/nan.safetensors", "layer 1 has 1 NaN", out);

  // A and B with different sample counts.
  layerwise::write_safetensors(dir + "/short.safetensors", {{"layer.0", torch::randn({10, 4})}});
  layerwise::write_safetensors(dir + "/twenty.safetensors", {{"layer.0", torch::randn({20, 4})}});
  expect_usage_error("compare " + dir + "/twenty.safetensors " + dir + "/short.safetensors -m cos",
                     "A has 20 samples but B has 10", out);
  // More samples than the file holds: said, not silently fewer.
  expect_usage_error("compare " + dir + "/twenty.safetensors --samples 100", "holds 20", out);
  // An output folder that is a file stays a file.
  std::ofstream(dir + "/taken");
  auto result = run("compare " + good + " -q --out " + dir + "/taken");
  EXPECT_EQ(result.code, 2) << result.output;
  EXPECT_NE(result.output.find("is a file"), std::string::npos) << result.output;
  EXPECT_TRUE(std::filesystem::is_regular_file(dir + "/taken"));
  // A new output folder appears whole: nothing is left of it when a write fails half-way.
  EXPECT_FALSE(std::filesystem::exists(out)) << "failed commands left " << out;
  EXPECT_FALSE(std::filesystem::exists(out + ".partial"));
  // Sizes that cannot fit in memory: exit 3 (the machine, not the input), the size named.
  result = run("example --samples 10000000 --tokens 4096 --width 65536 -q --out " + dir + "/x");
  EXPECT_EQ(result.code, 3) << result.output;
  EXPECT_NE(result.output.find("GiB"), std::string::npos) << result.output;
  EXPECT_FALSE(std::filesystem::exists(dir + "/x"));
}

namespace {

using layerwise::testing::fashion_mnist_installed;

// One tiny run trained through the CLI, shared by the tests below.
const std::string& tiny_run_dir() {
  static const std::string dir = [] {
    const auto root = layerwise::testing::temp_dir("cli_train");
    const auto result =
        run("train --preset tiny --objective multihead --epochs 1 --train-limit 512 "
            "--val-fraction 0.01 --batch-size 64 -q --out " +
            root + "/run");
    EXPECT_EQ(result.code, 0) << result.output;
    return root + "/run";
  }();
  return dir;
}

}  // namespace

TEST(Cli, TrainEvalSimilarityOnARealRun) {
  if (!fashion_mnist_installed()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const auto& dir = tiny_run_dir();
  for (const auto* file : {"config.json", "model.safetensors", "optimizer.safetensors",
                           "trainer_state.json", "metrics.jsonl"})
    EXPECT_TRUE(exists(dir + "/" + file)) << file;
  EXPECT_EQ(read_json(dir + "/config.json").at("objective"), "multihead");

  auto result = run("eval " + dir + " --samples 500 -q");
  ASSERT_EQ(result.code, 0) << result.output;
  const auto eval = read_json(dir + "/eval.json");
  EXPECT_EQ(eval.at("accuracy").size(), 2u);
  EXPECT_EQ(eval.at("last_head").at("accuracy").size(), 2u);  // multi-head: the last head too
  EXPECT_EQ(eval.at("n_samples"), 500);
  for (const auto* key : {"final_accuracy", "mean_confidence", "saturation_layer_histogram",
                          "minimal_depth", "cos_to_last"})
    EXPECT_TRUE(eval.contains(key)) << key;
  const auto predictions = layerwise::read_safetensors(dir + "/eval_predictions.safetensors");
  EXPECT_EQ(predictions.at("predictions").sizes(), torch::IntArrayRef({2, 500}));

  result =
      run("similarity " + dir + " --samples 300 --metrics cos,cka_linear --save-activations -q");
  ASSERT_EQ(result.code, 0) << result.output;
  const auto similarity = read_json(dir + "/similarity.json");
  EXPECT_EQ(similarity.at("layers_a").size(), 2u);  // blocks 1 and 2
  EXPECT_EQ(similarity.at("n_samples"), 300);
  EXPECT_NEAR(similarity.at("metrics").at("cos")[1][1].get<double>(), 1.0, 1e-6);
  const double r = similarity.at("correlation_with_cos").at("cka_linear").get<double>();
  EXPECT_TRUE(r >= -1.0 && r <= 1.0) << r;
  result =
      run("similarity " + dir + " --samples 300 --metrics cos --embeddings --pool mean -q --out " +
          dir + "/with_embeddings");
  ASSERT_EQ(result.code, 0) << result.output;
  EXPECT_EQ(read_json(dir + "/with_embeddings/similarity.json").at("layers_a")[0], "layer.0");
  // The saved activations feed `compare` and give the same matrix.
  result = run("compare " + dir + "/activations.safetensors -m cos -q --out " + dir + "/cmp");
  ASSERT_EQ(result.code, 0) << result.output;
  EXPECT_EQ(read_json(dir + "/cmp/similarity.json").at("metrics").at("cos"),
            similarity.at("metrics").at("cos"));
}

TEST(Cli, ExitWritesCurvesCalibrationAndTiming) {
  if (!fashion_mnist_installed()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const auto& dir = tiny_run_dir();
  auto result = run("exit " + dir +
                    " --policy confidence --max-drop 0.01 --split val "
                    "--time-batches 16,64 --time-samples 64 -q");
  ASSERT_EQ(result.code, 0) << result.output;
  const auto exit_json = read_json(dir + "/exit.json");
  EXPECT_EQ(exit_json.at("policy"), "confidence");
  EXPECT_EQ(exit_json.at("heads"), "own");  // the multi-head run reads each layer with its head
  ASSERT_GE(exit_json.at("points").size(), 10u);
  for (const auto* key :
       {"threshold", "accuracy", "mean_exit_layer", "speedup_layers", "flops_ratio"})
    EXPECT_TRUE(exit_json.at("points")[0].contains(key)) << key;
  const auto& chosen = exit_json.at("chosen");
  // Calibrated on the validation split and reported there: within the allowed drop.
  EXPECT_GE(chosen.at("accuracy").get<double>(),
            exit_json.at("full_accuracy").get<double>() - 0.01 - 1e-9);
  ASSERT_EQ(chosen.at("timing").size(), 4u);  // batch sizes 16, 64 x schedules batch, stream
  EXPECT_EQ(chosen.at("timing")[0].at("schedule"), "batch");
  EXPECT_EQ(chosen.at("timing")[1].at("schedule"), "stream");
  EXPECT_EQ(chosen.at("timing")[3].at("batch_size"), 64);
  EXPECT_GT(chosen.at("timing")[3].at("speedup_wall").get<double>(), 0.0);
  // Calibrated on validation, reported on the held-out test split: the validation point meets the
  // target exactly; the test drop stays near it (a sampling margin for this small run).
  result = run("exit " + dir + " --policy confidence --max-drop 0.01 -q --out " + dir + "/t.json");
  ASSERT_EQ(result.code, 0) << result.output;
  const auto held_out = read_json(dir + "/t.json");
  const auto& val = held_out.at("calibration").at("val");
  EXPECT_EQ(held_out.at("split"), "test");
  EXPECT_EQ(val.at("threshold"), held_out.at("chosen").at("threshold"));
  EXPECT_LE(held_out.at("full_accuracy").get<double>() -
                held_out.at("chosen").at("accuracy").get<double>(),
            0.01 + 0.03);
  result =
      run("exit " + dir + " --policy depth --threshold 1 --split val -q --out " + dir + "/d1.json");
  ASSERT_EQ(result.code, 0) << result.output;
  EXPECT_EQ(read_json(dir + "/d1.json").at("chosen").at("mean_exit_layer"), 1.0);
}

TEST(Cli, TrainAndEvalRefuseBadInput) {
  const auto dir = layerwise::testing::temp_dir("cli_train_bad");
  auto expect_error = [&](const std::string& arguments, const std::string& expected) {
    const auto result = run(arguments + " -q");
    EXPECT_EQ(result.code, 2) << arguments << "\n" << result.output;
    EXPECT_NE(result.output.find(expected), std::string::npos) << result.output;
    EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << result.output;
  };
  expect_error("train --objective fancy --out " + dir + "/a",
               "train.objective (--objective) 'fancy' is not known");
  expect_error("train --preset huge --out " + dir + "/a", "unknown model preset 'huge'");
  expect_error("train --layer-weights 1,x --out " + dir + "/a",
               "train.layer_weights (--layer-weights): 'x' is not a finite number");
  expect_error("train --preset tiny --layer-weights 1,2,3 --out " + dir + "/a", "3 values");
  expect_error("train --heads 5 --out " + dir + "/a",
               "model.d_model (--d-model) must be a multiple of model.n_heads (--heads), got 96 "
               "and 5");
  expect_error("train --epochs 0 --out " + dir + "/a",
               "train.epochs (--epochs) must be >= 1, got 0");
  expect_error("train --epochs 2.5 --out " + dir + "/a",
               "train.epochs (--epochs): '2.5' is not an integer");
  expect_error("train --classes 0-99999999999 --out " + dir + "/a", "lists more than");
  expect_error("train --preset tiny --no-bf16 --resume " + dir + "/a", "only --device");
  expect_error("train --epochs 1 --device tpu --out " + dir + "/a", "unknown device 'tpu'");
  expect_error("train --dataset idx --data-dir " + dir + "/none --out " + dir + "/a", "/none");
  expect_error("train", "--out RUN");
  expect_error("train --resume " + dir + "/nothing", "config.json");
  expect_error("eval " + dir, "config.json");
  expect_error("eval /no/such/run", "RUN");
  std::ofstream(dir + "/bad.json") << "{\"train\": {\"epochz\": 3}}";
  expect_error("train --config " + dir + "/bad.json --out " + dir + "/a",
               "bad.json: train: unknown setting 'epochz'");
  EXPECT_FALSE(exists(dir + "/a/model.safetensors"));
  if (fashion_mnist_installed()) {
    const auto& run_dir = tiny_run_dir();
    expect_error("eval " + run_dir + " --split holdout", "'holdout'");
    expect_error("similarity " + run_dir + " --pool middle", "'middle'");
    expect_error("exit " + run_dir + " --policy eager", "'eager'");
    expect_error("exit " + run_dir + " --policy patience --threshold 0.5", "whole number");
    expect_error("exit " + run_dir + " --time-batches 8,x", "'x'");
    expect_error("exit " + run_dir + " --time-batches 8 --time-schedules batch,eager", "'eager'");
    expect_error("train --preset tiny --out " + run_dir, "already holds a run");
    // Numbers out of range get a short line: no echo of 60 digits, no double-range table.
    const std::string long_number(60, '9');
    expect_error("eval " + run_dir + " --batch-size -" + long_number, "(60 digits)");
    expect_error("similarity " + run_dir + " --samples " + long_number, "--samples: too large");
    expect_error("similarity " + run_dir + " --samples -3", "--samples: must be >= 0");
    expect_error("similarity " + run_dir + " --rbf-threshold 1e400", "not a finite number");
    for (const auto& arguments :
         {"eval " + run_dir + " --batch-size -" + long_number,
          "similarity " + run_dir + " --rbf-threshold 1e400"}) {
      const auto result = run(arguments + " -q");
      EXPECT_LT(result.output.size(), 160u) << result.output;
    }
  }
  layerwise::testing::remove_tree(dir);
}

TEST(Cli, TextEncoderAndDecoderEndToEnd) {
  std::error_code error;
  if (!std::filesystem::is_directory(layerwise::data::default_spam_assassin_dir(), error))
    GTEST_SKIP() << "run scripts/fetch_spam_assassin.sh first";
  const auto root = layerwise::testing::temp_dir("cli_text");
  // A multi-head encoder on ham vs spam with a small BPE vocabulary.
  auto result =
      run("train --preset encoder-tiny --objective multihead --epochs 1 --max-len 48 "
          "--vocab-size 400 --train-limit 300 --batch-size 32 -q --out " +
          root + "/enc");
  ASSERT_EQ(result.code, 0) << result.output;
  const auto config = read_json(root + "/enc/config.json");
  EXPECT_EQ(config.at("model").at("arch"), "text_encoder");
  EXPECT_EQ(config.at("model").at("vocab_size"), 400);
  EXPECT_EQ(config.at("data").at("dataset"), "spam-assassin");
  EXPECT_TRUE(exists(root + "/enc/tokenizer.json"));
  result = run("eval " + root + "/enc --samples 100 -q");
  ASSERT_EQ(result.code, 0) << result.output;
  EXPECT_EQ(read_json(root + "/enc/eval.json").at("last_head").at("accuracy").size(), 2u);
  result = run("similarity " + root + "/enc --samples 100 --metrics cos,cka_linear -q");
  ASSERT_EQ(result.code, 0) << result.output;
  result = run("exit " + root + "/enc --policy confidence --threshold 0.9 -q");
  ASSERT_EQ(result.code, 0) << result.output;
  EXPECT_GT(read_json(root + "/enc/exit.json").at("chosen").at("mean_exit_layer"), 0.99);

  // A byte-level decoder: eval reports perplexity per layer; early exit is refused.
  result =
      run("train --preset decoder-tiny --tokenizer byte --max-len 24 --epochs 1 "
          "--train-limit 200 --val-limit 50 --batch-size 16 -q --out " +
          root + "/dec");
  ASSERT_EQ(result.code, 0) << result.output;
  result = run("eval " + root + "/dec --samples 20 -q");
  ASSERT_EQ(result.code, 0) << result.output;
  EXPECT_EQ(read_json(root + "/dec/eval.json").at("perplexity").size(), 2u);
  result = run("similarity " + root + "/dec --samples 50 --metrics cos -q");
  ASSERT_EQ(result.code, 0) << result.output;
  result = run("exit " + root + "/dec -q");
  EXPECT_EQ(result.code, 2);
  EXPECT_NE(result.output.find("language model"), std::string::npos) << result.output;
  result = run("train --preset encoder-tiny --augment flip -q --out " + root + "/bad");
  EXPECT_EQ(result.code, 2);
  EXPECT_NE(result.output.find("train.augment (--augment) flip is for images"), std::string::npos)
      << result.output;
  layerwise::testing::remove_tree(root);
}
