// The flags every command that can run on several processes shares (--nproc, --dist-timeout),
// and what they do: launch local workers, or join the launcher's group (docs/DISTRIBUTED.md).
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>
#include <string>

#include "layerwise/distributed/communicator.h"

namespace layerwise::cli {

struct DistFlags {
  int nproc = 0;             // > 0: this process launches that many workers
  int64_t timeout_s = 1800;  // rendezvous and each collective
};

/// Adds --nproc and --dist-timeout to `cmd`; `what` says what the workers share ("each global
/// batch", "the samples").
void add_dist_flags(CLI::App* cmd, DistFlags& flags, const std::string& what);

/// With --nproc: starts the workers (this command again, without --nproc) and returns the exit
/// status to end with; otherwise nothing.
std::optional<int> launch_workers_if_asked(const DistFlags& flags);

/// The worker's device for a device setting: "cuda" in a job of several ranks is the GPU of the
/// local rank.
std::string worker_device(const std::string& device);

/// Under a launcher (torchrun's variables set): joins its group on `device`; otherwise null.
std::unique_ptr<distributed::Communicator> join_group_if_launched(const DistFlags& flags,
                                                                  const std::string& device);

/// Whether this process writes results and prints their paths (rank 0, or no launcher).
bool writes_results();

/// What a command that reads a model needs to run as one worker: its device (worker_device), the
/// group it joined (null: a plain process) and whether it writes the results.
struct Worker {
  torch::Device device;
  std::unique_ptr<distributed::Communicator> comm;
  bool writes;
};
Worker join_as_worker(const DistFlags& flags, const std::string& device);

}  // namespace layerwise::cli
