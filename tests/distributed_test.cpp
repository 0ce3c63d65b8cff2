// Data-parallel training on c10d's Gloo (CPU), with real worker processes: 2 ranks follow the
// loss trajectory and weights of 1 rank on the same global batch, a 2-rank run resumes on 1 rank,
// and a rank that dies or never comes ends the others with one clear line within the timeout.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <optional>

#include "layerwise/core/safetensors.h"
#include "layerwise/distributed/communicator.h"
#include "layerwise/distributed/gradients.h"
#include "layerwise/distributed/launch.h"
#include "test_util.h"

namespace ldist = layerwise::distributed;
using layerwise::testing::max_diff;
using layerwise::testing::read_json;
using layerwise::testing::run_cli;
using layerwise::testing::run_command;
using layerwise::testing::temp_dir;
using layerwise::testing::max_weight_diff;

namespace {

const torch::Device kCpu(torch::kCPU);

// A run small enough for a test and real enough to learn: the tiny ViT on 512 Fashion-MNIST
// images, batches of 64 (8 steps), one metrics line per step.
std::string small_run(const std::string& objective) {
  return "train --preset tiny --objective " + objective +
         " --epochs 1 --batch-size 64 --train-limit 512 --val-limit 128 --log-every 1 -q";
}

// Why the tests of CLI workers on real data cannot run here; empty when they can.
std::string cannot_run_workers() {
  if (!layerwise::testing::fashion_mnist_installed()) return "no Fashion-MNIST";
  if (!ldist::backend_available(kCpu)) return "built without Gloo";
  return "";
}

// (loss, grad_norm, accuracy) of every logged step.
std::vector<std::array<double, 3>> steps_of(const std::string& run) {
  std::vector<std::array<double, 3>> steps;
  std::ifstream in(run + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("loss"))
      steps.push_back({j.at("loss").get<double>(), j.at("grad_norm").get<double>(),
                       j.at("accuracy").get<double>()});
  }
  return steps;
}

// Sets environment variables for the life of the object, restoring what was there.
class ScopedEnv {
 public:
  explicit ScopedEnv(std::vector<std::pair<std::string, std::string>> values) {
    for (const auto& [name, value] : values) {
      const char* old = std::getenv(name.c_str());
      saved_.push_back({name, old ? std::optional<std::string>(old) : std::nullopt});
      ::setenv(name.c_str(), value.c_str(), 1);
    }
  }
  ~ScopedEnv() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {  // last set, first restored
      const auto& [name, old] = *it;
      if (old)
        ::setenv(name.c_str(), old->c_str(), 1);
      else
        ::unsetenv(name.c_str());
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

}  // namespace

TEST(Distributed, WorkerEnvReadsTorchrunsVariables) {
  {
    ScopedEnv env({{"RANK", "1"},
                   {"WORLD_SIZE", "4"},
                   {"LOCAL_RANK", "1"},
                   {"MASTER_ADDR", "node7"},
                   {"MASTER_PORT", "29511"}});
    const auto w = ldist::worker_env_from_environment();
    EXPECT_EQ(w.rank, 1);
    EXPECT_EQ(w.world_size, 4);
    EXPECT_EQ(w.local_rank, 1);
    EXPECT_EQ(w.master_addr, "node7");
    EXPECT_EQ(w.master_port, 29511);
    EXPECT_TRUE(w.launched);
  }
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"RANK", "4"}, {"RANK", "-1"}, {"WORLD_SIZE", "zero"}, {"MASTER_PORT", "70000"}}) {
    ScopedEnv env({{"RANK", "0"}, {"WORLD_SIZE", "4"}, {name, value}});
    const auto message =
        layerwise::testing::error_message([] { ldist::worker_env_from_environment(); });
    EXPECT_NE(message.find(name + "='" + value + "'"), std::string::npos) << message;
  }
}

