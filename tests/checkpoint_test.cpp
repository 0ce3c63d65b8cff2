// Crash-consistent checkpoints: `layerwise train` killed (SIGKILL) inside every step of a
// checkpoint write and at arbitrary moments, or out of disk space during one, resumes from the
// last complete checkpoint and reaches exactly the weights of an uninterrupted run (CPU).
#include <sys/mount.h>

#include <filesystem>
#include <fstream>
#include <utility>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/run_dir.h"
#include "layerwise/core/safetensors.h"
#include "layerwise/train/checkpoint.h"
#include "test_util.h"

namespace {

using layerwise::testing::CommandResult;
using layerwise::testing::fashion_mnist_installed;
using layerwise::testing::run_command;
using layerwise::testing::max_weight_diff;

// 384 images in batches of 64: 6 steps per epoch, 12 in all, a checkpoint every 2 steps.
const std::string kTrain =
    "train --preset tiny --epochs 2 --train-limit 384 --val-limit 64 --batch-size 64 "
    "--checkpoint-every 2 --augment none --log-every 1 -q";

CommandResult layerwise_cli(const std::string& arguments, const std::string& env = "") {
  return run_command(env + " " + LAYERWISE_BINARY + " " + arguments + " 2>&1");
}

bool killed(const CommandResult& r) {
  return r.code == 137 || r.code == -1;  // through the shell, or the process itself
}

class CrashConsistency : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fashion_mnist_installed()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    dir_ = layerwise::testing::temp_dir("crash");
    const auto whole = layerwise_cli(kTrain + " --out " + reference());
    ASSERT_EQ(whole.code, 0) << whole.output;
  }
  void TearDown() override {
    if (!dir_.empty()) layerwise::testing::remove_tree(dir_);
  }
  std::string reference() const { return dir_ + "/whole"; }

  // Resumes `run` to the end and checks it reached the uninterrupted run's weights.
  void expect_resumes_to_the_same_weights(const std::string& run) {
    const auto resumed = layerwise_cli("train --resume " + run + " -q");
    ASSERT_EQ(resumed.code, 0) << resumed.output;
    EXPECT_TRUE(layerwise::RunDir(run).finished());
    EXPECT_EQ(max_weight_diff(reference(), run), 0.0) << run;
    // Nothing an interrupted write left behind survives the resume.
    for (const auto& entry : std::filesystem::recursive_directory_iterator(run)) {
      const auto name = entry.path().filename().string();
      EXPECT_EQ(name.find(".partial"), std::string::npos) << entry.path();
      EXPECT_EQ(name.find(".tmp."), std::string::npos) << entry.path();
    }
  }

  std::string dir_;
};

TEST_F(CrashConsistency, KilledInsideEachStepOfACheckpointWrite) {
  // Each step of the write, killed in the first checkpoint (the run restarts from step 0) or in a
  // later one (it resumes from the one before): the six pairs cost a minute, these four cover both.
  const std::pair<const char*, int> kills[] = {
      {"checkpoint-written", 1}, {"checkpoint-renamed", 3}, {"checkpoint-published", 1},
      {"checkpoint-published", 3}};
  for (const auto& [point, nth] : kills) {
    const auto run = dir_ + "/" + point + "-" + std::to_string(nth);
    SCOPED_TRACE(run);
    const auto crashed = layerwise_cli(
        kTrain + " --out " + run, "LAYERWISE_CRASH_AT=" + std::string(point) + ":" + std::to_string(nth));
    ASSERT_TRUE(killed(crashed)) << crashed.code << " " << crashed.output;
    expect_resumes_to_the_same_weights(run);
  }
}

TEST_F(CrashConsistency, KilledAtArbitraryMoments) {
  // Whole seconds would all land in the data loading: kill after fractions of the run instead.
  for (const char* seconds : {"0.7", "1.3", "1.9", "2.6"}) {
    const auto run = dir_ + "/after-" + std::string(seconds);
    SCOPED_TRACE(run);
    const auto crashed = run_command(std::string("timeout -s KILL ") + seconds + " " +
                                     LAYERWISE_BINARY + " " + kTrain + " --out " + run + " 2>&1");
    if (crashed.code == 0) continue;  // finished before the kill: nothing to resume
    if (!layerwise::RunDir(run).has_config()) continue;  // killed before the run existed
    expect_resumes_to_the_same_weights(run);  // from step 0 if no checkpoint was complete
  }
}

