// `layerwise train --nproc N`: N workers of this very program on this host, as torchrun
// --standalone --nproc-per-node N would start them (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT set, rendezvous on 127.0.0.1 at a free port).
#pragma once

#include <string>
#include <vector>

namespace layerwise::distributed {

/// Starts `nproc` copies of this executable with `args` (argv without the program name), one per
/// rank, and waits for them. When one fails, the others are stopped (SIGTERM, then SIGKILL after
/// `grace_seconds`; after a failed collective, status 3, they first get `grace_seconds` to stop on
/// their own). Returns the status of the failure that caused the others (bad input: 2, a killed
/// worker: 128 + signal) over the collective failures (3) it caused, or 0.
int run_local_workers(int nproc, const std::vector<std::string>& args, int grace_seconds = 10);

/// This process's command line (/proc/self/cmdline) without the program name and without the
/// option `flag` and its value (`flag V` or `flag=V`): what each worker of a launcher runs.
std::vector<std::string> own_arguments_without(const std::string& flag);

/// A TCP port free on 127.0.0.1 at the time of the call.
int free_local_port();

}  // namespace layerwise::distributed
