#include "dist_flags.h"

#include <chrono>
#include <cstdlib>

#include "layerwise/core/compat.h"
#include "layerwise/core/error.h"
#include "layerwise/distributed/launch.h"

namespace layerwise::cli {

void add_dist_flags(CLI::App* cmd, DistFlags& flags, const std::string& what) {
  cmd->add_option("--nproc", flags.nproc,
                  "several processes on this host: start N workers that share " + what +
                      " (Gloo on cpu; NCCL on cuda, one GPU per rank); several hosts: start the "
                      "workers with torchrun's variables instead (docs/DISTRIBUTED.md)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--dist-timeout", flags.timeout_s,
                  "seconds a rank waits for the others (rendezvous, each collective) before it "
                  "stops with an error")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(1), int64_t(7) * 24 * 3600));
}

std::optional<int> launch_workers_if_asked(const DistFlags& flags) {
  if (flags.nproc == 0) return std::nullopt;
  LW_CHECK(!distributed::worker_env_from_environment().launched,
           "--nproc starts its own workers; under torchrun (RANK is set) leave it out");
  return distributed::run_local_workers(flags.nproc, distributed::own_arguments_without("--nproc"));
}

std::string worker_device(const std::string& device) {
  const auto env = distributed::worker_env_from_environment();
  return env.world_size > 1 && device == "cuda" ? str_cat("cuda:", env.local_rank) : device;
}

bool writes_results() {
  return distributed::worker_env_from_environment().rank == 0;
}

std::unique_ptr<distributed::Communicator> join_group_if_launched(const DistFlags& flags,
                                                                  const std::string& device) {
  const auto env = distributed::worker_env_from_environment();
  if (!env.launched) return nullptr;  // a plain process; under a launcher even one rank joins
  return std::make_unique<distributed::Communicator>(env, compat::parse_device(device),
                                                     std::chrono::seconds(flags.timeout_s));
}

Worker join_as_worker(const DistFlags& flags, const std::string& device) {
  const auto mine = worker_device(device);
  return {compat::parse_device(mine), join_group_if_launched(flags, mine), writes_results()};
}

}  // namespace layerwise::cli