TEST_F(CrashConsistency, DiskFullDuringACheckpoint) {
  const auto disk = dir_ + "/disk";
  std::filesystem::create_directories(disk);
  if (::mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=4m") != 0)
    GTEST_SKIP() << "cannot mount a small tmpfs here (needs root)";
  const auto run = disk + "/run";
  auto first = layerwise_cli(kTrain + " --stop-after 4 --out " + run);
  ASSERT_EQ(first.code, 0) << first.output;
  // Fill the disk but for a few KiB: the next checkpoint cannot be written.
  {
    std::ofstream filler(disk + "/filler", std::ios::binary);
    const std::string block(64 * 1024, 'x');
    while (filler.write(block.data(), block.size())) {
    }
  }
  const auto full = layerwise_cli("train --resume " + run + " -q");
  EXPECT_EQ(full.code, 3) << full.output;  // the machine, not the input
  EXPECT_NE(full.output.find("disk full"), std::string::npos) << full.output;
  EXPECT_EQ(layerwise::RunDir(run).read_state().step, 4);  // the last complete checkpoint
  std::filesystem::remove(disk + "/filler");
  expect_resumes_to_the_same_weights(run);
  ::umount(disk.c_str());
}

TEST_F(CrashConsistency, RunsWrittenBeforeCheckpointFoldersResume) {
  // Today's run stopped at step 4, turned into the old layout: plain files in the run folder.
  const auto run = dir_ + "/legacy";
  ASSERT_EQ(layerwise_cli(kTrain + " --stop-after 4 --out " + run).code, 0);
  const layerwise::RunDir files(run);
  for (const char* name : {"model.safetensors", "optimizer.safetensors", "trainer_state.json"}) {
    const auto target = std::filesystem::canonical(files.file(name));
    std::filesystem::remove(files.file(name));
    std::filesystem::copy_file(target, files.file(name));
  }
  layerwise::remove_folder(files.checkpoints());
  std::filesystem::remove(files.checkpoint_link());
  expect_resumes_to_the_same_weights(run);
  EXPECT_TRUE(std::filesystem::is_symlink(files.model()));  // now in the new layout
}

TEST_F(CrashConsistency, ADamagedCheckpointIsPassedOverAndAContradictionRefused) {
  const auto run = dir_ + "/edited";
  ASSERT_EQ(layerwise_cli(kTrain + " --stop-after 4 --out " + run).code, 0);
  const layerwise::RunDir files(run);
  ASSERT_EQ(files.checkpoint_folders().size(), 2u);  // steps 4 and 2
  // A trainer state forged to a million steps fails its checkpoint's manifest: the run resumes
  // from the checkpoint before it (and writes step 4 again on the way).
  const auto newest = files.checkpoint_folders().front().second;
  layerwise::write_trainer_state(newest + "/trainer_state.json", {4, 1000000, 1.0});
  EXPECT_NE(layerwise::train::verify_checkpoint(newest).find("trainer_state.json"),
            std::string::npos);
  const auto resumed = layerwise_cli("train --resume " + run + " --stop-after 6 -q");
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  EXPECT_EQ(files.read_state().step, 6);
  EXPECT_EQ(layerwise::train::verify_checkpoint(files.checkpoint_folder(4)), "");
  // A configuration edited since: the checkpoint's 12 steps are not the 18 it now gives.
  auto config = layerwise::testing::read_json(files.config());
  config["train"]["epochs"] = 3;
  layerwise::write_file_atomic(files.config(), config.dump(2));
  const auto refused = layerwise_cli("train --resume " + run + " -q");
  EXPECT_EQ(refused.code, 2) << refused.output;
  EXPECT_NE(refused.output.find("step 6 of 12 but config.json and the data give 18 steps"),
            std::string::npos)
      << refused.output;
}

}  // namespace