TEST(Distributed, GradientBucketsStartWhileBackwardRuns) {
  if (!ldist::backend_available(kCpu)) GTEST_SKIP() << "built without Gloo";
  ldist::WorkerEnv env;  // a group of one: the sums are the gradients themselves
  env.master_port = ldist::free_local_port();
  env.launched = true;
  ldist::Communicator comm(env, kCpu, std::chrono::seconds(60));
  torch::manual_seed(3);
  auto first = torch::nn::Linear(64, 64), second = torch::nn::Linear(64, 64);
  const auto unused = torch::randn({8}, torch::requires_grad());
  // Packed last first: the unused parameter's bucket is the last one, started by finish().
  std::vector<torch::Tensor> params{unused, first->weight, first->bias, second->weight,
                                    second->bias};
  const auto x = torch::randn({16, 64});
  // Plain gradients first.
  second(torch::relu(first(x))).square().sum().backward();
  std::vector<torch::Tensor> plain;
  for (auto& p : params) {
    plain.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
    p.mutable_grad() = torch::Tensor();
  }
  // Buckets of 4 KiB: each weight (16 KiB) its own bucket, so several fill during backward.
  ldist::GradientReducer reducer(comm, params, 4096);
  for (int pass = 0; pass < 2; ++pass) {  // hooks re-armed each pass
    reducer.begin();
    second(torch::relu(first(x))).square().sum().backward();
    EXPECT_GE(reducer.started_in_backward(), 2) << "buckets waited for the end of backward";
    reducer.finish();
    for (size_t k = 0; k < params.size(); ++k) {
      EXPECT_TRUE(torch::allclose(params[k].grad(), plain[k])) << "parameter " << k;
      params[k].mutable_grad() = torch::Tensor();
    }
  }
}

TEST(DistributedTraining, TwoRanksFollowOneRank) {
  if (const auto why = cannot_run_workers(); !why.empty()) GTEST_SKIP() << why;
  const auto dir = temp_dir("dist_follow");
  for (const std::string objective : {"standard", "aligned"}) {
    const auto one = dir + "/one-" + objective, two = dir + "/two-" + objective;
    const auto single = run_cli(small_run(objective) + " --out " + one);
    ASSERT_EQ(single.code, 0) << single.output;
    const auto pair = run_cli(small_run(objective) + " --nproc 2 --out " + two);
    ASSERT_EQ(pair.code, 0) << pair.output;
    EXPECT_EQ(pair.output, two + "\n");  // rank 0 alone prints; the others are quiet
    const auto a = steps_of(one), b = steps_of(two);
    ASSERT_EQ(a.size(), 8u);
    ASSERT_EQ(b.size(), a.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_NEAR(a[i][0], b[i][0], 1e-5) << objective << " loss, step " << i + 1;
      EXPECT_NEAR(a[i][1], b[i][1], 1e-4) << objective << " gradient norm, step " << i + 1;
      EXPECT_DOUBLE_EQ(a[i][2], b[i][2]) << objective << " accuracy, step " << i + 1;
    }
    EXPECT_LT(max_weight_diff(one, two), 1e-5) << objective;
    EXPECT_EQ(read_json(two + "/trainer_state.json").at("step"), 8);
  }
  // A group of one (a launcher's single worker) takes the data-parallel path: the same run.
  const auto solo = run_cli(small_run("aligned") + " --nproc 1 --out " + dir + "/solo");
  ASSERT_EQ(solo.code, 0) << solo.output;
  EXPECT_LT(max_weight_diff(dir + "/one-aligned", dir + "/solo"), 1e-5);
  layerwise::testing::remove_tree(dir);
}

TEST(DistributedTraining, StartedOnTwoRanksResumesOnOne) {
  if (const auto why = cannot_run_workers(); !why.empty()) GTEST_SKIP() << why;
  const auto dir = temp_dir("dist_resume");
  const auto whole = dir + "/whole", split = dir + "/split";
  ASSERT_EQ(run_cli(small_run("aligned") + " --out " + whole).code, 0);
  const auto first = run_cli(small_run("aligned") + " --nproc 2 --stop-after 3 --out " + split);
  ASSERT_EQ(first.code, 0) << first.output;
  EXPECT_EQ(read_json(split + "/trainer_state.json").at("step"), 3);
  const auto rest = run_cli("train --resume " + split + " -q");
  ASSERT_EQ(rest.code, 0) << rest.output;
  EXPECT_EQ(steps_of(split).size(), 8u);
  EXPECT_LT(max_weight_diff(whole, split), 1e-5);
  // ... and back on two ranks from a one-rank checkpoint.
  const auto again = dir + "/again";
  ASSERT_EQ(run_cli(small_run("aligned") + " --stop-after 5 --out " + again).code, 0);
  const auto resumed = run_cli("train --resume " + again + " --nproc 2 -q");
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  EXPECT_LT(max_weight_diff(whole, again), 1e-5);
  layerwise::testing::remove_tree(dir);
}

