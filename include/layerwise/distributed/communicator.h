// Data-parallel communication on LibTorch's c10d, launched the way torchrun launches workers.
//
// A worker learns its place from torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
// MASTER_PORT): `torchrun ... -- layerwise train ...`, SLURM or mpirun wrappers that set them, or
// `layerwise train --nproc N` (dist/launch.h) all give the same workers. Rank 0 hosts the TCP
// rendezvous (c10d::TCPStore); the process group is Gloo for CPU tensors and NCCL for CUDA ones
// (a build with LibTorch's NCCL). No sockets or collectives of our own.
//
// Every collective either completes or throws layerwise::Error naming this rank: a peer that died
// closes its connections (the survivors fail at once), a peer that hangs trips the timeout.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace layerwise::distributed {

/// Where this process stands in a job.
struct WorkerEnv {
  int rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  bool launched = false;  // started by a launcher (RANK set): joins a group, even of one rank
};

/// torchrun's variables, checked (a rank outside 0..WORLD_SIZE-1, a port that is no port: an
/// error naming the variable); a process without them is rank 0 of 1, not launched.
WorkerEnv worker_env_from_environment();

/// Whether this build can join a process group on `device`'s kind (Gloo: LibTorch built with it
/// and its headers found at build time; NCCL: a CUDA LibTorch with c10d NCCL).
bool backend_available(const torch::Device& device);

class Communicator {
 public:
  /// Joins the job's process group: TCP rendezvous at master_addr:master_port (hosted by rank 0),
  /// then Gloo (CPU) or NCCL (CUDA). Waits at most `timeout` for the others, and each later
  /// collective as long.
  Communicator(const WorkerEnv& env, const torch::Device& device, std::chrono::seconds timeout);
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  bool is_main() const { return env_.rank == 0; }
  const torch::Device& device() const { return device_; }

  /// Sums each tensor over the ranks, in place (tensors on device(), contiguous).
  void all_reduce_sum(std::vector<torch::Tensor>& tensors);
  /// Starts summing `tensor` over the ranks, in place, and returns at once; its value is the sum
  /// once wait_started() has returned. Every rank must start the same sums in the same order.
  void start_all_reduce_sum(torch::Tensor tensor);
  /// Waits for every sum started and not yet waited for.
  void wait_started();
  /// Overwrites each tensor with rank `root`'s.
  void broadcast(std::vector<torch::Tensor>& tensors, int root = 0);
  /// Returns once every rank has called it.
  void barrier();

 private:
  struct Group;
  WorkerEnv env_;
  torch::Device device_;
  std::unique_ptr<Group> group_;
};

}  // namespace layerwise::distributed