TEST(DistributedTraining, ADeadRankStopsTheOthersWithOneLine) {
  if (const auto why = cannot_run_workers(); !why.empty()) GTEST_SKIP() << why;
  const auto dir = temp_dir("dist_dead");
  // Two workers started as torchrun starts them; rank 1 is killed (SIGKILL) after its 3rd step.
  const std::string port = std::to_string(29400 + ::getpid() % 500);
  const std::string common = "WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + port + " " +
                             LAYERWISE_BINARY + " " + small_run("standard") +
                             " --dist-timeout 60 --out " + dir + "/run";
  const auto start = std::chrono::steady_clock::now();
  const auto result = run_command("(RANK=1 LAYERWISE_CRASH_AT=train-step:3 " + common +
                                  " >/dev/null 2>&1 &); RANK=0 " + common + " 2>&1");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(result.code, 3) << result.output;
  EXPECT_NE(result.output.find("rank 0 of 2: all-reduce failed"), std::string::npos)
      << result.output;
  EXPECT_LT(seconds, 30.0) << "the survivor waited for its timeout (60 s) or hung";
  EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << result.output;

  // A worker whose peers never come: the rendezvous gives up after --dist-timeout.
  const auto alone = run_command("WORLD_SIZE=2 RANK=0 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + port +
                                 " " + LAYERWISE_BINARY + " " + small_run("standard") +
                                 " --dist-timeout 2 --out " + dir + "/alone 2>&1");
  EXPECT_EQ(alone.code, 3);
  EXPECT_NE(alone.output.find("rendezvous at 127.0.0.1:" + port), std::string::npos)
      << alone.output;

  // Through the launcher: every worker dies at its 2nd step; the launcher reports it.
  const auto launched =
      run_command("LAYERWISE_CRASH_AT=train-step:2 " + std::string(LAYERWISE_BINARY) + " " +
                  small_run("standard") + " --nproc 2 --out " + dir + "/launched 2>&1");
  EXPECT_EQ(launched.code, 128 + 9) << launched.output;  // SIGKILL, as the first worker died
  layerwise::testing::remove_tree(dir);
}

TEST(DistributedTraining, RefusesBatchesTooSmallToShare) {
  if (const auto why = cannot_run_workers(); !why.empty()) GTEST_SKIP() << why;
  const auto dir = temp_dir("dist_small");
  // 513 samples in batches of 64: the last batch has 1 sample for 2 ranks.
  const auto result = run_cli(
      "train --preset tiny --epochs 1 --batch-size 64 --train-limit 513 --nproc 2 -q --out " + dir +
      "/run");
  EXPECT_EQ(result.code, 2);
  EXPECT_NE(result.output.find("leaves a batch of 1 for 2 ranks"), std::string::npos)
      << result.output;
  layerwise::testing::remove_tree(dir);
}

TEST(DistributedCuda, AGroupOfOneOnNcclSumsAndBroadcasts) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const torch::Device cuda(torch::kCUDA);
  if (!ldist::backend_available(cuda)) GTEST_SKIP() << "built without c10d NCCL";
  ldist::WorkerEnv env;
  env.master_port = ldist::free_local_port();
  env.launched = true;
  ldist::Communicator comm(env, cuda, std::chrono::seconds(60));
  std::vector<torch::Tensor> tensors{
      torch::arange(10, torch::TensorOptions(cuda)).to(torch::kFloat32),
      torch::ones({3, 4}, torch::TensorOptions(cuda))};
  const auto before = tensors[0].clone();
  comm.all_reduce_sum(tensors);
  comm.broadcast(tensors, 0);
  comm.barrier();
  EXPECT_TRUE(torch::equal(tensors[0], before));
  EXPECT_TRUE(torch::equal(tensors[1], torch::ones({3, 4}, torch::TensorOptions(cuda))));
}

TEST(DistributedEval, EvalAndExitOnTwoRanksWriteWhatOneWrites) {
  if (const auto why = cannot_run_workers(); !why.empty()) GTEST_SKIP() << why;
  const auto dir = temp_dir("dist_eval");
  const auto run = dir + "/run";
  ASSERT_EQ(run_cli(small_run("aligned") + " --out " + run).code, 0);
  // 1001 samples: shares of 501 and 500.
  std::filesystem::create_directories(dir + "/one");
  std::filesystem::create_directories(dir + "/two");
  const auto one = run_cli("eval " + run + " --samples 1001 -q -o " + dir + "/one/eval.json");
  ASSERT_EQ(one.code, 0) << one.output;
  const auto two =
      run_cli("eval " + run + " --samples 1001 -q --nproc 2 -o " + dir + "/two/eval.json");
  ASSERT_EQ(two.code, 0) << two.output;
  EXPECT_EQ(two.output, dir + "/two/eval.json\n");
  auto a = read_json(dir + "/one/eval.json"), b = read_json(dir + "/two/eval.json");
  for (const auto& key :
       {"accuracy", "final_accuracy", "saturation_layer_histogram", "minimal_depth", "n_samples"})
    EXPECT_EQ(a.at(key), b.at(key)) << key;
  for (size_t l = 0; l < a.at("loss").size(); ++l)
    EXPECT_NEAR(a.at("loss")[l].get<double>(), b.at("loss")[l].get<double>(), 1e-5);
  // exit: the sweep and the calibrated threshold of one process (untimed). Confidences equal to
  // float rounding may tip one sample sitting exactly at a threshold, hence the tolerance.
  const auto exit_one = run_cli("exit " + run + " -q -o " + dir + "/one/exit.json");
  ASSERT_EQ(exit_one.code, 0) << exit_one.output;
  const auto exit_two = run_cli("exit " + run + " -q --nproc 2 -o " + dir + "/two/exit.json");
  ASSERT_EQ(exit_two.code, 0) << exit_two.output;
  const auto xa = read_json(dir + "/one/exit.json"), xb = read_json(dir + "/two/exit.json");
  EXPECT_EQ(xa.at("chosen").at("threshold"), xb.at("chosen").at("threshold"));
  EXPECT_EQ(xa.at("chosen").at("accuracy"), xb.at("chosen").at("accuracy"));
  EXPECT_EQ(xa.at("points").size(), xb.at("points").size());
  for (size_t i = 0; i < xa.at("points").size(); ++i)
    EXPECT_NEAR(xa.at("points")[i].at("accuracy").get<double>(),
                xb.at("points")[i].at("accuracy").get<double>(), 2e-4)  // a sample at a tie
        << i;
  const auto pa = layerwise::read_safetensors(dir + "/one/eval_predictions.safetensors");
  const auto pb = layerwise::read_safetensors(dir + "/two/eval_predictions.safetensors");
  for (const auto& [name, tensor] : pa.tensors) {
    ASSERT_EQ(tensor.sizes(), pb.at(name).sizes()) << name;
    EXPECT_LT(max_diff(tensor.to(torch::kFloat64), pb.at(name).to(torch::kFloat64)), 1e-5) << name;
  }
  layerwise::testing::remove_tree(dir);
}

TEST(DistributedSimilarity, TwoRanksWriteWhatOneWrites) {
  if (const auto why = cannot_run_workers(); !why.empty()) GTEST_SKIP() << why;
  const auto dir = temp_dir("dist_similarity");
  const auto run = dir + "/run";
  ASSERT_EQ(run_cli(small_run("aligned") + " --out " + run).code, 0);
  const std::string common =
      "similarity " + run +
      " --samples 301 --minibatch 64 --metrics cos,cka_linear,cka_debiased,cka_minibatch,cka_rbf"
      " --save-activations -q --out ";
  const auto one = run_cli(common + dir + "/one");
  ASSERT_EQ(one.code, 0) << one.output;
  const auto two = run_cli(common + dir + "/two --nproc 2");
  ASSERT_EQ(two.code, 0) << two.output;
  EXPECT_EQ(two.output, dir + "/two/similarity.json\n");
  const auto a = read_json(dir + "/one/similarity.json"),
             b = read_json(dir + "/two/similarity.json");
  // Summed over the ranks (the first four) and gathered to rank 0 (cka_rbf).
  for (const std::string metric :
       {"cos", "cka_linear", "cka_debiased", "cka_minibatch", "cka_rbf"}) {
    const auto& ma = a.at("metrics").at(metric);
    const auto& mb = b.at("metrics").at(metric);
    ASSERT_EQ(ma.size(), mb.size()) << metric;
    for (size_t i = 0; i < ma.size(); ++i)
      for (size_t j = 0; j < ma[i].size(); ++j)
        EXPECT_NEAR(ma[i][j].get<double>(), mb[i][j].get<double>(), 1e-5) << metric;
  }
  const auto saved_one = layerwise::read_safetensors(dir + "/one/activations.safetensors");
  const auto saved_two = layerwise::read_safetensors(dir + "/two/activations.safetensors");
  for (const auto& [name, tensor] : saved_one.tensors)
    EXPECT_LT(layerwise::testing::max_diff(tensor, saved_two.at(name)), 1e-5) << name;
  layerwise::testing::remove_tree(dir);
}
